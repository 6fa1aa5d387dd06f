// Worker tokens per second per level at batch 1, 4 and 16, the sampling loop against a bare session.run loop, and
// batch invariance (a row's tokens alone vs in a batch, also among windows of other jobs). --invariance-only: that last part.
import * as ort from 'onnxruntime-node';
import { join } from 'node:path';
import { DEFAULT_MODEL_DIR, readModelFolder } from '../models/model-folder.js';
import { LevelGraphs, openSession, type KvCache } from '../worker/onnx-runtime.js';
import { sampleBatch, sampleWindow, type WindowTask } from '../worker/window-sampler.js';
import { DEFAULT_SAMPLING } from '../shared/sampler.js';
import { median, saveResult } from './common.js';

const BATCHES = [1, 4, 16];
const ROUNDS = 5;
/** Interleaved pairs for the loop-vs-bare ratio: the difference is a few percent, so it needs many. */
const LOOP_PAIRS = 40;

async function loadLevel(dir: string, level: number): Promise<LevelGraphs> {
  const { manifest } = await readModelFolder(dir);
  const lm = manifest.levels[level];
  const opts = { provider: 'cpu' as const, intraOpThreads: 1 };
  const cond = await openSession(join(dir, lm.graphs.conditioner.file), opts);
  const step = await openSession(join(dir, lm.graphs.step.file), opts);
  return new LevelGraphs(lm, cond.session, step.session);
}

function task(graphs: LevelGraphs, rows: number, seed: bigint): WindowTask {
  const lm = graphs.level;
  const labels = Array.from({ length: rows }, () => {
    const l = new Int32Array(lm.labelLength).fill(-1);
    l.set([16000 * 60, 0, lm.nCtx * lm.hopLength, 1, 1]);
    for (let i = 4 + 5; i < lm.labelLength; i++) l[i] = (i * 7) % 40;
    return l;
  });
  const upper = lm.conditioning.upper ? Array.from({ length: rows }, () => Int32Array.from({ length: lm.nCtx / 4 }, (_, i) => (i * 13) % lm.codebookSize)) : null;
  return { level: lm.level, start: 0, context: [], newTokens: lm.nCtx, upper, labels, seed, sampling: DEFAULT_SAMPLING, sampleIds: Array.from({ length: rows }, (_, i) => i) };
}

/** session.run only: prebuilt feeds, the KV fed back, a fixed token; what the sampling loop adds is measured against this. */
async function bareLoop(graphs: LevelGraphs, t: WindowTask): Promise<number> {
  const lm = graphs.level;
  const rows = t.labels.length;
  const cond = await graphs.condition(t.labels, t.upper);
  const session = graphs.stepSession;
  let cache: KvCache = graphs.emptyCache(rows);
  const xSlices = Array.from({ length: lm.nCtx }, (_, p) => {
    const x = new Float32Array(rows * lm.width);
    for (let r = 0; r < rows; r++) x.set(cond.xCond.subarray((r * lm.nCtx + p) * lm.width, (r * lm.nCtx + p + 1) * lm.width), r * lm.width);
    return new ort.Tensor('float32', x, [rows, 1, lm.width]);
  });
  const tokens = new ort.Tensor('int64', new BigInt64Array(rows).fill(3n), [rows, 1]);
  const t0 = performance.now();
  for (let p = 0; p < t.newTokens; p++) {
    const feeds: Record<string, ort.Tensor> = {
      tokens,
      position: new ort.Tensor('int64', BigInt64Array.of(BigInt(p)), [1]),
      x_cond: xSlices[p],
      y_cond: cond.yCond,
      ...cond.passThrough,
    };
    for (let i = 0; i < lm.layers; i++) {
      feeds[`past_key_${i}`] = cache[2 * i];
      feeds[`past_value_${i}`] = cache[2 * i + 1];
    }
    const out = await session.run(feeds);
    cache = [];
    for (let i = 0; i < lm.layers; i++) cache.push(out[`present_key_${i}`], out[`present_value_${i}`]);
  }
  return (performance.now() - t0) / 1000;
}

const JOBS_PER_BATCH = 4;
const MIXED_CONTEXT = 48;

/** Window s of "job" j, as the coordinator batches them: its own seed, start, labels, upper tokens, context and sampling. */
function jobTask(graphs: LevelGraphs, j: number, s: number): WindowTask {
  const lm = graphs.level;
  const base = task(graphs, 1, BigInt(1000 + s) * 7919n + BigInt(j));
  const start = 64 * j + 16 * s;
  return {
    ...base,
    start,
    labels: base.labels.map((l) => l.map((x, i) => (i === 1 ? start * lm.hopLength : i === 3 ? 1 + (j % 3) : x))),
    upper: base.upper && base.upper.map((u) => u.map((x) => (x + 5 * j) % lm.codebookSize)),
    context: [Int32Array.from({ length: MIXED_CONTEXT }, (_, i) => (i * 29 + j * 11 + s) % lm.codebookSize)],
    newTokens: lm.nCtx - MIXED_CONTEXT,
    sampleIds: [j % 2],
    sampling: j % 2 === 0 ? DEFAULT_SAMPLING : { temperature: 1.05, topK: 40, topP: 0.95 },
  };
}

interface Invariance {
  windows: number;
  tokensCompared: number;
  tokensDiffering: number;
  maxAbsLogitDiff: number;
  /** Windows of different jobs (seeds, starts, labels, sampling) in one batch vs each alone. */
  mixedJobs: { batches: number; jobsPerBatch: number; tokensCompared: number; tokensDiffering: number };
}

/**
 * Does a row's output depend on the batch it rides in? Row 0 alone vs row 0 in a batch of 4 (same sample id):
 * tokens over several windows, and the largest logit difference over a whole window fed the same tokens; then
 * windows of different jobs batched together (as the coordinator fills a batch) vs each sampled alone.
 */
async function batchInvariance(graphs: LevelGraphs, windows: number): Promise<Invariance> {
  let differing = 0;
  let compared = 0;
  for (let s = 0; s < windows; s++) {
    const alone = await sampleWindow(graphs, task(graphs, 1, BigInt(1000 + s)));
    const batched = await sampleWindow(graphs, task(graphs, 4, BigInt(1000 + s)));
    for (let i = 0; i < alone.rows[0].length; i++) if (alone.rows[0][i] !== batched.rows[0][i]) differing++;
    compared += alone.rows[0].length;
  }
  let mixedDiffering = 0;
  let mixedCompared = 0;
  for (let s = 0; s < windows; s++) {
    const items = Array.from({ length: JOBS_PER_BATCH }, (_, j) => jobTask(graphs, j, s));
    const batched = await sampleBatch(graphs, { level: graphs.level.level, newTokens: items[0].newTokens, items });
    for (let j = 0; j < items.length; j++) {
      const alone = (await sampleWindow(graphs, items[j])).rows[0];
      for (let i = 0; i < alone.length; i++) if (alone[i] !== batched.rows[j][i]) mixedDiffering++;
      mixedCompared += alone.length;
    }
  }
  // Logits at every position of one window, both batch sizes fed identical tokens.
  const lm = graphs.level;
  const vocab = lm.codebookSize + lm.vocabOffset;
  const one = task(graphs, 1, 1n);
  const four = task(graphs, 4, 1n);
  const c1 = await graphs.condition(one.labels, one.upper);
  const c4 = await graphs.condition(four.labels, four.upper);
  let k1 = graphs.emptyCache(1);
  let k4 = graphs.emptyCache(4);
  let maxDiff = 0;
  for (let p = 0; p < lm.nCtx; p++) {
    const tok = BigInt((p * 37) % lm.codebookSize);
    const a = await graphs.run(c1, BigInt64Array.of(tok), 1, p, k1);
    const b = await graphs.run(c4, new BigInt64Array(4).fill(tok), 1, p, k4);
    k1 = a.cache;
    k4 = b.cache;
    for (let v = 0; v < vocab; v++) maxDiff = Math.max(maxDiff, Math.abs(a.logits[v] - b.logits[v]));
  }
  return {
    windows,
    tokensCompared: compared,
    tokensDiffering: differing,
    maxAbsLogitDiff: maxDiff,
    mixedJobs: { batches: windows, jobsPerBatch: JOBS_PER_BATCH, tokensCompared: mixedCompared, tokensDiffering: mixedDiffering },
  };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const dir = args.find((a) => !a.startsWith('--')) ?? DEFAULT_MODEL_DIR;
  const { manifest } = await readModelFolder(dir);
  // --invariance-only: the batch-invariance check alone (seconds, not minutes); prints, saves nothing.
  if (args.includes('--invariance-only')) {
    const out = [];
    for (const lm of manifest.levels) out.push({ level: lm.level, batchInvariance: await batchInvariance(await loadLevel(dir, lm.level), 8) });
    process.stdout.write(`${JSON.stringify({ model: manifest.modelId, levels: out })}\n`);
    return;
  }
  const levels = [];
  for (const lm of manifest.levels) {
    const graphs = await loadLevel(dir, lm.level);
    const batches = [];
    for (const rows of BATCHES) {
      await sampleWindow(graphs, task(graphs, rows, 1n)); // warm-up
      const secs: number[] = [];
      const stepSecs: number[] = [];
      for (let i = 0; i < ROUNDS; i++) {
        const r = await sampleWindow(graphs, task(graphs, rows, BigInt(i)));
        secs.push(r.timing.seconds);
        stepSecs.push(r.timing.seconds - r.timing.conditionSeconds - r.timing.prefillSeconds);
      }
      const s = median(secs);
      batches.push({ batch: rows, tokensPerSecond: Math.round((rows * lm.nCtx) / s), windowSeconds: s, msPerStep: (median(stepSecs) / lm.nCtx) * 1000 });
    }
    // Interleave the two loops so drift hits both alike.
    const bare: number[] = [];
    const sampled: number[] = [];
    for (let i = 0; i < LOOP_PAIRS; i++) {
      const t = task(graphs, 1, BigInt(i));
      bare.push(await bareLoop(graphs, t));
      const r = await sampleWindow(graphs, t);
      sampled.push(r.timing.seconds - r.timing.conditionSeconds - r.timing.prefillSeconds);
    }
    const ratio = median(bare) / median(sampled);
    const invariance = await batchInvariance(graphs, 8);
    levels.push({ level: lm.level, width: lm.width, layers: lm.layers, nCtx: lm.nCtx, batches, batchInvariance: invariance, loopVsBare: { bareSeconds: median(bare), samplingSeconds: median(sampled), throughputRatio: Number(ratio.toFixed(3)), target: 0.95 } });
  }
  await saveResult('worker-throughput', { model: manifest.modelId, rounds: ROUNDS, levels });
}

await main();
