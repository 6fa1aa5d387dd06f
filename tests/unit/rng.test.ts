import { test } from 'node:test';
import assert from 'node:assert/strict';
import { philox4x32, splitSeed, uniform } from '../../shared/rng.js';

const hex = (words: ArrayLike<number>): string[] => Array.from(words, (w) => w.toString(16).padStart(8, '0'));
const words = (s: string): number[] => s.trim().split(/\s+/).map((w) => parseInt(w, 16));

/** Random123's kat_vectors for philox4x32 with 10 rounds: counter (4 words), key (2 words), expected (4 words). */
const KAT = [
  ['00000000 00000000 00000000 00000000', '00000000 00000000', '6627e8d5 e169c58d bc57ac4c 9b00dbd8'],
  ['ffffffff ffffffff ffffffff ffffffff', 'ffffffff ffffffff', '408f276d 41c83b0e a20bc7c6 6d5451fd'],
  ['243f6a88 85a308d3 13198a2e 03707344', 'a4093822 299f31d0', 'd16cfe09 94fdcceb 5001e420 24126ea1'],
];

/** An independent Philox4x32-10 written straight from the paper with BigInt products. */
function philoxReference(ctr: number[], key: number[]): number[] {
  const M = 0xffffffffn;
  let [c0, c1, c2, c3] = ctr.map(BigInt);
  let [k0, k1] = key.map(BigInt);
  for (let r = 0; r < 10; r++) {
    const p0 = 0xd2511f53n * c0;
    const p1 = 0xcd9e8d57n * c2;
    [c0, c1, c2, c3] = [((p1 >> 32n) ^ c1 ^ k0) & M, p1 & M, ((p0 >> 32n) ^ c3 ^ k1) & M, p0 & M];
    k0 = (k0 + 0x9e3779b9n) & M;
    k1 = (k1 + 0xbb67ae85n) & M;
  }
  return [c0, c1, c2, c3].map(Number);
}

/** Deterministic test inputs (xorshift32). */
function words32(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

test('Philox4x32-10 matches the Random123 known-answer vectors', () => {
  for (const [ctr, key, expected] of KAT) {
    assert.deepEqual(hex(philox4x32(words(ctr), words(key))), hex(words(expected)));
    assert.deepEqual(hex(philoxReference(words(ctr), words(key))), hex(words(expected)), 'the BigInt reference agrees too');
  }
});

test('Philox4x32-10 matches a BigInt reference on random blocks', () => {
  const next = words32(2024);
  for (let i = 0; i < 2000; i++) {
    const ctr = [next(), next(), next(), next()];
    const key = [next(), next()];
    assert.deepEqual(Array.from(philox4x32(ctr, key)), philoxReference(ctr, key));
  }
});

test('uniform is built from the block of counter (row, level, position, 0) and key (seed lo, seed hi)', () => {
  const { hi, lo } = splitSeed(0x0123456789abcdefn);
  assert.deepEqual([hi, lo], [0x01234567, 0x89abcdef]);
  for (const [row, level, pos] of [[0, 0, 0], [3, 2, 1000], [15, 1, 4294967295]]) {
    const [w0, w1] = philoxReference([row, level, pos, 0], [lo, hi]);
    const expected = ((w0 >>> 5) * 2 ** 26 + (w1 >>> 6)) / 2 ** 53;
    assert.equal(uniform(hi, lo, row, level, pos), expected);
  }
});

test('uniform values are pinned (changing them changes every rendered song)', () => {
  const { hi, lo } = splitSeed(42n);
  const got = [uniform(hi, lo, 0, 0, 0), uniform(hi, lo, 0, 0, 1), uniform(hi, lo, 1, 0, 0), uniform(hi, lo, 0, 2, 0)];
  const expected = [[0, 0, 0], [0, 0, 1], [1, 0, 0], [0, 2, 0]].map(([row, level, pos]) => {
    const [w0, w1] = philoxReference([row, level, pos, 0], [42, 0]);
    return ((w0 >>> 5) * 2 ** 26 + (w1 >>> 6)) / 2 ** 53;
  });
  assert.deepEqual(got, expected);
  assert.equal(new Set(got).size, 4, 'row, level and position each change the value');
});

test('a uniform does not depend on what else was drawn, or in what order', () => {
  const { hi, lo } = splitSeed(987654321987654321n);
  const key = (row: number, level: number, pos: number): string => `${row}/${level}/${pos}`;
  const inOrder = new Map<string, number>();
  for (let row = 0; row < 4; row++) for (let level = 0; level < 3; level++) for (let pos = 0; pos < 50; pos++) inOrder.set(key(row, level, pos), uniform(hi, lo, row, level, pos));
  // Another order, in batches, with unrelated draws (another seed, other positions) in between.
  const entries = [...inOrder.keys()];
  const next = words32(7);
  for (let i = entries.length - 1; i > 0; i--) {
    const j = next() % (i + 1);
    [entries[i], entries[j]] = [entries[j], entries[i]];
  }
  for (let i = 0; i < entries.length; i++) {
    if (i % 7 === 0) uniform(1, 2, next() % 16, next() % 3, next());
    const [row, level, pos] = entries[i].split('/').map(Number);
    assert.equal(uniform(hi, lo, row, level, pos), inOrder.get(entries[i]));
  }
});

test('uniform lies in [0, 1) and looks uniform', () => {
  const { hi, lo } = splitSeed(1n);
  const bins = new Array<number>(16).fill(0);
  const n = 64000;
  let sum = 0;
  for (let pos = 0; pos < n; pos++) {
    const u = uniform(hi, lo, 0, 0, pos);
    assert.ok(u >= 0 && u < 1);
    sum += u;
    bins[Math.floor(u * 16)]++;
  }
  assert.ok(Math.abs(sum / n - 0.5) < 0.005);
  const expected = n / 16;
  const chi2 = bins.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
  assert.ok(chi2 < 37.7, `chi-square ${chi2} over 15 degrees of freedom (p = 0.001 at 37.7)`);
});

test('splitSeed takes exactly 0 .. 2^64-1', () => {
  assert.deepEqual(splitSeed(0n), { hi: 0, lo: 0 });
  assert.deepEqual(splitSeed((1n << 64n) - 1n), { hi: 0xffffffff, lo: 0xffffffff });
  assert.deepEqual(splitSeed(1n << 32n), { hi: 1, lo: 0 });
  assert.throws(() => splitSeed(-1n), RangeError);
  assert.throws(() => splitSeed(1n << 64n), RangeError);
});

test('uniform refuses arguments that are not uint32', () => {
  assert.throws(() => uniform(0, 0, -1, 0, 0), RangeError);
  assert.throws(() => uniform(0, 0, 0, 0, 2 ** 32), RangeError);
  assert.throws(() => uniform(0, 0, 0, 0.5, 0), RangeError);
  assert.throws(() => uniform(2 ** 32, 0, 0, 0, 0), RangeError);
});
