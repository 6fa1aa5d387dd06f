import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analysePlan, scheduleBounds, relativeStepCost } from '../../shared/critical-path.js';
import { planSong } from '../../shared/plan.js';
import { TINY_SHAPE } from './helpers.js';

test('exact mode: a chain per level; the longest path runs through the bottom chain', () => {
  const plan = planSong(TINY_SHAPE, 3);
  const a = analysePlan(plan, [1, 1, 1]);
  const [l0, l1, l2] = plan.levels;
  assert.equal(a.nodes.length, l0.windows.length + l1.windows.length + l2.windows.length);
  // Work is the new tokens: each level's tokens exactly once.
  assert.deepEqual(a.levelWork, [6000, 1500, 375]);
  assert.equal(a.work, 7875);
  // Every window waits for its predecessor; the first window of a lower level also for the upper tokens it needs.
  const first0 = a.nodes[a.levelOffset[0]];
  assert.ok(first0.deps.length >= 1 && first0.deps.every((d) => a.nodes[d].level === 1));
  // Longest path: the bottom chain (6000) plus the upper work before its first window can start.
  assert.equal(a.levelEarliestStart[2], 0);
  assert.ok(a.criticalPath >= 6000 + a.levelEarliestStart[0]);
  assert.ok(a.criticalPath < a.work);
  // The tail of the first top window is the whole critical path.
  assert.equal(a.tail[a.levelOffset[2]], a.criticalPath);
});

test('hand-checked earliest starts: level 1 waits for the first top window, level 0 for the first level-1 window', () => {
  const plan = planSong(TINY_SHAPE, 3);
  const a = analysePlan(plan, [1, 10, 100]);
  // First top window: 128 new tokens × 100. Level 1's first window needs top tokens [0, 32): that window.
  assert.equal(a.levelEarliestStart[1], 128 * 100);
  // Level 0's first window needs level-1 tokens [0, 32): the first level-1 window (128 × 10) after it.
  assert.equal(a.levelEarliestStart[0], 128 * 100 + 128 * 10);
});

test('bounds: max(critical path, work / W); the tight bound adds each level\'s earliest start', () => {
  const a = analysePlan(planSong(TINY_SHAPE, 3), [1, 1, 1]);
  const one = scheduleBounds(a, 1);
  assert.equal(one.simple, a.work);
  const many = scheduleBounds(a, 1000);
  assert.equal(many.simple, a.criticalPath);
  const four = scheduleBounds(a, 4);
  assert.equal(four.workOverWorkers, a.work / 4);
  assert.ok(four.tight >= four.simple);
  assert.ok(four.tight >= a.levelEarliestStart[0] + a.levelWork[0] / 4);
});

test('sharded: segments shorten the critical path; warm-ups add work', () => {
  const exact = analysePlan(planSong(TINY_SHAPE, 12), [1, 1, 5]);
  const sharded = analysePlan(planSong(TINY_SHAPE, 12, { segments: [8, 4, 1], overlap: 0.25 }), [1, 1, 5]);
  assert.ok(sharded.criticalPath < exact.criticalPath / 2, `${sharded.criticalPath} vs ${exact.criticalPath}`);
  assert.ok(sharded.work > exact.work);
  assert.equal(sharded.levelWork[2], exact.levelWork[2], 'the top is the same chain');
});

test('relative step cost: layers × width²', () => {
  assert.ok(Math.abs(relativeStepCost({ layers: 20, width: 64 }) / relativeStepCost({ layers: 4, width: 64 }) - 5) < 1e-12);
});
