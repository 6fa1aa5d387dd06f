// Per-row labels outside validation: the CLI's --row / --metas parsing (client/row-labels.ts) and the durable
// store's spec, old records included (coordinator/job-restore.ts specOf).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { METAS_SYNTAX, ROW_SYNTAX, parseMetas, parseRowFlag, rowsSamples } from '../../client/row-labels.js';
import { specOf } from '../../coordinator/job-restore.js';
import type { JobFixedRecord, StoredSpec } from '../../coordinator/durable/store.js';
import { validateJobRequest } from '../../shared/job-spec.js';
import { parseManifest } from '../../shared/manifest.js';
import { tinyManifestJson } from './helpers.js';

test('--row: artist=, genres= (comma list) and lyrics= split on ";", any left out, each once', () => {
  assert.deepEqual(parseRowFlag('artist=Dr. Noise;genres=Blues Rock, jazz;lyrics=la, la = la'), { artist: 'Dr. Noise', genres: ['Blues Rock', 'jazz'], lyrics: 'la, la = la' });
  assert.deepEqual(parseRowFlag('lyrics=hi; artist=a'), { artist: 'a', genres: [], lyrics: 'hi' }, 'any order, blanks around keys');
  assert.deepEqual(parseRowFlag('genres=rock;'), { artist: '', genres: ['rock'], lyrics: '' });
  assert.deepEqual(parseRowFlag(''), { artist: '', genres: [], lyrics: '' }, "a row of the model's unknowns");
  assert.deepEqual(parseRowFlag('genres='), { artist: '', genres: [], lyrics: '' });
  const read = (path: string): string => {
    if (path !== 'song.txt') throw new Error(`ENOENT: ${path}`);
    return 'line one; line two\n';
  };
  assert.deepEqual(parseRowFlag('artist=a;lyrics=@song.txt', read), { artist: 'a', genres: [], lyrics: 'line one; line two\n' }, 'lyrics=@FILE may hold ";"');
  assert.throws(() => parseRowFlag('lyrics=@nope.txt', read), /lyrics=@nope\.txt: ENOENT/);
  // Anything that could be read two ways is refused, never guessed.
  assert.throws(() => parseRowFlag('artist=a;lyrics=one; two'), /" two" is not artist=\.\.\..*lyrics=@FILE/);
  assert.throws(() => parseRowFlag('artist=a;artist=b'), /artist= is given twice/);
  assert.throws(() => parseRowFlag('genre=rock'), /"genre=rock" is not/);
  assert.throws(() => parseRowFlag('dr_noise'), /"dr_noise" is not/);
  assert.throws(() => parseRowFlag('genres=rock,,pop'), /empty genre/);
  assert.match(ROW_SYNTAX, /artist=NAME;genres=A,B;lyrics=TEXT/);
  assert.match(METAS_SYNTAX, /"genres"/);
});

test('--metas: a JSON array of {artist, genres, lyrics}, one per row', () => {
  assert.deepEqual(parseMetas('[{"artist": "a", "genres": ["rock", "pop"], "lyrics": "x;y"}, {"genres": []}, {}]'), [
    { artist: 'a', genres: ['rock', 'pop'], lyrics: 'x;y' },
    { artist: '', genres: [], lyrics: '' },
    { artist: '', genres: [], lyrics: '' },
  ]);
  assert.throws(() => parseMetas('{"artist": "a"}'), /JSON array/);
  assert.throws(() => parseMetas('[]'), /JSON array/);
  assert.throws(() => parseMetas('[{"artist": "a"'), /not JSON/);
  assert.throws(() => parseMetas('[{}, {"artist": 3}]'), /entry 1: artist must be a string/);
  assert.throws(() => parseMetas('[{"genres": "rock"}]'), /entry 0: genres must be an array of strings/);
  assert.throws(() => parseMetas('[{"genre": "rock", "total_length": 1}]'), /entry 0: "genre", "total_length" is not a label/);
  assert.throws(() => parseMetas('["a"]'), /entry 0 must be an object/);
});

test('--samples must agree with the rows given', () => {
  assert.equal(rowsSamples([{ artist: '', genres: [], lyrics: '' }], undefined, '--row'), 1);
  assert.equal(rowsSamples([{ artist: '', genres: [], lyrics: '' }], 1, '--metas'), 1);
  assert.throws(() => rowsSamples([{ artist: '', genres: [], lyrics: '' }], 2, '--row'), /--samples 2 disagrees with the 1 --row flags/);
  assert.throws(() => rowsSamples([], 3, '--metas'), /--samples 3 disagrees with the 0 rows in --metas/);
});

const manifest = parseManifest(tinyManifestJson());

function fixed(spec: StoredSpec | Record<string, unknown>): JobFixedRecord {
  return { id: 'job-1', spec: spec as StoredSpec, modelHash: 'h', wavFormat: 'pcm16', decodeChunkTokens: 256, createdAtMs: 0, seq: 1 };
}

test('the durable store keeps each row\'s labels; a record from before per-row labels restores with them on every row', () => {
  const spec = validateJobRequest(
    { model: 'tiny', artist: '', genres: [], lyrics: '', rows: [{ artist: 'dr_noise', genres: ['rock'], lyrics: 'a' }, { artist: 'tiny_ensemble', genres: [], lyrics: 'b' }], durationSeconds: 3, seed: '9', sampling: [] },
    manifest,
  );
  // As JobPersistence writes it (fixedRecord) and JetStream keeps it: JSON.
  const stored = JSON.parse(JSON.stringify({ ...spec, seed: spec.seed.toString() })) as StoredSpec;
  assert.deepEqual(specOf(fixed(stored)), spec);
  const { rows, ...rest } = stored;
  const legacy = { ...rest, artist: 'dr_noise', genres: ['rock'], lyrics: 'la' };
  const restored = specOf(fixed(legacy));
  assert.deepEqual(restored.rows, [0, 1].map(() => ({ artist: 'dr_noise', genres: ['rock'], lyrics: 'la' })));
  assert.ok(!('artist' in restored) && !('genres' in restored) && !('lyrics' in restored), 'no job-wide fields left beside rows');
  assert.equal(rows.length, restored.rows.length);
});
