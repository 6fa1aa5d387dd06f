import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  cleanLyrics,
  cleanLyricsText,
  labelVector,
  lyricWindow,
  normaliseArtist,
  normaliseGenres,
  officialArtistId,
  officialGenreIds,
  parseOfficialIdFile,
  toAscii,
  windowLabels,
} from '../../shared/labels.js';
import { parseManifest } from '../../shared/manifest.js';
import { planSong } from '../../shared/plan.js';
import { tinyManifestJson } from './helpers.js';

const VOCAB = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.,:;!?-+'\"()[] \n";
const ids = (text: string): number[] => Array.from(text, (ch) => VOCAB.indexOf(ch) + 1);

test('v2 artist names normalise as Jukebox norm()', () => {
  assert.equal(normaliseArtist('Alan Jackson', 'v2'), 'alan_jackson');
  assert.equal(normaliseArtist('Céline Dion', 'v2'), 'c_line_dion'); // é is not ASCII alphanumeric
  assert.equal(normaliseArtist('  The  Beatles!! ', 'v2'), 'the_beatles');
  assert.equal(normaliseArtist('AC/DC', 'v2'), 'ac_dc');
  assert.equal(normaliseArtist('__x__y__', 'v2'), 'x_y');
  assert.equal(normaliseArtist('', 'v2'), 'unknown');
  assert.equal(normaliseArtist('???', 'v2'), 'unknown');
});

test('v3 artist names are only lowercased', () => {
  assert.equal(normaliseArtist('Alan Jackson', 'v3'), 'alan jackson');
  assert.equal(normaliseArtist('Céline Dion', 'v3'), 'céline dion');
  assert.equal(normaliseArtist('', 'v3'), 'unknown');
  assert.equal(normaliseArtist('   ', 'v3'), 'unknown');
});

test('genres: v2 splits every genre into words, v3 keeps each genre whole', () => {
  assert.deepEqual(normaliseGenres(['Blues Rock'], 'v2'), ['blues', 'rock']);
  assert.deepEqual(normaliseGenres(['Hip-Hop', 'pop'], 'v2'), ['hip', 'hop', 'pop']);
  assert.deepEqual(normaliseGenres(['Country_Rock '], 'v2'), ['country', 'rock']);
  assert.deepEqual(normaliseGenres(['Blues Rock'], 'v3'), ['blues rock']);
  assert.deepEqual(normaliseGenres([], 'v2'), ['unknown']);
  assert.deepEqual(normaliseGenres(['!!!'], 'v2'), [''], 'nothing left: an empty word that no vocabulary knows');
});

test('the official lookups map names the id files do not know to 0, as Jukebox does', () => {
  const artists = parseOfficialIdFile('unknown;0\nvarious;0\n;0\nalan_jackson;145\nc_line_dion;557\n');
  assert.equal(officialArtistId('Alan Jackson', 'v2', artists), 145);
  assert.equal(officialArtistId('Céline Dion', 'v2', artists), 557);
  assert.equal(officialArtistId('Nobody', 'v2', artists), 0);
  assert.equal(officialArtistId('', 'v2', artists), 0);
  assert.equal(officialArtistId('constructor', 'v2', artists), 0, 'no inherited members');
  const v3 = parseOfficialIdFile('Alan Jackson;6785\nunknown;0\n');
  assert.equal(officialArtistId('ALAN JACKSON', 'v3', v3), 6785);
  assert.equal(officialArtistId('alan_jackson', 'v3', v3), 0, 'v3 only lowercases');
  const genres = parseOfficialIdFile('unknown;0\nblues;2\nrock;8\n');
  assert.deepEqual(officialGenreIds('Blues Rock', 'v2', genres), [2, 8]);
  assert.deepEqual(officialGenreIds('Blues Polka', 'v2', genres), [2, 0]);
  assert.deepEqual(officialGenreIds('Blues Rock', 'v3', parseOfficialIdFile('blues rock;282\n')), [282]);
});

test('toAscii follows unidecode for Latin script: folded accents, ligatures, quotes, dashes', () => {
  assert.equal(toAscii('Ærø Straße Łódź đ Þór œuvre'), 'AEro Strasse Lodz d Thor oeuvre');
  assert.equal(toAscii('\u201cHi\u201d \u2018x\u2019 \u201elow\u201c a\u2013b c\u2014d \u2026 \u00bd \u00a9 \u20ac5 \u2122'), '"Hi" \'x\' ,,low" a-b c--d ...  1/2 (c) EUR5 (tm)');
  assert.equal(toAscii('ŋ Ŋ'), 'NG ng', "unidecode's quirk, kept");
  assert.equal(toAscii('Москва'), 'Москва', 'other scripts are left alone (unidecode would transliterate them)');
  assert.equal(cleanLyricsText('Москва, 東京!', VOCAB), ', !');
});

test('lyrics are cleaned to the vocabulary: ASCII folding, unknown characters dropped, ids from 1', () => {
  assert.deepEqual(cleanLyrics('Hello', VOCAB), [8, 31, 38, 38, 41]); // H is character 7, e is 30
  assert.deepEqual(cleanLyrics('Héllo, wörld!', VOCAB), ids('Hello, world!'));
  assert.deepEqual(cleanLyrics('it\u2019s \u201cfine\u201d \u2014 ok\u2026', VOCAB), ids('it\'s "fine" -- ok...'));
  assert.deepEqual(cleanLyrics('a\\b', VOCAB), ids('a\nb'), 'Jukebox turns a backslash into a newline');
  assert.deepEqual(cleanLyrics('tab\there 🎵 ß', VOCAB), ids('tabhere  ss'), 'tab is not in this vocabulary; emoji dropped');
  assert.deepEqual(cleanLyrics('', VOCAB), []);
  assert.deepEqual(cleanLyrics('xyz', 'zyx'), [3, 2, 1]);
});

test('lyric window: shorter lyrics are left-padded with 0 and every window sees all of them', () => {
  assert.deepEqual(lyricWindow([5, 6, 7], 6, 1000, 0, 100), [0, 0, 0, 5, 6, 7]);
  assert.deepEqual(lyricWindow([5, 6, 7], 6, 1000, 900, 100), [0, 0, 0, 5, 6, 7]);
  assert.deepEqual(lyricWindow([], 4, 1000, 0, 100), [0, 0, 0, 0]);
  assert.deepEqual(lyricWindow([1, 2, 3], 0, 1000, 0, 100), []);
});

test('lyric window: nTokens centred on len · (offset + sampleLength/2) / totalLength, clamped', () => {
  const lyrics = Array.from({ length: 100 }, (_, i) => i + 1); // id = position + 1
  const at = (offset: number): number[] => lyricWindow(lyrics, 10, 1000, offset, 100);
  const span = (from: number): number[] => Array.from({ length: 10 }, (_, i) => from + i + 1);
  assert.deepEqual(at(0), span(0)); // centre 100 · 50 / 1000 = 5 -> [0, 10)
  assert.deepEqual(at(500), span(50)); // centre 55 -> [50, 60)
  assert.deepEqual(at(123), span(12)); // centre int(17.3) = 17 -> [12, 22)
  assert.deepEqual(at(950), span(90)); // centre 100, clamped to 95 -> [90, 100)
  assert.deepEqual(lyricWindow(lyrics, 100, 1000, 500, 100), lyrics, 'exactly nTokens characters: all of them');
  assert.throws(() => at(1000), RangeError, 'Jukebox asserts offset < total_length');
  assert.throws(() => lyricWindow(lyrics, 9, 1000, 0, 100), RangeError, 'odd windows cannot be centred');
});

test('lyric window: the centre is computed in float32, as Jukebox does while sampling', () => {
  // 5b_lyrics: 512 lyric tokens, sample_length 8192 · 128. In float64 the centre is 3399.99990 -> 3399; get_y
  // hands 0-dim int64 tensors to get_relevant_lyric_tokens and `duration / 2.0` makes it float32: 3400.
  const lyrics = Array.from({ length: 3877 }, (_, i) => i);
  const window = lyricWindow(lyrics, 512, 8802560, 7195264, 1048576);
  assert.equal(window[0], 3400 - 256);
  assert.equal(window.length, 512);
  assert.equal(lyricWindow(lyrics, 512, 8802560, 7195264, 1048576, 'float64')[0], 3399 - 256, "Labeller.get_label's Python floats");
});

test('label vector layout: [total, offset, sample_length, artist, genres padded with -1, lyrics]', () => {
  const y = labelVector({ totalLength: 48000, offset: 1024, sampleLength: 16384, artistId: 3, genreIds: [4, 1], lyricWindow: [9, 8, 7, 0] }, 5);
  assert.deepEqual(y, [48000, 1024, 16384, 3, 4, 1, -1, -1, -1, 9, 8, 7, 0]);
  assert.deepEqual(labelVector({ totalLength: 1, offset: 0, sampleLength: 2, artistId: 0, genreIds: [], lyricWindow: [] }, 1), [1, 0, 2, 0, -1]);
  assert.throws(() => labelVector({ totalLength: 1, offset: 0, sampleLength: 2, artistId: 0, genreIds: [1, 2], lyricWindow: [] }, 1), RangeError);
});

test('windowLabels builds each level window label row as get_y does', () => {
  const manifest = parseManifest(tinyManifestJson());
  const plan = planSong(manifest, 3);
  const labels = { artistId: 2, genreIds: [4, 1], lyricIds: ids('Row, row, row your boat, gently down the stream. Merrily, merrily, merrily, merrily, life is but a dream.') };
  const top = plan.levels[2];
  const w = top.windows[5];
  const y = windowLabels(manifest, 2, w.start, plan.totalSamples, labels);
  assert.equal(y.length, manifest.levels[2].labelLength);
  assert.deepEqual(y.slice(0, 9), [48000, w.start * 128, 128 * 128, 2, 4, 1, -1, -1, -1]);
  assert.deepEqual(y.slice(9), lyricWindow(labels.lyricIds, 32, 48000, w.start * 128, 16384));
  const low = windowLabels(manifest, 0, plan.levels[0].windows[3].start, plan.totalSamples, labels);
  assert.deepEqual(low, [48000, plan.levels[0].windows[3].start * 8, 1024, 2, 4, 1, -1, -1, -1]);
});
