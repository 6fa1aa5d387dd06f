// The dispatcher with fake workers: coordinator/simulation.ts's simulated workers on a simulated clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Dispatcher } from '../../coordinator/dispatcher.js';
import { simulate, simulationSpec, type SimulatedWorkerSpec, type FaultPlan } from '../../coordinator/simulation.js';
import { parseManifest } from '../../shared/manifest.js';
import { setQuiet } from '../../server/log.js';
import type { JobSpec, Manifest } from '../../shared/types.js';
import { tinyManifestJson } from './helpers.js';

setQuiet(true);
const manifest: Manifest = parseManifest(tinyManifestJson());
const worker = (extra: Partial<SimulatedWorkerSpec> = {}): SimulatedWorkerSpec => ({ stepMs: [1, 1, 5], levels: [0, 1, 2], decodeMsPerToken: 0.01, ...extra });
const spec = (seconds: number, mode: 'exact' | 'sharded', extra: Partial<JobSpec> = {}): JobSpec => ({ ...simulationSpec(seconds, mode, extra), model: 'tiny' });

test('an exact and a sharded job run to the end: every window once, every level complete', async () => {
  const r = await simulate({ manifest, workers: [worker(), worker()], jobs: [{ spec: spec(4, 'exact') }, { spec: spec(4, 'sharded', { segments: [4, 2, 1] }) }] });
  for (const { job } of r.jobs) {
    assert.equal(job.state, 'SUCCEEDED', job.error);
    job.plan.levels.forEach((lp, l) => assert.equal(job.tokens[l].length, lp.totalTokens));
    assert.equal(job.audioBytes.length, 1);
  }
  const windows = r.jobs.reduce((n, { job }) => n + job.plan.levels.reduce((m, lp) => m + lp.windows.length, 0), 0);
  const sent = r.workers.flatMap((w) => w.calls).filter((c) => c.kind === 'window').reduce((n, c) => n + c.jobIds.length, 0);
  assert.equal(sent, windows, 'no window sent twice without a failure');
  assert.deepEqual(r.jobs[1].job.plan.levels.map((lp) => lp.segments.length), [4, 2, 1]);
});

test('windows of different jobs ride in one batch, up to the worker\'s rows', async () => {
  const r = await simulate({ manifest, workers: [worker({ maxBatchRows: 4 })], jobs: [0, 1, 2].map(() => ({ spec: spec(3, 'exact') })) });
  assert.ok(r.jobs.every(({ job }) => job.state === 'SUCCEEDED'));
  const calls = r.workers[0].calls.filter((c) => c.kind === 'window');
  assert.ok(calls.some((c) => new Set(c.jobIds).size === 3), 'three jobs in one batch');
  assert.ok(calls.every((c) => c.rows <= 4));
});

test('a sharded job fills a batch with its own segments', async () => {
  const r = await simulate({ manifest, workers: [worker({ maxBatchRows: 8 })], jobs: [{ spec: spec(6, 'sharded', { segments: [8, 4, 1] }) }] });
  assert.equal(r.jobs[0].job.state, 'SUCCEEDED');
  assert.ok(r.workers[0].calls.some((c) => c.kind === 'window' && c.level === 0 && c.rows >= 4), 'level-0 segments sampled together');
});

test('a worker that is unavailable once: the window is retried on another worker and the job succeeds', async () => {
  let failed = false;
  const faults: FaultPlan = (call) => {
    if (!failed && call.kind === 'window' && call.level === 1) {
      failed = true;
      return { kind: 'unavailable', message: 'UNAVAILABLE: gone' };
    }
    return undefined;
  };
  const r = await simulate({ manifest, workers: [worker(), worker()], jobs: [{ spec: spec(3, 'exact') }], faults, dispatch: { retryBaseMs: 10 } });
  const { job } = r.jobs[0];
  assert.equal(job.state, 'SUCCEEDED', job.error);
  const retried = [...job.attempts.entries()];
  assert.equal(retried.length, 1);
  assert.match(retried[0][0], /^window:1:/);
  assert.ok(job.failedOn.get(retried[0][0]));
});

test('a stalled batch is cancelled after the stall time and retried', async () => {
  let hung = false;
  const faults: FaultPlan = (call) => (!hung && call.kind === 'window' && call.level === 0 ? ((hung = true), 'hang') : undefined);
  const r = await simulate({ manifest, workers: [worker(), worker()], jobs: [{ spec: spec(3, 'exact') }], faults, dispatch: { windowStallMs: 5000, retryBaseMs: 10 } });
  assert.equal(r.jobs[0].job.state, 'SUCCEEDED', r.jobs[0].job.error);
  assert.equal([...r.jobs[0].job.attempts.values()][0], 1);
});

test('a worker that stops heartbeating: its calls in flight are retried elsewhere at once, not after the stall time', async () => {
  let dispatcher: Dispatcher | undefined;
  let lost = '';
  const faults: FaultPlan = (call) => {
    if (lost || call.kind !== 'window' || call.level !== 0) return undefined;
    lost = call.worker;
    // Discovery notices the silence; the call itself never answers.
    queueMicrotask(() => dispatcher!.workerLost(call.worker, 'no heartbeat for 3 s'));
    return 'hang';
  };
  const r = await simulate({
    manifest,
    workers: [worker(), worker()],
    jobs: [{ spec: spec(3, 'exact') }],
    faults,
    dispatch: { windowStallMs: 600_000, retryBaseMs: 10 },
    actions: [{ atMs: 0, run: (d) => (dispatcher = d) }],
  });
  const { job } = r.jobs[0];
  assert.equal(job.state, 'SUCCEEDED', job.error);
  assert.ok(lost);
  const retried = [...job.failedOn.entries()];
  assert.equal(retried.length, 1);
  assert.equal(retried[0][1], lost);
  assert.ok(r.makespanMs < 600_000, `the job ended after ${r.makespanMs} ms, before the stall time`);
});

test('a refused input in a shared batch is retried alone; only the job it belongs to fails', async () => {
  // The worker refuses every window of job 0 at level 1, alone or not.
  const faults: FaultPlan = (call) => (call.kind === 'window' && call.level === 1 && call.jobIds.includes('sim-job-0') ? { kind: 'invalid', message: 'INVALID_ARGUMENT: windows[0].labels' } : undefined);
  const r = await simulate({ manifest, workers: [worker({ maxBatchRows: 4 })], jobs: [{ spec: spec(3, 'exact') }, { spec: spec(3, 'exact') }], faults, dispatch: { retryBaseMs: 10 } });
  assert.equal(r.jobs[0].job.state, 'FAILED');
  assert.match(r.jobs[0].job.error!, /level 1 segment 0 window 0 .*INVALID_ARGUMENT: windows\[0\]\.labels .*the input was refused/);
  assert.equal(r.jobs[1].job.state, 'SUCCEEDED', r.jobs[1].job.error);
});

test('a failure of a batch shared with another job does not spend the other job\'s attempts', async () => {
  // Every batch holding job 0's level-1 windows times out; job 1's windows ride with them at first.
  const faults: FaultPlan = (call) => (call.kind === 'window' && call.level === 1 && call.jobIds.includes('sim-job-0') ? { kind: 'timeout', message: 'DEADLINE_EXCEEDED' } : undefined);
  const r = await simulate({ manifest, workers: [worker({ maxBatchRows: 4 }), worker({ maxBatchRows: 4 })], jobs: [{ spec: spec(3, 'exact') }, { spec: spec(3, 'exact') }], faults, dispatch: { retryBaseMs: 10 } });
  assert.equal(r.jobs[0].job.state, 'FAILED');
  assert.equal(r.jobs[1].job.state, 'SUCCEEDED', r.jobs[1].job.error);
  assert.ok([...r.jobs[1].job.attempts.values()].every((n) => n === 0), 'no attempt of job 1 counted');
});

test('a job goes only to workers whose batches hold its rows', async () => {
  const r = await simulate({ manifest, workers: [worker({ maxBatchRows: 2 }), worker({ maxBatchRows: 8 })], jobs: [{ spec: spec(3, 'exact', { samples: 4 }) }] });
  assert.equal(r.jobs[0].job.state, 'SUCCEEDED', r.jobs[0].job.error);
  assert.equal(r.workers[0].calls.filter((c) => c.kind === 'window').length, 0, 'the 2-row worker gets no window');
});

test('an exception while handling one job fails that job with its message, never the others', async () => {
  // Six genre ids do not fit the five genre slots: building the label vector throws inside the dispatcher.
  const bad = manifest.levels.map(() => ({ artistId: 0, genreIds: [1, 2, 3, 4, 5, 6], lyricIds: [] }));
  const r = await simulate({ manifest, workers: [worker({ maxBatchRows: 4 })], jobs: [{ spec: spec(3, 'exact'), labels: bad }, { spec: spec(3, 'exact') }] });
  assert.equal(r.jobs[0].job.state, 'FAILED');
  assert.match(r.jobs[0].job.error!, /internal error while preparing level 2 window .*genre words do not fit/);
  assert.equal(r.jobs[1].job.state, 'SUCCEEDED');
});

test('fair share by priority: every job starts at once; priority 10 ends first, priority 1 last', async () => {
  const jobs = [1, 5, 10].map((priority) => ({ spec: spec(4, 'exact', { priority }) }));
  const r = await simulate({ manifest, workers: [worker(), worker()], jobs });
  const [p1, p5, p10] = r.jobs;
  for (const j of r.jobs) assert.equal(j.job.state, 'SUCCEEDED');
  const firstEnd = Math.min(...r.jobs.map((j) => j.makespanMs));
  for (const j of r.jobs) assert.ok(j.firstTaskMs! < firstEnd, 'no job waits for another whole job');
  assert.ok(p10.makespanMs < p5.makespanMs && p5.makespanMs < p1.makespanMs, `${p10.makespanMs} ${p5.makespanMs} ${p1.makespanMs}`);
});

test('a job submitted later is not starved by the one before it', async () => {
  const r = await simulate({ manifest, workers: [worker()], jobs: [{ spec: spec(6, 'exact') }, { spec: spec(2, 'exact'), submitAtMs: 200 }] });
  const [long, short] = r.jobs;
  assert.ok(short.makespanMs < long.makespanMs - 200, 'the short job ends while the long one still runs');
  // Windows are not pre-empted: it waits for the window on the worker, not for the job.
  assert.ok(short.firstTaskMs! < long.makespanMs / 4, `first task after ${short.firstTaskMs} ms`);
});

test('cancelling a job stops its work; a batch shared with another job still delivers to the other', async () => {
  const r = await simulate({
    manifest,
    workers: [worker({ maxBatchRows: 4 })],
    jobs: [{ spec: spec(3, 'exact') }, { spec: spec(3, 'exact') }],
    actions: [{ atMs: 700, run: (d, jobs) => d.cancel(jobs[0]) }],
  });
  assert.equal(r.jobs[0].job.state, 'CANCELLED');
  assert.equal(r.jobs[1].job.state, 'SUCCEEDED');
  const after = r.workers[0].calls.filter((c) => c.at > 700 && c.jobIds.includes('sim-job-0'));
  assert.deepEqual(after, [], 'nothing of the cancelled job is sent after the cancel');
});

test('queue position and ETA: queued jobs are numbered, running ones get an estimate', async () => {
  const seen: { pos: number[]; eta?: number } = { pos: [] };
  await simulate({
    manifest,
    workers: [worker({ capacity: 1, maxBatchRows: 1 })],
    jobs: [{ spec: spec(4, 'exact') }, { spec: spec(4, 'exact'), submitAtMs: 1 }],
    actions: [
      { atMs: 1, run: (d, jobs) => (seen.pos = jobs.map((j) => d.queuePosition(j))) },
      { atMs: 2000, run: (d, jobs) => (seen.eta = d.etaSeconds(jobs[0])) },
    ],
  });
  assert.deepEqual(seen.pos, [0, 1], 'the first runs; the second waits first in line');
  assert.ok(seen.eta !== undefined && seen.eta > 0);
});
