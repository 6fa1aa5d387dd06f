// Checks models/tiny against the model contract and against the PyTorch reference written by
// tools/make_tiny_model.py (tests/fixtures/tiny-reference.json).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import type { DecoderManifest, LevelManifest, Manifest } from '../shared/types.js';
import { int64, maxAbsDiff, output, relativeError, runConditioner, sessionOptions, stepWindow } from './helpers/onnx-graphs.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const MODEL_DIR = join(ROOT, 'models', 'tiny');
const FIXTURE_PATH = join(ROOT, 'tests', 'fixtures', 'tiny-reference.json');

interface LevelFixture {
  level: number;
  batch: number;
  labels: number[][];
  upperTokens: number[][] | null;
  /** The window's input sequence (lyric prefix and shifted music ids for prefix models); position p is predicted from tokens[0 .. p-1]. */
  tokens: number[][];
  positions: number[];
  /** logits[i][row]: the V logits at positions[i]. */
  logits: number[][][];
}

interface DecoderFixture {
  level: number;
  tokens: number[][];
  audio: number[][];
}

interface Fixture {
  modelId: string;
  manifestSha256: string;
  levels: LevelFixture[];
  decoders: DecoderFixture[];
}

const manifestBytes = readFileSync(join(MODEL_DIR, 'manifest.json'));
const manifest = JSON.parse(manifestBytes.toString('utf8')) as Manifest;
const fixture = JSON.parse(readFileSync(FIXTURE_PATH, 'utf8')) as Fixture;

const sessions = new Map<string, Promise<ort.InferenceSession>>();
function session(file: string): Promise<ort.InferenceSession> {
  let s = sessions.get(file);
  if (!s) {
    s = ort.InferenceSession.create(join(MODEL_DIR, file), sessionOptions);
    sessions.set(file, s);
  }
  return s;
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function floats(t: ort.Tensor): Float32Array {
  assert.equal(t.type, 'float32');
  return t.data as Float32Array;
}

/** Deterministic pseudo-random integers (mulberry32). */
function randomTokens(seed: number, n: number, bins: number): number[] {
  let s = seed >>> 0;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    out.push(Math.floor(u * bins));
  }
  return out;
}

function levelManifest(level: number): LevelManifest {
  const l = manifest.levels[level];
  assert.ok(l && l.level === level, `manifest has no level ${level}`);
  return l;
}

/**
 * Runs the conditioner, then the step graph over the fixture's window in the given chunk sizes
 * (each chunk is one session.run with the KV cache). Returns the logits at each chunk's last position.
 */
async function runWindow(lm: LevelManifest, fx: LevelFixture, rows: number[], chunks: number[]): Promise<Map<number, Float32Array>> {
  const cond = await session(lm.graphs.conditioner.file);
  const step = await session(lm.graphs.step.file);
  const b = rows.length;
  const w = lm.width;
  const upper = fx.upperTokens;
  const c = await runConditioner(cond, lm, rows.map((r) => fx.labels[r]), upper && rows.map((r) => upper[r]));
  assert.deepEqual(output(c, 'y_cond').dims, [b, w]);
  assert.equal(output(c, 'x_cond').type, 'float32');
  if (lm.conditioning.lyrics === 'encoder') {
    assert.deepEqual(output(c, 'encoder_kv').dims, [b, lm.conditioning.lyricTokens, w]);
  }
  const result = new Map<number, Float32Array>();
  await stepWindow(step, lm, c, rows.map((r) => fx.tokens[r]), chunks, (p, logits) => result.set(p, floats(logits)));
  return result;
}

/** Compares the logits at every fixture position the run produced; returns how many were compared and the worst error. */
function compareLogits(
  lm: LevelManifest,
  fx: LevelFixture,
  rows: number[],
  got: Map<number, Float32Array>,
  label: string,
): { compared: number; worst: number } {
  const v = lm.codebookSize + lm.vocabOffset;
  let compared = 0;
  let worst = 0;
  fx.positions.forEach((p, i) => {
    const logits = got.get(p);
    if (!logits) return;
    rows.forEach((r, j) => {
      const err = relativeError(logits.subarray(j * v, (j + 1) * v), fx.logits[i][r]);
      assert.ok(err <= 1e-4, `level ${lm.level} ${label}: row ${r} position ${p}: relative error ${err.toExponential(2)}`);
      worst = Math.max(worst, err);
    });
    compared++;
  });
  return { compared, worst };
}

async function decode(d: DecoderManifest, tokens: number[][]): Promise<Float32Array> {
  const s = await session(d.file);
  const out = await s.run({ tokens: int64(tokens) });
  const audio = output(out, 'audio');
  assert.deepEqual(audio.dims, [tokens.length, tokens[0].length * levelManifest(d.level).hopLength]);
  return floats(audio);
}

test('manifest follows the contract and names every file by its sha256', () => {
  assert.equal(manifest.contractVersion, 2);
  assert.equal(manifest.modelId, 'tiny');
  assert.equal(manifest.levels.length, 3);
  assert.equal(manifest.vqvae.decoders.length, 3);
  manifest.levels.forEach((lm, i) => {
    assert.equal(lm.level, i);
    assert.equal(lm.labelLength, 4 + manifest.labels.maxGenreWords + lm.conditioning.lyricTokens);
    assert.ok(lm.graphs.loop, `level ${i} has its fused loop graph`);
    assert.equal(lm.kvCache?.layers.length, lm.layers);
    // The float16 set: each float32 graph's converted version, named as the exporter names them.
    const half = lm.graphs.fp16;
    assert.ok(half?.loop, `level ${i} has its float16 conditioner, step and loop graphs`);
    assert.deepEqual([half.conditioner.file, half.step.file, half.loop.file], ['conditioner', 'step', 'loop'].map((k) => `level${i}.${k}.fp16.onnx`));
    for (const g of [lm.graphs.conditioner, lm.graphs.step, lm.graphs.loop!, half.conditioner, half.step, half.loop]) {
      assert.equal(sha256(readFileSync(join(MODEL_DIR, g.file))), g.sha256, g.file);
    }
  });
  manifest.vqvae.decoders.forEach((d, i) => {
    assert.equal(d.level, i);
    assert.equal(sha256(readFileSync(join(MODEL_DIR, d.file))), d.sha256, d.file);
  });
  assert.equal(fixture.modelId, manifest.modelId);
  assert.equal(fixture.manifestSha256, sha256(manifestBytes), 'fixture was written for another build of the model');
});

for (const fx of fixture.levels) {
  const lm = levelManifest(fx.level);
  const allRows = Array.from({ length: fx.batch }, (_, r) => r);

  test(`level ${fx.level}: token-by-token steps with the KV cache match PyTorch`, async (t) => {
    const got = await runWindow(lm, fx, allRows, Array.from({ length: fx.tokens[0].length }, () => 1));
    const { compared, worst } = compareLogits(lm, fx, allRows, got, 'single steps');
    assert.equal(compared, fx.positions.length);
    t.diagnostic(`worst relative error ${worst.toExponential(2)}`);
  });

  test(`level ${fx.level}: chunked prefill (16, 16) then single steps match PyTorch`, async (t) => {
    const n = fx.tokens[0].length;
    const got = await runWindow(lm, fx, allRows, [16, 16, ...Array.from({ length: n - 32 }, () => 1)]);
    const { compared, worst } = compareLogits(lm, fx, allRows, got, 'chunked prefill');
    assert.ok(compared >= 3);
    t.diagnostic(`worst relative error ${worst.toExponential(2)}`);
  });

  test(`level ${fx.level}: uneven chunks on a one-row batch match PyTorch`, async (t) => {
    const n = fx.tokens[0].length;
    const got = await runWindow(lm, fx, [1], [1, 17, n - 18]);
    const { compared, worst } = compareLogits(lm, fx, [1], got, 'uneven chunks');
    assert.ok(compared >= 3);
    t.diagnostic(`worst relative error ${worst.toExponential(2)}`);
  });
}

for (const fx of fixture.decoders) {
  test(`VQ-VAE decoder ${fx.level} matches PyTorch`, async (t) => {
    const d = manifest.vqvae.decoders[fx.level];
    const audio = await decode(d, fx.tokens);
    const expected = fx.audio.flat();
    const err = maxAbsDiff(audio, expected);
    assert.ok(err <= 1e-5, `max abs difference ${err.toExponential(2)}`);
    t.diagnostic(`max abs difference ${err.toExponential(2)}`);
  });
}

for (const d of manifest.vqvae.decoders) {
  test(`VQ-VAE decoder ${d.level}: chunked decode with marginTokens equals a whole decode`, async (t) => {
    const hop = levelManifest(d.level).hopLength;
    const n = 600;
    const chunk = 64;
    const tokens = randomTokens(1000 + d.level, n, levelManifest(d.level).codebookSize);
    const whole = await decode(d, [tokens]);

    async function chunked(margin: number): Promise<Float32Array> {
      const out = new Float32Array(n * hop);
      for (let start = 0; start < n; start += chunk) {
        const end = Math.min(n, start + chunk);
        const from = Math.max(0, start - margin);
        const to = Math.min(n, end + margin);
        const audio = await decode(d, [tokens.slice(from, to)]);
        out.set(audio.subarray((start - from) * hop, (end - from) * hop), start * hop);
      }
      return out;
    }

    const err = maxAbsDiff(await chunked(d.marginTokens), whole);
    assert.ok(err <= 1e-5, `chunked with marginTokens ${d.marginTokens}: max abs difference ${err.toExponential(2)}`);
    t.diagnostic(`max abs difference ${err.toExponential(2)} with marginTokens ${d.marginTokens}`);
    // The check has teeth: without the margins the chunk edges differ.
    assert.ok(maxAbsDiff(await chunked(0), whole) > 1e-3, 'chunking without margins should change the audio');
  });
}
