import { test } from 'node:test';
import assert from 'node:assert/strict';
import { batchOrder, holdUntil, scheduleOrder, queuePositions, admissionRefusal, type BatchCandidate, type Candidate, type JobShare } from '../../coordinator/schedule-order.js';

const c = (jobId: string, tail: number, cost = 1): Candidate<string> => ({ jobId, tail, cost, item: `${jobId}:${tail}` });
const share = (jobId: string, priority = 5, virtualTime = 0, seq = 0): JobShare => ({ jobId, priority, virtualTime, seq });
const order = (cands: Candidate<string>[], jobs: JobShare[]): string[] => scheduleOrder(cands, jobs).map((x) => x.item);

test('within a job: the longest path to the end first', () => {
  assert.deepEqual(order([c('a', 3), c('a', 10), c('a', 7)], [share('a')]), ['a:10', 'a:7', 'a:3']);
});

test('equal priorities interleave: no job waits for another whole job', () => {
  const cands = [c('a', 9), c('a', 8), c('a', 7), c('b', 3), c('b', 2), c('b', 1)];
  assert.deepEqual(order(cands, [share('a', 5, 0, 0), share('b', 5, 0, 1)]), ['a:9', 'b:3', 'a:8', 'b:2', 'a:7', 'b:1']);
});

test('priority-weighted share: priority 10 gets two turns for each of priority 5', () => {
  const cands = [...[6, 5, 4, 3, 2, 1].map((t) => c('hi', t)), ...[6, 5, 4, 3, 2, 1].map((t) => c('lo', t))];
  const first6 = order(cands, [share('hi', 10, 0, 1), share('lo', 5, 0, 0)]).slice(0, 6);
  assert.equal(first6.filter((x) => x.startsWith('hi')).length, 4);
});

test('a job already served waits for the one behind (virtual time), cost counts', () => {
  assert.deepEqual(order([c('a', 1), c('b', 1)], [share('a', 5, 10), share('b', 5, 2)]), ['b:1', 'a:1']);
  // b's first task costs 100: a gets its remaining turns before b's second.
  assert.deepEqual(order([c('a', 2), c('a', 1), c('b', 2, 100), c('b', 1)], [share('a', 5, 1, 0), share('b', 5, 0, 1)]), ['b:2', 'a:2', 'a:1', 'b:1']);
});

test('queue positions: higher priority first, then submission order', () => {
  const pos = queuePositions([
    { jobId: 'x', priority: 5, seq: 0 },
    { jobId: 'y', priority: 9, seq: 1 },
    { jobId: 'z', priority: 5, seq: 2 },
  ]);
  assert.deepEqual([pos.get('y'), pos.get('x'), pos.get('z')], [1, 2, 3]);
});

test('admission: jobs and rows limits, with a message', () => {
  const limits = { maxPendingJobs: 2, maxPendingRows: 8 };
  assert.equal(admissionRefusal(1, 4, 4, limits), null);
  assert.match(admissionRefusal(2, 2, 1, limits)!, /2 unfinished jobs.*max pending jobs 2/);
  assert.match(admissionRefusal(1, 6, 4, limits)!, /4 more sample rows.*limit of 8/);
});

test('batch order: critical work first in schedule order, then the fullest groups of the rest', () => {
  const b = (item: string, tail: number, batchKey: string, jobMaxTail = 100): BatchCandidate<string> => ({ jobId: 'j', tail, cost: 1, item, batchKey, rows: 1, jobMaxTail });
  const ordered = [b('top', 100, 'L2'), b('l1a', 50, 'L1'), b('l0a', 40, 'L0'), b('l0b', 30, 'L0'), b('dec', 0, ''), b('l0c', 20, 'L0'), b('l1b', 95, 'L1')];
  assert.deepEqual(batchOrder(ordered, 16).map((c) => c.item), ['top', 'dec', 'l1b', 'l0a', 'l0b', 'l0c', 'l1a']);
  // With batches of one row, group sizes do not matter: schedule order stands.
  assert.deepEqual(batchOrder(ordered, 1).map((c) => c.item), ['top', 'dec', 'l1b', 'l1a', 'l0a', 'l0b', 'l0c']);
});

test('hold a thin batch only for windows about to be ready, and only briefly', () => {
  const q = { rows: 3, maxRows: 16, readySinceMs: 1000, nowMs: 1010, typicalBatchMs: 80, inFlightEndsMs: [1030] };
  assert.equal(holdUntil(q), 1040, 'wait up to half a typical batch after the oldest became ready');
  assert.equal(holdUntil({ ...q, inFlightEndsMs: [1100] }), undefined, 'nothing finishes in time: send now');
  assert.equal(holdUntil({ ...q, inFlightEndsMs: [] }), undefined);
  assert.equal(holdUntil({ ...q, nowMs: 1040 }), undefined, 'held long enough');
  assert.equal(holdUntil({ ...q, rows: 16 }), undefined, 'a full batch goes at once');
  assert.equal(holdUntil({ ...q, typicalBatchMs: undefined }), undefined, 'nothing measured yet');
});
