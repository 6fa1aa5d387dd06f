// Exports small random configurations of every official Jukebox prior family with
// tools/check_exported.py (PyTorch) and checks the ONNX graphs with onnxruntime-node against the
// PyTorch whole-window forward: token by token through a whole window with the KV cache, and with
// chunked prefill (prefillChunk positions per run) followed by single steps.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import type { LevelManifest } from '../shared/types.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const PYTHON = '/usr/bin/python3';
const FAMILIES = ['5b', '5b_lyrics', '1b_lyrics', 'upsampler_level_1', 'upsampler_level_0'];
const TOLERANCE = 1e-4;

interface Reference {
  family: string;
  attnFuncs: number[];
  labels: number[][];
  upperTokens: number[][] | null;
  tokens: number[][];
  /** logits[p][row]: the V logits at position p. */
  logits: number[][][];
}

let outDir = '';

before(() => {
  const probe = spawnSync(PYTHON, ['-c', 'import torch, onnx'], { encoding: 'utf8' });
  assert.equal(
    probe.status,
    0,
    `${PYTHON} cannot import torch and onnx; install the Debian packages python3-torch python3-onnx ` +
      `(apt-get install python3-torch python3-onnx).\n${probe.stderr ?? probe.error}`,
  );
  outDir = mkdtempSync(join(tmpdir(), 'jukebox-families-'));
  const run = spawnSync(PYTHON, [join(ROOT, 'tools', 'check_exported.py'), '--out', outDir], {
    encoding: 'utf8',
    timeout: 150_000,
  });
  assert.equal(run.status, 0, `tools/check_exported.py failed:\n${run.stderr}\n${run.stdout}`);
});

after(() => {
  if (outDir) rmSync(outDir, { recursive: true, force: true });
});

const sessionOptions: ort.InferenceSession.SessionOptions = {
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  graphOptimizationLevel: 'all',
  executionProviders: ['cpu'],
};

function int64(values: number[][]): ort.Tensor {
  const rows = values.length;
  const cols = values[0].length;
  const data = new BigInt64Array(rows * cols);
  values.forEach((row, r) => row.forEach((v, c) => (data[r * cols + c] = BigInt(v))));
  return new ort.Tensor('int64', data, [rows, cols]);
}

function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  assert.equal(actual.length, expected.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return diff / scale;
}

/** Runs the window in the given chunk sizes; checks the logits of every chunk's last position. Returns the worst error. */
async function runWindow(dir: string, lm: LevelManifest, ref: Reference, chunks: number[]): Promise<{ worst: number; compared: number }> {
  const cond = await ort.InferenceSession.create(join(dir, lm.graphs.conditioner.file), sessionOptions);
  const step = await ort.InferenceSession.create(join(dir, lm.graphs.step.file), sessionOptions);
  const b = ref.labels.length;
  const w = lm.width;
  const seq = lm.nCtx + (lm.conditioning.lyrics === 'prefix' ? lm.conditioning.lyricTokens : 0);
  assert.equal(ref.tokens[0].length, seq);
  const feeds: Record<string, ort.Tensor> = { labels: int64(ref.labels) };
  if (lm.conditioning.upper) {
    assert.ok(ref.upperTokens);
    feeds.upper_tokens = int64(ref.upperTokens);
  }
  const c = await cond.run(feeds);
  assert.deepEqual(c.x_cond.dims, [b, seq, w]);
  const xCond = c.x_cond.data as Float32Array;
  const host = new Set(['tokens', 'position', 'x_cond', 'y_cond']);
  const passThrough: Record<string, ort.Tensor> = {};
  for (const n of step.inputNames) {
    if (host.has(n) || n.startsWith('past_')) continue;
    assert.ok(c[n], `the step graph takes ${n}, which the conditioner does not output`);
    passThrough[n] = c[n];
  }
  let cache: ort.Tensor[] = [];
  for (let i = 0; i < 2 * lm.layers; i++) cache.push(new ort.Tensor('float32', new Float32Array(0), [b, lm.heads, 0, lm.headDim]));
  const v = lm.codebookSize + lm.vocabOffset;
  let pos = 0;
  let worst = 0;
  let compared = 0;
  for (const t of chunks) {
    const prev = ref.tokens.map((row) => Array.from({ length: t }, (_, i) => (pos + i === 0 ? 0 : row[pos + i - 1])));
    const x = new Float32Array(b * t * w);
    for (let r = 0; r < b; r++) x.set(xCond.subarray((r * seq + pos) * w, (r * seq + pos + t) * w), r * t * w);
    const f: Record<string, ort.Tensor> = {
      tokens: int64(prev),
      position: new ort.Tensor('int64', BigInt64Array.of(BigInt(pos)), [1]),
      x_cond: new ort.Tensor('float32', x, [b, t, w]),
      y_cond: c.y_cond,
      ...passThrough,
    };
    for (let i = 0; i < lm.layers; i++) {
      f[`past_key_${i}`] = cache[2 * i];
      f[`past_value_${i}`] = cache[2 * i + 1];
    }
    const out = await step.run(f);
    assert.deepEqual(out.logits.dims, [b, v]);
    const logits = out.logits.data as Float32Array;
    const p = pos + t - 1;
    for (let r = 0; r < b; r++) {
      const err = relativeError(logits.subarray(r * v, (r + 1) * v), ref.logits[p][r]);
      assert.ok(err <= TOLERANCE, `${ref.family}: row ${r} position ${p}: relative error ${err.toExponential(2)}`);
      worst = Math.max(worst, err);
    }
    compared++;
    const next: ort.Tensor[] = [];
    for (let i = 0; i < lm.layers; i++) {
      for (const kind of ['key', 'value']) {
        const present = out[`present_${kind}_${i}`];
        assert.deepEqual(present.dims, [b, lm.heads, pos + t, lm.headDim]);
        next.push(present);
      }
    }
    cache = next;
    pos += t;
  }
  return { worst, compared };
}

for (const family of FAMILIES) {
  test(`${family}: ONNX step graphs match the PyTorch whole-window forward`, async (t) => {
    const dir = join(outDir, family);
    const lm = JSON.parse(readFileSync(join(dir, 'level.json'), 'utf8')) as LevelManifest;
    const ref = JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8')) as Reference;
    const n = ref.tokens[0].length;
    const single = await runWindow(dir, lm, ref, Array.from({ length: n }, () => 1));
    assert.equal(single.compared, n);
    const k = lm.prefillChunk;
    const prefill = Math.floor((n - 8) / k) * k;
    const chunks = [...Array.from({ length: prefill / k }, () => k), ...Array.from({ length: n - prefill }, () => 1)];
    const chunked = await runWindow(dir, lm, ref, chunks);
    const uneven = await runWindow(dir, lm, ref, [1, 17, 5, n - 23]);
    t.diagnostic(
      `attn funcs ${ref.attnFuncs.join('')}; worst relative error: single steps ${single.worst.toExponential(2)}, ` +
        `chunked prefill ${chunked.worst.toExponential(2)}, uneven chunks ${uneven.worst.toExponential(2)}`,
    );
  });
}
