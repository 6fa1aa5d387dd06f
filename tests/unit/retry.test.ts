import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decideRetry, type FailureKind } from '../../coordinator/retry.js';

const policy = { maxAttempts: 4, baseDelayMs: 200, maxDelayMs: 1000 };
const f = (kind: FailureKind) => ({ kind, message: `${kind}!` });

// `attempts` is the task's earlier failures.
test('a refused input fails at once when the task ran alone', () => {
  assert.deepEqual(decideRetry(f('invalid'), 0, 'w1', policy), { action: 'fail', reason: 'invalid! (after 1 attempt; the input was refused)' });
});

test('any failure of a batch shared with other jobs: retried alone, not counted: one job cannot fail another', () => {
  for (const kind of ['invalid', 'internal', 'timeout', 'bad-reply', 'unavailable'] as const) {
    const d = decideRetry(f(kind), 3, 'w1', policy, true);
    assert.ok(d.action === 'retry' && d.runAlone && !d.countsAttempt, kind);
  }
  assert.ok(decideRetry(f('internal'), 3, 'w1', policy, true).action === 'retry', 'even with the last attempt spent');
});

test('transport, precondition, timeout and bad replies: retry elsewhere, the worker out of rotation', () => {
  for (const kind of ['unavailable', 'precondition', 'timeout', 'bad-reply'] as const) {
    const d = decideRetry(f(kind), 0, 'w1', policy);
    assert.ok(d.action === 'retry' && d.markWorkerDown && d.avoidWorker === 'w1' && !d.runAlone && d.countsAttempt, kind);
  }
  const internal = decideRetry(f('internal'), 0, 'w1', policy);
  assert.ok(internal.action === 'retry' && !internal.markWorkerDown);
});

test('backoff doubles per attempt up to the cap; the last attempt fails the job', () => {
  const delays = [0, 1, 2].map((a) => decideRetry(f('internal'), a, 'w', { ...policy, maxAttempts: 10 })).map((d) => (d.action === 'retry' ? d.delayMs : -1));
  assert.deepEqual(delays, [200, 400, 800]);
  const capped = decideRetry(f('internal'), 4, 'w', { ...policy, maxAttempts: 10 });
  assert.ok(capped.action === 'retry' && capped.delayMs === 1000);
  assert.deepEqual(decideRetry(f('timeout'), 3, 'w', policy), { action: 'fail', reason: 'timeout! (after 4 attempts)' });
});
