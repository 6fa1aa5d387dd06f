import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readyTasks, isComplete, initialProgress, samplingComplete, tokensNeededFrom, type LevelProgressState, type Task } from '../../coordinator/scheduler.js';
import { transition, IllegalTransitionError } from '../../coordinator/job.js';
import { planSong } from '../../shared/plan.js';
import { planDecodeChunks } from '../../shared/decode-plan.js';
import { LevelStream } from '../../shared/stitch.js';
import type { SongPlan } from '../../shared/types.js';
import { TINY_SHAPE } from './helpers.js';

// 3 s of the tiny shape: 48000 samples; level tokens 6000 / 1500 / 375.
const plan = planSong(TINY_SHAPE, 3);
const chunks = planDecodeChunks(plan.levels[0].totalTokens, 2000, 11);
const noDecode = { done: chunks.map(() => false), running: chunks.map(() => false) };

/** Progress and token streams with the first `done[l]` windows of each level (one segment) finished. */
function progress(p: SongPlan, done: number[][], running: boolean[][] = []): { levels: LevelProgressState[]; exist: (l: number, a: number, b: number) => boolean } {
  const levels = initialProgress(p);
  const streams = p.levels.map((lp) => new LevelStream(1, lp.totalTokens, lp.segments));
  p.levels.forEach((lp, l) =>
    lp.segments.forEach((seg, s) => {
      const n = done[l]?.[s] ?? 0;
      levels[l].segments[s].windowsDone = n;
      levels[l].segments[s].running = running[l]?.[s] ?? false;
      for (const w of seg.windows.slice(0, n)) streams[l].append(s, w.start + w.contextTokens, [new Int32Array(w.newTokens)]);
    }),
  );
  return { levels, exist: (l, a, b) => streams[l].has(a, b) };
}

const describe = (tasks: Task[]): string[] => tasks.map((t) => (t.kind === 'decode' ? `d${t.chunk}` : `L${t.level}s${t.window.segment}w${t.window.index}`));
const ready = (p: SongPlan, done: number[][], running: boolean[][] = [], decode = noDecode): string[] => {
  const { levels, exist } = progress(p, done, running);
  return describe(readyTasks(p, levels, exist, chunks, decode));
};

test('at the start only the top level can run', () => {
  assert.deepEqual(ready(plan, [[0], [0], [0]]), ['L2s0w0']);
});

test('a lower window waits for the upper tokens it is conditioned on, then runs beside the upper level (wavefront)', () => {
  const w0 = plan.levels[1].windows[0];
  // Level 1 window 0 needs top tokens [0, 32): the first top window (128 tokens) provides them.
  assert.equal(w0.upperEnd, 32);
  assert.deepEqual(ready(plan, [[0], [0], [1]]), ['L1s0w0', 'L2s0w1']);
  // With one top window done, level 1 may run windows whose upper span ends by 128 only; level 0 follows level 1.
  const blocked = plan.levels[1].windows.findIndex((w) => w.upperEnd > 128);
  assert.deepEqual(ready(plan, [[0], [blocked], [1]]), ['L0s0w0', 'L2s0w1']);
});

test('a running segment offers nothing; done levels offer nothing', () => {
  assert.deepEqual(ready(plan, [[3], [5], [4]], [[true], [false], [true]]), ['L1s0w5']);
  const top = plan.levels[2].windows.length;
  assert.deepEqual(ready(plan, [[3], [5], [top]]), ['L0s0w3', 'L1s0w5']);
});

test('a decode chunk runs once the bottom tokens of its input span (with margin) exist', () => {
  const enough = plan.levels[0].windows.findIndex((w) => w.end >= chunks[0].inEnd) + 1;
  assert.ok(!ready(plan, [[enough - 1], [5], [4]]).includes('d0'));
  assert.ok(ready(plan, [[enough], [5], [4]]).includes('d0'));
  assert.ok(!ready(plan, [[enough], [5], [4]], [], { done: noDecode.done, running: [true, false, false] }).includes('d0'));
});

test('sharded: every segment of a level is a chain of its own; a segment waits for the upper tokens of its own span', () => {
  const sharded = planSong(TINY_SHAPE, 3, { segments: [4, 2, 1], overlap: 0.25 });
  assert.equal(sharded.levels[1].segments.length, 2);
  const top = sharded.levels[2].windows.length;
  // With the whole top level done, both level-1 segments start at once.
  assert.deepEqual(ready(sharded, [[0, 0, 0, 0], [0, 0], [top]]), ['L1s0w0', 'L1s1w0']);
  // Level-0 segments start where level 1's kept tokens exist: segment 0 after level-1 segment 0's first window.
  const seg1 = sharded.levels[1].segments[1];
  const afterFirst = ready(sharded, [[0, 0, 0, 0], [1, 0], [top]]);
  assert.ok(afterFirst.includes('L0s0w0'));
  assert.ok(!afterFirst.some((t) => t.startsWith('L0s3')), 'the last level-0 segment needs level-1 tokens of segment 1');
  const all = ready(sharded, [[0, 0, 0, 0], [sharded.levels[1].segments[0].windows.length, seg1.windows.length], [top]]);
  assert.deepEqual(all.filter((t) => t.startsWith('L0')), ['L0s0w0', 'L0s1w0', 'L0s2w0', 'L0s3w0']);
});

test('complete only when every window and chunk is done', () => {
  const done = plan.levels.map((lp) => [lp.windows.length]);
  const { levels } = progress(plan, done);
  assert.equal(samplingComplete(plan, levels), true);
  assert.equal(isComplete(plan, levels, noDecode), false);
  assert.equal(isComplete(plan, levels, { done: chunks.map(() => true), running: noDecode.running }), true);
  assert.deepEqual(ready(plan, done, [], { done: chunks.map(() => true), running: noDecode.running }), []);
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

test('tokensNeededFrom: the next windows\' contexts, the upper spans below, and undecoded chunks bound what memory keeps', () => {
  const start = initialProgress(plan);
  assert.deepEqual(tokensNeededFrom(plan, start, chunks, noDecode), [0, 0, 0]);
  // Top windows done, level 1 part way: the top keeps its next window's context or level 1's next upper span,
  // whichever starts first; level 1 keeps everything level 0 has not read yet.
  const { levels } = progress(plan, [[0], [3], [2]]);
  const need = tokensNeededFrom(plan, levels, chunks, noDecode);
  const l1next = plan.levels[1].segments[0].windows[3];
  assert.equal(need[2], Math.min(plan.levels[2].segments[0].windows[2].start, l1next.upperStart));
  assert.ok(need[2] > 0);
  assert.equal(need[1], Math.min(l1next.start, plan.levels[0].segments[0].windows[0].upperStart));
  assert.equal(need[0], 0);
  // Everything sampled and decoded: nothing is read any more.
  const all = progress(plan, plan.levels.map((lp) => [lp.windows.length])).levels;
  const decoded = { done: chunks.map(() => true), running: chunks.map(() => false) };
  assert.deepEqual(tokensNeededFrom(plan, all, chunks, decoded), plan.levels.map((lp) => lp.totalTokens));
  // Sampled but chunk 1 not decoded: level 0 keeps that chunk's input span (margin included).
  const oneLeft = { done: chunks.map((_, i) => i !== 1), running: chunks.map(() => false) };
  assert.equal(tokensNeededFrom(plan, all, chunks, oneLeft)[0], chunks[1].inStart);
});
