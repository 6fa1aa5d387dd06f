// Several jobs on one coordinator at once (served mode: two worker processes, an in-process coordinator, the
// gRPC client). Jobs share the workers by priority-weighted fair queuing and ride in each other's batches, so no
// job waits for another whole job, a higher priority is served first, and a job's tokens are still exactly those
// it gets alone. Admission control refuses work beyond the coordinator's limits with RESOURCE_EXHAUSTED.
// Orderings and states only: no timing thresholds.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import * as grpc from '@grpc/grpc-js';
import { Coordinator } from '../coordinator/coordinator.js';
import { CoordinatorClient, isTerminal, type JobView, type SubmitRequest } from '../client/coordinator-client.js';
import { spawnWorker } from '../client/local-cluster.js';
import { DEFAULT_MODEL_DIR } from '../models/model-folder.js';
import { setQuiet } from '../server/log.js';

setQuiet(true);

/**
 * Rows per worker batch. With the default 16 every job's window rides in the batch its rival opens (all jobs here
 * have one row), so two same-length jobs run in lockstep whatever their priorities and finish in a tie settled by
 * their final decodes. Two rows per batch still batch windows of different jobs together, but leave fewer seats
 * than there are jobs: then who gets a seat is decided by priority, which is what this test is about.
 */
const MAX_BATCH_ROWS = 2;

const workers: { child: ChildProcess; address: string }[] = [];
const coordinators: Coordinator[] = [];
const clients: CoordinatorClient[] = [];

before(async () => {
  const started = await Promise.allSettled([spawnWorker(DEFAULT_MODEL_DIR, 1, false, MAX_BATCH_ROWS), spawnWorker(DEFAULT_MODEL_DIR, 1, false, MAX_BATCH_ROWS)]);
  for (const s of started) if (s.status === 'fulfilled') workers.push(s.value);
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
});

after(async () => {
  for (const c of clients) c.close();
  await Promise.all(coordinators.map((c) => c.close()));
  await Promise.all(
    workers.map(
      ({ child }) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
          child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          child.kill('SIGTERM');
        }),
    ),
  );
});

async function startCoordinator(limits?: { maxPendingJobs: number; maxPendingRows: number }): Promise<{ coordinator: Coordinator; client: CoordinatorClient }> {
  const coordinator = await Coordinator.start({ modelDirs: [DEFAULT_MODEL_DIR], workers: workers.map((w) => w.address), ...(limits ? { limits } : {}) });
  coordinators.push(coordinator);
  const client = new CoordinatorClient(coordinator.address);
  clients.push(client);
  return { coordinator, client };
}

function request(seconds: number, seed: string, extra: Partial<SubmitRequest> = {}): SubmitRequest {
  return { model: 'tiny', artist: 'tiny_ensemble', genres: ['jazz'], lyrics: 'all together now', durationSeconds: seconds, samples: 1, seed, sampling: [], ...extra };
}

const SHARDED: Partial<SubmitRequest> = { mode: 'JOB_MODE_SHARDED', segments: [4, 2, 0], segmentOverlap: 0.25 };

/** A message shows the job's first window under way (or done): some level has tokens done. */
const started = (j: JobView): boolean => j.levels.some((l) => l.tokensDone > 0);

/** priority echoed; queuePosition 1-based while QUEUED, 0 in every other state. */
function checkQueueFields(j: JobView, priority: number, where: string): void {
  assert.equal(j.priority, priority, `${where}: priority echoed`);
  if (j.state === 'JOB_STATE_QUEUED') assert.ok(j.queuePosition >= 1, `${where}: QUEUED with queuePosition ${j.queuePosition}`);
  else assert.equal(j.queuePosition, 0, `${where}: ${j.state} with queuePosition ${j.queuePosition}`);
}

/** etaSeconds is optional; when given it is a number of seconds ahead: finite, not negative, 0 once finished. */
function checkEta(j: JobView, where: string): void {
  if (j.etaSeconds === undefined) return;
  assert.ok(Number.isFinite(j.etaSeconds) && j.etaSeconds >= 0, `${where}: etaSeconds ${j.etaSeconds}`);
  if (isTerminal(j.state)) assert.equal(j.etaSeconds, 0, `${where}: etaSeconds of a finished job`);
}

interface Followed {
  name: string;
  priority: number;
  req: SubmitRequest;
  submitted: JobView;
  messages: JobView[];
  /** Local Date.now() of the first message that showed tokens done. */
  firstStartSeenMs?: number;
  last?: JobView;
}

/** Follows a job with WatchJob until it ends, keeping every message. */
async function follow(client: CoordinatorClient, f: Followed): Promise<void> {
  for await (const j of client.watch(f.submitted.jobId)) {
    f.messages.push(j);
    if (f.firstStartSeenMs === undefined && started(j)) f.firstStartSeenMs = Date.now();
    f.last = j;
  }
}

/** Submits a job, watches it to its end and returns the last message. */
async function runToEnd(client: CoordinatorClient, req: SubmitRequest): Promise<JobView> {
  const job = await client.submit(req);
  let last = job;
  for await (const j of client.watch(job.jobId)) last = j;
  return last;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('jobs of priorities 1, 5 and 10 at once (and two more while they run): all start before any finishes, priority 10 before priority 1, tokens as when run alone, queue positions', async (t) => {
  const { client, coordinator } = await startCoordinator();
  const main = [
    { name: 'p1', priority: 1, req: request(7, '101', { priority: 1 }) },
    { name: 'p10', priority: 10, req: request(7, '110', { priority: 10 }) },
    { name: 'p5-sharded', priority: 5, req: request(8, '105', { priority: 5, ...SHARDED }) },
  ];
  const submitted = await Promise.all(main.map((s) => client.submit(s.req)));
  const followed: Followed[] = main.map((s, i) => ({ ...s, submitted: submitted[i], messages: [] }));
  const watching = followed.map((f) => follow(client, f));

  // Once the three run, two short jobs: both workers are busy with the three, so these wait in the queue, and the
  // Job message says where (higher priority first), until their first window starts.
  while (!followed.every((f) => f.firstStartSeenMs !== undefined) && !followed.some((f) => f.last && isTerminal(f.last.state))) await sleep(20);
  const late = [
    { name: 'late-p2', priority: 2, req: request(2, '202', { priority: 2 }) },
    { name: 'late-p9', priority: 9, req: request(2, '209', { priority: 9 }) },
  ];
  const lateFollowed: Followed[] = [];
  for (const l of late) lateFollowed.push({ ...l, submitted: await client.submit(l.req), messages: [] });
  // One ListJobs answer: a consistent snapshot of every job's state and queue position.
  const snapshot = await client.list();
  const lateWatching = lateFollowed.map((f) => follow(client, f));

  await Promise.all([...watching, ...lateWatching]);
  const all = [...followed, ...lateFollowed];
  const batchRows = (await coordinator.metrics.batchRows.get()).values;
  const byName = (name: string): Followed => all.find((f) => f.name === name)!;

  await t.test('(a) all succeed; every job starts before any job finishes; priority 10 finishes no later than priority 1', () => {
    for (const f of all) assert.equal(f.last?.state, 'JOB_STATE_SUCCEEDED', `${f.name}: ${f.last?.state} ${f.last?.error}`);
    const firstFinish = Math.min(...all.map((f) => f.last!.finishedAtMs));
    const firstToFinish = all.find((f) => f.last!.finishedAtMs === firstFinish)!.name;
    for (const f of all) {
      assert.ok(f.firstStartSeenMs !== undefined, `${f.name}: never seen with tokens done`);
      assert.ok(f.firstStartSeenMs < firstFinish, `${f.name} was first seen started after ${firstToFinish} had finished: it waited for a whole job`);
    }
    const t0 = byName('p1').last!.createdAtMs;
    t.diagnostic(`finished, ms after the first submit: ${all.map((f) => `${f.name} ${f.last!.finishedAtMs - t0}`).join(', ')}`);
    const p1 = byName('p1').last!;
    const p10 = byName('p10').last!;
    assert.ok(p10.finishedAtMs <= p1.finishedAtMs, `priority 10 finished ${p10.finishedAtMs - p1.finishedAtMs} ms after priority 1 (same length, submitted together)`);
  });

  await t.test('(a) windows of different jobs rode in one batch, never more rows than the workers take', () => {
    const top = '2';
    const value = (suffix: string, level: string, le?: number): number =>
      batchRows.find((v) => v.metricName === `jukebox_batch_rows_${suffix}` && v.labels.level === level && (le === undefined || (v.labels as Record<string, unknown>).le === le))?.value ?? 0;
    let batches = 0;
    for (const level of ['0', '1', '2']) {
      batches += value('count', level);
      assert.equal(value('bucket', level, MAX_BATCH_ROWS), value('count', level), `level ${level}: a batch held more than ${MAX_BATCH_ROWS} rows`);
    }
    t.diagnostic(`batches ${batches}; top level: ${value('count', top)} batches, ${value('sum', top)} rows`);
    // The top level is never split and its windows form one chain per job: one ready top window per job at a time,
    // one row each. So a top-level batch of more than one row holds windows of different jobs.
    assert.ok(value('sum', top) > value('count', top), `no top-level batch held windows of two jobs (${value('count', top)} batches, ${value('sum', top)} rows)`);
  });

  await t.test('(d) the Job message: priority, mode, segments, queuePosition (1-based while QUEUED, 0 once RUNNING)', () => {
    const lateState = lateFollowed.map((f) => `${f.name} ${f.submitted.state}@${f.submitted.queuePosition}`);
    const snap = lateFollowed.map((f) => snapshot.find((j) => j.jobId === f.submitted.jobId)!);
    t.diagnostic(`late SubmitJob answers: ${lateState.join(', ')}; ListJobs: ${snap.map((j, i) => `${lateFollowed[i].name} ${j.state}@${j.queuePosition}`).join(', ')}`);
    for (const f of all) {
      checkQueueFields(f.submitted, f.priority, `${f.name} SubmitJob answer`);
      f.messages.forEach((m, i) => checkQueueFields(m, f.priority, `${f.name} WatchJob message ${i} (${m.state})`));
      const sharded = f.req.mode === 'JOB_MODE_SHARDED';
      assert.equal(f.last!.mode, sharded ? 'JOB_MODE_SHARDED' : 'JOB_MODE_EXACT', `${f.name}: mode`);
      assert.deepEqual(f.last!.segments, sharded ? [4, 2, 1] : [1, 1, 1], `${f.name}: segments per level`);
      assert.equal(f.last!.segmentOverlap, sharded ? 0.25 : 0, `${f.name}: segmentOverlap`);
      // A job is RUNNING once its first window has started.
      for (const m of f.messages) if (started(m)) assert.notEqual(m.state, 'JOB_STATE_QUEUED', `${f.name}: QUEUED with tokens done`);
    }
    snapshot.forEach((j) => checkQueueFields(j, all.find((f) => f.submitted.jobId === j.jobId)!.priority, `ListJobs ${j.jobId}`));
    // The three were running, so the first late job found both workers busy and no one else waiting.
    const [p2, p9] = lateFollowed;
    assert.equal(p2.submitted.state, 'JOB_STATE_QUEUED', 'a job submitted while both workers are busy with three jobs waits in the queue');
    assert.equal(p2.submitted.queuePosition, 1, 'the only queued job is first in the queue');
    // Queue positions among the jobs QUEUED in one snapshot: higher priority first, then submission order.
    const queued = snapshot.filter((j) => j.state === 'JOB_STATE_QUEUED').sort((a, b) => b.priority - a.priority || a.createdAtMs - b.createdAtMs);
    assert.deepEqual(
      queued.map((j) => j.queuePosition),
      queued.map((_, i) => i + 1),
      `queue positions in one ListJobs answer: ${queued.map((j) => `p${j.priority}@${j.queuePosition}`).join(', ')}`,
    );
    if (p9.submitted.state === 'JOB_STATE_QUEUED') assert.equal(p9.submitted.queuePosition, 1, 'priority 9 goes ahead of the queued priority 2');
  });

  await t.test('(d) etaSeconds, when the Job message gives it, is finite and never negative', () => {
    for (const f of all) [f.submitted, ...f.messages].forEach((m, i) => checkEta(m, `${f.name} message ${i} (${m.state})`));
  });

  await t.test('(b) every job\'s tokens equal those of the same job run alone afterwards', async () => {
    const together = await Promise.all(all.map((f) => client.fetchTokens(f.submitted.jobId)));
    for (let i = 0; i < all.length; i++) {
      const alone = await runToEnd(client, all[i].req);
      assert.equal(alone.state, 'JOB_STATE_SUCCEEDED', `${all[i].name} alone: ${alone.error}`);
      assert.deepEqual(alone.segments, all[i].last!.segments, `${all[i].name}: the same segments alone`);
      const tokens = await client.fetchTokens(alone.jobId);
      assert.equal(tokens.length, 3, `${all[i].name}: levels`);
      for (const rows of tokens) assert.ok(rows.length === 1 && rows[0].length > 0, `${all[i].name}: one non-empty row per level`);
      assert.deepEqual(together[i], tokens, `${all[i].name}: tokens sampled among other jobs differ from the same job alone`);
    }
  });
});

test('admission: beyond max pending jobs or rows SubmitJob answers RESOURCE_EXHAUSTED; once jobs finish it accepts again', async () => {
  const { client } = await startCoordinator({ maxPendingJobs: 2, maxPendingRows: 3 });
  const refused = (what: RegExp) => (err: grpc.ServiceError): boolean => {
    assert.equal(err.code, grpc.status.RESOURCE_EXHAUSTED, `gRPC status ${err.code}: ${err.details}`);
    assert.match(err.details, /limit/i);
    assert.match(err.details, what);
    return true;
  };
  // Priority unset: the default, 5.
  const a = await client.submit(request(4, '301', { samples: 2 }));
  assert.equal(a.priority, 5, 'the default priority');
  // 2 rows pending: 2 more would make 4, over the limit of 3 rows.
  await assert.rejects(client.submit(request(4, '302', { samples: 2 })), refused(/2 more sample rows.*limit of 3/));
  // More rows than any worker's batch holds (--max-batch-rows 2): it could never run.
  await assert.rejects(client.submit(request(4, '302', { samples: 3 })), (err: grpc.ServiceError) => {
    assert.equal(err.code, grpc.status.FAILED_PRECONDITION, `gRPC status ${err.code}: ${err.details}`);
    assert.match(err.details, /samples: 3 rows do not fit/);
    return true;
  });
  const b = await client.submit(request(4, '302', { samples: 1 }));
  // 2 jobs pending: a third is refused, whatever its size.
  await assert.rejects(client.submit(request(2, '303')), refused(/\b2\b/));
  const listed = await client.list();
  assert.deepEqual(listed.map((j) => j.jobId).sort(), [a.jobId, b.jobId].sort(), 'refused jobs are not queued');
  for (const j of listed) assert.ok(!isTerminal(j.state), `${j.jobId} is ${j.state}: the refusals above were meant to happen while two jobs run`);

  for (const id of [a.jobId, b.jobId]) {
    let last: JobView | undefined;
    for await (const j of client.watch(id)) last = j;
    assert.equal(last?.state, 'JOB_STATE_SUCCEEDED', `${id}: ${last?.error}`);
  }
  const c = await runToEnd(client, request(2, '303'));
  assert.equal(c.state, 'JOB_STATE_SUCCEEDED', `accepted after the others finished: ${c.error}`);
});
