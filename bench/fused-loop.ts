// Tokens per second per level: contract v1's step loop (one session.run per token, host sampler) against the
// fused loop graph (contract v2: LOOP_CHUNK tokens per session.run, sampler in the graph), at batch 1, 4 and 16,
// on the bundled model, CPU, one intra-op thread. Each window samples all nCtx positions fresh (no prefill). Two
// figures: the sampling loop (what the two ways differ in: from the conditioned window to its last token) and the
// whole window (the conditioner's run, the same in both, included). The two ways are interleaved round by round so
// that drift hits them alike; median of ROUNDS with the spread ((max - min) / median); a ratio is the median of the
// per-round ratios.
//   npx tsx bench/fused-loop.ts [modelDir]
import { join } from 'node:path';
import { DEFAULT_MODEL_DIR, readModelFolder } from '../models/model-folder.js';
import { LevelGraphs, openSession } from '../worker/onnx-runtime.js';
import { sampleBatch, type WindowBatch } from '../worker/window-sampler.js';
import { DEFAULT_SAMPLING } from '../shared/sampler.js';
import type { LevelManifest, SamplingParams } from '../shared/types.js';
import { saveResult, spreadStat, type SpreadStat } from './common.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const BATCHES = [1, 4, 16];
const LOOP_CHUNK = 64;
/** ONNX Runtime intra-op threads per session (BENCH_THREADS; the worker's --intra-op-threads). */
const THREADS = Number(process.env.BENCH_THREADS ?? 1);
const FILTERED: SamplingParams = { temperature: 0.9, topK: 60, topP: 0.9 };

function batchOf(lm: LevelManifest, rows: number, sampling: SamplingParams): WindowBatch {
  const items = Array.from({ length: rows }, (_, r) => {
    const labels = new Int32Array(lm.labelLength).fill(-1);
    labels.set([16000 * 60, 4096 * r, lm.nCtx * lm.hopLength, 1, 3]);
    for (let i = 9; i < lm.labelLength; i++) labels[i] = 1 + ((i * 7 + r) % 60);
    const upper = lm.conditioning.upper ? [Int32Array.from({ length: lm.nCtx / 4 }, (_, i) => (i * 13 + r) % lm.codebookSize)] : null;
    return { start: 0, context: [], upper, labels: [labels], seed: 1000n + BigInt(r), sampling, sampleIds: [0] };
  });
  return { level: lm.level, newTokens: lm.nCtx, items };
}

const stat = (xs: number[], digits = 0): SpreadStat => spreadStat(xs, digits);

/** Tokens per second: [sampling loop, whole window]. */
async function tokensPerSecond(g: LevelGraphs, batch: WindowBatch, chunk: number): Promise<[number, number]> {
  const { timing } = await sampleBatch(g, batch, { samplingChunk: chunk });
  const tokens = batch.items.length * batch.newTokens;
  return [tokens / (timing.seconds - timing.conditionSeconds - timing.prefillSeconds), tokens / timing.seconds];
}

async function main(): Promise<void> {
  const folder = await readModelFolder(process.argv[2] ?? DEFAULT_MODEL_DIR);
  const opts = { provider: 'cpu' as const, intraOpThreads: THREADS };
  const results: Record<string, unknown>[] = [];
  for (const lm of folder.manifest.levels) {
    if (!lm.graphs.loop) throw new Error(`level ${lm.level} has no loop graph: export the model with contract version 2`);
    const open = async (file: string, loopGraph = false) => (await openSession(join(folder.dir, file), { ...opts, loopGraph })).session;
    const g = new LevelGraphs(lm, await open(lm.graphs.conditioner.file), await open(lm.graphs.step.file), await open(lm.graphs.loop.file, true));
    for (const [filters, sampling] of [['off', DEFAULT_SAMPLING], ['top-k 60 + top-p 0.9', FILTERED]] as const) {
      for (const rows of BATCHES) {
        const batch = batchOf(lm, rows, sampling);
        await tokensPerSecond(g, batch, 0); // warm-up: first runs allocate
        await tokensPerSecond(g, batch, LOOP_CHUNK);
        const step: number[] = [];
        const fused: number[] = [];
        const ratios: number[] = [];
        const windowRatios: number[] = [];
        for (let k = 0; k < ROUNDS; k++) {
          const a = await tokensPerSecond(g, batch, 0);
          const b = await tokensPerSecond(g, batch, LOOP_CHUNK);
          step.push(a[0]);
          fused.push(b[0]);
          ratios.push(b[0] / a[0]);
          windowRatios.push(b[1] / a[1]);
        }
        const row = {
          level: lm.level,
          layers: lm.layers,
          filters,
          batch: rows,
          loop: { stepTokensPerSecond: stat(step), fusedTokensPerSecond: stat(fused), fusedOverStep: stat(ratios, 2) },
          wholeWindowFusedOverStep: stat(windowRatios, 2),
        };
        results.push(row);
        console.log(
          `level ${lm.level} (${lm.layers} layers) filters ${filters.padEnd(21)} batch ${String(rows).padStart(2)}: loop step ${stat(step).median} tok/s, fused ${stat(fused).median} tok/s, ` +
            `ratio ${stat(ratios, 2).median} (spread ${stat(ratios, 2).spreadPct} %); whole window ratio ${stat(windowRatios, 2).median}`,
        );
      }
    }
  }
  await saveResult(THREADS === 1 ? 'fused-loop' : `fused-loop-${THREADS}threads`, {
    note: `tokens per second sampling fresh windows (nCtx new tokens, no prefill), CPU, ${THREADS} intra-op thread(s); loop = the sampling loop (after the conditioner), wholeWindow = with the conditioner's run; step = one session.run per token with the host sampler, fused = the loop graph with ${LOOP_CHUNK} tokens per run; median of ${ROUNDS} interleaved rounds, spread = (max - min) / median`,
    model: folder.manifest.modelId,
    rounds: ROUNDS,
    intraOpThreads: THREADS,
    loopChunk: LOOP_CHUNK,
    results,
  });
}

await main();
