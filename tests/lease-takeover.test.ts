// Two coordinators on one JetStream: the standby never drives a job whose lease is held, and takes it over when
// its coordinator dies (kill -9), finishing it byte-identical to a render on one coordinator.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Coordinator } from '../coordinator/coordinator.js';
import { CoordinatorClient, type SubmitRequest } from '../client/coordinator-client.js';
import { DEFAULT_MODEL_DIR } from '../models/model-folder.js';
import { setQuiet } from '../server/log.js';
import { Deployment, render } from './helpers/chaos.js';

setQuiet(true);

const request: SubmitRequest = { model: 'tiny', artist: 'tiny_ensemble', genres: ['jazz'], lyrics: '', durationSeconds: 8, samples: 1, seed: '313', sampling: [] };

test('a standby coordinator takes over a dead coordinator\'s job after its lease, and never before', { timeout: 300_000 }, async () => {
  // Deployment: nats-server, coordinator A (a process) and 2 workers that announce themselves.
  const d = await Deployment.start(2, { leaseTtlMs: 2000 });
  let standby: Coordinator | undefined;
  try {
    const reference = await render(d.address, request);
    assert.equal(reference.state, 'JOB_STATE_SUCCEEDED', reference.error);

    standby = await Coordinator.start({ modelDirs: [DEFAULT_MODEL_DIR], workers: [], nats: d.nats.url, coordinatorId: 'standby', leaseTtlMs: 2000, discoveryWaitMs: 1500 });
    const onA = new CoordinatorClient(d.address);
    const job = await onA.submit(request);
    // A drives the job, renewing its lease: for longer than a lease lasts, the standby leaves it alone.
    let seen = 0;
    for await (const j of onA.watch(job.jobId)) {
      seen = j.levels.reduce((n, l) => n + l.windowsDone, 0);
      assert.equal(standby.store.get(job.jobId), undefined, 'the standby does not take a job whose lease is held');
      if (seen >= 12) break;
    }
    onA.close();
    assert.ok(seen >= 12);
    await d.coordinator.kill9();

    const onB = new CoordinatorClient(standby.address);
    let state = '';
    for await (const u of onB.watchChanges(job.jobId, { waitForJob: true })) state = u.job.state;
    assert.equal(state, 'JOB_STATE_SUCCEEDED');
    assert.ok((await onB.fetchAudio(job.jobId, 0)).equals(reference.wavs[0]), 'byte-identical WAV after the takeover');
    assert.deepEqual(await onB.fetchTokens(job.jobId), reference.tokens);
    onB.close();
  } finally {
    await standby?.close();
    await d.stop();
  }
});
