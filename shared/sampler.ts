// Host token sampler: temperature, top-k, top-p (Jukebox's filter_logits), then an inverse CDF with the
// counter RNG's uniform. Thresholds are found by selection (no sort at all); the CDF always runs in vocabulary
// order, so two logits that swap order by float noise cannot reshuffle which token a uniform lands on
// (fused-loop.md's lesson). Runs once per token per row: no allocation per call.
import { InvalidArgumentError } from './errors.js';
import type { SamplingParams } from './types.js';

/** Jukebox's defaults (save_samples: temp 0.99, no top-k, no top-p). */
export const DEFAULT_SAMPLING: Readonly<SamplingParams> = Object.freeze({ temperature: 0.99, topK: 0, topP: 1 });

/** Throws InvalidArgumentError naming "sampling.temperature", "sampling.top_k" or "sampling.top_p". */
export function validateSamplingParams(params: SamplingParams, vocab: number, level?: number): void {
  const where = level === undefined ? '' : ` for level ${level}`;
  const { temperature, topK, topP } = params;
  if (typeof temperature !== 'number' || !Number.isFinite(temperature) || temperature <= 0) {
    throw new InvalidArgumentError('sampling.temperature', `sampling.temperature${where} must be a finite number > 0, got ${temperature}`);
  }
  if (typeof topK !== 'number' || !Number.isInteger(topK) || topK < 0 || topK > vocab) {
    throw new InvalidArgumentError('sampling.top_k', `sampling.top_k${where} must be an integer in 0..${vocab} (0 = off), got ${topK}`);
  }
  if (typeof topP !== 'number' || !(topP > 0 && topP <= 1)) {
    throw new InvalidArgumentError('sampling.top_p', `sampling.top_p${where} must be in (0, 1] (1 = off), got ${topP}`);
  }
}

function median3(a: number, b: number, c: number): number {
  if (a < b) return b < c ? b : a < c ? c : a;
  return a < c ? a : b < c ? c : b;
}

export class TokenSampler {
  readonly vocab: number;
  /** Scaled logits s = logit / temperature, vocabulary order. */
  private readonly scaled: Float64Array;
  /** exp(s - max) of the tokens that survive top-k (0 for the others). */
  private readonly weights: Float64Array;
  /** Running sum of the kept weights, vocabulary order: the CDF. */
  private readonly cdf: Float64Array;
  /** Selection scratch: candidate values and their weights, permuted in place. */
  private readonly selValues: Float64Array;
  private readonly selWeights: Float64Array;

  constructor(vocab: number) {
    if (!Number.isSafeInteger(vocab) || vocab < 1) throw new RangeError(`vocab size must be a positive integer, got ${vocab}`);
    this.vocab = vocab;
    this.scaled = new Float64Array(vocab);
    this.weights = new Float64Array(vocab);
    this.cdf = new Float64Array(vocab);
    this.selValues = new Float64Array(vocab);
    this.selWeights = new Float64Array(vocab);
  }

  /**
   * Samples one row, logits[offset .. offset + vocab). `params` must have passed validateSamplingParams; u in [0, 1].
   * Ties at a top-k or top-p threshold are all kept, as Jukebox's `logits < threshold` removal does.
   */
  sample(logits: Float32Array, offset: number, params: SamplingParams, u: number): number {
    const V = this.vocab;
    if (!(offset >= 0 && offset + V <= logits.length)) {
      throw new RangeError(`logits row at offset ${offset} of ${V} runs past the array (length ${logits.length})`);
    }
    if (!(u >= 0 && u <= 1)) throw new RangeError(`u must be in [0, 1], got ${u}`);
    const s = this.scaled;
    const cdf = this.cdf;
    const t = params.temperature;
    let max = -Infinity;
    for (let i = 0; i < V; i++) {
      const v = logits[offset + i] / t;
      s[i] = v;
      if (v > max) max = v;
    }
    if (!(max > -Infinity && max < Infinity)) throw new RangeError(`logits row at offset ${offset} has no finite maximum`);

    const topK = params.topK > 0 && params.topK < V ? params.topK : 0;
    const topP = params.topP < 1 ? params.topP : 1;
    let total = 0;
    if (topK === 0 && topP === 1) {
      // Fast path: no filter, one pass of exp and running sum.
      for (let i = 0; i < V; i++) {
        total += Math.exp(s[i] - max);
        cdf[i] = total;
      }
    } else {
      const kThreshold = topK > 0 ? this.kthLargest(topK) : -Infinity;
      const w = this.weights;
      if (topP === 1) {
        for (let i = 0; i < V; i++) {
          if (s[i] >= kThreshold) total += Math.exp(s[i] - max);
          cdf[i] = total;
        }
      } else {
        // Top-p over what top-k kept, with probabilities renormalised over that set (filter_logits order).
        const vals = this.selValues;
        const wts = this.selWeights;
        let n = 0;
        let mass = 0;
        for (let i = 0; i < V; i++) {
          const v = s[i];
          if (v >= kThreshold) {
            const e = Math.exp(v - max);
            w[i] = e;
            vals[n] = v;
            wts[n] = e;
            n++;
            mass += e;
          } else {
            w[i] = 0;
          }
        }
        const pThreshold = this.nucleusThreshold(n, topP * mass, kThreshold);
        for (let i = 0; i < V; i++) {
          if (s[i] >= pThreshold) total += w[i];
          cdf[i] = total;
        }
      }
    }
    if (!(total > 0 && total < Infinity)) throw new RangeError(`logits row at offset ${offset} is not a distribution (NaN?)`);

    // First token whose running sum passes u·total; if rounding puts u·total at total, the last kept token.
    const target = u * total;
    let lo = 0;
    let hi = V - 1;
    if (cdf[hi] > target) {
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (cdf[mid] > target) hi = mid;
        else lo = mid + 1;
      }
      return lo;
    }
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid] >= total) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** The k-th largest scaled logit (1-based k), by three-way quickselect on a copy. */
  private kthLargest(k: number): number {
    const a = this.selValues;
    a.set(this.scaled);
    const r = k - 1;
    let lo = 0;
    let hi = this.vocab;
    for (;;) {
      const pivot = median3(a[lo], a[(lo + hi) >>> 1], a[hi - 1]);
      // [lo, lt) > pivot, [lt, gt) == pivot, [gt, hi) < pivot
      let lt = lo;
      let i = lo;
      let gt = hi;
      while (i < gt) {
        const v = a[i];
        if (v > pivot) {
          a[i] = a[lt];
          a[lt] = v;
          lt++;
          i++;
        } else if (v < pivot) {
          gt--;
          a[i] = a[gt];
          a[gt] = v;
        } else {
          i++;
        }
      }
      if (r < lt) hi = lt;
      else if (r < gt) return pivot;
      else lo = gt;
    }
  }

  /**
   * The lowest value the nucleus keeps: walking the candidates from the highest, a token is kept while the mass
   * before it is below `target` (= topP · candidate mass), so at least one is kept. Weighted quickselect over
   * the first n selection slots; `floor` (keep every candidate) if rounding leaves the target unreached.
   */
  private nucleusThreshold(n: number, target: number, floor: number): number {
    const vals = this.selValues;
    const wts = this.selWeights;
    let lo = 0;
    let hi = n;
    let above = 0; // mass of candidates known to be above every value in [lo, hi)
    while (lo < hi) {
      const pivot = median3(vals[lo], vals[(lo + hi) >>> 1], vals[hi - 1]);
      let lt = lo;
      let i = lo;
      let gt = hi;
      let greater = 0;
      let equal = 0;
      while (i < gt) {
        const v = vals[i];
        if (v > pivot) {
          const wv = wts[i];
          greater += wv;
          vals[i] = vals[lt];
          wts[i] = wts[lt];
          vals[lt] = v;
          wts[lt] = wv;
          lt++;
          i++;
        } else if (v < pivot) {
          gt--;
          const wv = wts[i];
          vals[i] = vals[gt];
          wts[i] = wts[gt];
          vals[gt] = v;
          wts[gt] = wv;
        } else {
          equal += wts[i];
          i++;
        }
      }
      if (above + greater >= target) {
        hi = lt; // the pivot's group already starts past the target: the threshold is higher
      } else if (above + greater + equal >= target) {
        return pivot;
      } else {
        above += greater + equal;
        lo = gt;
      }
    }
    return floor;
  }
}
