import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  COLUMN, CROSS, DENSE, PREV_ROW, PRIME, ROW,
  cacheBytes, cachePositions, chunkAt, encoderKvBytes, keptPositions, maxTrimmedCache, rowsThatFit, v1PerToken,
  v1StepBytes, v2ChunkBytes, v2PerToken, windowAverage, windowPoints, type PriorShape,
} from '../../bench/sizing.js';

// A 4-layer model: row, column, previous row, cross; 16 positions in blocks of 4; K/V width 2 heads × 3 = 6;
// width 8; 5 lyric keys for the cross layer; 10 logits; hop 8 (windows primed with 8 positions).
const small: PriorShape = {
  name: 'small', level: 2, hopFraction: 0.5, hop: 8, nCtx: 16, seqLen: 16, width: 8, heads: 2, headDim: 3, layers: 4,
  kinds: [ROW, COLUMN, PREV_ROW, CROSS], blockCtx: 4, primeKeys: 8, nTokens: 5, lyrics: 'encoder', vocab: 10,
  params: { step: 0, conditioner: 0, trainingOnly: 0, inference: 0, total: 0 },
};

test('positions kept per attention kind, hand-computed (blocks of 4, 8 prime keys)', () => {
  const at = (p: number) => [DENSE, ROW, COLUMN, PREV_ROW, CROSS, PRIME].map((k) => keptPositions(k, p, small));
  //                     dense row column prev cross prime
  assert.deepEqual(at(0), [0, 0, 0, 0, 0, 0]);
  assert.deepEqual(at(3), [3, 3, 3, 3, 0, 3]);
  assert.deepEqual(at(4), [4, 0, 4, 4, 0, 4], 'a new block starts: row empty, previous row = the whole previous block');
  assert.deepEqual(at(10), [10, 2, 10, 6, 0, 8]);
  assert.deepEqual(at(15), [15, 3, 15, 7, 0, 8]);
});

test('cache sizes: trimmed per kind (v2) and full in every layer (v1)', () => {
  assert.equal(cachePositions(small, 10, true), 2 + 10 + 6 + 0);
  assert.equal(cachePositions(small, 10, false), 4 * 10);
  assert.equal(cacheBytes(small, 10, true, 2), 18 * 2 * 6 * 2);
  assert.equal(cacheBytes(small, 10, false, 4), 40 * 2 * 6 * 4);
  // Trimmed total (P mod 4) + P + min(P, 4 + P mod 4) peaks at P = 15 (3 + 15 + 7 = 25), not at P = 16 (0 + 16 + 4).
  assert.deepEqual(maxTrimmedCache(small, 2), { bytes: 25 * 2 * 6 * 2, atP: 15 });
  assert.equal(encoderKvBytes(small, 4), 1 * 2 * 5 * 6 * 4);
});

test('v1 step bytes at P = 10, hand-computed', () => {
  // in: tokens 8 + position 8 + x_cond and y_cond 2 × 8 × 4 + lyric keys 240 + past 40 × 48; out: logits 40 + present 44 × 48.
  assert.deepEqual(v1StepBytes(small, 10), { in: 8 + 8 + 64 + 240 + 1920, out: 40 + 2112, total: 2240 + 2152 });
  assert.deepEqual(v1PerToken(small, 10), v1StepBytes(small, 10));
  // Two rows: everything per row twice, the position once.
  assert.equal(v1StepBytes(small, 10, 2).in, 2 * (2240 - 8) + 8);
  assert.equal(v1PerToken(small, 10, 2).in, (2 * 2232 + 8) / 2);
});

test('v2 chunk bytes, fp16, hand-computed', () => {
  // Chunk of 4 from P = 8: in = token 8 + x_cond 16 × 8 × 2 + y_cond 16 + lyric keys 120 + uniforms 32 + sampling 24
  // + cache at 8 (row 0, column 8, previous row 4: 12 positions × 24 B) + position and n_steps 16.
  assert.deepEqual(v2ChunkBytes(small, 8, 4, 2), { in: 8 + 256 + 16 + 120 + 32 + 24 + 288 + 16, out: 32 + 16 * 24, total: 760 + 416 });
  // fp32 doubles the float parts only.
  assert.equal(v2ChunkBytes(small, 8, 4, 4).in, 8 + 512 + 32 + 240 + 32 + 24 + 576 + 16);
});

test('window points and chunks', () => {
  assert.deepEqual(windowPoints(small), { start: 8, mid: 12, end: 15 });
  assert.deepEqual(chunkAt(small, 13, 4), { p0: 12, n: 4 });
  assert.deepEqual(chunkAt(small, 15, 3), { p0: 14, n: 2 }, 'chunks from 8: 8, 11, 14 (short)');
  assert.deepEqual(v2PerToken(small, 9, 4, 2), { in: 760 / 4, out: 416 / 4, total: 1176 / 4 });
  // Chunks at 8 and 12; the second: in 856 (cache at 12: 16 positions), out 32 + cache at 16 (0 + 16 + 4) × 24 = 512.
  assert.deepEqual(windowAverage(small, 4, 2), { in: (760 + 856) / 8, out: (416 + 512) / 8, total: (1176 + 1368) / 8 });
  // v1 average: P = 8 … 15, linear in P, so equal to the step at P = 11.5.
  const v1 = windowAverage(small, 0, 4);
  assert.equal(v1.total, (v1StepBytes(small, 11).total + v1StepBytes(small, 12).total) / 2);
});

test('rows that fit', () => {
  assert.equal(rowsThatFit(1000, 100, 200, 0.1), 4);
  assert.equal(rowsThatFit(1000, 950, 10, 0.1), 0, 'weights beyond the allowance: none');
});

test('the 5b_lyrics top: official fp16 trimmed cache and the v1 float32 cache', () => {
  const lyr: PriorShape = {
    ...small, name: '5b_lyrics', nCtx: 8192, seqLen: 8192, hop: 1024, width: 4800, heads: 8, headDim: 150, layers: 79,
    kinds: [...Array(24).fill(ROW), ...Array(24).fill(COLUMN), ...Array(24).fill(PREV_ROW), ...Array(7).fill(CROSS)],
    blockCtx: 64, primeKeys: null, nTokens: 512, vocab: 2048,
  };
  // Column layers alone at 8192 positions: 24 × 2 × 1200 × 2 B × 8192 (the official "≈0.94 GB").
  assert.equal(cacheBytes({ ...lyr, kinds: Array(24).fill(COLUMN), layers: 24 }, 8192, true, 2), 943_718_400);
  // Trimmed peak at P = 8191: 24 × (8191 + 63 + 127) positions × 4800 B.
  assert.deepEqual(maxTrimmedCache(lyr, 2), { bytes: 24 * (8191 + 63 + 127) * 4800, atP: 8191 });
  // v1: 79 layers × 2 × 1200 × 4 B × 8192 ≈ 5.79 GiB.
  assert.equal(cacheBytes(lyr, 8192, false, 4), 6_212_812_800);
});
