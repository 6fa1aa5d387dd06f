// Running exported graphs with onnxruntime-node in tests: the prior's conditioner and step graphs over a window
// (the host's side of the model contract, with the KV cache) and the error measures the tests compare with.
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import type { LevelManifest } from '../../shared/types.js';
import { cacheLength } from '../../shared/kv-cache.js';

/** Deterministic CPU sessions: one thread each. */
export const sessionOptions: ort.InferenceSession.SessionOptions = {
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  graphOptimizationLevel: 'all',
  executionProviders: ['cpu'],
};

export function int64(values: number[][]): ort.Tensor {
  const rows = values.length;
  const cols = values[0].length;
  const data = new BigInt64Array(rows * cols);
  values.forEach((row, r) => row.forEach((v, c) => (data[r * cols + c] = BigInt(v))));
  return new ort.Tensor('int64', data, [rows, cols]);
}

export function output(out: ort.InferenceSession.OnnxValueMapType, name: string): ort.Tensor {
  const t = out[name];
  assert.ok(t, `missing output ${name}`);
  return t;
}

/** max |a - b| / max |b|: the relative error used for logits. */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  assert.equal(actual.length, expected.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return diff / scale;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'length');
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

/** Positions of a window's sequence: the music tokens, plus the lyric prefix of "prefix" models. */
export function sequenceLength(lm: LevelManifest): number {
  return lm.nCtx + (lm.conditioning.lyrics === 'prefix' ? lm.conditioning.lyricTokens : 0);
}

/** Runs the conditioner on one label row (and upper-level token row, for upsamplers) per batch row; checks x_cond's shape. */
export async function runConditioner(
  cond: ort.InferenceSession,
  lm: LevelManifest,
  labels: number[][],
  upperTokens: number[][] | null,
): Promise<ort.InferenceSession.OnnxValueMapType> {
  const feeds: Record<string, ort.Tensor> = { labels: int64(labels) };
  if (lm.conditioning.upper) {
    assert.ok(upperTokens);
    feeds.upper_tokens = int64(upperTokens);
  }
  const c = await cond.run(feeds);
  assert.deepEqual(output(c, 'x_cond').dims, [labels.length, sequenceLength(lm), lm.width]);
  return c;
}

/**
 * Runs the step graph over the window `tokens` (one row per batch row) in the given chunk sizes, each chunk one
 * session.run with the KV cache, from the conditioner outputs `c`. Checks the logits and cache shapes and hands
 * `onLogits` each chunk's logits with the position they are at (the chunk's last).
 */
export async function stepWindow(
  step: ort.InferenceSession,
  lm: LevelManifest,
  c: ort.InferenceSession.OnnxValueMapType,
  tokens: number[][],
  chunks: number[],
  onLogits: (position: number, logits: ort.Tensor) => void,
): Promise<void> {
  const b = tokens.length;
  const w = lm.width;
  const seq = sequenceLength(lm);
  const xCond = output(c, 'x_cond').data as Float32Array;
  const yCond = output(c, 'y_cond');
  // Step inputs other than the host's own and the cache are conditioner outputs of the same name.
  const host = new Set(['tokens', 'position', 'x_cond', 'y_cond']);
  const passThrough: Record<string, ort.Tensor> = {};
  for (const n of step.inputNames) {
    if (host.has(n) || n.startsWith('past_')) continue;
    assert.ok(c[n], `the step graph takes ${n}, which the conditioner does not output`);
    passThrough[n] = c[n];
  }
  let cache: ort.Tensor[] = [];
  for (let i = 0; i < 2 * lm.layers; i++) cache.push(new ort.Tensor('float32', new Float32Array(0), [b, lm.heads, 0, lm.headDim]));
  let pos = 0;
  for (const t of chunks) {
    const prev = tokens.map((row) => Array.from({ length: t }, (_, i) => (pos + i === 0 ? 0 : row[pos + i - 1])));
    const x = new Float32Array(b * t * w);
    for (let r = 0; r < b; r++) x.set(xCond.subarray((r * seq + pos) * w, (r * seq + pos + t) * w), r * t * w);
    const feeds: Record<string, ort.Tensor> = {
      tokens: int64(prev),
      position: new ort.Tensor('int64', BigInt64Array.of(BigInt(pos)), [1]),
      x_cond: new ort.Tensor('float32', x, [b, t, w]),
      y_cond: yCond,
      ...passThrough,
    };
    for (let i = 0; i < lm.layers; i++) {
      feeds[`past_key_${i}`] = cache[2 * i];
      feeds[`past_value_${i}`] = cache[2 * i + 1];
    }
    const out = await step.run(feeds);
    const logits = output(out, 'logits');
    assert.deepEqual(logits.dims, [b, lm.codebookSize + lm.vocabOffset]);
    onLogits(pos + t - 1, logits);
    const next: ort.Tensor[] = [];
    for (let i = 0; i < lm.layers; i++) {
      for (const kind of ['key', 'value']) {
        const present = output(out, `present_${kind}_${i}`);
        assert.deepEqual(present.dims, [b, lm.heads, cacheLength(lm.kvCache, i, pos + t), lm.headDim], `present_${kind}_${i} after position ${pos + t - 1}`);
        next.push(present);
      }
    }
    cache = next;
    pos += t;
  }
}
