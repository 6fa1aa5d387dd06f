// What the dispatcher records in the coordinator's metrics (simulated workers and clock): failures and retries by
// reason, the coordinator's own cancellations apart, queue wait, job duration, workers up per level.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Gauge, Counter, Histogram } from 'prom-client';
import { simulate, simulationSpec, type SimulatedWorkerSpec, type FaultPlan } from '../../coordinator/simulation.js';
import { parseManifest } from '../../shared/manifest.js';
import { setQuiet } from '../../server/log.js';
import type { JobSpec, Manifest } from '../../shared/types.js';
import { tinyManifestJson } from './helpers.js';

setQuiet(true);
const manifest: Manifest = parseManifest(tinyManifestJson());
const worker = (extra: Partial<SimulatedWorkerSpec> = {}): SimulatedWorkerSpec => ({ stepMs: [1, 1, 5], levels: [0, 1, 2], decodeMsPerToken: 0.01, ...extra });
const spec = (seconds: number, extra: Partial<JobSpec> = {}): JobSpec => ({ ...simulationSpec(seconds, 'exact', extra), model: 'tiny' });

type Labels = Record<string, string>;

/** Series of a metric as `label=value,...` -> value (histograms: their _count series). */
async function series(metric: Counter | Gauge | Histogram): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const v of (await metric.get()).values) {
    const name = (v as { metricName?: string }).metricName;
    if (name !== undefined && !name.endsWith('_count')) continue;
    const labels = Object.entries(v.labels as Labels).sort(([a], [b]) => a.localeCompare(b)).map(([k, x]) => `${k}=${x}`);
    out.set(labels.join(','), v.value);
  }
  return out;
}

test('a failure is counted by reason and as a retry; queue wait, job duration and workers up are recorded', async () => {
  let failed = false;
  const faults: FaultPlan = (call) => {
    if (!failed && call.kind === 'window' && call.level === 1) {
      failed = true;
      return { kind: 'unavailable', message: 'UNAVAILABLE: gone' };
    }
    return undefined;
  };
  const r = await simulate({ manifest, workers: [worker(), worker({ levels: [0, 1] })], jobs: [{ spec: spec(3) }], faults, dispatch: { retryBaseMs: 10 } });
  assert.equal(r.jobs[0].job.state, 'SUCCEEDED', r.jobs[0].job.error);
  const m = r.metrics;
  assert.deepEqual([...(await series(m.taskFailures))], [['level=1,reason=unavailable', 1]]);
  assert.deepEqual([...(await series(m.taskRetries))], [['level=1,reason=unavailable', 1]]);
  assert.deepEqual([...(await series(m.tasksCancelled))], []);
  const waits = await series(m.queueWait);
  for (const level of ['0', '1', '2', 'decode']) assert.ok((waits.get(`level=${level}`) ?? 0) > 0, `queue wait observed for level ${level}`);
  const jobs = await series(m.jobSeconds);
  assert.equal(jobs.get('state=SUCCEEDED'), 1);
  assert.equal(jobs.get('state=FAILED'), 0);
  // The worker marked down after the failure was described again and is up; the second hosts no level 2.
  assert.deepEqual(Object.fromEntries(await series(m.workersUp)), {
    'level=0,model=simulated': 2,
    'level=1,model=simulated': 2,
    'level=2,model=simulated': 1,
    'level=decode,model=simulated': 2,
  });
  // Finished jobs have no progress series.
  assert.deepEqual([...(await series(m.jobProgress))], []);
});

test('a job cancelled while its windows run: its work in flight counts as cancelled, not as failed', async () => {
  // A second job keeps the simulation going until the cancelled call has answered.
  const r = await simulate({
    manifest,
    workers: [worker(), worker()],
    jobs: [{ spec: spec(3) }, { spec: spec(3) }],
    actions: [{ atMs: 700, run: (d, jobs) => d.cancel(jobs[0]) }],
  });
  assert.equal(r.jobs[0].job.state, 'CANCELLED');
  assert.equal(r.jobs[1].job.state, 'SUCCEEDED');
  assert.ok(r.workers.some((w) => w.calls.some((c) => c.at < 700 && c.jobIds.includes('sim-job-0'))));
  const m = r.metrics;
  assert.deepEqual([...(await series(m.taskFailures))], []);
  assert.deepEqual([...(await series(m.taskRetries))], []);
  const cancelled = [...(await series(m.tasksCancelled)).values()].reduce((a, b) => a + b, 0);
  assert.ok(cancelled > 0, 'the windows in flight at the cancel');
  assert.equal((await series(m.jobSeconds)).get('state=CANCELLED'), 1);
  assert.equal((await series(m.jobs)).get('state=CANCELLED'), 1);
});
