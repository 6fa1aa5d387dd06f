import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { levelGraphFiles, levelRatio, parseManifest } from '../../shared/manifest.js';
import { ManifestError } from '../../shared/errors.js';
import { tinyManifestJson } from './helpers.js';

type Json = Record<string, unknown>;
const DELETE = Symbol('delete');

/** Sets (or deletes) the value at a dotted path such as "levels.1.hopLength" in parsed JSON. */
function edit(json: Json, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = json;
  for (const k of keys.slice(0, -1)) node = node[k] as Json;
  const last = keys[keys.length - 1];
  if (value === DELETE) delete node[last];
  else node[last] = value;
}

function rejects(at: string, value: unknown, path: string): void {
  const json = tinyManifestJson();
  edit(json, at, value);
  assert.throws(
    () => parseManifest(json),
    (e: unknown) => {
      assert.ok(e instanceof ManifestError, String(e));
      assert.equal(e.path, path, e.message);
      assert.ok(e.message.includes(path), e.message);
      return true;
    },
  );
}

test('a valid manifest parses to the contract types; unknown keys are dropped', () => {
  const json = tinyManifestJson();
  edit(json, 'comment', 'ignored');
  edit(json, 'levels.0.extra', 1);
  const m = parseManifest(json);
  assert.equal(m.modelId, 'tiny');
  assert.equal(m.levels.length, 3);
  assert.equal((m as unknown as Json).comment, undefined);
  assert.equal((m.levels[0] as unknown as Json).extra, undefined);
  assert.deepEqual(m.levels[2].conditioning, { labels: true, timing: true, lyrics: 'encoder', lyricTokens: 32, upper: false });
  assert.equal(m.lyrics?.maxChars, 4096);
  assert.equal(Object.getPrototypeOf(m.labels.artists), null, 'names like "constructor" cannot resolve to inherited members');
});

test('the shipped tiny model manifest parses', async () => {
  const json: unknown = JSON.parse(await readFile(new URL('../../models/tiny/manifest.json', import.meta.url), 'utf8'));
  const m = parseManifest(json);
  assert.deepEqual(m.levels.map((l) => l.hopLength), [8, 32, 128]);
  assert.deepEqual([levelRatio(m, 0), levelRatio(m, 1)], [4, 4]);
  assert.throws(() => levelRatio(m, 2), RangeError);
});

test('every contract rule is enforced, naming the field path', () => {
  const cases: [string, string, unknown][] = [
    ['contractVersion', 'contractVersion', 3],
    ['levels[0].samplingChunk', 'levels.0.samplingChunk', 0],
    ['modelId', 'modelId', DELETE],
    ['sampleRate', 'sampleRate', 0],
    ['sampleRate', 'sampleRate', 16000.5],
    ['labels.version', 'labels.version', 'v4'],
    ['labels.artists', 'labels.artists', {}],
    ['labels.artists["dr_noise"]', 'labels.artists.dr_noise', -1],
    ['labels.genres["rock"]', 'labels.genres.rock', 1.5],
    ['labels.maxGenreWords', 'labels.maxGenreWords', 0],
    ['labels.minDurationSeconds', 'labels.minDurationSeconds', -1],
    ['labels.maxDurationSeconds', 'labels.maxDurationSeconds', 1],
    ['lyrics.vocab', 'lyrics.vocab', 'abca'],
    ['lyrics.maxChars', 'lyrics.maxChars', 0],
    ['levels', 'levels', []],
    ['levels', 'levels', {}],
    ['levels[1].level', 'levels.1.level', 2],
    ['levels[1].hopLength', 'levels.1.hopLength', 8],
    ['levels[1].hopLength', 'levels.1.hopLength', 12],
    ['levels[1].nCtx', 'levels.2.hopLength', 96], // ratio 3 does not divide nCtx 128
    ['levels[0].hopFraction', 'levels.0.hopFraction', 0],
    ['levels[0].hopFraction', 'levels.0.hopFraction', 1.5],
    ['levels[0].hopFraction', 'levels.0.hopFraction', 0.001], // hop of 0 tokens
    ['levels[0].hopFraction', 'levels.0.hopFraction', 0.3], // hop 38 does not map to whole upper tokens
    ['levels[0].nCtx', 'levels.0.nCtx', 0],
    ['levels[0].headDim', 'levels.0.headDim', DELETE],
    ['levels[0].codebookSize', 'levels.0.codebookSize', 1],
    ['levels[0].prefillChunk', 'levels.0.prefillChunk', 0],
    ['levels[2].labelLength', 'levels.2.labelLength', 9],
    ['levels[2].conditioning.lyrics', 'levels.2.conditioning.lyrics', 'sideways'],
    ['levels[2].conditioning.lyricTokens', 'levels.2.conditioning.lyricTokens', 0],
    ['levels[2].conditioning.lyricTokens', 'levels.2.conditioning.lyricTokens', 31],
    ['levels[0].conditioning.lyricTokens', 'levels.0.conditioning.lyricTokens', 4],
    ['levels[0].conditioning.upper', 'levels.0.conditioning.upper', 'yes'],
    ['levels[2].conditioning.upper', 'levels.2.conditioning.upper', true],
    ['levels[2].conditioning.lyrics', 'lyrics', DELETE],
    ['levels[2].vocabOffset', 'levels.2.conditioning.lyrics', 'prefix'], // offset 0 < vocab + 1
    ['levels[0].vocabOffset', 'levels.0.vocabOffset', 3],
    ['levels[0].graphs.step.sha256', 'levels.0.graphs.step.sha256', 'ABC'],
    ['levels[0].graphs.conditioner.file', 'levels.0.graphs.conditioner.file', '../escape.onnx'],
    ['levels[0].graphs.conditioner.file', 'levels.0.graphs.conditioner.file', '/abs.onnx'],
    ['levels[1].graphs', 'levels.1.graphs', DELETE],
    ['vqvae.decoders', 'vqvae.decoders', []],
    ['vqvae.decoders[0].level', 'vqvae.decoders.0.level', 1],
    ['vqvae.decoders[1].marginTokens', 'vqvae.decoders.1.marginTokens', -1],
    ['vqvae.decoders[3].level', 'vqvae.decoders.3', { level: 3, file: 'd.onnx', sha256: 'a'.repeat(64), marginTokens: 1 }],
  ];
  for (const [path, at, value] of cases) rejects(at, value, path);
  assert.throws(() => parseManifest(null), (e: unknown) => e instanceof ManifestError && e.path === '(root)');
});

test('a fused loop graph needs contract version 2; the sampling chunk is optional', () => {
  const json = tinyManifestJson();
  edit(json, 'contractVersion', 1);
  edit(json, 'levels.0.graphs.loop', { file: 'level0.loop.onnx', sha256: 'a'.repeat(64) });
  assert.throws(() => parseManifest(json), (e: unknown) => e instanceof ManifestError && e.path === 'levels[0].graphs.loop');
  edit(json, 'contractVersion', 2);
  edit(json, 'levels.0.graphs.loop.sha256', 'x');
  assert.throws(() => parseManifest(json), (e: unknown) => e instanceof ManifestError && e.path === 'levels[0].graphs.loop.sha256');
  edit(json, 'levels.0.graphs.loop.sha256', 'a'.repeat(64));
  edit(json, 'levels.0.samplingChunk', 16);
  const m = parseManifest(json);
  assert.equal(m.contractVersion, 2);
  assert.equal(m.levels[0].graphs.loop?.file, 'level0.loop.onnx');
  assert.equal(m.levels[0].samplingChunk, 16);
});

test('the float16 graph set is optional; its files follow the same rules, its loop only beside a float32 loop', () => {
  const sha = 'a'.repeat(64);
  const fp16 = (level: number, loop: boolean) => ({
    conditioner: { file: `level${level}.conditioner.fp16.onnx`, sha256: sha },
    step: { file: `level${level}.step.fp16.onnx`, sha256: sha },
    ...(loop ? { loop: { file: `level${level}.loop.fp16.onnx`, sha256: sha } } : {}),
  });
  const json = tinyManifestJson();
  assert.equal(parseManifest(json).levels[0].graphs.fp16, undefined);
  edit(json, 'contractVersion', 2);
  edit(json, 'levels.0.graphs.loop', { file: 'level0.loop.onnx', sha256: sha });
  edit(json, 'levels.0.graphs.fp16', fp16(0, true));
  edit(json, 'levels.1.graphs.fp16', { ...fp16(1, false), step: { file: 'level1.step.fp16.onnx', sha256: sha, externalData: [{ file: 'level1.step.fp16.onnx.data', sha256: sha }] } });
  const m = parseManifest(json);
  assert.deepEqual(m.levels[0].graphs.fp16, fp16(0, true));
  assert.equal(m.levels[1].graphs.fp16?.loop, undefined);
  assert.equal(m.levels[1].graphs.fp16?.step.externalData?.[0].file, 'level1.step.fp16.onnx.data');
  assert.deepEqual(levelGraphFiles(m.levels[0], 'fp16'), m.levels[0].graphs.fp16);
  assert.deepEqual(levelGraphFiles(m.levels[0], 'fp32'), { conditioner: m.levels[0].graphs.conditioner, step: m.levels[0].graphs.step, loop: m.levels[0].graphs.loop });
  assert.equal(levelGraphFiles(m.levels[2], 'fp16'), undefined);

  const bad = (at: string, value: unknown, path: string): void => {
    const j = structuredClone(json);
    edit(j, at, value);
    assert.throws(
      () => parseManifest(j),
      (e: unknown) => e instanceof ManifestError && e.path === path && e.message.includes(path),
    );
  };
  bad('levels.0.graphs.fp16', 'level0.fp16.onnx', 'levels[0].graphs.fp16');
  bad('levels.0.graphs.fp16.step', DELETE, 'levels[0].graphs.fp16.step');
  bad('levels.0.graphs.fp16.conditioner.sha256', 'ABC', 'levels[0].graphs.fp16.conditioner.sha256');
  bad('levels.0.graphs.fp16.loop.file', '../loop.onnx', 'levels[0].graphs.fp16.loop.file');
  bad('levels.1.graphs.fp16.step.externalData', {}, 'levels[1].graphs.fp16.step.externalData');
  bad('levels.1.graphs.fp16.loop', { file: 'level1.loop.fp16.onnx', sha256: sha }, 'levels[1].graphs.fp16.loop'); // no float32 loop
  bad('contractVersion', 1, 'levels[0].graphs.loop');
});

test('prefix lyrics need music ids shifted past the lyric vocabulary', () => {
  const json = tinyManifestJson();
  edit(json, 'levels.2.conditioning.lyrics', 'prefix');
  edit(json, 'levels.2.vocabOffset', Array.from((json.lyrics as { vocab: string }).vocab).length + 1);
  assert.equal(parseManifest(json).levels[2].vocabOffset, 79);
});

test('a level may carry its own label set; its labelLength follows that set', () => {
  const json = tinyManifestJson();
  // As 1b_lyrics: a v3 top with one genre slot, v2 upsamplers with five.
  const top = (json.levels as Json[])[2];
  edit(json, 'labels.version', 'v3');
  edit(json, 'labels.maxGenreWords', 1);
  top.labelLength = 4 + 1 + 32;
  const own = { version: 'v2', artists: { unknown: 0, dr_noise: 9 }, genres: { unknown: 0, jazz: 2 }, maxGenreWords: 5, minDurationSeconds: 1, maxDurationSeconds: 600 };
  for (const l of [0, 1]) (json.levels as Json[])[l].labels = structuredClone(own);
  const m = parseManifest(json);
  assert.equal(m.levels[0].labels?.version, 'v2');
  assert.equal(m.levels[0].labels?.artists.dr_noise, 9);
  assert.equal(m.levels[2].labels, undefined);
  assert.equal(m.labels.version, 'v3');
  // Without their own set the upsamplers' labelLength (9) disagrees with the top's single genre slot.
  delete (json.levels as Json[])[1].labels;
  assert.throws(() => parseManifest(json), (e: unknown) => e instanceof ManifestError && e.path === 'levels[1].labelLength');
  (json.levels as Json[])[1].labels = { ...own, version: 'v9' };
  assert.throws(() => parseManifest(json), (e: unknown) => e instanceof ManifestError && e.path === 'levels[1].labels.version');
});
