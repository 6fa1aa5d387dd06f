// shared/labels.ts against the official Jukebox label code: tests/fixtures/official-labels.json holds what
// ArtistGenreProcessor, TextProcessor (with unidecode), get_relevant_lyric_tokens, Labeller.get_label and
// SimplePrior.get_y give (written by tools/official_labels_fixture.py from a checkout of openai/jukebox).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
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
  type CentreArithmetic,
} from '../../shared/labels.js';
import { resolveLabels, validateJobRequest } from '../../shared/job-spec.js';
import type { LabelsManifest, LevelManifest, Manifest } from '../../shared/types.js';

type Version = 'v2' | 'v3';
interface EncodedRow {
  head: number[];
  lyricStart: number | null;
}
interface Fixture {
  unidecodeVersion: string | null;
  vocab: Record<Version, string>;
  idMaps: Record<Version, { artists: Record<string, number>; genres: Record<string, number>; artistCount: number; genreCount: number }>;
  idLines: Record<Version, { artists: string[]; genres: string[] }>;
  artists: ({ name: string } & Record<Version, number>)[];
  genres: ({ name: string } & Record<Version, number[]>)[];
  lyrics: ({ text: string; nonLatin: boolean } & Record<Version, { clean: string; ids: number[] }>)[];
  chars: Record<string, { ascii: string; v2: string }>;
  lyricTexts: Record<string, string>;
  lyricTextTokens: Record<Version, Record<string, number[]>>;
  windows: {
    model: string;
    version: Version;
    maxGenreWords: number;
    lyricTokens: number;
    nCtx: number;
    hopLength: number;
    artist: string;
    genre: string;
    lyrics: string;
    totalLength: number;
    start: number;
    getLabel: EncodedRow;
    getY: EncodedRow;
  }[];
  centreCases: {
    length: number;
    lyricTokens: number;
    totalLength: number;
    offset: number;
    sampleLength: number;
    float64First: number;
    float32First: number;
  }[];
  /** Rows sampled together, each with its own metas (sample.py), on every level of a 1b_lyrics-shaped model. */
  batch: {
    totalLength: number;
    metas: { artist: string; genre: string; lyrics: string }[];
    /** Index = level (0 = bottom). */
    levels: (LevelShape & { model: string; version: Version; windows: { start: number; rows: EncodedRow[] }[] })[];
  };
}

/** What a level's label vector depends on. */
interface LevelShape {
  maxGenreWords: number;
  lyricTokens: number;
  nCtx: number;
  hopLength: number;
}

const fx = JSON.parse(readFileSync(new URL('../fixtures/official-labels.json', import.meta.url), 'utf8')) as Fixture;
const VERSIONS: readonly Version[] = ['v2', 'v3'];

/** The official row back from the fixture's encoding (see encode_row in the generator). */
function decodeRow(row: EncodedRow, full: readonly number[], nTokens: number): number[] {
  if (nTokens === 0) return row.head;
  if (row.lyricStart === null) return [...row.head, ...new Array<number>(nTokens - full.length).fill(0), ...full];
  return [...row.head, ...full.slice(row.lyricStart, row.lyricStart + nTokens)];
}

test('fixture covers what it claims', () => {
  assert.ok(fx.artists.length >= 150 && fx.genres.length >= 80 && fx.lyrics.length >= 25, 'names and texts');
  assert.ok(fx.windows.length >= 100 && fx.centreCases.length >= 5, 'label rows');
  assert.equal(fx.vocab.v2.length, 79, 'v2 (5b_lyrics) vocabulary: n_vocab 80 with padding');
  assert.equal(fx.vocab.v3.length, 78, 'v3 (1b_lyrics) vocabulary: n_vocab 79 with padding');
  assert.equal(fx.idMaps.v2.artistCount, 4111 - 2, 'v2 artist ids 0..4110 (y_bins 4111), two unused');
  assert.equal(fx.idMaps.v3.genreCount, 604, 'v3 genre ids (y_bins 604)');
});

test('id files parse as ArtistGenreProcessor loads them', () => {
  for (const v of VERSIONS) {
    for (const kind of ['artists', 'genres'] as const) {
      const parsed = parseOfficialIdFile(fx.idLines[v][kind].join('\n') + '\n');
      assert.deepEqual({ ...parsed }, fx.idMaps[v][kind], `${v} ${kind}`);
    }
  }
  assert.deepEqual({ ...parseOfficialIdFile('A B;1\r\n  c;2  \rd; 3\n;0\n') }, { 'a b': 1, c: 2, d: 3, '': 0 });
  assert.deepEqual({ ...parseOfficialIdFile('x;1\nX;2\n') }, { x: 2 }, 'a later line wins');
  assert.throws(() => parseOfficialIdFile('a;b;1\n'), SyntaxError);
  assert.throws(() => parseOfficialIdFile('a\n'), SyntaxError);
});

test('artist ids equal get_artist_id (v2 and v3)', () => {
  for (const v of VERSIONS) {
    const ids = fx.idMaps[v].artists;
    for (const row of fx.artists) {
      assert.equal(officialArtistId(row.name, v, ids), row[v], `${v} artist ${JSON.stringify(row.name)}`);
      // What job validation looks up: the same id whenever the name is known (blank names go to "unknown" = 0).
      const key = normaliseArtist(row.name, v);
      if (Object.hasOwn(ids, key)) assert.equal(ids[key], row[v], `${v} normaliseArtist ${JSON.stringify(row.name)}`);
      else assert.equal(row[v], 0, `${v}: ${JSON.stringify(row.name)} is unknown to validation and to Jukebox`);
    }
  }
  assert.ok(fx.artists.filter((r) => r.v2 !== 0).length > 100 && fx.artists.filter((r) => r.v3 !== 0).length > 70, 'most names are known');
});

test('genre ids equal get_genre_ids (v2 bag of words, v3 whole genre)', () => {
  for (const v of VERSIONS) {
    const ids = fx.idMaps[v].genres;
    for (const row of fx.genres) {
      assert.deepEqual(officialGenreIds(row.name, v, ids), row[v], `${v} genre ${JSON.stringify(row.name)}`);
      if (row.name === '') continue; // a job's empty genre list is ["unknown"]; Jukebox has no empty genre string
      const words = normaliseGenres([row.name], v);
      assert.equal(words.length, row[v].length, `${v} ${JSON.stringify(row.name)} word count`);
      words.forEach((w, i) => {
        if (Object.hasOwn(ids, w)) assert.equal(ids[w], row[v][i], `${v} genre word ${JSON.stringify(w)}`);
        else assert.equal(row[v][i], 0);
      });
    }
  }
});

test('unidecode stand-in equals unidecode on every character of the blocks it claims', () => {
  const bad: string[] = [];
  for (const [ch, want] of Object.entries(fx.chars)) {
    const cp = `U+${(ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
    if (toAscii(ch) !== want.ascii) bad.push(`${cp} ${JSON.stringify(ch)}: toAscii ${JSON.stringify(toAscii(ch))}, unidecode ${JSON.stringify(want.ascii)}`);
    if (cleanLyricsText(ch, fx.vocab.v2) !== want.v2) bad.push(`${cp}: clean ${JSON.stringify(cleanLyricsText(ch, fx.vocab.v2))}, official ${JSON.stringify(want.v2)}`);
  }
  assert.deepEqual(bad, []);
  assert.ok(Object.keys(fx.chars).length > 600);
});

test('cleaned lyrics equal TextProcessor.clean + tokenise (v2: 5b_lyrics, v3: 1b_lyrics)', () => {
  for (const row of fx.lyrics) {
    for (const v of VERSIONS) {
      const ids = cleanLyrics(row.text, fx.vocab[v]);
      if (!row.nonLatin) {
        assert.equal(cleanLyricsText(row.text, fx.vocab[v]), row[v].clean, `${v} ${JSON.stringify(row.text)}`);
        assert.deepEqual(ids, row[v].ids, `${v} ids of ${JSON.stringify(row.text)}`);
      } else {
        // Documented difference: unidecode transliterates other scripts, we drop them. What we keep is in order.
        let j = 0;
        for (const id of row[v].ids) if (j < ids.length && ids[j] === id) j++;
        assert.equal(j, ids.length, `${v}: our ids are a subsequence of the official ones for ${JSON.stringify(row.text)}`);
        assert.ok(ids.length < row[v].ids.length);
      }
    }
  }
  for (const v of VERSIONS) {
    for (const [key, text] of Object.entries(fx.lyricTexts)) assert.deepEqual(cleanLyrics(text, fx.vocab[v]), fx.lyricTextTokens[v][key], `${v} ${key}`);
  }
});

test('lyric window centre: float32 while sampling, float64 in get_label, where the two differ', () => {
  for (const c of fx.centreCases) {
    const full = Array.from({ length: c.length }, (_, i) => i);
    const at = (a: CentreArithmetic): number => lyricWindow(full, c.lyricTokens, c.totalLength, c.offset, c.sampleLength, a)[0];
    assert.equal(at('float64'), c.float64First, `float64 ${JSON.stringify(c)}`);
    assert.equal(at('float32'), c.float32First, `float32 ${JSON.stringify(c)}`);
    assert.notEqual(c.float32First, c.float64First);
  }
});

function levelFor(w: LevelShape, level = 0): LevelManifest {
  return {
    level,
    hopLength: w.hopLength,
    nCtx: w.nCtx,
    hopFraction: 0.125,
    codebookSize: 2048,
    width: 1,
    layers: 1,
    heads: 1,
    headDim: 1,
    prefillChunk: 1,
    conditioning: { labels: true, timing: true, lyrics: w.lyricTokens > 0 ? 'encoder' : 'none', lyricTokens: w.lyricTokens, upper: false },
    labelLength: 4 + w.maxGenreWords + w.lyricTokens,
    vocabOffset: 0,
    graphs: { conditioner: { file: 'c', sha256: '' }, step: { file: 's', sha256: '' } },
  };
}

test('label rows equal Labeller.get_label and SimplePrior.get_y, window by window', () => {
  let lyricRows = 0;
  for (const w of fx.windows) {
    const v = w.version;
    const full = fx.lyricTextTokens[v][w.lyrics];
    const artistId = officialArtistId(w.artist, v, fx.idMaps[v].artists);
    const genreIds = officialGenreIds(w.genre, v, fx.idMaps[v].genres);
    const lyricIds = cleanLyrics(fx.lyricTexts[w.lyrics], fx.vocab[v]);
    const offset = w.start * w.hopLength;
    const sampleLength = w.nCtx * w.hopLength;
    const what = `${w.model} ${w.totalLength} samples, window at token ${w.start}, lyrics ${w.lyrics}`;

    const manifest: Pick<Manifest, 'labels' | 'levels'> = {
      labels: { version: v, artists: fx.idMaps[v].artists, genres: fx.idMaps[v].genres, maxGenreWords: w.maxGenreWords, minDurationSeconds: 0, maxDurationSeconds: 600 },
      levels: [levelFor(w)],
    };
    const sampling = windowLabels(manifest, 0, w.start, w.totalLength, { artistId, genreIds, lyricIds });
    assert.deepEqual(sampling, decodeRow(w.getY, full, w.lyricTokens), `get_y: ${what}`);

    const lyrics = lyricWindow(lyricIds, w.lyricTokens, w.totalLength, offset, sampleLength, 'float64');
    const label = labelVector({ totalLength: w.totalLength, offset, sampleLength, artistId, genreIds, lyricWindow: lyrics }, w.maxGenreWords);
    assert.deepEqual(label, decodeRow(w.getLabel, full, w.lyricTokens), `get_label: ${what}`);
    if (w.lyricTokens > 0 && full.length >= w.lyricTokens) lyricRows++;
  }
  assert.ok(lyricRows > 20, 'windows over long lyrics');
  const kinds = new Set(
    fx.windows
      .filter((w) => w.lyricTokens > 0)
      .map((w) => {
        const full = fx.lyricTextTokens[w.version][w.lyrics];
        const s = w.getY.lyricStart;
        return s === null ? 'padded' : s === 0 ? 'start' : s === full.length - w.lyricTokens ? 'end' : 'middle';
      }),
  );
  assert.deepEqual([...kinds].sort(), ['end', 'middle', 'padded', 'start'], 'lyric windows at the start, middle and end, and padded');
});

test('per-row metas give each row the official label vector for its own metas, on every level', () => {
  const { batch } = fx;
  const top = batch.levels.length - 1;
  const labelSet = (l: (typeof batch.levels)[number]): LabelsManifest => ({
    version: l.version,
    artists: fx.idMaps[l.version].artists,
    genres: fx.idMaps[l.version].genres,
    maxGenreWords: l.maxGenreWords,
    minDurationSeconds: 1,
    maxDurationSeconds: 600,
  });
  // The 1b_lyrics layout as a manifest: the top prior's (v3) labels and lyrics, the upsamplers' own v2 label sets.
  const manifest: Manifest = {
    contractVersion: 1,
    modelId: '1b_lyrics-labels',
    sampleRate: 44100,
    labels: labelSet(batch.levels[top]),
    lyrics: { vocab: fx.vocab[batch.levels[top].version], maxChars: 100_000 },
    levels: batch.levels.map((l, i) => ({ ...levelFor(l, i), ...(i < top ? { labels: labelSet(l) } : {}) })),
    vqvae: { decoders: [] },
  };
  // The metas as a request gives them: one entry of `rows` per row, through validation and resolveLabels.
  const rows = batch.metas.map((m) => ({ artist: m.artist, genres: [m.genre], lyrics: fx.lyricTexts[m.lyrics] }));
  const spec = validateJobRequest(
    { model: '', artist: '', genres: [], lyrics: '', rows, durationSeconds: batch.totalLength / manifest.sampleRate, seed: 1, sampling: [] },
    manifest,
  );
  assert.equal(spec.samples, batch.metas.length);
  const labels = resolveLabels(spec, manifest);
  let compared = 0;
  batch.levels.forEach((l, level) => {
    for (const w of l.windows) {
      const official = w.rows.map((r, row) => decodeRow(r, fx.lyricTextTokens[l.version][batch.metas[row].lyrics], l.lyricTokens));
      // The rows' vectors differ (artist, genres, lyrics): each row must get its own, not the first's.
      assert.equal(new Set(official.map((v) => v.join(','))).size, official.length, `${l.model}: distinct official rows`);
      official.forEach((want, row) => {
        assert.deepEqual(windowLabels(manifest, level, w.start, batch.totalLength, labels[row][level]), want, `${l.model} window at ${w.start}, row ${row}`);
        compared++;
      });
    }
  });
  assert.equal(compared, 3 * 3 * batch.metas.length);
});
