import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_SAMPLING, TokenSampler, expNonPositive, validateSamplingParams } from '../../shared/sampler.js';
import { splitSeed, uniform } from '../../shared/rng.js';
import { InvalidArgumentError } from '../../shared/errors.js';
import type { SamplingParams } from '../../shared/types.js';

const params = (temperature: number, topK = 0, topP = 1): SamplingParams => ({ temperature, topK, topP });

/** Deterministic normal-ish logits. */
function randomLogits(n: number, seed: number, scale = 1.7): Float32Array {
  let x = seed >>> 0 || 1;
  const next = (): number => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return (x + 0.5) / 2 ** 32;
  };
  return Float32Array.from({ length: n }, () => scale * Math.sqrt(-2 * Math.log(next())) * Math.cos(2 * Math.PI * next()));
}

/**
 * Jukebox's filter_logits written the obvious way (sorts, Math.exp): top-k removes values below the k-th
 * largest; top-p sorts what is left, softmaxes, and keeps each token whose preceding cumulative probability
 * is below p. Returns the filtered probabilities in vocabulary order.
 */
function referenceProbabilities(logits: ArrayLike<number>, p: SamplingParams): number[] {
  const s = Array.from(logits, (x) => x / p.temperature);
  let keep = s.map(() => true);
  if (p.topK > 0 && p.topK < s.length) {
    const kth = [...s].sort((a, b) => b - a)[p.topK - 1];
    keep = s.map((v) => v >= kth);
  }
  if (p.topP < 1) {
    const kept = s.filter((_, i) => keep[i]).sort((a, b) => b - a);
    const max = kept[0];
    const z = kept.reduce((acc, v) => acc + Math.exp(v - max), 0);
    let before = 0;
    let threshold = kept[0];
    for (const v of kept) {
      if (before >= p.topP) break;
      threshold = v;
      before += Math.exp(v - max) / z;
    }
    keep = keep.map((k, i) => k && s[i] >= threshold);
  }
  const max = Math.max(...s);
  const w = s.map((v, i) => (keep[i] ? Math.exp(v - max) : 0));
  const total = w.reduce((a, b) => a + b, 0);
  return w.map((v) => v / total);
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < actual.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `${what}: token ${i}: ${actual[i]} vs ${expected[i]}`);
  }
}

const CONFIGS: SamplingParams[] = [
  params(1),
  params(0.99),
  params(0.5),
  params(2.5),
  params(0.9, 1),
  params(0.9, 5),
  params(0.9, 200),
  params(1, 0, 0.9),
  params(0.7, 0, 0.8),
  params(1, 0, 0.05),
  params(0.9, 200, 0.9),
  params(1.3, 40, 0.5),
  params(1, 3, 0.999),
];

test('filtered distribution equals a sort-based filter_logits, for random logits', () => {
  for (const V of [2, 7, 256, 2048]) {
    const sampler = new TokenSampler(V);
    for (let seed = 1; seed <= 6; seed++) {
      const logits = randomLogits(V, seed * 7919 + V);
      for (const p of CONFIGS) {
        if (p.topK > V) continue;
        assertClose(sampler.probabilities(logits, 0, p), referenceProbabilities(logits, p), 1e-12, `V=${V} seed=${seed} ${JSON.stringify(p)}`);
      }
    }
  }
});

test('ties at a threshold are all kept; heavy ties and wide ranges still agree with the reference', () => {
  const sampler = new TokenSampler(512);
  for (let seed = 1; seed <= 5; seed++) {
    const coarse = randomLogits(512, seed).map((x) => Math.round(x * 2) / 2); // many equal logits
    const wide = randomLogits(512, seed, 40); // spans far beyond the bucket range
    for (const logits of [coarse, wide]) {
      for (const p of CONFIGS) assertClose(sampler.probabilities(logits, 0, p), referenceProbabilities(logits, p), 1e-12, JSON.stringify(p));
    }
  }
  const tied = new Float32Array([3, 1, 3, 2, 3, 0]);
  const kept = Array.from(sampler.probabilities(new Float32Array([...tied, ...new Array<number>(506).fill(-50)]), 0, params(1, 2))).filter((q) => q > 0);
  assert.equal(kept.length, 3, 'top-k 2 with three tokens tied for first keeps all three');
});

test('top-k keeps exactly k tokens, the k highest', () => {
  const V = 300;
  const sampler = new TokenSampler(V);
  const logits = Float32Array.from({ length: V }, (_, i) => Math.sin(i * 12.9898) * 4); // distinct values
  const order = Array.from({ length: V }, (_, i) => i).sort((a, b) => logits[b] - logits[a]);
  for (const k of [1, 2, 10, 77, 299, 300]) {
    const probs = sampler.probabilities(logits, 0, params(1, k));
    const kept = Array.from(probs.keys()).filter((i) => probs[i] > 0);
    assert.equal(kept.length, k);
    assert.deepEqual(new Set(kept), new Set(order.slice(0, k)));
  }
});

test('top-p keeps the smallest set of highest tokens reaching p, at least one', () => {
  const V = 64;
  const sampler = new TokenSampler(V);
  const logits = Float32Array.from({ length: V }, (_, i) => -0.15 * ((i * 37) % V)); // distinct, scattered
  const full = sampler.probabilities(logits, 0, params(1));
  for (const p of [1e-6, 0.1, 0.5, 0.75, 0.9, 0.99]) {
    const probs = sampler.probabilities(logits, 0, params(1, 0, p));
    const kept = Array.from(probs.keys()).filter((i) => probs[i] > 0);
    const mass = kept.reduce((a, i) => a + full[i], 0);
    const smallest = Math.min(...kept.map((i) => full[i]));
    assert.ok(kept.length >= 1);
    assert.ok(mass >= p, `p=${p}: kept mass ${mass} reaches p`);
    assert.ok(mass - smallest < p, `p=${p}: dropping the smallest kept token falls short of p`);
    for (let i = 0; i < V; i++) if (!kept.includes(i)) assert.ok(full[i] <= smallest, 'nothing dropped is more likely than something kept');
  }
  const argmax = sampler.probabilities(logits, 0, params(1, 0, 1e-9));
  assert.deepEqual(Array.from(argmax.keys()).filter((i) => argmax[i] > 0), [0]);
});

test('temperature divides the logits before the softmax', () => {
  const logits = new Float32Array([1, 2, 3, 0.5]);
  const sampler = new TokenSampler(4);
  for (const t of [0.25, 1, 3]) {
    const e = Array.from(logits, (x) => Math.exp(x / t));
    const z = e.reduce((a, b) => a + b, 0);
    assertClose(sampler.probabilities(logits, 0, params(t)), e.map((v) => v / z), 1e-15, `T=${t}`);
  }
  // Low temperature sharpens towards the argmax, high temperature flattens.
  assert.ok(sampler.probabilities(logits, 0, params(0.05))[2] > 0.999);
  assert.ok(sampler.probabilities(logits, 0, params(100))[0] > 0.24);
});

test('inverse CDF in vocabulary order', () => {
  const sampler = new TokenSampler(4);
  const flat = new Float32Array(4); // 0.25 each
  const cases: [number, number][] = [[0, 0], [0.1, 0], [0.2499, 0], [0.25, 1], [0.5, 2], [0.74, 2], [0.75, 3], [0.9999, 3]];
  for (const [u, token] of cases) assert.equal(sampler.sample(flat, 0, params(1), u), token, `u=${u}`);
  // Vocabulary order, not probability order: token 0 is the least likely yet owns the lowest u.
  const skew = new Float32Array([Math.log(0.1), Math.log(0.6), Math.log(0.3), -Infinity]);
  assert.equal(sampler.sample(skew, 0, params(1), 0.05), 0);
  assert.equal(sampler.sample(skew, 0, params(1), 0.15), 1);
  assert.equal(sampler.sample(skew, 0, params(1), 0.75), 2);
});

test('u = 0 gives the first kept token and u near 1 the last, filters on or off', () => {
  const V = 256;
  const sampler = new TokenSampler(V);
  const almostOne = 1 - 2 ** -53;
  for (let seed = 1; seed <= 5; seed++) {
    const logits = randomLogits(V, seed);
    for (const p of CONFIGS) {
      const probs = sampler.probabilities(logits, 0, p);
      const kept = Array.from(probs.keys()).filter((i) => probs[i] > 0);
      assert.equal(sampler.sample(logits, 0, p, 0), kept[0]);
      assert.equal(sampler.sample(logits, 0, p, almostOne), kept[kept.length - 1]);
      assert.equal(sampler.sample(logits, 0, p, 1), kept[kept.length - 1], 'u = 1 (a float32 uniform rounded up) still lands on a kept token');
    }
  }
  // Masked (-Infinity) tokens at either end are never drawn.
  const masked = new Float32Array([-Infinity, 0, 1, -Infinity]);
  assert.equal(new TokenSampler(4).sample(masked, 0, params(1), 0), 1);
  assert.equal(new TokenSampler(4).sample(masked, 0, params(1), almostOne), 2);
});

test('sampled frequencies match the softmax (chi-square), filters off and on', () => {
  const V = 16;
  const sampler = new TokenSampler(V);
  const logits = new Float32Array([0.3, -1.2, 2.0, 0.0, 1.1, -0.4, 0.8, -2.5, 1.6, 0.2, -0.9, 0.5, 1.9, -1.7, 0.05, 1.0]);
  const { hi, lo } = splitSeed(123456789n);
  const n = 100000;
  // Chi-square critical values at p = 0.001 by degrees of freedom.
  const critical = [0, 10.83, 13.82, 16.27, 18.47, 20.52, 22.46, 24.32, 26.12, 27.88, 29.59, 31.26, 32.91, 34.53, 36.12, 37.7];
  for (const p of [params(1), params(0.8, 8, 0.8), params(1.2, 0, 0.95)]) {
    const expected = sampler.probabilities(logits, 0, p);
    const counts = new Array<number>(V).fill(0);
    for (let pos = 0; pos < n; pos++) counts[sampler.sample(logits, 0, p, uniform(hi, lo, 0, 0, pos))]++;
    let chi2 = 0;
    let df = -1;
    for (let i = 0; i < V; i++) {
      if (expected[i] === 0) {
        assert.equal(counts[i], 0, `filtered token ${i} was drawn`);
        continue;
      }
      chi2 += (counts[i] - n * expected[i]) ** 2 / (n * expected[i]);
      df++;
    }
    assert.ok(df >= 2, 'the filters leave several tokens');
    assert.ok(chi2 < critical[df], `chi-square ${chi2.toFixed(1)} with ${df} degrees of freedom, ${JSON.stringify(p)}`);
  }
});

test('rows are read at their offset; bad input is refused', () => {
  const V = 8;
  const sampler = new TokenSampler(V);
  const two = new Float32Array(2 * V).fill(-Infinity);
  two[3] = 0; // row 0 can only give 3
  two[V + 6] = 0; // row 1 can only give 6
  assert.equal(sampler.sample(two, 0, DEFAULT_SAMPLING, 0.5), 3);
  assert.equal(sampler.sample(two, V, DEFAULT_SAMPLING, 0.5), 6);
  assert.throws(() => sampler.sample(two, V + 1, DEFAULT_SAMPLING, 0.5), RangeError);
  assert.throws(() => sampler.sample(two, 0, DEFAULT_SAMPLING, 1.5), RangeError);
  assert.throws(() => sampler.sample(two, 0, DEFAULT_SAMPLING, Number.NaN), RangeError);
  assert.throws(() => sampler.sample(new Float32Array(V).fill(-Infinity), 0, DEFAULT_SAMPLING, 0.5), RangeError);
  const nan = new Float32Array(V);
  nan[5] = Number.NaN;
  assert.throws(() => sampler.sample(nan, 0, DEFAULT_SAMPLING, 0.5), RangeError);
  assert.throws(() => sampler.sample(nan, 0, params(1, 3), 0.5), RangeError);
  assert.throws(() => new TokenSampler(0), RangeError);
});

test('validateSamplingParams names the field and the range', () => {
  const V = 256;
  validateSamplingParams(DEFAULT_SAMPLING, V);
  validateSamplingParams(params(1e-3, V, 1), V);
  const bad: [SamplingParams, string][] = [
    [params(0), 'sampling.temperature'],
    [params(-1), 'sampling.temperature'],
    [params(Number.NaN), 'sampling.temperature'],
    [params(Number.POSITIVE_INFINITY), 'sampling.temperature'],
    [params(1, -1), 'sampling.top_k'],
    [params(1, 1.5), 'sampling.top_k'],
    [params(1, V + 1), 'sampling.top_k'],
    [params(1, 0, 0), 'sampling.top_p'],
    [params(1, 0, 1.01), 'sampling.top_p'],
    [params(1, 0, Number.NaN), 'sampling.top_p'],
  ];
  for (const [p, field] of bad) {
    assert.throws(
      () => validateSamplingParams(p, V, 2),
      (e: unknown) => e instanceof InvalidArgumentError && e.field === field && e.message.includes(field) && e.message.includes('level 2'),
      JSON.stringify(p),
    );
  }
});

test("defaults are Jukebox's: temperature 0.99, no top-k, no top-p", () => {
  assert.deepEqual({ ...DEFAULT_SAMPLING }, { temperature: 0.99, topK: 0, topP: 1 });
  assert.ok(Object.isFrozen(DEFAULT_SAMPLING));
});

test('expNonPositive is within a few ulp of Math.exp', () => {
  let worst = 0;
  for (let i = 0; i <= 200000; i++) {
    const x = -(i / 200000) * 700;
    worst = Math.max(worst, Math.abs(expNonPositive(x) - Math.exp(x)) / Math.exp(x));
  }
  assert.ok(worst < 1e-15, `relative error ${worst}`);
  assert.equal(expNonPositive(0), 1);
  assert.equal(expNonPositive(-800), 0);
  assert.equal(expNonPositive(-Infinity), 0);
  assert.ok(Number.isNaN(expNonPositive(Number.NaN)));
});
