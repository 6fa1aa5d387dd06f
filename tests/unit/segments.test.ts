import { test } from 'node:test';
import assert from 'node:assert/strict';
import { autoSegments, maxSegments, overlapTokens, planSegmentSpans, validateSegments, type LevelShape } from '../../shared/segments.js';
import { planSong, getStarts } from '../../shared/plan.js';
import { InvalidArgumentError } from '../../shared/errors.js';
import { TINY_SHAPE } from './helpers.js';

// n_ctx 128, hop 64, hop ratio 4 to the level above: boundaries are whole hops (64).
const shape: LevelShape = { totalTokens: 1024, nCtx: 128, hop: 64, ratio: 4 };

test('overlap in tokens: the nearest whole number of window hops below n_ctx', () => {
  assert.equal(overlapTokens(shape, 0), 0);
  assert.equal(overlapTokens(shape, 0.125), 0, '16 tokens round to no hop');
  assert.equal(overlapTokens(shape, 0.25), 64, '32 tokens round up to one hop');
  assert.equal(overlapTokens(shape, 0.5), 64);
  assert.equal(overlapTokens(shape, 1), 64, 'below n_ctx');
  assert.equal(overlapTokens({ nCtx: 8192, hop: 4096, ratio: 4 }, 0.5), 4096, "Jukebox's upsamplers: half a window");
});

test('tapered spans, hand-computed: later segments shorter', () => {
  // Sampled lengths with a taper of 0.75 towards one window: average (1024 + 3·64) / 4 = 304, last 304 - 0.75·176 =
  // 172, step (1216 - 4·172) / 6 = 88: 436, 348, 260, 172. Edges 436, 720, 916 rounded down to hops: 384, 704, 896.
  assert.deepEqual(planSegmentSpans(shape, 4, 64), [
    { start: 0, end: 384, ownStart: 0, ownEnd: 384 },
    { start: 320, end: 704, ownStart: 384, ownEnd: 704 },
    { start: 640, end: 896, ownStart: 704, ownEnd: 896 },
    { start: 832, end: 1024, ownStart: 896, ownEnd: 1024 },
  ]);
});

test('equal spans without taper, hand-computed', () => {
  // L = 1216 / 4 = 304; edges 304, 544, 784 rounded down to hops: 256, 512, 768.
  assert.deepEqual(planSegmentSpans(shape, 4, 64, false), [
    { start: 0, end: 256, ownStart: 0, ownEnd: 256 },
    { start: 192, end: 512, ownStart: 256, ownEnd: 512 },
    { start: 448, end: 768, ownStart: 512, ownEnd: 768 },
    { start: 704, end: 1024, ownStart: 768, ownEnd: 1024 },
  ]);
});

test('more segments than the level allows gives the most it allows, each with a full window on the exact grid', () => {
  // Kept parts of at least max(hop, n_ctx - overlap) = 64 after a first of 128: 1 + (1024 - 128) / 64 = 15.
  assert.equal(maxSegments(shape, 64), 15);
  const spans = planSegmentSpans(shape, 100, 64);
  assert.ok(spans.length > 1 && spans.length <= 15);
  let next = 0;
  for (const s of spans) {
    assert.equal(s.ownStart, next, 'kept parts tile the level');
    assert.ok(s.end - s.start >= 128, 'a full window');
    assert.equal(s.start % 64, 0, 'windows on the exact grid');
    next = s.ownEnd;
  }
  assert.equal(next, 1024);
  assert.deepEqual(planSegmentSpans({ ...shape, totalTokens: 160 }, 4, 64), [{ start: 0, end: 160, ownStart: 0, ownEnd: 160 }], 'too short to split');
  assert.throws(() => planSegmentSpans(shape, 2, 32), RangeError, 'overlap off the window grid');
});

test('automatic count: one and a half chains per row slot, one with a single slot, at most what the level allows', () => {
  assert.equal(autoSegments(0, shape, 64), 1);
  assert.equal(autoSegments(1, shape, 64), 1);
  assert.equal(autoSegments(4, shape, 64), 6);
  assert.equal(autoSegments(32, shape, 64), 15);
});

test('requested counts: per level, 0 = automatic; the top is never split', () => {
  assert.deepEqual(validateSegments(undefined, 3), [0, 0, 0]);
  assert.deepEqual(validateSegments([8, 2], 3), [8, 2, 0]);
  for (const bad of [[-1], [1.5], [8, 2, 3], [1, 1, 1, 1], ['4']]) {
    assert.throws(() => validateSegments(bad, 3), (e: unknown) => e instanceof InvalidArgumentError && /segments/.test(e.message));
  }
});

test('a sharded plan: Jukebox windows inside each segment, true offsets, every kept token sampled exactly once', () => {
  const plan = planSong(TINY_SHAPE, 12, { segments: [6, 3, 1], overlap: 0.5 });
  assert.equal(plan.mode, 'sharded');
  assert.equal(plan.levels[2].segments.length, 1, 'the top is one chain');
  for (const lp of plan.levels.slice(0, 2)) {
    assert.ok(lp.segments.length > 1);
    assert.equal(lp.overlap, 64);
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
