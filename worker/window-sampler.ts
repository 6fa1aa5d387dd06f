// Samples one window for a batch of rows: condition, prefill the primed context, then one token per step.
import { uniform, splitSeed } from '../shared/rng.js';
import { TokenSampler } from '../shared/sampler.js';
import type { SamplingParams } from '../shared/types.js';
import type { KvCache, LevelGraphs } from './onnx-runtime.js';

export interface WindowTask {
  level: number;
  /** Window start in level tokens: the RNG position of window position p is start + p. */
  start: number;
  /** Priming tokens per row, all the same length. */
  context: Int32Array[];
  newTokens: number;
  /** Upper-level tokens per row (lower levels). */
  upper: Int32Array[] | null;
  labels: Int32Array[];
  seed: bigint;
  sampling: SamplingParams;
  /** The job's sample index per row. */
  sampleIds: number[];
}

export interface WindowTiming {
  seconds: number;
  prefillSeconds: number;
  conditionSeconds: number;
}

export interface WindowHooks {
  /** Called now and then with the tokens produced since the last call ([row][i]). */
  onTokens?: (fresh: Int32Array[], tokensDone: number) => void;
  /** Polled every step; true stops the window with an error. */
  cancelled?: () => boolean;
  /** Milliseconds between onTokens calls. */
  progressIntervalMs?: number;
}

export class WindowCancelledError extends Error {
  override name = 'WindowCancelledError';
}

export async function sampleWindow(
  graphs: LevelGraphs,
  task: WindowTask,
  hooks: WindowHooks = {},
): Promise<{ rows: Int32Array[]; timing: WindowTiming }> {
  const t0 = performance.now();
  const rows = task.labels.length;
  const ctxLen = task.context.length > 0 ? task.context[0].length : 0;
  const { vocabOffset, codebookSize, prefillChunk } = graphs.level;
  const vocab = codebookSize + vocabOffset;
  const { hi, lo } = splitSeed(task.seed);
  const sampler = new TokenSampler(vocab);

  const cond = await graphs.condition(task.labels, task.upper);
  const tCond = performance.now();

  // Known tokens before the first new one, in the graph's vocabulary: the lyric prefix ("prefix" models take it
  // from the label vector's tail), then the primed context.
  const prefix = graphs.level.conditioning.lyrics === 'prefix' ? graphs.level.conditioning.lyricTokens : 0;
  const known = task.labels.map((labels, r) => {
    const k = new Int32Array(prefix + ctxLen);
    k.set(labels.subarray(labels.length - prefix));
    for (let i = 0; i < ctxLen; i++) k[prefix + i] = task.context[r][i] + vocabOffset;
    return k;
  });
  const knownLen = prefix + ctxLen;

  // Prefill positions 0 .. knownLen-1: their inputs are the start token and known tokens 0 .. knownLen-2.
  let cache: KvCache = graphs.emptyCache(rows);
  for (let pos = 0; pos < knownLen; pos += prefillChunk) {
    const t = Math.min(prefillChunk, knownLen - pos);
    const tokens = new BigInt64Array(rows * t);
    for (let r = 0; r < rows; r++) {
      for (let i = 0; i < t; i++) {
        const p = pos + i;
        tokens[r * t + i] = p === 0 ? 0n : BigInt(known[r][p - 1]);
      }
    }
    cache = (await graphs.run(cond, tokens, t, pos, cache)).cache;
    if (hooks.cancelled?.()) throw new WindowCancelledError('window cancelled');
  }
  const tPrefill = performance.now();

  const out = task.labels.map(() => new Int32Array(task.newTokens));
  // Tokens fed back within the window stay in the graph's vocabulary (prefix models may sample lyric ids).
  const input = new BigInt64Array(rows);
  for (let r = 0; r < rows; r++) input[r] = knownLen > 0 ? BigInt(known[r][knownLen - 1]) : 0n;

  const interval = hooks.progressIntervalMs ?? 100;
  let lastReport = performance.now();
  let reported = 0;
  for (let i = 0; i < task.newTokens; i++) {
    const step = await graphs.run(cond, input, 1, knownLen + i, cache);
    cache = step.cache;
    for (let r = 0; r < rows; r++) {
      // The RNG position counts music tokens only.
      const u = uniform(hi, lo, task.sampleIds[r], task.level, task.start + ctxLen + i);
      const s = sampler.sample(step.logits, r * vocab, task.sampling, u);
      input[r] = BigInt(s);
      out[r][i] = s >= vocabOffset ? s - vocabOffset : 0;
    }
    if (hooks.cancelled?.()) throw new WindowCancelledError('window cancelled');
    if (hooks.onTokens && performance.now() - lastReport >= interval) {
      hooks.onTokens(out.map((row) => row.slice(reported, i + 1)), i + 1);
      reported = i + 1;
      lastReport = performance.now();
    }
  }
  const tEnd = performance.now();
  return {
    rows: out,
    timing: {
      seconds: (tEnd - t0) / 1000,
      prefillSeconds: (tPrefill - tCond) / 1000,
      conditionSeconds: (tCond - t0) / 1000,
    },
  };
}
