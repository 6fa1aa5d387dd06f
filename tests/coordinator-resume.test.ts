// A coordinator stopped mid-job and another started on the same durable store: the job goes on from its stored
// windows, the song comes out byte-identical, a watcher that reconnects misses no change and sees none twice,
// and a finished job's audio is served by the new coordinator.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Coordinator } from '../coordinator/coordinator.js';
import { MemoryStore } from '../coordinator/durable/memory-store.js';
import { CoordinatorClient, type JobChangeView, type SubmitRequest } from '../client/coordinator-client.js';
import { spawnWorker } from '../client/local-cluster.js';
import { DEFAULT_MODEL_DIR } from '../models/model-folder.js';
import { setQuiet } from '../server/log.js';

setQuiet(true);

const request: SubmitRequest = { model: 'tiny', artist: 'dr_noise', genres: ['ambient'], lyrics: '', durationSeconds: 6, samples: 2, seed: '91', sampling: [] };

test('a job resumes on a new coordinator from its stored windows; output and change log are unchanged', async () => {
  const w = await spawnWorker(DEFAULT_MODEL_DIR, 1, false);
  const store = new MemoryStore();
  let a: Coordinator | undefined = await Coordinator.start({ modelDirs: [DEFAULT_MODEL_DIR], workers: [w.address], durable: store, coordinatorId: 'c-a', leaseTtlMs: 1000 });
  let b: Coordinator | undefined;
  try {
    // The fault-free reference, on a coordinator of its own.
    const ref = await Coordinator.start({ modelDirs: [DEFAULT_MODEL_DIR], workers: [w.address] });
    const refClient = new CoordinatorClient(ref.address);
    const refJob = await refClient.submit(request);
    for await (const _ of refClient.watch(refJob.jobId)) void _;
    const refTokens = await refClient.fetchTokens(refJob.jobId);
    const refAudio = [await refClient.fetchAudio(refJob.jobId, 0), await refClient.fetchAudio(refJob.jobId, 1)];
    refClient.close();
    await ref.close();

    const clientA = new CoordinatorClient(a.address);
    const job = await clientA.submit(request);
    const seen: JobChangeView[] = [];
    let cursor = 0;
    for await (const u of clientA.watchChanges(job.jobId)) {
      seen.push(...u.changes);
      cursor = u.sequence;
      if (u.job.levels[0].windowsDone >= 3) break;
    }
    clientA.close();
    const windowsBefore = (await store.windows(job.jobId)).size;
    await a.close();
    a = undefined;
    assert.ok(windowsBefore > 3, `windows stored before the stop: ${windowsBefore}`);

    b = await Coordinator.start({ modelDirs: [DEFAULT_MODEL_DIR], workers: [w.address], durable: store, coordinatorId: 'c-b', leaseTtlMs: 1000 });
    const clientB = new CoordinatorClient(b.address);
    let final = '';
    for await (const u of clientB.watchChanges(job.jobId, { afterSequence: cursor })) {
      seen.push(...u.changes);
      final = u.job.state;
    }
    assert.equal(final, 'JOB_STATE_SUCCEEDED');
    // Every change exactly once, numbered without gaps, and the same log as a replay from the start.
    assert.deepEqual(seen.map((c) => c.sequence), seen.map((_, i) => i + 1));
    const replay: JobChangeView[] = [];
    for await (const u of clientB.watchChanges(job.jobId)) replay.push(...u.changes);
    assert.deepEqual(replay.map((c) => [c.sequence, c.kind, c.task, c.state]), seen.map((c) => [c.sequence, c.kind, c.task, c.state]));
    const windowChanges = seen.filter((c) => c.kind === 'window').map((c) => c.task);
    assert.equal(new Set(windowChanges).size, windowChanges.length, 'no window told twice');

    assert.deepEqual(await clientB.fetchTokens(job.jobId), refTokens);
    assert.ok((await clientB.fetchAudio(job.jobId, 0)).equals(refAudio[0]));
    assert.ok((await clientB.fetchAudio(job.jobId, 1)).equals(refAudio[1]));
    clientB.close();
    await b.close();

    // A third coordinator serves the finished job from the store alone.
    b = await Coordinator.start({ modelDirs: [DEFAULT_MODEL_DIR], workers: [w.address], durable: store, coordinatorId: 'c-c', leaseTtlMs: 1000 });
    const clientC = new CoordinatorClient(b.address);
    const listed = await clientC.list();
    assert.ok(listed.some((j) => j.jobId === job.jobId && j.state === 'JOB_STATE_SUCCEEDED'));
    assert.ok((await clientC.fetchAudio(job.jobId, 1)).equals(refAudio[1]));
    assert.deepEqual(await clientC.fetchTokens(job.jobId), refTokens);
    clientC.close();
  } finally {
    await a?.close();
    await b?.close();
    w.child.kill('SIGKILL');
  }
});

test('a lease held by a live coordinator is not taken; an expired one is', async () => {
  let now = 1_000_000;
  const store = new MemoryStore(() => now);
  await store.createJob({
    fixed: {
      id: 'job-x',
      spec: { model: 'tiny', rows: [{ artist: 'a', genres: [], lyrics: '' }], durationSeconds: 1, samples: 1, seed: '1', sampling: [], mode: 'exact', segments: [1, 1, 1], segmentOverlap: 0, priority: 5 },
      modelHash: 'h',
      wavFormat: 'pcm16',
      decodeChunkTokens: 16384,
      createdAtMs: 0,
      seq: 0,
    },
    progress: { state: 'RUNNING' },
  });
  assert.equal(await store.acquireLease('job-x', 'a', 1000), true);
  assert.equal(await store.acquireLease('job-x', 'b', 1000), false);
  now += 999;
  assert.equal(await store.acquireLease('job-x', 'b', 1000), false);
  now += 2;
  assert.equal(await store.acquireLease('job-x', 'b', 1000), true);
  assert.equal(await store.acquireLease('job-x', 'a', 1000), false);
});
