// Precision is part of a worker's kernel profile: fp32 and fp16 graphs sample different tokens, so a job pinned to
// one precision must never run a window on a worker of the other.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kernelProfile, type WorkerConnection, type WorkerInfo } from '../../coordinator/worker-connection.js';
import { WorkerDirectory } from '../../coordinator/worker-directory.js';
import { SimulatedClock } from '../../coordinator/clock.js';
import { simulate, simulationSpec, type SimulatedWorkerSpec } from '../../coordinator/simulation.js';
import { parseManifest } from '../../shared/manifest.js';
import { setQuiet } from '../../server/log.js';
import { tinyManifestJson } from './helpers.js';

setQuiet(true);

function info(workerId: string, precision: string, extra: Partial<WorkerInfo> = {}): WorkerInfo {
  return { workerId, modelId: 'tiny', modelHash: 'h', levels: [0, 1, 2], capacity: 1, maxBatchRows: 4, executionProvider: 'cuda', batchBucket: 4, precision, decodes: true, ...extra };
}

test('the kernel profile names the precision; a worker that does not report one is fp32', () => {
  const fp32 = kernelProfile(info('a', 'fp32'));
  const fp16 = kernelProfile(info('b', 'fp16'));
  assert.notEqual(fp32, fp16);
  assert.match(fp16, /fp16/);
  assert.equal(kernelProfile(info('c', '')), fp32, 'workers from before the precision field run the float32 graphs');
  assert.notEqual(kernelProfile(info('d', 'fp16', { batchBucket: 0 })), fp16, 'the batch bucket still counts');
});

test('the worker directory never hands a job pinned to one precision a worker of the other', async () => {
  const infos = [info('w32', 'fp32'), info('w16', 'fp16')];
  const conn = (i: WorkerInfo): WorkerConnection => ({ address: i.workerId, describe: () => Promise.resolve(i) }) as unknown as WorkerConnection;
  const dir = new WorkerDirectory((address) => conn(infos.find((i) => i.workerId === address)!), new SimulatedClock());
  for (const i of infos) dir.add(i.workerId);
  await dir.describeAll();
  for (const [pinned, other] of [infos, [...infos].reverse()]) {
    const req = { modelHash: 'h', level: 1, kernels: kernelProfile(pinned) };
    const got = dir.acquire(req);
    assert.equal(got?.address, pinned.workerId);
    // Its worker is now full; the other precision's worker is free but does not fit.
    assert.equal(dir.acquire(req), undefined, `a job pinned to ${pinned.precision} waits rather than run on ${other.precision}`);
    assert.equal(dir.acquire({ ...req, avoid: pinned.workerId }), undefined, 'not even as the fallback after a failure');
    assert.ok(dir.canServe(req));
    dir.release(got!);
  }
  // Unpinned (a job's first task) any precision fits.
  assert.ok(dir.acquire({ modelHash: 'h', level: 1 }));
});

test('simulated: with fp32 and fp16 workers side by side, each job runs every window on one precision', async () => {
  const manifest = parseManifest(tinyManifestJson());
  const worker = (precision: string): SimulatedWorkerSpec => ({ stepMs: [1, 1, 5], levels: [0, 1, 2], decodeMsPerToken: 0.01, precision });
  const spec = { ...simulationSpec(4, 'sharded', { segments: [4, 2, 1] }), model: 'tiny' };
  const r = await simulate({ manifest, workers: [worker('fp32'), worker('fp16'), worker('fp32'), worker('fp16')], jobs: [0, 1, 2].map(() => ({ spec })) });
  const precisions = new Map<string, Set<string>>();
  r.workers.forEach((w, i) => {
    for (const c of w.calls) {
      if (c.kind !== 'window') continue;
      for (const id of c.jobIds) precisions.set(id, (precisions.get(id) ?? new Set()).add(i % 2 === 0 ? 'fp32' : 'fp16'));
    }
  });
  for (const { job } of r.jobs) {
    assert.equal(job.state, 'SUCCEEDED', job.error);
    assert.equal(precisions.get(job.id)?.size, 1, `${job.id} ran on ${[...(precisions.get(job.id) ?? [])].join(' and ')}`);
  }
});
