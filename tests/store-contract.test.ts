// One contract for every DurableStore: the same tests against the in-memory store and against the JetStream
// store on a real nats-server (started here, killed and restarted for the durability tests).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { JetStreamStore, decodeToken, encodeToken } from '../coordinator/durable/jetstream-store.js';
import { MemoryStore } from '../coordinator/durable/memory-store.js';
import type { DurableStore, JobEventRecord, StoredJob } from '../coordinator/durable/store.js';
import { connectNats } from '../server/nats.js';
import { NatsServer } from './helpers/nats-server.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let jobSeq = 0;
function newJob(id = `job-${randomUUID()}`): StoredJob {
  return {
    fixed: {
      id,
      spec: {
        model: '5b_lyrics',
        rows: [
          { artist: 'Alan Jackson', genres: ['country'], lyrics: 'Ünïcödé lyrics: "quotes", newlines\nand all' },
          { artist: 'Joe Bonamassa', genres: ['blues', 'rock'], lyrics: '' },
        ],
        durationSeconds: 30,
        samples: 2,
        seed: '18446744073709551615',
        sampling: [{ temperature: 0.98, topK: 0, topP: 0 }],
        mode: 'exact',
        segments: [],
        segmentOverlap: 0,
        priority: 3,
      },
      modelHash: 'sha256:abc',
      wavFormat: 'pcm16',
      decodeChunkTokens: 256,
      createdAtMs: 1_700_000_000_000,
      seq: ++jobSeq,
    },
    progress: { state: 'QUEUED' },
  };
}

function int32Rows(rows: number, len: number, salt: number): Int32Array[] {
  return Array.from({ length: rows }, (_, r) => Int32Array.from({ length: len }, (_, i) => ((i * 2654435761 + r * 97 + salt) | 0) ^ (i % 3 === 0 ? -1 : 0)));
}

function float32Rows(rows: number, len: number, salt: number): Float32Array[] {
  return Array.from({ length: rows }, (_, r) => Float32Array.from({ length: len }, (_, i) => Math.sin(i * 0.001 + r + salt) * (1 + i / len) + 1e-30 * salt));
}

/** Byte-exact equality of typed-array rows (deepStrictEqual would treat -0/NaN bit patterns loosely). */
function assertRowsExact(actual: (Int32Array | Float32Array)[] | undefined, expected: (Int32Array | Float32Array)[]): void {
  assert.ok(actual, 'rows missing');
  assert.equal(actual.length, expected.length, 'row count');
  actual.forEach((row, i) => {
    assert.equal(row.constructor, expected[i].constructor, `row ${i} type`);
    assert.equal(row.length, expected[i].length, `row ${i} length`);
    assert.ok(Buffer.from(row.buffer, row.byteOffset, row.byteLength).equals(Buffer.from(expected[i].buffer, expected[i].byteOffset, expected[i].byteLength)), `row ${i} bytes differ`);
  });
}

async function* piecesOf(bytes: Uint8Array, sizes: number[]): AsyncGenerator<Uint8Array> {
  let off = 0;
  for (let i = 0; off < bytes.length; i++) {
    const n = sizes[i % sizes.length];
    yield bytes.subarray(off, off + n);
    off += n;
    await Promise.resolve();
  }
}

function randomBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

async function readAll(it: AsyncIterable<Uint8Array> | undefined): Promise<Buffer | undefined> {
  if (!it) return undefined;
  const parts: Uint8Array[] = [];
  for await (const p of it) parts.push(p);
  return Buffer.concat(parts);
}

interface Harness {
  name: string;
  setup(): Promise<void>;
  teardown(): Promise<void>;
  store(): DurableStore;
}

/** The contract: every store passes these. */
function contract(h: Harness): void {
  describe(`DurableStore contract: ${h.name}`, () => {
    before(() => h.setup());
    after(() => h.teardown());

    it('creates, lists and gets jobs; refuses a second create of the same id', async () => {
      const s = h.store();
      const a = newJob();
      const b = newJob();
      await s.createJob(a);
      await s.createJob(b);
      assert.deepEqual(await s.getJob(a.fixed.id), a);
      assert.deepEqual(await s.getJob(b.fixed.id), b);
      assert.equal(await s.getJob(`job-${randomUUID()}`), undefined);
      const listed = (await s.listJobs()).filter((j) => j.fixed.id === a.fixed.id || j.fixed.id === b.fixed.id);
      assert.deepEqual(
        listed.sort((x, y) => x.fixed.seq - y.fixed.seq),
        [a, b],
      );
      await assert.rejects(s.createJob({ ...newJob(a.fixed.id), progress: { state: 'RUNNING' } }), /exists/);
      assert.deepEqual(await s.getJob(a.fixed.id), a, 'a refused create must not overwrite');
      // The stored record is a copy: changing the caller's object afterwards changes nothing.
      a.progress.state = 'FAILED';
      assert.equal((await s.getJob(a.fixed.id))?.progress.state, 'QUEUED');
    });

    it('setProgress replaces the progress and keeps the fixed part', async () => {
      const s = h.store();
      const j = newJob();
      await s.createJob(j);
      await s.setProgress(j.fixed.id, { state: 'RUNNING' });
      assert.deepEqual((await s.getJob(j.fixed.id))?.progress, { state: 'RUNNING' });
      const done = { state: 'SUCCEEDED' as const, finishedAtMs: 1_700_000_100_000, audioBytes: [44, 1_000_044] };
      await s.setProgress(j.fixed.id, done);
      const got = await s.getJob(j.fixed.id);
      assert.deepEqual(got?.progress, done);
      assert.deepEqual(got?.fixed, j.fixed);
    });

    it('putWindow / windows: int32 rows exactly, task keys with colons, a key written again is replaced', async () => {
      const s = h.store();
      const j = newJob();
      const other = newJob();
      await s.createJob(j);
      await s.createJob(other);
      assert.equal((await s.windows(j.fixed.id)).size, 0);
      const w1 = int32Rows(2, 300, 1);
      w1[0][0] = -2147483648;
      w1[0][1] = 2147483647;
      const big = int32Rows(16, 8192, 2); // 512 KiB: more than one chunk
      await s.putWindow(j.fixed.id, 'window:1:0:3', w1);
      await s.putWindow(j.fixed.id, 'window:2:0:0', big);
      await s.putWindow(other.fixed.id, 'window:1:0:3', int32Rows(1, 5, 9));
      let got = await s.windows(j.fixed.id);
      assert.deepEqual([...got.keys()].sort(), ['window:1:0:3', 'window:2:0:0']);
      assertRowsExact(got.get('window:1:0:3'), w1);
      assertRowsExact(got.get('window:2:0:0'), big);
      const w1b = int32Rows(3, 10, 5);
      await s.putWindow(j.fixed.id, 'window:1:0:3', w1b);
      got = await s.windows(j.fixed.id);
      assert.equal(got.size, 2);
      assertRowsExact(got.get('window:1:0:3'), w1b);
      assertRowsExact((await s.windows(other.fixed.id)).get('window:1:0:3'), int32Rows(1, 5, 9));
    });

    it('putDecoded / decodedChunks / getDecoded: float32 exactly, chunks over 1 MiB, numeric order', async () => {
      const s = h.store();
      const j = newJob();
      await s.createJob(j);
      assert.deepEqual(await s.decodedChunks(j.fixed.id), []);
      const big = float32Rows(2, 400_000, 1); // 3.2 MB
      big[0][0] = -0;
      big[0][1] = Number.MIN_VALUE;
      big[1][2] = 3.4028234663852886e38;
      const small = float32Rows(2, 7, 2);
      await s.putDecoded(j.fixed.id, 10, small);
      await s.putDecoded(j.fixed.id, 2, big);
      await s.putDecoded(j.fixed.id, 0, small);
      assert.deepEqual(await s.decodedChunks(j.fixed.id), [0, 2, 10]);
      assertRowsExact(await s.getDecoded(j.fixed.id, 2), big);
      assertRowsExact(await s.getDecoded(j.fixed.id, 10), small);
      assert.equal(await s.getDecoded(j.fixed.id, 3), undefined);
      const replaced = float32Rows(1, 3, 3);
      await s.putDecoded(j.fixed.id, 2, replaced);
      assertRowsExact(await s.getDecoded(j.fixed.id, 2), replaced);
      assert.deepEqual(await s.decodedChunks(j.fixed.id), [0, 2, 10]);
    });

    it('putAudio / readAudio: several MiB in odd pieces come back byte for byte; none is undefined', async () => {
      const s = h.store();
      const j = newJob();
      await s.createJob(j);
      const wav = randomBytes(5 * 1024 * 1024 + 123, 7);
      const n = await s.putAudio(j.fixed.id, 0, piecesOf(wav, [44, 65_536, 300_001, 1, 1_000_000]));
      assert.equal(n, wav.length);
      const back = await readAll(await s.readAudio(j.fixed.id, 0));
      assert.ok(back?.equals(wav), 'audio bytes differ');
      assert.equal(await s.readAudio(j.fixed.id, 1), undefined);
      assert.equal(await s.readAudio(`job-${randomUUID()}`, 0), undefined);
      // An empty file is a file (0 bytes), not a missing one; writing a row again replaces it.
      assert.equal(await s.putAudio(j.fixed.id, 1, piecesOf(new Uint8Array(0), [1])), 0);
      assert.equal((await readAll(await s.readAudio(j.fixed.id, 1)))?.length, 0);
      const again = randomBytes(1000, 8);
      assert.equal(await s.putAudio(j.fixed.id, 0, piecesOf(again, [999, 1])), 1000);
      assert.ok((await readAll(await s.readAudio(j.fixed.id, 0)))?.equals(again));
      // Pieces that fail part-way: the error reaches the caller and the row keeps its previous file.
      async function* failing(): AsyncGenerator<Uint8Array> {
        yield randomBytes(700_000, 9);
        throw new Error('decode chunk 3 is not in the store');
      }
      await assert.rejects(s.putAudio(j.fixed.id, 0, failing()), /decode chunk 3/);
      assert.ok((await readAll(await s.readAudio(j.fixed.id, 0)))?.equals(again), 'a failed write replaced the file');
    });

    it('appendEvent numbers 1, 2, 3 per job without gaps; events filters by afterSeq', async () => {
      const s = h.store();
      const j = newJob();
      const other = newJob();
      await s.createJob(j);
      await s.createJob(other);
      assert.deepEqual(await s.events(j.fixed.id, 0), []);
      const evs: Omit<JobEventRecord, 'seq'>[] = [
        { atMs: 1, kind: 'state', state: 'QUEUED' },
        { atMs: 2, kind: 'state', state: 'RUNNING' },
        { atMs: 3, kind: 'window', task: 'window:0:0:0' },
        { atMs: 4, kind: 'decode', task: 'decode:0' },
        { atMs: 5, kind: 'state', state: 'FAILED', error: 'worker lost' },
      ];
      for (const [i, e] of evs.entries()) assert.equal(await s.appendEvent(j.fixed.id, e), i + 1);
      assert.equal(await s.appendEvent(other.fixed.id, evs[0]), 1, 'numbering is per job');
      assert.deepEqual(
        await s.events(j.fixed.id, 0),
        evs.map((e, i) => ({ ...e, seq: i + 1 })),
      );
      assert.deepEqual(
        (await s.events(j.fixed.id, 3)).map((e) => e.seq),
        [4, 5],
      );
      assert.deepEqual(await s.events(j.fixed.id, 5), []);
      assert.deepEqual(
        (await s.events(other.fixed.id, 0)).map((e) => e.seq),
        [1],
      );
    });

    it('concurrent appendEvent calls on one job get distinct numbers 1..n', async () => {
      const s = h.store();
      const j = newJob();
      await s.createJob(j);
      const seqs = await Promise.all(Array.from({ length: 12 }, (_, i) => s.appendEvent(j.fixed.id, { atMs: i, kind: 'window', task: `window:0:0:${i}` })));
      assert.deepEqual(
        [...seqs].sort((a, b) => a - b),
        Array.from({ length: 12 }, (_, i) => i + 1),
      );
      const stored = await s.events(j.fixed.id, 0);
      assert.deepEqual(
        stored.map((e) => e.seq),
        Array.from({ length: 12 }, (_, i) => i + 1),
      );
      // Each call's event is stored under the number that call returned.
      seqs.forEach((seq, i) => assert.equal(stored[seq - 1].task, `window:0:0:${i}`));
    });

    it('leases: one owner at a time, renewal, takeover after expiry, release only by the owner', async () => {
      const s = h.store();
      const j = newJob();
      await s.createJob(j);
      const id = j.fixed.id;
      const ttl = 400;
      assert.equal(await s.acquireLease(id, 'A', ttl), true);
      assert.equal(await s.acquireLease(id, 'B', ttl), false, 'B while A holds it');
      await sleep(300);
      assert.equal(await s.acquireLease(id, 'A', ttl), true, 'A renews');
      await sleep(250); // ~550 ms after A's first take (expired without the renewal), ~250 ms after the renewal
      assert.equal(await s.acquireLease(id, 'B', ttl), false, 'renewal extended the lease');
      await sleep(200); // ~450 ms after the renewal
      assert.equal(await s.acquireLease(id, 'B', ttl), true, 'B after expiry');
      assert.equal(await s.acquireLease(id, 'A', ttl), false, 'A lost it');
      await s.releaseLease(id, 'A'); // not A's: changes nothing
      assert.equal(await s.acquireLease(id, 'A', ttl), false);
      await s.releaseLease(id, 'B');
      assert.equal(await s.acquireLease(id, 'A', ttl), true, 'free after release');
      // A race among many owners for a free lease: exactly one wins.
      const k = newJob();
      await s.createJob(k);
      const wins = await Promise.all(['C', 'D', 'E', 'F', 'G', 'H'].map((o) => s.acquireLease(k.fixed.id, o, 10_000)));
      assert.equal(wins.filter(Boolean).length, 1, `winners: ${wins}`);
    });

    it('deleteJob removes the record, lease, windows, decoded chunks, audio and events', async () => {
      const s = h.store();
      const j = newJob();
      const keep = newJob();
      const id = j.fixed.id;
      for (const x of [j, keep]) {
        await s.createJob(x);
        await s.putWindow(x.fixed.id, 'window:0:0:0', int32Rows(1, 10, 1));
        await s.putDecoded(x.fixed.id, 0, float32Rows(1, 10, 1));
        await s.putAudio(x.fixed.id, 0, piecesOf(randomBytes(300_000, 3), [100_000]));
        await s.appendEvent(x.fixed.id, { atMs: 1, kind: 'state', state: 'QUEUED' });
        assert.equal(await s.acquireLease(x.fixed.id, 'A', 60_000), true);
      }
      await s.deleteJob(id);
      assert.equal(await s.getJob(id), undefined);
      assert.ok(!(await s.listJobs()).some((x) => x.fixed.id === id));
      assert.equal(await s.readAudio(id, 0), undefined);
      await assert.rejects(s.windows(id));
      // The same id again starts from nothing.
      await s.createJob(newJob(id));
      assert.equal((await s.windows(id)).size, 0);
      assert.deepEqual(await s.decodedChunks(id), []);
      assert.equal(await s.getDecoded(id, 0), undefined);
      assert.equal(await s.readAudio(id, 0), undefined);
      assert.deepEqual(await s.events(id, 0), []);
      assert.equal(await s.appendEvent(id, { atMs: 2, kind: 'state', state: 'QUEUED' }), 1);
      assert.equal(await s.acquireLease(id, 'B', 60_000), true, 'the old lease went with the job');
      // The other job is untouched.
      assert.equal((await s.windows(keep.fixed.id)).size, 1);
      assert.deepEqual(await s.decodedChunks(keep.fixed.id), [0]);
      assert.equal((await readAll(await s.readAudio(keep.fixed.id, 0)))?.length, 300_000);
      assert.equal((await s.events(keep.fixed.id, 0)).length, 1);
      assert.equal(await s.acquireLease(keep.fixed.id, 'B', 60_000), false);
    });

    it('unknown jobs: writes and per-job reads throw; getJob/readAudio are undefined; delete/release are no-ops', async () => {
      const s = h.store();
      const id = `job-${randomUUID()}`;
      const throwing: [string, () => Promise<unknown>][] = [
        ['setProgress', () => s.setProgress(id, { state: 'RUNNING' })],
        ['putWindow', () => s.putWindow(id, 'window:0:0:0', int32Rows(1, 3, 0))],
        ['windows', () => s.windows(id)],
        ['putDecoded', () => s.putDecoded(id, 0, float32Rows(1, 3, 0))],
        ['decodedChunks', () => s.decodedChunks(id)],
        ['getDecoded', () => s.getDecoded(id, 0)],
        ['putAudio', () => s.putAudio(id, 0, piecesOf(new Uint8Array(10), [10]))],
        ['appendEvent', () => s.appendEvent(id, { atMs: 1, kind: 'state', state: 'QUEUED' })],
        ['events', () => s.events(id, 0)],
        ['acquireLease', () => s.acquireLease(id, 'A', 1000)],
      ];
      for (const [name, call] of throwing) await assert.rejects(call(), RangeError, `${name} on an unknown job`);
      assert.equal(await s.getJob(id), undefined);
      assert.equal(await s.readAudio(id, 0), undefined);
      await s.deleteJob(id);
      await s.releaseLease(id, 'A');
      assert.equal(await s.getJob(id), undefined, 'deleteJob of an unknown job creates nothing');
    });
  });
}

contract({
  name: 'MemoryStore',
  setup: async () => {},
  teardown: async () => {},
  store: (() => {
    const s = new MemoryStore();
    return () => s;
  })(),
});

// ---- JetStream ------------------------------------------------------------------------------------------

// One nats-server (and one store on it) for both JetStream suites, stopped when the file is done.
let server: NatsServer | undefined;
let js: JetStreamStore | undefined;
const openStore = (extra: Partial<Parameters<typeof JetStreamStore.open>[0]> = {}): Promise<JetStreamStore> =>
  JetStreamStore.open({ servers: server!.url, ...extra });
async function startJetStream(): Promise<void> {
  server ??= await NatsServer.start();
  js ??= await openStore();
}
after(async () => {
  await js?.close();
  await server?.stop();
});

contract({
  name: 'JetStreamStore',
  setup: startJetStream,
  teardown: async () => {},
  store: () => js!,
});

describe('JetStreamStore only', () => {
  before(startJetStream);

  it('encodes names into KV-key / subject tokens and back', () => {
    for (const s of ['window:1:0:3', 'decode:2', 'job-0f8e', 'a.b*c>d e', 'x=y', 'ü/…']) {
      const t = encodeToken(s);
      assert.match(t, /^[A-Za-z0-9_=-]+$/, t);
      assert.equal(decodeToken(t), s);
    }
    assert.notEqual(encodeToken('a:b'), encodeToken('a_b'));
    assert.equal(encodeToken('job-0f8e'), 'job-0f8e');
  });

  it('applies the retention options to its bucket and streams, and updates them on a later open', async () => {
    const nc = await connectNats(server!.url, 'test-inspect');
    try {
      const jsm = await jetstreamManager(nc);
      const names = (p: string): string[] => [`KV_${p}_jobs`, `${p}_blobs`, `${p}_events`];
      const s1 = await openStore({ prefix: 'ret', maxAgeMs: 3_600_000, maxBytes: 64 * 1024 * 1024 });
      for (const n of names('ret')) {
        const c = (await jsm.streams.info(n)).config;
        assert.equal(c.max_age, 3_600_000 * 1e6, n);
        assert.equal(c.max_bytes, 64 * 1024 * 1024, n);
      }
      await s1.close();
      const s2 = await openStore({ prefix: 'ret', maxAgeMs: 60_000 });
      for (const n of names('ret')) {
        const c = (await jsm.streams.info(n)).config;
        assert.equal(c.max_age, 60_000 * 1e6, n);
        assert.equal(c.max_bytes, -1, n);
      }
      await s2.close();
    } finally {
      await nc.drain();
    }
  });

  it('deleteJob leaves no message of the job in any stream (no chunks, events or delete markers)', async () => {
    const s = js!;
    const j = newJob();
    const id = j.fixed.id;
    await s.createJob(j);
    await s.putWindow(id, 'window:0:0:0', int32Rows(16, 8192, 1));
    await s.putWindow(id, 'window:0:0:0', int32Rows(16, 8192, 2)); // replaced: its first blob's chunks go too
    await s.putDecoded(id, 0, float32Rows(2, 100_000, 1));
    await s.putAudio(id, 0, piecesOf(randomBytes(700_000, 1), [65_536]));
    await s.appendEvent(id, { atMs: 1, kind: 'state', state: 'QUEUED' });
    await s.acquireLease(id, 'A', 60_000);
    await s.releaseLease(id, 'A'); // leaves a delete marker in the KV bucket
    const nc = await connectNats(server!.url, 'test-inspect');
    try {
      const jsm = await jetstreamManager(nc);
      const t = encodeToken(id);
      const count = async (stream: string, filter: string): Promise<number> => {
        const subjects = (await jsm.streams.info(stream, { subjects_filter: filter })).state.subjects ?? {};
        return Object.values(subjects).reduce((a, b) => a + b, 0);
      };
      const where: [string, string][] = [
        ['KV_jukebox_jobs', `$KV.jukebox_jobs.${t}.>`],
        ['jukebox_blobs', `jukebox.blob.${t}.>`],
        ['jukebox_events', `jukebox.events.${t}`],
      ];
      const before = await Promise.all(where.map(([st, f]) => count(st, f)));
      // record + lease marker + 3 manifests; chunks of 256 KiB: window 3 (the replaced window's 3 are purged
      // already), decoded 4, audio 3; 1 event
      assert.deepEqual(before, [5, 10, 1]);
      await s.deleteJob(id);
      assert.deepEqual(await Promise.all(where.map(([st, f]) => count(st, f))), [0, 0, 0]);
    } finally {
      await nc.drain();
    }
  });

  it('drops data older than maxAgeMs', async () => {
    const s = await openStore({ prefix: 'ttl', maxAgeMs: 1000 });
    try {
      const j = newJob();
      await s.createJob(j);
      await s.putAudio(j.fixed.id, 0, piecesOf(randomBytes(1000, 1), [1000]));
      assert.ok(await s.getJob(j.fixed.id));
      const until = Date.now() + 8000;
      while ((await s.getJob(j.fixed.id)) && Date.now() < until) await sleep(200);
      assert.equal(await s.getJob(j.fixed.id), undefined, 'record not expired');
      assert.equal(await s.readAudio(j.fixed.id, 0), undefined);
    } finally {
      await s.close();
    }
  });

  it('a write over maxBytes fails at once with the server error (it is not retried as an outage)', async () => {
    const s = await openStore({ prefix: 'small', maxBytes: 1024 * 1024 });
    try {
      const j = newJob();
      await s.createJob(j);
      const t0 = Date.now();
      await assert.rejects(s.putAudio(j.fixed.id, 0, piecesOf(randomBytes(2 * 1024 * 1024, 2), [65_536])), /maximum bytes|resource limits|insufficient/i);
      assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms`);
    } finally {
      await s.close();
    }
  });

  it('data survives a nats-server restart; the open store carries on and a new connection sees it all', async () => {
    const s = js!;
    const j = newJob();
    const id = j.fixed.id;
    const win = int32Rows(16, 8192, 4);
    const dec = float32Rows(2, 300_000, 4);
    const wav = randomBytes(3 * 1024 * 1024, 4);
    await s.createJob(j);
    await s.setProgress(id, { state: 'RUNNING' });
    await s.putWindow(id, 'window:0:0:0', win);
    await s.putDecoded(id, 0, dec);
    await s.putAudio(id, 0, piecesOf(wav, [500_000]));
    await s.appendEvent(id, { atMs: 1, kind: 'state', state: 'RUNNING' });
    assert.equal(await s.acquireLease(id, 'A', 60_000), true);

    await server!.restart();

    // The store opened before the restart reconnects by itself.
    assert.equal(await s.appendEvent(id, { atMs: 2, kind: 'window', task: 'window:0:0:0' }), 2);
    const fresh = await openStore({ clientName: 'after-restart' });
    try {
      assert.deepEqual((await fresh.getJob(id))?.progress, { state: 'RUNNING' });
      assertRowsExact((await fresh.windows(id)).get('window:0:0:0'), win);
      assertRowsExact(await fresh.getDecoded(id, 0), dec);
      assert.ok((await readAll(await fresh.readAudio(id, 0)))?.equals(wav));
      assert.deepEqual(
        (await fresh.events(id, 0)).map((e) => e.seq),
        [1, 2],
      );
      assert.equal(await fresh.acquireLease(id, 'B', 60_000), false, 'the lease survived too');
    } finally {
      await fresh.close();
    }
  });

  it('writes issued while the server is down complete after it is back; a short retry budget fails naming the operation', async () => {
    const s = js!;
    const impatient = await openStore({ retryForMs: 800, clientName: 'impatient' });
    const j = newJob();
    const id = j.fixed.id;
    await s.createJob(j);
    const win = int32Rows(16, 8192, 5);
    try {
      await server!.kill();
      await sleep(50); // the clients see the connection drop
      const t0 = Date.now();
      const writes = Promise.all([
        s.putWindow(id, 'window:1:0:0', win),
        s.appendEvent(id, { atMs: 1, kind: 'window', task: 'window:1:0:0' }),
        s.setProgress(id, { state: 'RUNNING' }),
      ]);
      const failed = impatient.setProgress(id, { state: 'FAILED' });
      await assert.rejects(failed, /jetstream store: setProgress\(job-[^)]+\) failed: NATS unreachable/);
      await sleep(1000 - (Date.now() - t0));
      await server!.restart();
      const [, seq] = await writes;
      const tookMs = Date.now() - t0;
      assert.ok(tookMs < 10_000, `writes took ${tookMs} ms`);
      assert.equal(seq, 1);
      assertRowsExact((await s.windows(id)).get('window:1:0:0'), win);
      assert.deepEqual((await s.getJob(id))?.progress, { state: 'RUNNING' });
      assert.deepEqual(
        (await s.events(id, 0)).map((e) => e.task),
        ['window:1:0:0'],
      );
    } finally {
      await impatient.close();
    }
  });

  it('a putAudio under way when the server dies carries on after the restart, every byte written once', async () => {
    const s = js!;
    const j = newJob();
    await s.createJob(j);
    const wav = randomBytes(4 * 1024 * 1024 + 17, 11);
    let restarted: Promise<void> | undefined;
    // The pieces kill the server after the first MiB and have it back a second later: the store is mid-file
    // (some chunks acknowledged, the next publish failing) and cannot ask the iterator for a piece again.
    async function* pieces(): AsyncGenerator<Uint8Array> {
      for (let off = 0; off < wav.length; off += 65_536) {
        if (off === 1024 * 1024) {
          await server!.kill();
          restarted = sleep(1000).then(() => server!.restart());
        }
        yield wav.subarray(off, off + 65_536);
      }
    }
    const n = await s.putAudio(j.fixed.id, 0, pieces());
    await restarted;
    assert.ok(restarted, 'the server was not killed');
    assert.equal(n, wav.length);
    assert.ok((await readAll(await s.readAudio(j.fixed.id, 0)))?.equals(wav), 'audio differs after a restart mid-write');
  });
});
