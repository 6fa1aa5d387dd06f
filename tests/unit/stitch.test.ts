import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LevelStream, LevelTokens } from '../../shared/stitch.js';
import { planSong } from '../../shared/plan.js';
import { TINY_SHAPE } from './helpers.js';

const rowsOf = (arrays: Int32Array[]): number[][] => arrays.map((a) => Array.from(a));

test('append, window and upper', () => {
  const t = new LevelTokens(2, 10);
  assert.equal(t.length, 0);
  t.append(0, [[1, 2, 3, 4], [5, 6, 7, 8]]);
  assert.equal(t.length, 4);
  assert.deepEqual(rowsOf(t.window(1, 4)), [[2, 3, 4], [6, 7, 8]]);
  assert.deepEqual(rowsOf(t.upper(0, 2)), [[1, 2], [5, 6]]);
  assert.deepEqual(rowsOf(t.window(4, 4)), [[], []]);
  t.append(4, [Int32Array.of(9, 10), Int32Array.of(11, 12)]);
  assert.deepEqual(Array.from(t.row(1)), [5, 6, 7, 8, 11, 12]);
  assert.equal(t.complete, false);
  t.append(6, [[0, 0, 0, 1], [0, 0, 0, 2]]);
  assert.equal(t.complete, true);
});

test('windows are copies: changing one does not change the level', () => {
  const t = new LevelTokens(1, 4);
  t.append(0, [[1, 2, 3]]);
  const w = t.window(0, 3);
  w[0][0] = 99;
  assert.deepEqual(Array.from(t.window(0, 3)[0]), [1, 2, 3]);
});

test('an append must start exactly where the level ends', () => {
  const t = new LevelTokens(1, 300);
  t.append(0, [new Array<number>(128).fill(1)]);
  // The second window starts at 64 with 64 tokens of context: its new tokens go at 64 + 64 = 128.
  assert.throws(() => t.append(64, [new Array<number>(64).fill(2)]), /start at 64.*end at 128/, 'the window start alone is the wrong place');
  assert.throws(() => t.append(130, [new Array<number>(64).fill(2)]), RangeError, 'a gap');
  t.append(64 + 64, [new Array<number>(64).fill(2)]);
  assert.equal(t.length, 192);
});

test('rows must match the job and each other, and fit the level', () => {
  const t = new LevelTokens(2, 5);
  assert.throws(() => t.append(0, [[1]]), /1 rows/);
  assert.throws(() => t.append(0, [[1, 2], [3]]), /same number/);
  assert.throws(() => t.append(0, [[1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 5, 6]]), /past/);
  assert.throws(() => t.window(0, 1), /past the 0 tokens/);
  t.append(0, [[1, 2], [3, 4]]);
  assert.throws(() => t.upper(1, 3), RangeError, 'upper tokens that do not exist yet');
  assert.throws(() => t.window(2, 1), RangeError);
  assert.throws(() => t.row(2), RangeError);
  assert.throws(() => new LevelTokens(0, 5), RangeError);
});

test('running a whole plan through the store: contexts are what the windows expect', () => {
  const plan = planSong(TINY_SHAPE, 2.5);
  const rows = 3;
  const stores = plan.levels.map((lp) => new LevelTokens(rows, lp.totalTokens));
  // Top first, as Jukebox; a token's value encodes (row, level, position) so any misplacement shows.
  const value = (row: number, level: number, pos: number): number => row * 1_000_000 + level * 100_000 + pos;
  for (let l = plan.levels.length - 1; l >= 0; l--) {
    const lp = plan.levels[l];
    for (const w of lp.windows) {
      const context = stores[l].window(w.start, w.start + w.contextTokens);
      context.forEach((ctx, r) => assert.deepEqual(Array.from(ctx), Array.from({ length: w.contextTokens }, (_, i) => value(r, l, w.start + i))));
      if (l < plan.levels.length - 1) {
        const upper = stores[l + 1].upper(w.upperStart, w.upperEnd);
        assert.equal(upper[0].length, lp.nCtx / 4);
        assert.equal(upper[2][0], value(2, l + 1, w.upperStart));
      }
      const fresh = Array.from({ length: rows }, (_, r) => Array.from({ length: w.newTokens }, (_, i) => value(r, l, w.start + w.contextTokens + i)));
      stores[l].append(w.start + w.contextTokens, fresh);
    }
    assert.ok(stores[l].complete);
    assert.deepEqual(Array.from(stores[l].row(1)), Array.from({ length: lp.totalTokens }, (_, i) => value(1, l, i)));
  }
});

test('a level of segments: each keeps its own part, warm-ups stay out of the level, context comes from the segment', () => {
  // Segment 0 samples and keeps [0, 6); segment 1 samples [4, 10) and keeps [6, 10): 2 warm-up tokens.
  const s = new LevelStream(1, 10, [
    { start: 0, end: 6, ownStart: 0, ownEnd: 6 },
    { start: 4, end: 10, ownStart: 6, ownEnd: 10 },
  ]);
  s.append(1, 4, [[40, 50, 60]]);
  assert.equal(s.sampledEnd(1), 7);
  assert.equal(s.length, 0, 'nothing from position 0 yet');
  assert.equal(s.has(6, 7), true, 'segment 1 has its first kept token');
  assert.equal(s.has(4, 7), false, 'positions 4 and 5 belong to segment 0');
  assert.deepEqual(rowsOf(s.context(1, 4, 7)), [[40, 50, 60]], "the segment's own warm-up is its context");
  s.append(0, 0, [[1, 2, 3, 4, 5, 6]]);
  assert.equal(s.length, 7);
  assert.deepEqual(rowsOf(s.range(3, 7)), [[4, 5, 6, 60]], 'the splice: segment 0 up to 6, then segment 1');
  assert.throws(() => s.range(0, 8), /do not all exist/);
  assert.throws(() => s.append(1, 8, [[1]]), /wrong context/, 'a segment appends where it ends');
  s.append(1, 7, [[70, 80, 90]]);
  assert.equal(s.complete, true);
  assert.deepEqual(rowsOf(s.range(0, 10)), [[1, 2, 3, 4, 5, 6, 60, 70, 80, 90]]);
});

test('segments must tile the level', () => {
  assert.throws(() => new LevelStream(1, 10, [{ start: 0, end: 5, ownStart: 0, ownEnd: 5 }]), /own 5 of 10/);
  assert.throws(() => new LevelStream(1, 10, [{ start: 0, end: 6, ownStart: 0, ownEnd: 6 }, { start: 5, end: 10, ownStart: 7, ownEnd: 10 }]), /consecutive/);
});

test('discardBefore frees whole blocks; reading them again is refused, the rest reads as before', () => {
  const t = new LevelTokens(2, 40_000);
  const rows = [Int32Array.from({ length: 40_000 }, (_, i) => i), Int32Array.from({ length: 40_000 }, (_, i) => -i)];
  t.append(0, [rows[0].subarray(0, 20_000), rows[1].subarray(0, 20_000)]);
  t.append(20_000, [rows[0].subarray(20_000), rows[1].subarray(20_000)]);
  t.discardBefore(20_000);
  // Block granularity (16384): tokens from 16384 on are still there.
  assert.deepEqual(Array.from(t.window(16_384, 16_390)[1]), [-16384, -16385, -16386, -16387, -16388, -16389]);
  assert.throws(() => t.window(16_000, 16_390), /discarded/);
  assert.deepEqual(Array.from(t.upper(39_990, 40_000)[0]), Array.from(rows[0].subarray(39_990)));
  assert.equal(t.length, 40_000);
});
