// Worker discovery over NATS against a real nats-server: heartbeats add workers to a WorkerDirectory, a goodbye
// removes one at once, silence removes it after the timeout, and a nats-server restart loses nobody.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from './helpers/processes.js';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { NatsConnection } from '@nats-io/transport-node';
import { NatsServer } from './helpers/nats-server.js';
import { connectNats } from '../server/nats.js';
import { setQuiet } from '../server/log.js';
import { NatsDiscovery, directoryTarget, type DiscoveredWorkers } from '../coordinator/nats-discovery.js';
import { WorkerDirectory } from '../coordinator/worker-directory.js';
import { GrpcWorkerConnection } from '../coordinator/grpc-worker.js';
import { JukeboxWorker } from '../worker/worker-server.js';
import { DEFAULT_MODEL_DIR } from '../models/model-folder.js';
import { GOODBYE_SUBJECT, HEARTBEAT_SUBJECT, type Heartbeat } from '../shared/worker-heartbeat.js';

setQuiet(true);

const CLI_PATH = fileURLToPath(new URL('../client/cli.ts', import.meta.url));
const TSX_LOADER = import.meta.resolve('tsx');

let nats: NatsServer;
let nc: NatsConnection;

before(async () => {
  nats = await NatsServer.start();
  nc = await connectNats(nats.url, 'test-coordinator');
});

after(async () => {
  await nc?.close();
  await nats?.stop();
});

interface Event {
  kind: 'add' | 'remove';
  address: string;
  reason?: string;
  atMs: number;
}

/** A target that records what discovery asked, then passes it on (if given one). */
function recording(inner?: DiscoveredWorkers): { events: Event[]; target: DiscoveredWorkers } {
  const events: Event[] = [];
  return {
    events,
    target: {
      add(address) {
        events.push({ kind: 'add', address, atMs: Date.now() });
        inner?.add(address);
      },
      remove(address, reason) {
        events.push({ kind: 'remove', address, reason, atMs: Date.now() });
        inner?.remove(address, reason);
      },
    },
  };
}

async function waitFor(what: string, ok: () => boolean, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A directory of real gRPC connections, fed by discovery with the given timeout. */
async function discoveredDirectory(timeoutMs = 3000): Promise<{ directory: WorkerDirectory; discovery: NatsDiscovery; events: Event[] }> {
  const directory = new WorkerDirectory((address) => new GrpcWorkerConnection(address));
  const { events, target } = recording(directoryTarget(directory));
  const discovery = await NatsDiscovery.start(nc, target, { timeoutMs });
  return { directory, discovery, events };
}

function beat(over: Partial<Heartbeat> = {}): string {
  const hb: Heartbeat = { workerId: 'w1', address: '127.0.0.1:1111', modelHash: 'h', levels: [0], decodes: false, provider: 'cpu', capacity: 1, free: 1, rssBytes: 1, sentAtMs: Date.now(), ...over };
  return JSON.stringify(hb);
}

test('discovery rules on hand-made messages: add once, restart, stale goodbye, bad JSON, expiry, return', async () => {
  const { events, target } = recording();
  const discovery = await NatsDiscovery.start(nc, target, { timeoutMs: 600, checkEveryMs: 50 });
  const publisher = await connectNats(nats.url, 'test-publisher');
  const send = async (subject: string, data: string): Promise<void> => {
    publisher.publish(subject, data);
    await publisher.flush();
    await sleep(50);
  };
  const summary = (): string[] => events.map((e) => `${e.kind} ${e.address}${e.reason ? ` (${e.reason})` : ''}`);
  try {
    await send(HEARTBEAT_SUBJECT, beat());
    await send(HEARTBEAT_SUBJECT, beat());
    await send(HEARTBEAT_SUBJECT, '{"not": "a heartbeat"');
    await send(HEARTBEAT_SUBJECT, beat({ address: '0.0.0.0:1111' }));
    assert.deepEqual(summary(), ['add 127.0.0.1:1111'], 'repeated beats add once; malformed ones are ignored');
    assert.equal(discovery.workers().length, 1);

    await send(HEARTBEAT_SUBJECT, beat({ workerId: 'w2' }));
    assert.deepEqual(summary().slice(1), ['remove 127.0.0.1:1111 (restarted as w2 (was w1))', 'add 127.0.0.1:1111']);

    await send(GOODBYE_SUBJECT, JSON.stringify({ workerId: 'w1', address: '127.0.0.1:1111', sentAtMs: Date.now() }));
    assert.equal(events.length, 3, "the earlier process's goodbye does not remove the new one");
    await send(GOODBYE_SUBJECT, JSON.stringify({ workerId: 'w2', address: '127.0.0.1:1111', sentAtMs: Date.now() }));
    assert.deepEqual(summary().slice(3), ['remove 127.0.0.1:1111 (said goodbye)']);
    assert.equal(discovery.workers().length, 0);

    // Silence: removed once the timeout has passed, not before.
    await send(HEARTBEAT_SUBJECT, beat({ address: '127.0.0.1:2222' }));
    const addedAt = events.at(-1)!.atMs;
    await waitFor('expiry', () => events.length === 6, 3000);
    const removed = events[5];
    assert.equal(removed.kind, 'remove');
    assert.match(removed.reason!, /no heartbeat for \d+ ms \(timeout 600 ms\)/);
    assert.ok(removed.atMs - addedAt >= 550, `removed after ${removed.atMs - addedAt} ms`);

    // Heard again after expiry: added again.
    await send(HEARTBEAT_SUBJECT, beat({ address: '127.0.0.1:2222' }));
    assert.deepEqual(summary().slice(6), ['add 127.0.0.1:2222']);
  } finally {
    discovery.close();
    await publisher.close();
  }
});

test('a worker started with nats shows up in the directory, described; closing it removes it at once (goodbye)', async () => {
  const { directory, discovery, events } = await discoveredDirectory();
  const worker = await JukeboxWorker.start({ modelDir: DEFAULT_MODEL_DIR, port: 0, nats: nats.url });
  try {
    const entryOf = () => directory.list().find((e) => e.address === worker.address);
    await waitFor('the worker in the directory, described', () => entryOf()?.info !== undefined);
    assert.deepEqual(
      directory.list().map((e) => e.address),
      [worker.address],
    );
    const info = await directory.describe(entryOf()!);
    assert.equal(info?.workerId, worker.options.workerId);
    assert.equal(info?.modelHash, worker.model.hash);

    const [hb] = discovery.workers();
    assert.equal(hb.address, worker.address);
    assert.equal(hb.workerId, worker.options.workerId);
    assert.deepEqual(hb.levels, worker.options.levels);
    assert.equal(hb.capacity, 1);
    assert.equal(hb.free, 1);
    assert.ok(hb.rssBytes > 10_000_000, `rss ${hb.rssBytes}`);

    const closedAt = Date.now();
    await worker.close();
    await waitFor('removal', () => directory.list().length === 0, 2000);
    const removed = events.find((e) => e.kind === 'remove')!;
    assert.equal(removed.reason, 'said goodbye');
    assert.ok(removed.atMs - closedAt < 1500, `removed ${removed.atMs - closedAt} ms after close, well before the 3000 ms timeout`);
  } finally {
    discovery.close();
    directory.close();
    await worker.close();
  }
});

test('a worker that binds the wildcard must advertise an address to announce', async () => {
  await assert.rejects(JukeboxWorker.start({ modelDir: DEFAULT_MODEL_DIR, host: '0.0.0.0', port: 0, nats: nats.url }), /binds 0\.0\.0\.0.*advertise/);
  await assert.rejects(JukeboxWorker.start({ modelDir: DEFAULT_MODEL_DIR, port: 0, nats: nats.url, advertise: 'nowhere' }), /advertise: "nowhere" is not host:port/);
});


/** `jukebox worker --nats ...` as a child process; resolves once it listens. */
function spawnCliWorker(args: string[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', TSX_LOADER, CLI_PATH, 'worker', '--model', DEFAULT_MODEL_DIR, '--metrics-port', '-1', '--announce', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.includes('"listening"')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`worker exited with code ${code}\n${stderr}`)));
  });
}

test('a worker process killed with SIGKILL (no goodbye) is removed after the heartbeat timeout', async () => {
  const { directory, discovery, events } = await discoveredDirectory(3000);
  // Binds the wildcard and advertises a loopback address: the CLI flags --nats and --advertise.
  const port = await freePort();
  const advertised = `127.0.0.1:${port}`;
  const child = await spawnCliWorker(['--host', '0.0.0.0', '--port', String(port), '--nats', nats.url, '--advertise', advertised]);
  try {
    await waitFor('the worker in the directory, described', () => directory.list().some((e) => e.address === advertised && e.info !== undefined));
    const killedAt = Date.now();
    child.kill('SIGKILL');
    await waitFor('removal', () => directory.list().length === 0, 8000);
    const removed = events.find((e) => e.kind === 'remove')!;
    assert.match(removed.reason!, /^no heartbeat for \d+ ms \(timeout 3000 ms\)$/);
    // The last beat came at most one interval (1000 ms) before the kill.
    const after = removed.atMs - killedAt;
    assert.ok(after >= 1900 && after < 5000, `removed ${after} ms after the kill`);
  } finally {
    discovery.close();
    directory.close();
    child.kill('SIGKILL');
  }
});

test('a nats-server restart longer than the timeout loses no worker; heartbeats resume', async () => {
  const { directory, discovery, events } = await discoveredDirectory(3000);
  const worker = await JukeboxWorker.start({ modelDir: DEFAULT_MODEL_DIR, port: 0, nats: nats.url });
  try {
    await waitFor('the worker in the directory', () => directory.list().some((e) => e.address === worker.address && e.info !== undefined));
    // Down for 4 s: without the pause while disconnected, the worker would expire.
    await nats.restart(4000);
    const upAt = Date.now();
    const sentAfter = (ms: number) => () => discovery.workers().some((hb) => hb.address === worker.address && hb.sentAtMs > ms);
    await waitFor('a heartbeat after the restart', sentAfter(upAt), 5000);
    await waitFor('periodic heartbeats after the restart', sentAfter(upAt + 1500), 5000);
    assert.deepEqual(
      events.map((e) => e.kind),
      ['add'],
      'never removed',
    );
    const entry = directory.list().find((e) => e.address === worker.address);
    assert.ok(entry, 'still in the directory');
    assert.equal((await directory.describe(entry))?.workerId, worker.options.workerId);
  } finally {
    discovery.close();
    directory.close();
    await worker.close();
  }
});
