// Host token sampler: temperature, top-k, top-p (Jukebox's filter_logits), then an inverse CDF with the
// counter RNG's uniform. Thresholds are found by selection (no sort at all); the CDF always runs in vocabulary
// order, so two logits that swap order by float noise cannot reshuffle which token a uniform lands on
// (fused-loop.md's lesson). Runs once per token per row: no allocation per call.
import { InvalidArgumentError } from './errors.js';
import type { SamplingParams } from './types.js';

/** Jukebox's defaults (save_samples: temp 0.99, no top-k, no top-p). */
export const DEFAULT_SAMPLING: Readonly<SamplingParams> = Object.freeze({ temperature: 0.99, topK: 0, topP: 1 });

/** Throws InvalidArgumentError naming "sampling.temperature", "sampling.top_k" or "sampling.top_p". */
/** Largest temperature a job may ask for. */
export const MAX_TEMPERATURE = 1000;

export function validateSamplingParams(params: SamplingParams, vocab: number, level?: number): void {
  const where = level === undefined ? '' : ` for level ${level}`;
  const { temperature, topK, topP } = params;
  // Bounded above so that it survives the float32 field to the workers (and beyond 1000 a draw is uniform anyway).
  if (typeof temperature !== 'number' || !Number.isFinite(temperature) || temperature <= 0 || temperature > MAX_TEMPERATURE) {
    throw new InvalidArgumentError('sampling.temperature', `sampling.temperature${where} must be a number in (0, ${MAX_TEMPERATURE}], got ${temperature}`);
  }
  if (typeof topK !== 'number' || !Number.isInteger(topK) || topK < 0 || topK > vocab) {
    throw new InvalidArgumentError('sampling.top_k', `sampling.top_k${where} must be an integer in 0..${vocab} (0 = off), got ${topK}`);
  }
  if (typeof topP !== 'number' || !(topP > 0 && topP <= 1)) {
    throw new InvalidArgumentError('sampling.top_p', `sampling.top_p${where} must be in (0, 1] (1 = off), got ${topP}`);
  }
}

// exp(x) for x <= 0, about twice as fast as Math.exp and within 3 ulp of it above the subnormal range
// (x > -708). Table method: x = (64m + j)·ln2/64 + r with |r| <= ln2/128, exp(x) = 2^m · 2^(j/64) · p(r),
// p the degree-5 Taylor polynomial (truncation 3e-17). Plain IEEE double arithmetic: the same on every machine.
const EXP_SHIFT = 6755399441055744; // 1.5 · 2^52: adding it rounds to the nearest integer
const EXP_INV_LN2_64 = 64 / Math.LN2;
const EXP_LN2_64_HI = 6.9314718036912381649e-1 / 64; // fdlibm's ln2_hi (32 bits: k · hi is exact)
const EXP_LN2_64_LO = 1.90821492927058770002e-10 / 64; // fdlibm's ln2_lo
const EXP_FRACTION = new Float64Array(64).map((_, j) => Math.pow(2, j / 64));
const EXP_POW2_NEG = new Float64Array(1100).map((_, m) => Math.pow(2, -m)); // exact powers of two, 0 past 2^-1074

/** exp(x) for x <= 0 (x NaN gives NaN). Exported for tests. */
export function expNonPositive(x: number): number {
  if (x < -745.2) return 0;
  const k = x * EXP_INV_LN2_64 + EXP_SHIFT - EXP_SHIFT;
  const r = x - k * EXP_LN2_64_HI - k * EXP_LN2_64_LO;
  const ki = k | 0;
  const p = 1 + r * (1 + r * (0.5 + r * (1 / 6 + r * (1 / 24 + r * (1 / 120)))));
  return EXP_POW2_NEG[-(ki >> 6)] * (EXP_FRACTION[ki & 63] * p);
}

// Threshold search buckets tokens by their distance below the maximum, 1/8 nat wide; the last takes the tail.
const BUCKETS_PER_NAT = 8;
const BUCKETS = 1024;
const LAST_BUCKET_DISTANCE = (BUCKETS - 1) / BUCKETS_PER_NAT;

function median3(a: number, b: number, c: number): number {
  if (a < b) return b < c ? b : a < c ? c : a;
  return a < c ? a : b < c ? c : b;
}

export class TokenSampler {
  readonly vocab: number;
  /** Scaled logits s = logit / temperature, vocabulary order. */
  private readonly scaled: Float64Array;
  /** exp(s - max) of the tokens top-k keeps (top-p only). */
  private readonly weights: Float64Array;
  /** Running sum of the kept weights in vocabulary order: the CDF. */
  private readonly cdf: Float64Array;
  /** Bucket of each token: floor(8 · (max - s)), capped. */
  private readonly bucket: Uint16Array;
  private readonly bucketCount: Int32Array;
  private readonly bucketMass: Float64Array;
  /** Selection scratch: one bucket's values and weights, permuted in place. */
  private readonly selValues: Float64Array;
  private readonly selWeights: Float64Array;

  constructor(vocab: number) {
    if (!Number.isSafeInteger(vocab) || vocab < 1) throw new RangeError(`vocab size must be a positive integer, got ${vocab}`);
    this.vocab = vocab;
    this.scaled = new Float64Array(vocab);
    this.weights = new Float64Array(vocab);
    this.cdf = new Float64Array(vocab);
    this.bucket = new Uint16Array(vocab);
    this.bucketCount = new Int32Array(BUCKETS);
    this.bucketMass = new Float64Array(BUCKETS);
    this.selValues = new Float64Array(vocab);
    this.selWeights = new Float64Array(vocab);
  }

  /**
   * Samples one row, logits[offset .. offset + vocab). `params` must have passed validateSamplingParams
   * (topK 0 or >= vocab and topP 1 mean off); u in [0, 1]. Ties at a top-k or top-p threshold are all kept, as
   * Jukebox's `logits < threshold` removal does. Top-p keeps, from the highest down, each token whose
   * preceding probability mass (over what top-k kept) is below topP: the smallest set reaching topP.
   */
  sample(logits: Float32Array, offset: number, params: SamplingParams, u: number): number {
    if (!(u >= 0 && u <= 1)) throw new RangeError(`u must be in [0, 1], got ${u}`);
    const total = this.fillCdf(logits, offset, params);
    const cdf = this.cdf;
    // First token whose running sum exceeds u·total; if rounding puts u·total at total, the last kept token.
    const target = u * total;
    let lo = 0;
    let hi = this.vocab - 1;
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

  /** The filtered distribution sample() draws from, in vocabulary order (allocates: for tests and tools). */
  probabilities(logits: Float32Array, offset: number, params: SamplingParams): Float64Array {
    const total = this.fillCdf(logits, offset, params);
    const out = new Float64Array(this.vocab);
    let prev = 0;
    for (let i = 0; i < this.vocab; i++) {
      out[i] = (this.cdf[i] - prev) / total;
      prev = this.cdf[i];
    }
    return out;
  }

  /** Scales, filters and fills the CDF; returns its total. */
  private fillCdf(logits: Float32Array, offset: number, params: SamplingParams): number {
    const V = this.vocab;
    if (!(Number.isInteger(offset) && offset >= 0 && offset + V <= logits.length)) {
      throw new RangeError(`logits row at offset ${offset} of ${V} runs past the array (length ${logits.length})`);
    }
    const s = this.scaled;
    const cdf = this.cdf;
    const t = params.temperature;
    let max = -Infinity;
    for (let i = 0; i < V; i++) {
      const v = logits[offset + i] / t;
      if (v !== v) throw new RangeError(`logits row at offset ${offset} has NaN at token ${i}`);
      s[i] = v;
      if (v > max) max = v;
    }
    if (!(max > -Infinity && max < Infinity)) throw new RangeError(`logits row at offset ${offset} has no finite maximum`);

    const topK = params.topK > 0 && params.topK < V ? params.topK : 0;
    const topP = params.topP < 1 ? params.topP : 1;
    let total = 0;
    if (topK === 0 && topP === 1) {
      for (let i = 0; i < V; i++) {
        total += expNonPositive(s[i] - max);
        cdf[i] = total;
      }
      return total;
    }

    let used = 0; // highest bucket in use
    let kThreshold = -Infinity;
    if (topK > 0) {
      used = this.fillBuckets(max);
      kThreshold = this.topKThreshold(topK);
      this.bucketCount.fill(0, 0, used + 1);
      if (topP === 1) {
        for (let i = 0; i < V; i++) {
          if (s[i] >= kThreshold) total += expNonPositive(s[i] - max);
          cdf[i] = total;
        }
        return total;
      }
    }
    const threshold = this.topPThreshold(topP, max, kThreshold, topK > 0, used);
    const w = this.weights;
    for (let i = 0; i < V; i++) {
      total += w[i] * +(s[i] >= threshold); // branch-free: kept and dropped tokens interleave unpredictably
      cdf[i] = total;
    }
    return total;
  }

  /** Buckets every token by its distance below the maximum and counts them; returns the highest bucket used. */
  private fillBuckets(max: number): number {
    const s = this.scaled;
    const bucket = this.bucket;
    const count = this.bucketCount;
    let used = 0;
    for (let i = 0; i < this.vocab; i++) {
      const d = max - s[i];
      const b = d < LAST_BUCKET_DISTANCE ? (d * BUCKETS_PER_NAT) | 0 : BUCKETS - 1;
      bucket[i] = b;
      count[b]++;
      if (b > used) used = b;
    }
    return used;
  }

  /** The k-th largest scaled logit: find its bucket by counts, then quickselect inside it. */
  private topKThreshold(k: number): number {
    const count = this.bucketCount;
    let above = 0;
    let b = 0;
    while (above + count[b] < k) above += count[b++];
    const n = this.collect(b, -Infinity);
    return this.kthLargest(n, k - above);
  }

  /**
   * The nucleus threshold over the tokens at or above kThreshold. Fills `weights` (exp(s - max), 0 below
   * kThreshold) and the bucket masses, finds the bucket where the running mass reaches topP, selects inside it.
   */
  private topPThreshold(topP: number, max: number, kThreshold: number, bucketed: boolean, used: number): number {
    const s = this.scaled;
    const w = this.weights;
    const bucket = this.bucket;
    const mass = this.bucketMass;
    let total = 0;
    if (bucketed) {
      for (let i = 0; i < this.vocab; i++) {
        const v = s[i];
        const e = v >= kThreshold ? expNonPositive(v - max) : 0;
        w[i] = e;
        mass[bucket[i]] += e;
        total += e;
      }
    } else {
      for (let i = 0; i < this.vocab; i++) {
        const d = max - s[i];
        const b = d < LAST_BUCKET_DISTANCE ? (d * BUCKETS_PER_NAT) | 0 : BUCKETS - 1;
        const e = expNonPositive(-d);
        bucket[i] = b;
        w[i] = e;
        mass[b] += e;
        total += e;
        if (b > used) used = b;
      }
    }
    const target = topP * total;
    let above = 0;
    let b = 0;
    while (b <= used && above + mass[b] < target) above += mass[b++];
    mass.fill(0, 0, used + 1);
    if (b > used) return kThreshold; // rounding left the target unreached: keep all of top-k
    const n = this.collect(b, kThreshold);
    return this.nucleusThreshold(n, target, above);
  }

  /** Copies the values (and weights) of bucket b's tokens with s >= floor into the selection scratch. */
  private collect(b: number, floor: number): number {
    const s = this.scaled;
    const w = this.weights;
    const bucket = this.bucket;
    const vals = this.selValues;
    const wts = this.selWeights;
    let n = 0;
    for (let i = 0; i < this.vocab; i++) {
      if (bucket[i] === b && s[i] >= floor) {
        vals[n] = s[i];
        wts[n] = w[i];
        n++;
      }
    }
    return n;
  }

  /** The k-th largest (1-based) of the first n selection values: three-way quickselect. */
  private kthLargest(n: number, k: number): number {
    const a = this.selValues;
    const r = k - 1;
    let lo = 0;
    let hi = n;
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
   * Walking the first n selection slots from the highest value, the lowest value whose preceding mass (plus
   * `above`, the mass of higher buckets) is still below `target`: weighted quickselect. If rounding leaves the
   * target unreached, the slots' lowest value (keep them all).
   */
  private nucleusThreshold(n: number, target: number, above: number): number {
    const vals = this.selValues;
    const wts = this.selWeights;
    let lo = 0;
    let hi = n;
    let lowest = Infinity;
    for (let i = 0; i < n; i++) if (vals[i] < lowest) lowest = vals[i];
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
        hi = lt; // the pivot's group starts past the target: the threshold is higher
      } else if (above + greater + equal >= target) {
        return pivot;
      } else {
        above += greater + equal;
        lo = gt;
      }
    }
    return lowest;
  }
}
