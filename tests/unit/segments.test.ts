import { test } from 'node:test';
import assert from 'node:assert/strict';
import { autoSegments, maxSegments, overlapTokens, planSegmentSpans, validateSegments, type LevelShape } from '../../shared/segments.js';
import { planSong, getStarts } from '../../shared/plan.js';
import { InvalidArgumentError } from '../../shared/errors.js';
import { TINY_SHAPE } from './helpers.js';

// n_ctx 128, hop 64, hop ratio 4 to the level above: boundaries are whole hops (64).
const shape: LevelShape = { totalTokens: 1024, nCtx: 128, hop: 64, ratio: 4 };

test('overlap in tokens: a fraction of n_ctx, a multiple of the hop ratio, below n_ctx', () => {
  assert.equal(overlapTokens(shape, 0), 0);
  assert.equal(overlapTokens(shape, 0.25), 32);
  assert.equal(overlapTokens(shape, 0.5), 64);
  assert.equal(overlapTokens(shape, 0.3), 36); // 38.4 -> 38 -> 36
  assert.equal(overlapTokens(shape, 1), 124);
});

test('tapered spans, hand-computed: the last segment one window long, each earlier one a step longer', () => {
  // Sampled lengths L_k = 128 + (3 - k)·step with 4·128 + 6·step = 1024 + 3·32 → step 101.3: 432, 330.7, 229.3, 128.
  // Edges 432, 730.7, 928 rounded down to hops: 384, 704, 896.
  assert.deepEqual(planSegmentSpans(shape, 4, 32), [
    { start: 0, end: 384, ownStart: 0, ownEnd: 384 },
    { start: 352, end: 704, ownStart: 384, ownEnd: 704 },
    { start: 672, end: 896, ownStart: 704, ownEnd: 896 },
    { start: 864, end: 1024, ownStart: 896, ownEnd: 1024 },
  ]);
});

test('equal spans without taper, hand-computed', () => {
  // L = (1024 + 3·32) / 4 = 280; edges 280, 528, 776 rounded down to hops: 256, 512, 768.
  assert.deepEqual(planSegmentSpans(shape, 4, 32, false), [
    { start: 0, end: 256, ownStart: 0, ownEnd: 256 },
    { start: 224, end: 512, ownStart: 256, ownEnd: 512 },
    { start: 480, end: 768, ownStart: 512, ownEnd: 768 },
    { start: 736, end: 1024, ownStart: 768, ownEnd: 1024 },
  ]);
});

test('more segments than the level allows gives the most it allows, each with a full window', () => {
  // Kept parts of at least max(hop, n_ctx - overlap) = 128 after a first of 128: 1 + (1024 - 128) / 128 = 8.
  assert.equal(maxSegments(shape, 32), 8);
  const spans = planSegmentSpans(shape, 100, 32);
  assert.ok(spans.length > 1 && spans.length <= 8);
  let next = 0;
  for (const s of spans) {
    assert.equal(s.ownStart, next, 'kept parts tile the level');
    assert.ok(s.end - s.start >= 128, 'a full window');
    assert.equal(s.start % 4, 0);
    assert.equal(s.end % 4, 0);
    next = s.ownEnd;
  }
  assert.equal(next, 1024);
  assert.deepEqual(planSegmentSpans({ ...shape, totalTokens: 200 }, 4, 32), [{ start: 0, end: 200, ownStart: 0, ownEnd: 200 }], 'too short to split');
  assert.throws(() => planSegmentSpans(shape, 2, 30), RangeError, 'overlap not a multiple of the ratio');
});

test('automatic count: two chains per row slot, one with a single slot, at most what the level allows', () => {
  assert.equal(autoSegments(0, shape, 32), 1);
  assert.equal(autoSegments(1, shape, 32), 1);
  assert.equal(autoSegments(2, shape, 32), 4);
  assert.equal(autoSegments(32, shape, 32), 8);
});

test('requested counts: per level, 0 = automatic; the top is never split', () => {
  assert.deepEqual(validateSegments(undefined, 3), [0, 0, 0]);
  assert.deepEqual(validateSegments([8, 2], 3), [8, 2, 0]);
  for (const bad of [[-1], [1.5], [8, 2, 3], [1, 1, 1, 1], ['4']]) {
    assert.throws(() => validateSegments(bad, 3), (e: unknown) => e instanceof InvalidArgumentError && /segments/.test(e.message));
  }
});

test('a sharded plan: Jukebox windows inside each segment, true offsets, every kept token sampled exactly once', () => {
  const plan = planSong(TINY_SHAPE, 12, { segments: [6, 3, 1], overlap: 0.25 });
  assert.equal(plan.mode, 'sharded');
  assert.equal(plan.levels[2].segments.length, 1, 'the top is one chain');
  for (const lp of plan.levels.slice(0, 2)) {
    assert.ok(lp.segments.length > 1);
    assert.equal(lp.overlap, 32);
    assert.deepEqual(lp.windows, lp.segments.flatMap((s) => s.windows));
    for (const seg of lp.segments) {
      // get_starts relative to the segment, shifted to its place in the song.
      assert.deepEqual(seg.windows.map((w) => w.start), getStarts(seg.end - seg.start, lp.nCtx, lp.hop).map((s) => s + seg.start));
      let covered = seg.start;
      for (const w of seg.windows) {
        assert.equal(w.segment, seg.index);
        assert.equal(w.start + w.contextTokens, covered, 'new tokens follow what the segment sampled');
        assert.equal(w.upperStart, w.start / 4);
        assert.equal(w.upperEnd, (w.start + lp.nCtx) / 4);
        covered = w.end;
      }
      assert.equal(covered, seg.end);
    }
    const owners = new Int32Array(lp.totalTokens);
    for (const seg of lp.segments) for (let p = seg.ownStart; p < seg.ownEnd; p++) owners[p]++;
    assert.ok(owners.every((n) => n === 1), 'each token kept from exactly one segment');
  }
  assert.equal(planSong(TINY_SHAPE, 12).mode, 'exact');
});
