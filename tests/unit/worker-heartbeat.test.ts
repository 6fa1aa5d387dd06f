// The NATS heartbeat and goodbye messages: what a coordinator accepts, and why it refuses the rest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkWorkerAddress, parseGoodbye, parseHeartbeat, type Heartbeat } from '../../shared/worker-heartbeat.js';

const good: Heartbeat = {
  workerId: 'worker-1',
  address: '10.0.0.7:50052',
  modelHash: 'abc123',
  levels: [0, 1],
  decodes: true,
  provider: 'cpu',
  capacity: 2,
  free: 1,
  rssBytes: 123_456_789,
  sentAtMs: 1_700_000_000_000,
};

function reason(obj: unknown): string {
  const r = parseHeartbeat(JSON.stringify(obj));
  assert.ok(!r.ok, `expected ${JSON.stringify(obj)} to be refused`);
  return r.reason;
}

test('a well-formed heartbeat round-trips; unknown fields are ignored; free is optional', () => {
  assert.deepEqual(parseHeartbeat(JSON.stringify(good)), { ok: true, value: good });
  assert.deepEqual(parseHeartbeat(JSON.stringify({ ...good, fromTheFuture: [1, 2] })), { ok: true, value: good });
  const { free: _free, ...noFree } = good;
  const r = parseHeartbeat(JSON.stringify(noFree));
  assert.ok(r.ok && r.value.free === undefined && !('free' in r.value));
  assert.ok(parseHeartbeat(JSON.stringify({ ...good, levels: [], decodes: true })).ok, 'a decode-only worker');
  assert.ok(parseHeartbeat(JSON.stringify({ ...good, capacity: 0, free: 0 })).ok, 'all threads died for now');
});

test('malformed heartbeats are refused with a reason naming the problem', () => {
  assert.match((parseHeartbeat('{"workerId":') as { reason: string }).reason, /not JSON/);
  assert.match((parseHeartbeat('[1,2]') as { reason: string }).reason, /not a JSON object/);
  assert.match((parseHeartbeat('null') as { reason: string }).reason, /not a JSON object/);
  assert.match(reason({ ...good, workerId: '' }), /workerId/);
  assert.match(reason({ ...good, workerId: 'x'.repeat(201) }), /workerId .*longer/);
  assert.match(reason({ ...good, address: 'nohost' }), /address: .*host:port/);
  assert.match(reason({ ...good, address: '0.0.0.0:50052' }), /address: .*wildcard/);
  assert.match(reason({ ...good, address: '[::]:50052' }), /address: .*wildcard/);
  assert.match(reason({ ...good, address: 'h:0' }), /port 0/);
  assert.match(reason({ ...good, address: 'h:70000' }), /port 70000/);
  assert.match(reason({ ...good, modelHash: 7 }), /modelHash/);
  assert.match(reason({ ...good, levels: [0, -1] }), /levels/);
  assert.match(reason({ ...good, levels: '0,1' }), /levels/);
  assert.match(reason({ ...good, decodes: 'yes' }), /decodes/);
  assert.match(reason({ ...good, provider: '' }), /provider/);
  assert.match(reason({ ...good, capacity: 1.5 }), /capacity/);
  assert.match(reason({ ...good, capacity: -1 }), /capacity/);
  assert.match(reason({ ...good, free: 3 }), /free 3 exceeds capacity 2/);
  assert.match(reason({ ...good, free: -1 }), /free/);
  assert.match(reason({ ...good, rssBytes: null }), /rssBytes/);
  assert.match(reason({ ...good, sentAtMs: '2024-01-01' }), /sentAtMs/);
  const { capacity: _c, ...noCapacity } = good;
  assert.match(reason(noCapacity), /capacity/);
});

test('addresses: names, IPv4 and bracketed IPv6 with a port; no wildcards', () => {
  for (const a of ['worker-3.cluster.local:50052', '127.0.0.1:1', '[::1]:50052', '[fe80::1]:65535']) assert.equal(checkWorkerAddress(a), null, a);
  for (const a of ['', 'host', 'host:', ':50052', 'a b:1', '::1:50052', 'host:50052/x', '0.0.0.0:1', '[::]:1', '[0:0:0:0:0:0:0:0]:1']) {
    assert.notEqual(checkWorkerAddress(a), null, a);
  }
});

test('goodbyes need the worker id and its address', () => {
  const bye = { workerId: 'worker-1', address: '10.0.0.7:50052', sentAtMs: 5 };
  assert.deepEqual(parseGoodbye(JSON.stringify(bye)), { ok: true, value: bye });
  assert.ok(!parseGoodbye(JSON.stringify({ ...bye, workerId: undefined })).ok);
  assert.ok(!parseGoodbye(JSON.stringify({ ...bye, address: '0.0.0.0:1' })).ok);
  assert.ok(!parseGoodbye('bye').ok);
});
