// Teacher-forced scoring for bench/seams.ts: the negative log-likelihood of every token of a level's final stream
// under Jukebox's exact windows (condition, prefill the window's context, then one new token per step), several
// streams (rows) of the same song length at once.
import type { LevelGraphs, KvCache } from '../worker/onnx-runtime.js';
import type { WindowPlan } from '../shared/types.js';

export interface ScoreRow {
  /** The level's final tokens, [0, totalTokens). */
  tokens: ArrayLike<number>;
  /** The final tokens of the level above (lower levels), for the upper conditioning. */
  upper: ArrayLike<number> | null;
}

export interface ScoreResult {
  /** -log p(token) at temperature 1, per row, per position. */
  nll: Float64Array[];
  windows: number;
  seconds: number;
}

/**
 * Scores every row over the given exact windows. `labelsOf(w)` is the window's label vector (the same for every
 * row: rows differ only in their tokens). Each window's new tokens [start + contextTokens, end) get one NLL each.
 */
export async function scoreLevel(
  graphs: LevelGraphs,
  windows: readonly WindowPlan[],
  rows: readonly ScoreRow[],
  labelsOf: (w: WindowPlan) => Int32Array,
  onWindow?: (done: number) => void,
): Promise<ScoreResult> {
  const t0 = performance.now();
  const lm = graphs.level;
  const vocab = lm.codebookSize + lm.vocabOffset;
  const prefix = lm.conditioning.lyrics === 'prefix' ? lm.conditioning.lyricTokens : 0;
  const total = rows[0].tokens.length;
  const nll = rows.map(() => new Float64Array(total).fill(Number.NaN));
  const R = rows.length;
  let done = 0;
  for (const w of windows) {
    const label = labelsOf(w);
    const labels = rows.map(() => label);
    const upper = lm.conditioning.upper ? rows.map((r) => Int32Array.from({ length: w.upperEnd - w.upperStart }, (_, i) => r.upper![w.upperStart + i])) : null;
    const cond = await graphs.condition(labels, upper);
    // Known tokens in the graph's vocabulary: the lyric prefix (prefix models), then the window's context.
    const knownLen = prefix + w.contextTokens;
    const known = rows.map((r) => {
      const k = new Int32Array(knownLen);
      k.set(label.subarray(label.length - prefix));
      for (let i = 0; i < w.contextTokens; i++) k[prefix + i] = r.tokens[w.start + i] + lm.vocabOffset;
      return k;
    });
    let cache: KvCache = graphs.emptyCache(R);
    for (let pos = 0; pos < knownLen; pos += lm.prefillChunk) {
      const t = Math.min(lm.prefillChunk, knownLen - pos);
      const tokens = new BigInt64Array(R * t);
      for (let r = 0; r < R; r++) for (let i = 0; i < t; i++) tokens[r * t + i] = pos + i === 0 ? 0n : BigInt(known[r][pos + i - 1]);
      cache = (await graphs.run(cond, tokens, t, pos, cache)).cache;
    }
    const input = new BigInt64Array(R);
    for (let r = 0; r < R; r++) input[r] = knownLen > 0 ? BigInt(known[r][knownLen - 1]) : 0n;
    for (let i = 0; i < w.newTokens; i++) {
      const step = await graphs.run(cond, input, 1, knownLen + i, cache);
      cache = step.cache;
      const at = w.start + w.contextTokens + i;
      for (let r = 0; r < R; r++) {
        const off = r * vocab;
        let max = -Infinity;
        for (let v = 0; v < vocab; v++) max = Math.max(max, step.logits[off + v]);
        let sum = 0;
        for (let v = 0; v < vocab; v++) sum += Math.exp(step.logits[off + v] - max);
        const tok = rows[r].tokens[at] + lm.vocabOffset;
        nll[r][at] = max + Math.log(sum) - step.logits[off + tok];
        input[r] = BigInt(tok);
      }
    }
    onWindow?.(++done);
  }
  return { nll, windows: windows.length, seconds: (performance.now() - t0) / 1000 };
}
