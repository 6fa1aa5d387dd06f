import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_SAMPLES, parseSeed, resolveLabels, validateJobRequest } from '../../shared/job-spec.js';
import { InvalidArgumentError } from '../../shared/errors.js';
import { parseManifest } from '../../shared/manifest.js';
import { cleanLyrics } from '../../shared/labels.js';
import type { JobRequest, Manifest } from '../../shared/types.js';
import { tinyManifestJson } from './helpers.js';

const manifest = parseManifest(tinyManifestJson());

function request(overrides: Partial<Record<keyof JobRequest, unknown>> = {}): JobRequest {
  return {
    model: 'tiny',
    artist: 'Tiny Ensemble',
    genres: ['Blues Rock'],
    lyrics: 'la la la',
    durationSeconds: 3,
    samples: 2,
    seed: '42',
    sampling: [],
    ...overrides,
  } as JobRequest;
}

/** Asserts the request is refused on `field` with a message mentioning every string in `mentions`. */
function rejects(req: JobRequest, field: string, mentions: (string | RegExp)[] = [], m: Manifest = manifest): void {
  assert.throws(
    () => validateJobRequest(req, m),
    (e: unknown) => {
      assert.ok(e instanceof InvalidArgumentError, `expected InvalidArgumentError, got ${String(e)}`);
      assert.equal(e.field, field, e.message);
      assert.equal(e.name, 'InvalidArgumentError');
      for (const m of mentions) {
        if (typeof m === 'string') assert.ok(e.message.includes(m), `"${e.message}" mentions ${m}`);
        else assert.match(e.message, m);
      }
      return true;
    },
  );
}

test('a valid request gives a spec with sampling for every level', () => {
  const spec = validateJobRequest(request({ sampling: [{ level: 2, topK: 10 }, { level: 0, temperature: 0.8, topP: 0.95 }] }), manifest);
  const { artist, genres, lyrics, ...rest } = request();
  assert.deepEqual(spec, {
    ...rest, // the request's fields as given, but for the parsed seed and the sampling of every level
    // The job-wide labels, once per row.
    rows: [0, 1].map(() => ({ artist, genres, lyrics })),
    seed: 42n,
    sampling: [
      { temperature: 0.8, topK: 0, topP: 0.95 },
      { temperature: 0.99, topK: 0, topP: 1 },
      { temperature: 0.99, topK: 10, topP: 1 },
    ],
    // Defaults: Jukebox's own windows, one segment per level, the default priority.
    mode: 'exact',
    segments: [1, 1, 1],
    segmentOverlap: 0.5,
    priority: 5,
  });
  assert.equal(validateJobRequest(request({ model: '' }), manifest).model, 'tiny', 'an empty model means the one served');
});

test('model must be the manifest', () => {
  rejects(request({ model: '5b' }), 'model', ['"5b"', '"tiny"']);
});

test('duration_seconds: finite, > 0, within the timing range, at least one window per lower level', () => {
  for (const bad of [0, -3, Number.NaN, Number.POSITIVE_INFINITY, '10', undefined]) rejects(request({ durationSeconds: bad }), 'duration_seconds', ['> 0']);
  rejects(request({ durationSeconds: 601 }), 'duration_seconds', ['601', 'too long', '600 s']);
  // 600 s at 16 kHz is 9,600,000 samples, a whole number of top tokens: Jukebox's timing range [1 s, 600 s) is open there.
  rejects(request({ durationSeconds: 600 }), 'duration_seconds', ['too long']);
  validateJobRequest(request({ durationSeconds: 599.99 }), manifest);
  rejects(request({ durationSeconds: 0.99 }), 'duration_seconds', ['0.99', 'too short', 'at least 1 s']);
  validateJobRequest(request({ durationSeconds: 1 }), manifest);
  // With a lower timing floor the structural minimum shows: level 1 needs 128 tokens of 32 samples (0.256 s).
  const json = tinyManifestJson();
  (json.labels as { minDurationSeconds: number }).minDurationSeconds = 0.1;
  const loose = parseManifest(json);
  rejects(request({ durationSeconds: 0.2 }), 'duration_seconds', ['too short', 'at least 0.256 s'], loose);
  validateJobRequest(request({ durationSeconds: 0.256 }), loose);
});

test('artist must be known after normalisation; empty is "unknown"', () => {
  assert.equal(resolveLabels(validateJobRequest(request({ artist: 'DR. NOISE' }), manifest), manifest)[0][0].artistId, 3);
  assert.equal(resolveLabels(validateJobRequest(request({ artist: '' }), manifest), manifest)[0][0].artistId, 0);
  rejects(request({ artist: 'Nobody Known' }), 'artist', ['"Nobody Known"', '"nobody_known"', '"tiny_ensemble"']);
  rejects(request({ artist: 'constructor' }), 'artist', ['constructor']);
  rejects(request({ artist: '__proto__' }), 'artist');
  rejects(request({ artist: 42 }), 'artist', ['string']);
});

test('genres must be known words, at most maxGenreWords of them', () => {
  assert.deepEqual(resolveLabels(validateJobRequest(request({ genres: ['Hip-Hop', 'jazz'] }), manifest), manifest)[0][0].genreIds, [5, 6, 3]);
  assert.deepEqual(resolveLabels(validateJobRequest(request({ genres: [] }), manifest), manifest)[0][0].genreIds, [0]);
  rejects(request({ genres: ['Blues Polka'] }), 'genres', ['"polka"', '"blues"']);
  rejects(request({ genres: ['rock pop jazz', 'blues rock pop'] }), 'genres', ['6 genre words', 'at most 5']);
  // Nothing left after normalising ("", "!!!") is the model's "unknown", as a blank artist is.
  assert.deepEqual(resolveLabels(validateJobRequest(request({ genres: ['!!!'] }), manifest), manifest)[0][0].genreIds, [0]);
  assert.deepEqual(resolveLabels(validateJobRequest(request({ genres: ['rock', ''] }), manifest), manifest)[0][0].genreIds, [1, 0]);
  rejects(request({ genres: ['ro\uFFFDck'] }), 'genres', ['UTF-8']);
  rejects(request({ genres: 'rock' }), 'genres', ['list of strings']);
  rejects(request({ genres: ['rock', 3] }), 'genres', ['list of strings']);
  rejects(request({ genres: ['toString'] }), 'genres', ['"tostring"']);
});

test('lyrics: at most maxChars characters; a model without lyrics ignores them', () => {
  validateJobRequest(request({ lyrics: 'a'.repeat(4096) }), manifest);
  validateJobRequest(request({ lyrics: '🎵'.repeat(4096) }), manifest); // characters, not UTF-16 units
  rejects(request({ lyrics: 'a'.repeat(4097) }), 'lyrics', ['4097', 'at most 4096']);
  rejects(request({ lyrics: null }), 'lyrics', ['string']);
  // What a protobuf decoder makes of bytes that are not UTF-8.
  rejects(request({ lyrics: 'la \uFFFD la' }), 'lyrics', ['UTF-8', 'U+FFFD']);
  const json = tinyManifestJson();
  delete json.lyrics;
  const levels = json.levels as { conditioning: { lyrics: string; lyricTokens: number }; labelLength: number }[];
  levels[2].conditioning.lyrics = 'none';
  levels[2].conditioning.lyricTokens = 0;
  levels[2].labelLength = 9;
  const noLyrics = parseManifest(json);
  const spec = validateJobRequest(request({ lyrics: 'x'.repeat(100000) }), noLyrics);
  assert.deepEqual(resolveLabels(spec, noLyrics)[0][0].lyricIds, []);
});

test('samples: an integer in 1..16; 0 or omitted is 1', () => {
  validateJobRequest(request({ samples: 1 }), manifest);
  validateJobRequest(request({ samples: MAX_SAMPLES }), manifest);
  assert.equal(validateJobRequest(request({ samples: 0 }), manifest).samples, 1);
  assert.equal(validateJobRequest(request({ samples: undefined }), manifest).samples, 1);
  for (const bad of [17, 1.5, -1, Number.NaN, '2']) rejects(request({ samples: bad }), 'samples', ['1..16']);
});

test('seed: an integer in 0..2^64-1 as a decimal string, number or bigint', () => {
  assert.equal(parseSeed('0'), 0n);
  assert.equal(parseSeed('18446744073709551615'), 18446744073709551615n);
  assert.equal(parseSeed(42), 42n);
  assert.equal(parseSeed(7n), 7n);
  assert.equal(parseSeed('007'), 7n);
  for (const bad of ['-1', 'abc', ' 42', '1e3', '0x10', '18446744073709551616', '99999999999999999999', 2 ** 64, 1.5, -1, 2n ** 64n, -1n]) {
    rejects(request({ seed: bad }), 'seed', ['18446744073709551615']);
  }
  // Omitted (proto3: "") is 0.
  for (const omitted of ['', null, undefined]) assert.equal(validateJobRequest(request({ seed: omitted }), manifest).seed, 0n);
});

test('sampling: level in range and not repeated, temperature > 0, top_k 0..V, top_p in (0, 1]', () => {
  const cases: [unknown, string, string[]][] = [
    [[{ level: 3 }], 'sampling.level', ['0..2', '3']],
    [[{ level: -1 }], 'sampling.level', ['0..2']],
    [[{ level: 1.5 }], 'sampling.level', ['0..2']],
    [[{ level: '1' }], 'sampling.level', ['0..2']],
    [[{ level: 1 }, { level: 1, topK: 3 }], 'sampling.level', ['more than once']],
    [[{ level: 0, temperature: 0 }], 'sampling.temperature', ['(0, 1000]', 'level 0']],
    [[{ level: 0, temperature: 1e39 }], 'sampling.temperature', ['(0, 1000]', 'got 1e+39']],
    [[{ level: 0, temperature: -0.5 }], 'sampling.temperature', ['(0, 1000]']],
    [[{ level: 0, temperature: Number.NaN }], 'sampling.temperature', ['(0, 1000]']],
    [[{ level: 0, temperature: Number.POSITIVE_INFINITY }], 'sampling.temperature', ['(0, 1000]']],
    [[{ level: 1, topK: -1 }], 'sampling.top_k', ['0..256', 'level 1']],
    [[{ level: 1, topK: 257 }], 'sampling.top_k', ['0..256']],
    [[{ level: 1, topK: 2.5 }], 'sampling.top_k', ['0..256']],
    [[{ level: 2, topP: 0 }], 'sampling.top_p', ['(0, 1]', 'level 2']],
    [[{ level: 2, topP: 1.5 }], 'sampling.top_p', ['(0, 1]']],
    [[{ level: 2, topP: Number.NaN }], 'sampling.top_p', ['(0, 1]']],
    [[null], 'sampling', ['objects']],
    ['fast', 'sampling', ['list']],
  ];
  for (const [sampling, field, mentions] of cases) rejects(request({ sampling }), field, mentions);
  const ok = validateJobRequest(request({ sampling: [{ level: 1, topK: 256, topP: 1, temperature: 1e-3 }] }), manifest);
  assert.deepEqual(ok.sampling[1], { temperature: 1e-3, topK: 256, topP: 1 });
});

test('resolveLabels gives the ids the label vectors carry', () => {
  const spec = validateJobRequest(request({ artist: 'The Random Walkers', genres: ['Jazz', 'Pop'], lyrics: 'Héllo\\world' }), manifest);
  const labels = resolveLabels(spec, manifest);
  const song = { artistId: 2, genreIds: [3, 2], lyricIds: cleanLyrics('Hello\nworld', manifest.lyrics!.vocab) };
  // One entry per row (the request's 2 samples), each per level.
  assert.deepEqual(labels, [0, 1].map(() => manifest.levels.map(() => song)));
});

test('the shipped tiny model manifest is accepted', async () => {
  const { readFile } = await import('node:fs/promises');
  const json: unknown = JSON.parse(await readFile(new URL('../../models/tiny/manifest.json', import.meta.url), 'utf8'));
  const tiny = parseManifest(json);
  const spec = validateJobRequest(request({ artist: '', genres: [], lyrics: '', seed: 1 }), tiny);
  assert.equal(spec.sampling.length, tiny.levels.length);
});

test('a level with its own label set (1b_lyrics: v2 upsamplers under a v3 top) maps names as Jukebox does', () => {
  const own = { version: 'v2' as const, artists: { unknown: 0, dr_noise: 7 }, genres: { unknown: 0, jazz: 4, rock: 9 }, maxGenreWords: 5, minDurationSeconds: 1, maxDurationSeconds: 600 };
  const m = { ...manifest, levels: manifest.levels.map((l, i) => (i < 2 ? { ...l, labels: own } : l)) };
  const [per] = resolveLabels(validateJobRequest(request({ artist: 'Dr. Noise', genres: ['jazz'] }), m), m);
  assert.equal(per[2].artistId, 3, 'the top level uses the manifest labels');
  assert.equal(per[0].artistId, 7);
  assert.deepEqual(per[1].genreIds, [4]);
  // A name the level's own set does not know is 0 there, as in Jukebox.
  const [unknown] = resolveLabels(validateJobRequest(request({ artist: 'tiny_ensemble', genres: ['pop'] }), m), m);
  assert.equal(unknown[0].artistId, 0);
  assert.deepEqual(unknown[0].genreIds, [0]);
  // No genre at all is "unknown" on every level, as Jukebox passes "unknown" to each labeller.
  const [none] = resolveLabels(validateJobRequest(request({ genres: [] }), m), m);
  assert.deepEqual(none.map((l) => l.genreIds), [[0], [0], [0]]);
});

test('the upper duration bound applies to the intended length, not the rendered one (44.1 kHz)', () => {
  const m = { ...manifest, sampleRate: 44100 };
  // 600 s renders 26,459,904 samples (rounded to the top hop) but is labelled 26,460,000 = 600 s: refused, as Jukebox does.
  rejects(request({ durationSeconds: 600 }), 'duration_seconds', ['too long'], m);
  assert.equal(validateJobRequest(request({ durationSeconds: 599.99 }), m).durationSeconds, 599.99);
});

// --- per-row labels (SubmitJobRequest.rows) ---

const ROW_A = { artist: 'Tiny Ensemble', genres: ['Blues Rock'], lyrics: 'la la la' };
const ROW_B = { artist: 'Dr. Noise', genres: ['jazz'], lyrics: 'hey' };
/** A request that gives its labels per row only. */
const perRow = (rows: unknown, extra: Partial<Record<keyof JobRequest, unknown>> = {}): JobRequest =>
  request({ artist: '', genres: [], lyrics: '', samples: 0, rows, ...extra });

test('rows: each row keeps its own labels; samples is their number', () => {
  const spec = validateJobRequest(perRow([ROW_A, ROW_B]), manifest);
  assert.equal(spec.samples, 2);
  assert.deepEqual(spec.rows, [ROW_A, ROW_B]);
  assert.equal(validateJobRequest(perRow([ROW_A, ROW_B], { samples: 2 }), manifest).samples, 2, 'samples equal to the rows is fine');
  assert.equal(validateJobRequest(perRow([ROW_A], { samples: undefined }), manifest).samples, 1);
  const labels = resolveLabels(spec, manifest);
  assert.equal(labels.length, 2);
  assert.deepEqual(labels[0], resolveLabels(validateJobRequest(request({ ...ROW_A, samples: 1 }), manifest), manifest)[0]);
  assert.deepEqual(labels[1][2], { artistId: 3, genreIds: [3], lyricIds: cleanLyrics('hey', manifest.lyrics!.vocab) });
  // No rows ([] is proto3's omitted list): the job-wide labels for every row.
  assert.deepEqual(validateJobRequest(request({ rows: [] }), manifest).rows, [ROW_A, ROW_A]);
});

test('rows: samples that disagree, job-wide labels beside them, more than 16 are refused naming the field', () => {
  rejects(perRow([ROW_A, ROW_B], { samples: 3 }), 'samples', ['samples 3', '2 rows', 'set it to 2']);
  rejects(perRow([ROW_A, ROW_B], { samples: 1 }), 'samples', ['2 rows']);
  rejects(perRow([ROW_A], { artist: 'Dr. Noise' }), 'artist', [/^artist: give either .* or rows, not both/]);
  rejects(perRow([ROW_A], { genres: ['jazz'] }), 'genres', [/^genres: give either/]);
  rejects(perRow([ROW_A], { lyrics: 'la' }), 'lyrics', [/^lyrics: give either/]);
  rejects(perRow(Array.from({ length: MAX_SAMPLES + 1 }, () => ROW_A)), 'rows', ['at most 16', 'got 17']);
  validateJobRequest(perRow(Array.from({ length: MAX_SAMPLES }, () => ROW_A)), manifest);
  rejects(perRow('rock'), 'rows', ['list']);
  rejects(perRow([ROW_A, null]), 'rows[1]', ['rows[1] must be an object']);
});

test('rows: each row is checked as the job-wide labels are, the message prefixed with rows[i]', () => {
  rejects(perRow([ROW_A, { ...ROW_B, artist: 'Nobody Known' }]), 'rows[1].artist', [/^rows\[1\]\.artist: artist "Nobody Known" \(looked up as "nobody_known"\) is not known/]);
  rejects(perRow([{ ...ROW_A, genres: ['Blues Polka'] }]), 'rows[0].genres', [/^rows\[0\]\.genres: genre word "polka"/]);
  rejects(perRow([ROW_A, ROW_B, { ...ROW_A, genres: ['rock pop jazz', 'blues rock pop'] }]), 'rows[2].genres', ['rows[2].genres: ', 'at most 5']);
  rejects(perRow([{ ...ROW_A, lyrics: 'a'.repeat(4097) }]), 'rows[0].lyrics', [/^rows\[0\]\.lyrics: lyrics have 4097 characters/]);
  rejects(perRow([{ ...ROW_A, lyrics: 'la \uFFFD' }]), 'rows[0].lyrics', ['UTF-8']);
  rejects(perRow([{ ...ROW_A, artist: 42 }]), 'rows[0].artist', ['must be a string']);
  rejects(perRow([{ artist: 'dr_noise' }]), 'rows[0].genres', ['list of strings']);
  // Blank names are "unknown" in a row as they are job-wide.
  assert.deepEqual(resolveLabels(validateJobRequest(perRow([{ artist: '', genres: [''], lyrics: '' }]), manifest), manifest)[0][0], { artistId: 0, genreIds: [0], lyricIds: [] });
});

test('rows: a level with its own label set refuses a row with more genre words than it takes', () => {
  const own = { version: 'v2' as const, artists: { unknown: 0 }, genres: { unknown: 0 }, maxGenreWords: 1, minDurationSeconds: 1, maxDurationSeconds: 600 };
  const m = { ...manifest, levels: manifest.levels.map((l, i) => (i === 0 ? { ...l, labels: own } : l)) };
  rejects(perRow([ROW_B, { ...ROW_A, genres: ['rock', 'pop'] }]), 'rows[1].genres', ['level 0', 'at most 1'], m);
  rejects(request({ genres: ['rock', 'pop'] }), 'genres', ['level 0', 'at most 1'], m);
});
