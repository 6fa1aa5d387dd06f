// Exports small random configurations of every official Jukebox prior family with
// tools/check_exported.py (PyTorch) and checks the ONNX graphs with onnxruntime-node against the
// PyTorch whole-window forward: token by token through a whole window with the KV cache, and with
// chunked prefill (prefillChunk positions per run) followed by single steps.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import type { LevelGraphFiles, LevelManifest } from '../shared/types.js';
import { relativeError, runConditioner, sequenceLength, sessionOptions, stepWindow } from './helpers/onnx-graphs.js';
import { PYTHON, requireTorch } from './helpers/python.js';
import { NO_AGREEMENT, SAMPLING_CASES, addAgreement, agreement, sampleBothWays, type Agreement } from './helpers/fused-agreement.js';
import { LevelGraphs, LOOP_GRAPH_OPTIMIZATION } from '../worker/onnx-runtime.js';
import type { WindowBatch } from '../worker/window-sampler.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
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

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

before(() => {
  requireTorch();
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

/** Runs the window in the given chunk sizes; checks the logits of every chunk's last position. Returns the worst error. */
async function runWindow(dir: string, lm: LevelManifest, ref: Reference, chunks: number[]): Promise<{ worst: number; compared: number }> {
  const cond = await ort.InferenceSession.create(join(dir, lm.graphs.conditioner.file), sessionOptions);
  const step = await ort.InferenceSession.create(join(dir, lm.graphs.step.file), sessionOptions);
  const b = ref.labels.length;
  assert.equal(ref.tokens[0].length, sequenceLength(lm));
  const c = await runConditioner(cond, lm, ref.labels, ref.upperTokens);
  const v = lm.codebookSize + lm.vocabOffset;
  let worst = 0;
  let compared = 0;
  await stepWindow(step, lm, c, ref.tokens, chunks, (p, out) => {
    const logits = out.data as Float32Array;
    for (let r = 0; r < b; r++) {
      const err = relativeError(logits.subarray(r * v, (r + 1) * v), ref.logits[p][r]);
      assert.ok(err <= TOLERANCE, `${ref.family}: row ${r} position ${p}: relative error ${err.toExponential(2)}`);
      worst = Math.max(worst, err);
    }
    compared++;
  });
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

let pooled: Agreement = NO_AGREEMENT;

/** The family's level graphs of one set (float32 or float16): conditioner, step and loop graph. */
async function openLevel(dir: string, lm: LevelManifest, files: LevelGraphFiles): Promise<LevelGraphs> {
  assert.ok(files.loop, `${dir}: level.json names a loop graph`);
  const open = (file: string): Promise<ort.InferenceSession> => ort.InferenceSession.create(join(dir, file), sessionOptions);
  const loop = await ort.InferenceSession.create(join(dir, files.loop.file), { ...sessionOptions, graphOptimizationLevel: LOOP_GRAPH_OPTIMIZATION });
  return new LevelGraphs(lm, await open(files.conditioner.file), await open(files.step.file), loop);
}

/** Samples windows of the reference rows (fresh and primed, every filter) with the step and the loop graph. */
async function loopAgreement(g: LevelGraphs, lm: LevelManifest, ref: Reference, seeds: bigint[]): Promise<Agreement> {
  const hop = Math.floor(lm.hopFraction * lm.nCtx);
  // The reference rows' labels and upper tokens; music context from the reference sequence (prefix models: past the lyrics).
  const prefix = lm.conditioning.lyrics === 'prefix' ? lm.conditioning.lyricTokens : 0;
  const item = (row: number, seed: bigint, sampling: (typeof SAMPLING_CASES)[number], context: boolean) => ({
    start: context ? 2 * hop : 0,
    context: context ? [Int32Array.from(ref.tokens[row].slice(prefix, prefix + lm.nCtx - hop), (x) => Math.max(0, x - lm.vocabOffset))] : [],
    upper: ref.upperTokens ? [Int32Array.from(ref.upperTokens[row])] : null,
    labels: [Int32Array.from(ref.labels[row])],
    seed,
    sampling,
    sampleIds: [row],
  });
  let a: Agreement = NO_AGREEMENT;
  for (const context of [false, true]) {
    for (const seed of seeds) {
      const batch: WindowBatch = {
        level: lm.level,
        newTokens: context ? hop : lm.nCtx,
        items: SAMPLING_CASES.flatMap((s, i) => ref.labels.map((_, row) => item(row, seed + BigInt(100 * i), s, context))),
      };
      const r = await sampleBothWays(g, batch, 32);
      a = addAgreement(a, agreement(r.step, r.fused, `${ref.family} seed ${seed}${context ? ' primed' : ''}`));
    }
  }
  return a;
}

for (const family of FAMILIES) {
  test(`${family}: the fused loop graph samples the step graph's tokens`, async (t) => {
    const dir = join(outDir, family);
    const lm = JSON.parse(readFileSync(join(dir, 'level.json'), 'utf8')) as LevelManifest;
    const ref = JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8')) as Reference;
    const a = await loopAgreement(await openLevel(dir, lm, lm.graphs), lm, ref, [11n, 12n]);
    t.diagnostic(`${family}: ${a.compared} tokens compared, ${a.flips} boundary flips${a.where.length ? ` (${a.where.join('; ')})` : ''}`);
    pooled = addAgreement(pooled, a);
    assert.ok(a.flips <= 1, a.where.join('; '));
  });
}

for (const family of FAMILIES) {
  test(`${family}: the float16 graph set is listed with its sha256 and its loop graph samples its step graph's tokens`, async (t) => {
    const dir = join(outDir, family);
    const lm = JSON.parse(readFileSync(join(dir, 'level.json'), 'utf8')) as LevelManifest;
    const ref = JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8')) as Reference;
    const half = lm.graphs.fp16;
    assert.ok(half?.loop, `${family}: level.json names the float16 conditioner, step and loop graphs`);
    for (const g of [half.conditioner, half.step, half.loop]) {
      for (const f of [g, ...(g.externalData ?? [])]) assert.equal(sha256(readFileSync(join(dir, f.file))), f.sha256, f.file);
    }
    const g = await openLevel(dir, lm, half);
    assert.equal(g.precision, 'fp16');
    // On the CPU provider, which upcasts most float16 ops in islands that differ between the two graphs: a rare flip
    // is possible (the converter's report saw one, in 1b_lyrics).
    const a = await loopAgreement(g, lm, ref, [11n]);
    t.diagnostic(`${family} fp16: ${a.compared} tokens compared, ${a.flips} flips${a.where.length ? ` (${a.where.join('; ')})` : ''}`);
    assert.ok(a.flips <= 1, a.where.join('; '));
  });
}

test('families together: at most 1 boundary flip per 10,000 tokens', (t) => {
  t.diagnostic(`${pooled.compared} tokens compared, ${pooled.flips} flips`);
  assert.ok(pooled.compared >= 10_000, `compared ${pooled.compared}`);
  assert.ok(pooled.flips <= Math.floor(pooled.compared / 10_000), pooled.where.join('; '));
});
