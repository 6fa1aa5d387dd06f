// Samples a batch of windows of one level together: condition, prefill the primed context, then the new tokens,
// all rows of all windows in one session.run: one token per run with the step graph, or a chunk of tokens per run
// with the fused loop graph (contract v2: the sampler in the graph, fed the same uniforms, the cache kept inside). A row's tokens depend only on its own window (seed, sample
// id, start, sampling), never on the batch it rides in, as far as the kernels are batch-invariant (CPU: measured).
import { uniform, splitSeed } from '../shared/rng.js';
import { TokenSampler } from '../shared/sampler.js';
import type { SamplingParams } from '../shared/types.js';
import type { KvCache, LevelGraphs, RowSampling } from './onnx-runtime.js';

/** One window of one job: what differs between the windows of a batch. */
export interface WindowItemTask {
  /** Window start in level tokens: the RNG position of window position p is start + p. */
  start: number;
  /** Priming tokens per row; every row of every window of a batch the same length. */
  context: Int32Array[];
  /** Upper-level tokens per row (lower levels). */
  upper: Int32Array[] | null;
  labels: Int32Array[];
  seed: bigint;
  sampling: SamplingParams;
  /** The job's sample index per row. */
  sampleIds: number[];
}

/** A single window: its item plus the level and new token count a batch shares. */
export interface WindowTask extends WindowItemTask {
  level: number;
  newTokens: number;
}

/** Windows of one level with equal context length and new token count; rows are concatenated in item order. */
export interface WindowBatch {
  level: number;
  newTokens: number;
  items: WindowItemTask[];
  /**
   * Run every session with this many rows, padding with copies of the last row whose tokens are dropped: fixed
   * shapes make kernels that are picked by shape (CUDA) give a row the same numbers whatever batch it rides in.
   */
  padToRows?: number;
}

export interface WindowTiming {
  seconds: number;
  prefillSeconds: number;
  conditionSeconds: number;
}

export interface WindowHooks {
  /** Called now and then with the tokens produced since the last call ([row of the batch][i]). */
  onTokens?: (fresh: Int32Array[], tokensDone: number) => void;
  /** Polled every step; true stops the window with an error. */
  cancelled?: () => boolean;
  /** Milliseconds between onTokens calls. */
  progressIntervalMs?: number;
  /** Tokens per run of the loop graph, where the level has one; absent or 0: the step graph. */
  samplingChunk?: number;
}

export class WindowCancelledError extends Error {
  override name = 'WindowCancelledError';
}

/** One window alone: a batch of one item. */
export async function sampleWindow(
  graphs: LevelGraphs,
  task: WindowTask,
  hooks: WindowHooks = {},
): Promise<{ rows: Int32Array[]; timing: WindowTiming }> {
  return sampleBatch(graphs, { level: task.level, newTokens: task.newTokens, items: [task] }, hooks);
}

/** Checks what the loop relies on; returns the shared context length. */
function batchContextLength(batch: WindowBatch): number {
  if (batch.items.length === 0) throw new RangeError('a batch needs at least one window');
  let ctxLen: number | undefined;
  batch.items.forEach((item, w) => {
    // A WindowTask passed as an item must agree with the batch: the level is part of every row's RNG position.
    const own = item as Partial<WindowTask>;
    if ((own.level !== undefined && own.level !== batch.level) || (own.newTokens !== undefined && own.newTokens !== batch.newTokens)) {
      throw new RangeError(`window ${w}: level ${own.level} / newTokens ${own.newTokens} differ from the batch's ${batch.level} / ${batch.newTokens}`);
    }
    const rows = item.labels.length;
    if (rows < 1) throw new RangeError(`window ${w}: no rows`);
    if (item.sampleIds.length !== rows) throw new RangeError(`window ${w}: ${item.sampleIds.length} sample ids for ${rows} rows`);
    if (item.context.length !== 0 && item.context.length !== rows) throw new RangeError(`window ${w}: ${item.context.length} context rows for ${rows} rows`);
    const lengths = item.context.length === 0 ? [0] : item.context.map((c) => c.length);
    for (const len of lengths) {
      ctxLen ??= len;
      // One prefill for the whole batch: every row must start sampling at the same window position.
      if (len !== ctxLen) throw new RangeError(`window ${w}: context length ${len} differs from the batch's ${ctxLen}`);
    }
  });
  return ctxLen!;
}

export async function sampleBatch(
  graphs: LevelGraphs,
  batch: WindowBatch,
  hooks: WindowHooks = {},
): Promise<{ rows: Int32Array[]; timing: WindowTiming }> {
  const t0 = performance.now();
  const ctxLen = batchContextLength(batch);
  const { vocabOffset, codebookSize, prefillChunk } = graphs.level;
  const vocab = codebookSize + vocabOffset;

  // Rows of all windows in item order, each with its own window's RNG stream and sampling parameters.
  const labels: Int32Array[] = [];
  const context: Int32Array[] = [];
  const upper: Int32Array[] = [];
  const streams: { hi: number; lo: number; sampleId: number; start: number; sampling: SamplingParams }[] = [];
  batch.items.forEach((item, w) => {
    const { hi, lo } = splitSeed(item.seed);
    if (graphs.level.conditioning.upper && item.upper?.length !== item.labels.length) {
      throw new RangeError(`window ${w}: level ${batch.level} needs upper-level tokens for every row`);
    }
    item.labels.forEach((l, r) => {
      labels.push(l);
      context.push(item.context[r] ?? new Int32Array(0));
      if (graphs.level.conditioning.upper) upper.push(item.upper![r]);
      streams.push({ hi, lo, sampleId: item.sampleIds[r], start: item.start, sampling: item.sampling });
    });
  });
  const realRows = labels.length;
  for (let r = realRows; r < (batch.padToRows ?? 0); r++) {
    labels.push(labels[realRows - 1]);
    context.push(context[realRows - 1]);
    if (graphs.level.conditioning.upper) upper.push(upper[realRows - 1]);
    streams.push(streams[realRows - 1]);
  }
  const rows = labels.length;

  const cond = await graphs.condition(labels, graphs.level.conditioning.upper ? upper : null);
  const tCond = performance.now();

  // Known tokens before the first new one, in the graph's vocabulary: the lyric prefix ("prefix" models take it
  // from the label vector's tail), then the primed context.
  const prefix = graphs.level.conditioning.lyrics === 'prefix' ? graphs.level.conditioning.lyricTokens : 0;
  const known = labels.map((l, r) => {
    const k = new Int32Array(prefix + ctxLen);
    k.set(l.subarray(l.length - prefix));
    for (let i = 0; i < ctxLen; i++) k[prefix + i] = context[r][i] + vocabOffset;
    return k;
  });
  const knownLen = prefix + ctxLen;

  const fusedChunk = graphs.fused ? (hooks.samplingChunk ?? 0) : 0;
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
    cache = fusedChunk > 0 ? await graphs.prefill(cond, tokens, t, pos, cache) : (await graphs.run(cond, tokens, t, pos, cache)).cache;
    if (hooks.cancelled?.()) throw new WindowCancelledError('window cancelled');
  }
  const tPrefill = performance.now();

  const out = labels.map(() => new Int32Array(batch.newTokens));
  // Tokens fed back within the window stay in the graph's vocabulary (prefix models may sample lyric ids).
  const input = new BigInt64Array(rows);
  for (let r = 0; r < rows; r++) input[r] = knownLen > 0 ? BigInt(known[r][knownLen - 1]) : 0n;

  const interval = hooks.progressIntervalMs ?? 100;
  let lastReport = performance.now();
  let reported = 0;
  const report = (done: number): void => {
    if (hooks.onTokens && performance.now() - lastReport >= interval) {
      hooks.onTokens(out.slice(0, realRows).map((row) => row.slice(reported, done)), done);
      reported = done;
      lastReport = performance.now();
    }
  };
  const store = (r: number, i: number, token: number): void => {
    out[r][i] = token >= vocabOffset ? token - vocabOffset : 0;
  };
  if (fusedChunk > 0) {
    const sampling: RowSampling = {
      temperature: Float64Array.from(streams, (s) => s.sampling.temperature),
      topK: BigInt64Array.from(streams, (s) => BigInt(s.sampling.topK)),
      topP: Float64Array.from(streams, (s) => s.sampling.topP),
    };
    for (let i = 0; i < batch.newTokens; i += fusedChunk) {
      const n = Math.min(fusedChunk, batch.newTokens - i);
      const u = new Float64Array(rows * n);
      for (let r = 0; r < rows; r++) {
        const s = streams[r];
        for (let j = 0; j < n; j++) u[r * n + j] = uniform(s.hi, s.lo, s.sampleId, batch.level, s.start + ctxLen + i + j);
      }
      const res = await graphs.sampleChunk(cond, input, knownLen + i, n, cache, u, sampling);
      cache = res.cache;
      for (let r = 0; r < rows; r++) {
        for (let j = 0; j < n; j++) store(r, i + j, Number(res.tokens[r * n + j]));
        input[r] = res.tokens[r * n + n - 1];
      }
      if (hooks.cancelled?.()) throw new WindowCancelledError('window cancelled');
      report(i + n);
    }
  } else {
    const sampler = new TokenSampler(vocab);
    for (let i = 0; i < batch.newTokens; i++) {
      const step = await graphs.run(cond, input, 1, knownLen + i, cache);
      cache = step.cache;
      for (let r = 0; r < rows; r++) {
        const s = streams[r];
        // The RNG position counts music tokens only.
        const u = uniform(s.hi, s.lo, s.sampleId, batch.level, s.start + ctxLen + i);
        const token = sampler.sample(step.logits, r * vocab, s.sampling, u);
        input[r] = BigInt(token);
        store(r, i, token);
      }
      if (hooks.cancelled?.()) throw new WindowCancelledError('window cancelled');
      report(i + 1);
    }
  }
  const tEnd = performance.now();
  return {
    rows: out.slice(0, realRows),
    timing: {
      seconds: (tEnd - t0) / 1000,
      prefillSeconds: (tPrefill - tCond) / 1000,
      conditionSeconds: (tCond - t0) / 1000,
    },
  };
}
