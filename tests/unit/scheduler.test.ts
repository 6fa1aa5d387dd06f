import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readyTasks, isComplete, type LevelProgressState, type Task } from '../../coordinator/scheduler.js';
import { transition, IllegalTransitionError } from '../../coordinator/job.js';
import { planSong } from '../../shared/plan.js';
import { planDecodeChunks } from '../../shared/decode-plan.js';
import { TINY_SHAPE } from './helpers.js';

// 3 s of the tiny shape: 48000 samples; level tokens 6000 / 1500 / 375.
const plan = planSong(TINY_SHAPE, 3);
const chunks = planDecodeChunks(plan.levels[0].totalTokens, 2000, 11);
const noDecode = { done: chunks.map(() => false), running: chunks.map(() => false) };

function state(windowsDone: number, level: number, running = false): LevelProgressState {
  const lp = plan.levels[level];
  const tokensDone = windowsDone === 0 ? 0 : lp.windows[windowsDone - 1].end;
  return { windowsDone, running, tokensDone };
}

const describe = (tasks: Task[]): string[] => tasks.map((t) => (t.kind === 'decode' ? `d${t.chunk}` : `L${t.level}w${t.window.index}`));

test('at the start only the top level can run', () => {
  assert.deepEqual(describe(readyTasks(plan, [state(0, 0), state(0, 1), state(0, 2)], chunks, noDecode)), ['L2w0']);
});

test('a lower window waits for the upper tokens it is conditioned on, then runs beside the upper level (wavefront)', () => {
  const w0 = plan.levels[1].windows[0];
  // Level 1 window 0 needs top tokens [0, 32): the first top window (128 tokens) provides them.
  assert.equal(w0.upperEnd, 32);
  const tasks = readyTasks(plan, [state(0, 0), state(0, 1), state(1, 2)], chunks, noDecode);
  assert.deepEqual(describe(tasks), ['L1w0', 'L2w1']);
  // With one top window done, level 1 may run windows whose upper span ends by 128 only; level 0 follows level 1.
  const blocked = plan.levels[1].windows.findIndex((w) => w.upperEnd > 128);
  const t2 = readyTasks(plan, [state(0, 0), state(blocked, 1), state(1, 2)], chunks, noDecode);
  assert.deepEqual(describe(t2), ['L0w0', 'L2w1']);
});

test('bottom level first, then the upper level least far ahead of the level it feeds', () => {
  const cover = (l: number, w: number): number => plan.levels[l].windows[w - 1].end * plan.levels[l].hopLength;
  // Level 1 further ahead of level 0 (10752 samples) than level 2 is of level 1 (10240): level 2 goes first.
  assert.ok(cover(2, 4) - cover(1, 5) < cover(1, 5) - cover(0, 2));
  assert.deepEqual(describe(readyTasks(plan, [state(2, 0), state(5, 1), state(4, 2)], chunks, noDecode)), ['L0w2', 'L2w4', 'L1w5']);
  // Level 2 further ahead (12288) than level 1 (8192): level 1 goes first.
  assert.ok(cover(2, 4) - cover(1, 4) > cover(1, 4) - cover(0, 3));
  assert.deepEqual(describe(readyTasks(plan, [state(3, 0), state(4, 1), state(4, 2)], chunks, noDecode)), ['L0w3', 'L1w4', 'L2w4']);
});

test('a running level offers nothing; done levels offer nothing', () => {
  const running = readyTasks(plan, [state(3, 0, true), state(5, 1), state(4, 2, true)], chunks, noDecode);
  assert.deepEqual(describe(running), ['L1w5']);
  const top = plan.levels[2].windows.length;
  assert.deepEqual(describe(readyTasks(plan, [state(3, 0), state(5, 1), state(top, 2)], chunks, noDecode)), ['L0w3', 'L1w5']);
});

test('a decode chunk runs once the bottom tokens of its input span (with margin) exist', () => {
  const enough = plan.levels[0].windows.findIndex((w) => w.end >= chunks[0].inEnd) + 1;
  const before = readyTasks(plan, [state(enough - 1, 0), state(5, 1), state(4, 2)], chunks, noDecode);
  assert.ok(!describe(before).includes('d0'));
  const after = readyTasks(plan, [state(enough, 0), state(5, 1), state(4, 2)], chunks, noDecode);
  // Windows first, bottom level first; decode after them.
  assert.equal(describe(after).at(-1), 'd0', 'decode after the windows');
  const running = readyTasks(plan, [state(enough, 0), state(5, 1), state(4, 2)], chunks, { done: noDecode.done, running: [true, false, false] });
  assert.ok(!describe(running).includes('d0'));
});

test('complete only when every window and chunk is done', () => {
  const done = plan.levels.map((lp, l) => state(lp.windows.length, l));
  assert.equal(isComplete(plan, done, noDecode), false);
  assert.equal(isComplete(plan, done, { done: chunks.map(() => true), running: noDecode.running }), true);
  assert.deepEqual(readyTasks(plan, done, chunks, { done: chunks.map(() => true), running: noDecode.running }), []);
});

test('job lifecycle: legal moves pass, illegal ones throw', () => {
  assert.equal(transition('QUEUED', 'RUNNING'), 'RUNNING');
  assert.equal(transition('RUNNING', 'DECODING'), 'DECODING');
  assert.equal(transition('DECODING', 'SUCCEEDED'), 'SUCCEEDED');
  assert.equal(transition('RUNNING', 'CANCELLED'), 'CANCELLED');
  assert.throws(() => transition('SUCCEEDED', 'RUNNING'), IllegalTransitionError);
  assert.throws(() => transition('CANCELLED', 'FAILED'), IllegalTransitionError);
  assert.throws(() => transition('QUEUED', 'SUCCEEDED'), IllegalTransitionError);
});
