import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getStarts, minimumDurationSeconds, minimumTotalSamples, formatSecondsUp, planSong, planWork } from '../../shared/plan.js';
import { InvalidArgumentError } from '../../shared/errors.js';
import type { LevelPlan, WindowPlan } from '../../shared/types.js';
import { JUKEBOX_5B, TINY_SHAPE, testLevel } from './helpers.js';

/** start, end, contextTokens, newTokens, upperStart, upperEnd: the columns every expected list below gives. */
type Row = [number, number, number, number, number, number];

function rows(lp: LevelPlan): Row[] {
  return lp.windows.map((w: WindowPlan) => [w.start, w.end, w.contextTokens, w.newTokens, w.upperStart, w.upperEnd]);
}

/**
 * Hand-written window list for a level whose windows are regular: window 0 samples nCtx from scratch, windows
 * 1 .. regular-1 start at k·hop, are primed with nCtx - hop tokens and add hop; then the shifted last window.
 */
function regular(nCtx: number, hop: number, count: number, r: number, last: Row): Row[] {
  const out: Row[] = [[0, nCtx, 0, nCtx, 0, r ? nCtx / r : 0]];
  for (let k = 1; k < count; k++) out.push([k * hop, k * hop + nCtx, nCtx - hop, hop, r ? (k * hop) / r : 0, r ? (k * hop + nCtx) / r : 0]);
  out.push(last);
  return out;
}

test('getStarts follows Jukebox get_starts', () => {
  assert.deepEqual(getStarts(100, 128, 16), [0], 'shorter than nCtx: one partial window at 0');
  assert.deepEqual(getStarts(128, 128, 64), [0], 'exactly nCtx');
  assert.deepEqual(getStarts(200, 128, 64), [0, 64, 72], 'the last start is moved back to total - nCtx');
  assert.deepEqual(getStarts(256, 128, 64), [0, 64, 128], 'a last window that ends exactly at the end is not moved');
  assert.deepEqual(getStarts(300, 128, 128), [0, 128, 172], 'hop = nCtx');
  assert.deepEqual(getStarts(6890, 8192, 1024), [0]);
  assert.deepEqual(getStarts(20671, 8192, 1024), [0, 1024, 2048, 3072, 4096, 5120, 6144, 7168, 8192, 9216, 10240, 11264, 12288, 12479]);
  assert.throws(() => getStarts(0, 128, 64), RangeError);
  assert.throws(() => getStarts(100, 128, 0), RangeError);
});

test('5b, 20 s: top 1 partial window, level 1 6 windows, level 0 26 windows', () => {
  const plan = planSong(JUKEBOX_5B, 20);
  assert.equal(plan.totalSamples, 881920); // floor(20 · 44100 / 128) · 128 = 6890 · 128
  assert.deepEqual(plan.levels.map((l) => l.totalTokens), [110240, 27560, 6890]);
  assert.deepEqual(plan.levels.map((l) => l.hop), [4096, 4096, 1024]);
  assert.deepEqual(rows(plan.levels[2]), [[0, 6890, 0, 6890, 0, 0]]);
  // Level 1: starts 0 … 16384 by 4096, then 20480 + 8192 >= 27560 moves the last to 27560 - 8192 = 19368;
  // it is primed with 24576 - 19368 = 5208 tokens and adds 2984; its upper span is [4842, 6890).
  assert.deepEqual(rows(plan.levels[1]), regular(8192, 4096, 5, 4, [19368, 27560, 5208, 2984, 4842, 6890]));
  // Level 0: starts 0 … 98304 (25 of them), then 102400 moves to 110240 - 8192 = 102048: primed with
  // 106496 - 102048 = 4448, adds 3744, upper [25512, 27560).
  assert.deepEqual(rows(plan.levels[0]), regular(8192, 4096, 25, 4, [102048, 110240, 4448, 3744, 25512, 27560]));
  assert.deepEqual(plan.levels.map((l) => l.windows.length), [26, 6, 1]);
  assert.deepEqual(
    planWork(plan).map((w) => w.newTokens),
    [110240, 27560, 6890],
    'the reference table: 6,890 / 27,560 / 110,240 tokens',
  );
});

test('5b, 60 s: 14 / 20 / 80 windows and the reference token counts', () => {
  const plan = planSong(JUKEBOX_5B, 60);
  assert.equal(plan.totalSamples, 2645888); // 20671 · 128
  assert.deepEqual(plan.levels.map((l) => l.totalTokens), [330736, 82684, 20671]);
  // Top: 13 regular windows (0 … 12288), the last moved from 13312 to 20671 - 8192 = 12479, primed with
  // 20480 - 12479 = 8001 tokens, adding 191.
  assert.deepEqual(rows(plan.levels[2]), regular(8192, 1024, 13, 0, [12479, 20671, 8001, 191, 0, 0]));
  // Level 1: 19 regular (0 … 73728), last 82684 - 8192 = 74492: primed 81920 - 74492 = 7428, adds 764.
  assert.deepEqual(rows(plan.levels[1]), regular(8192, 4096, 19, 4, [74492, 82684, 7428, 764, 18623, 20671]));
  // Level 0: 79 regular (0 … 319488), last 330736 - 8192 = 322544: primed 327680 - 322544 = 5136, adds 3056.
  assert.deepEqual(rows(plan.levels[0]), regular(8192, 4096, 79, 4, [322544, 330736, 5136, 3056, 80636, 82684]));
  assert.deepEqual(plan.levels.map((l) => l.windows.length), [80, 20, 14]);
  const work = planWork(plan);
  assert.deepEqual(work.map((w) => w.newTokens), [330736, 82684, 20671]);
  assert.deepEqual(work.map((w) => w.windows), [80, 20, 14]);
  assert.deepEqual(
    work.map((w) => w.prefillTokens),
    [78 * 4096 + 5136, 18 * 4096 + 7428, 12 * 7168 + 8001],
  );
});

test('tiny, 3 s: every level, hand-computed', () => {
  const plan = planSong(TINY_SHAPE, 3);
  assert.equal(plan.totalSamples, 48000); // 375 top tokens exactly
  assert.deepEqual(plan.levels.map((l) => [l.totalTokens, l.hop, l.nCtx]), [[6000, 64, 128], [1500, 64, 128], [375, 16, 128]]);
  // Top: hop 16, priming 128 - 16 = 112; starts 0 … 240, then 256 moves to 375 - 128 = 247 (primed 368 - 247 = 121, adds 7).
  assert.deepEqual(rows(plan.levels[2]), regular(128, 16, 16, 0, [247, 375, 121, 7, 0, 0]));
  // Level 1: hop 64, priming 64; starts 0 … 1344, then 1408 moves to 1372 (primed 1472 - 1372 = 100, adds 28).
  assert.deepEqual(rows(plan.levels[1]), regular(128, 64, 22, 4, [1372, 1500, 100, 28, 343, 375]));
  // Level 0: starts 0 … 5824, then 5888 moves to 5872 (primed 5952 - 5872 = 80, adds 48).
  assert.deepEqual(rows(plan.levels[0]), regular(128, 64, 92, 4, [5872, 6000, 80, 48, 1468, 1500]));
  assert.deepEqual(planWork(plan), [
    { level: 0, windows: 93, segments: 1, newTokens: 6000, prefillTokens: 91 * 64 + 80 },
    { level: 1, windows: 23, segments: 1, newTokens: 1500, prefillTokens: 21 * 64 + 100 },
    { level: 2, windows: 17, segments: 1, newTokens: 375, prefillTokens: 15 * 112 + 121 },
  ]);
});

test('window indices are consecutive and contexts are exactly the tokens earlier windows sampled', () => {
  for (const seconds of [0.3, 1, 2.71, 7.5, 12]) {
    const plan = planSong(TINY_SHAPE, seconds);
    for (const lp of plan.levels) {
      let covered = 0;
      lp.windows.forEach((w, i) => {
        assert.equal(w.index, i);
        assert.equal(w.start + w.contextTokens, covered, `level ${lp.level} window ${i}: new tokens start where the level ends`);
        assert.equal(w.end - w.start, w.contextTokens + w.newTokens);
        assert.ok(w.newTokens > 0);
        if (i > 0 && i < lp.windows.length - 1) assert.equal(w.contextTokens, lp.nCtx - lp.hop, 'priming length nCtx - hop');
        covered = w.end;
      });
      assert.equal(covered, lp.totalTokens);
    }
  }
});

test('a song shorter than nCtx at the top gets one partial window; lower levels keep full windows', () => {
  const plan = planSong(TINY_SHAPE, 0.5); // 8000 samples -> 62 top tokens (7936 samples)
  assert.equal(plan.totalSamples, 7936);
  assert.deepEqual(rows(plan.levels[2]), [[0, 62, 0, 62, 0, 0]]);
  assert.deepEqual(plan.levels[1].windows.map((w) => w.start), [0, 64, 120]); // 248 tokens
  assert.deepEqual(plan.levels[1].windows.map((w) => [w.upperStart, w.upperEnd]), [[0, 32], [16, 48], [30, 62]]);
  for (const lp of plan.levels.slice(0, 2)) for (const w of lp.windows) assert.equal(w.end - w.start, lp.nCtx);
});

test('upper-level spans are [start/r, (start+nCtx)/r) and lie inside the upper level', () => {
  for (const seconds of [6, 20, 60, 95.3]) {
    const plan = planSong(JUKEBOX_5B, seconds);
    for (const l of [0, 1]) {
      const upper = plan.levels[l + 1];
      for (const w of plan.levels[l].windows) {
        assert.equal(w.upperStart * 4, w.start);
        assert.equal(w.upperEnd * 4, w.start + 8192);
        assert.equal(w.upperEnd - w.upperStart, 2048);
        assert.ok(w.upperEnd <= upper.totalTokens);
      }
    }
    for (const w of plan.levels[2].windows) assert.deepEqual([w.upperStart, w.upperEnd], [0, 0]);
  }
});

test('a lower level shorter than nCtx is refused with the minimum duration', () => {
  // 5b: level 1 needs 8192 · 32 = 262144 samples = 2048 top tokens = 5.9443 s.
  const min = minimumDurationSeconds(JUKEBOX_5B);
  assert.equal(minimumTotalSamples(JUKEBOX_5B), 262144);
  assert.ok(Math.abs(min - 262144 / 44100) < 1e-12);
  assert.equal(planSong(JUKEBOX_5B, min).totalSamples, 262144);
  assert.equal(formatSecondsUp(min), '5.945 s');
  const err = (() => {
    try {
      planSong(JUKEBOX_5B, 5.9);
    } catch (e) {
      return e;
    }
    return undefined;
  })();
  assert.ok(err instanceof InvalidArgumentError);
  assert.equal(err.field, 'duration_seconds');
  assert.match(err.message, /level 1/);
  assert.match(err.message, /5\.945 s/);
  assert.throws(() => planSong(JUKEBOX_5B, 5.944), InvalidArgumentError);

  // tiny: level 1 needs 128 · 32 = 4096 samples = 0.256 s (without the labels' 1 s floor).
  assert.equal(minimumTotalSamples(TINY_SHAPE), 4096);
  assert.equal(planSong(TINY_SHAPE, minimumDurationSeconds(TINY_SHAPE)).totalSamples, 4096);
  assert.throws(() => planSong(TINY_SHAPE, 0.25), (e: unknown) => e instanceof InvalidArgumentError && /0\.256 s/.test(e.message));
});

test('the minimum duration is the smallest double that plans', () => {
  for (const m of [JUKEBOX_5B, TINY_SHAPE, { sampleRate: 22050, levels: [testLevel(0, 8, 1000, 0.5), testLevel(1, 24, 999, 1 / 3)] }]) {
    const min = minimumDurationSeconds(m);
    const samples = minimumTotalSamples(m);
    assert.ok(Math.floor(min * m.sampleRate) >= samples);
    const below = min - min * Number.EPSILON;
    assert.ok(Math.floor(below * m.sampleRate) < samples);
  }
  // The timing conditioner's floor (5b top: min_duration 60 s) raises it to whole top tokens.
  assert.equal(minimumTotalSamples({ ...JUKEBOX_5B, labels: { minDurationSeconds: 60 } }), 20672 * 128);
  assert.equal(minimumTotalSamples({ ...TINY_SHAPE, labels: { minDurationSeconds: 1 } }), 16000);
  assert.equal(minimumDurationSeconds({ ...TINY_SHAPE, labels: { minDurationSeconds: 1 } }), 1);
});

test('duration_seconds that is not a positive finite number is refused', () => {
  for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, 0.001, 1e12]) {
    assert.throws(() => planSong(TINY_SHAPE, bad), (e: unknown) => e instanceof InvalidArgumentError && e.field === 'duration_seconds');
  }
});

test('totalSamples rounds down to whole top-level tokens', () => {
  assert.equal(planSong(TINY_SHAPE, 1.00799).totalSamples, 16000); // 16127 samples -> 125 top tokens
  assert.equal(planSong(TINY_SHAPE, 1.0081).totalSamples, 16128);
});
