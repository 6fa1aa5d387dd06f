// Which discovered workers have gone quiet: the pure rule nats-discovery.ts applies on its timer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expiredWorkers } from '../../coordinator/worker-liveness.js';
import { HEARTBEAT_INTERVAL_MS, HEARTBEAT_TIMEOUT_MS } from '../../shared/worker-heartbeat.js';

test('the default timeout is three heartbeats', () => {
  assert.equal(HEARTBEAT_TIMEOUT_MS, 3 * HEARTBEAT_INTERVAL_MS);
  assert.equal(HEARTBEAT_TIMEOUT_MS, 3000);
});

test('a worker is expired only when silent for longer than the timeout', () => {
  const seen = new Map([
    ['a:1', 1000],
    ['b:1', 2000],
    ['c:1', 4000],
  ]);
  assert.deepEqual(expiredWorkers(seen, 4000, 3000), [], 'a heard exactly 3000 ms ago is still alive');
  assert.deepEqual(expiredWorkers(seen, 4001, 3000), ['a:1']);
  assert.deepEqual(expiredWorkers(seen, 5001, 3000), ['a:1', 'b:1']);
  assert.deepEqual(expiredWorkers(seen, 100_000, 3000), ['a:1', 'b:1', 'c:1']);
});

test('a fresh heartbeat keeps a worker; nothing known, nothing expired', () => {
  const seen = new Map([['a:1', 1000]]);
  seen.set('a:1', 3500);
  assert.deepEqual(expiredWorkers(seen, 5000, 3000), []);
  assert.deepEqual(expiredWorkers(new Map(), 1e9, 3000), []);
});

test('the timeout is a parameter', () => {
  const seen = new Map([['a:1', 0]]);
  assert.deepEqual(expiredWorkers(seen, 600, 500), ['a:1']);
  assert.deepEqual(expiredWorkers(seen, 600, 10_000), []);
});
