// Chaos on a real deployment (nats-server, coordinator and 3 workers as processes): during one render, workers
// and the coordinator are killed with SIGKILL and restarted, and nats-server restarts. The song must come out
// byte-identical to a fault-free render, the watcher must see every change once, and the work sampled again
// must be at most what was in flight when each fault hit. bench/chaos.ts runs the full-size version.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Deployment, inFlightAt, injectFaults, render, resampled, workerKeys } from './helpers/chaos.js';
import { readModelFolder, DEFAULT_MODEL_DIR } from '../models/model-folder.js';
import { CoordinatorClient, type SubmitRequest } from '../client/coordinator-client.js';

const SECONDS = 24;
const request: SubmitRequest = { model: 'tiny', artist: 'tiny_ensemble', genres: ['jazz'], lyrics: '', durationSeconds: SECONDS, samples: 1, seed: '4242', sampling: [] };

test('kill -9 of workers and the coordinator and a nats-server restart during a render: the same song', { timeout: 600_000 }, async (t) => {
  const d = await Deployment.start(3, { leaseTtlMs: 3000 });
  try {
    const clean = await render(d.address, request);
    assert.equal(clean.state, 'JOB_STATE_SUCCEEDED', clean.error);

    let done = false;
    const faulty = render(d.address, request).finally(() => (done = true));
    const faults = await injectFaults(d, { workerKills: 4, coordinatorKills: 2, natsRestarts: 1, gapMs: [1000, 2000], seed: 7 }, () => done);
    const hurt = await faulty;
    assert.equal(hurt.state, 'JOB_STATE_SUCCEEDED', hurt.error);
    assert.equal(faults.length, 7, `every fault happened before the job ended (${faults.length} of 7)`);
    assert.ok(hurt.wavs[0].equals(clean.wavs[0]), 'byte-identical WAV');
    assert.deepEqual(hurt.tokens, clean.tokens);
    assert.deepEqual(hurt.sequences, hurt.sequences.map((_, i) => i + 1), 'every change once, none lost');

    const manifest = (await readModelFolder(DEFAULT_MODEL_DIR)).manifest;
    const keys = workerKeys(manifest, SECONDS, hurt.jobId);
    const stored = new Map([...hurt.storedAtMs].map(([task, ms]) => [keys.get(task) ?? task, ms]));
    const mine = d.batches.filter((b) => b.windows.some((w) => w.startsWith(`${hurt.jobId}@`)));
    const again = resampled(mine);
    const atRisk = new Set(faults.flatMap((f) => inFlightAt(f, mine, stored)));
    const unexplained = again.keys.filter((k) => !atRisk.has(k));
    t.diagnostic(`faults ${faults.map((f) => f.what).join(',')}; windows sampled again ${again.windows} (${again.tokens} tokens), in flight at the faults ${atRisk.size}; wall ${(clean.wallMs / 1000).toFixed(0)} s clean, ${(hurt.wallMs / 1000).toFixed(0)} s with faults`);
    // On failure, the timeline that decides it: each fault, and each unexplained window's batches and storage.
    const history = unexplained.map((k) => `${k}: ${mine.filter((b) => b.windows.includes(k)).map((b) => `${b.event} on ${b.worker} at ${b.atMs}`).join(', ')}; stored ${stored.get(k)}`);
    const timeline = faults.map((f) => `${f.what}${f.worker ?? ''} ${f.atMs}..${f.diedMs} (since ${f.sinceMs})`).join('; ');
    assert.deepEqual(unexplained, [], `only windows in flight at a fault were sampled again\nfaults: ${timeline}\n${history.join('\n')}`);

    // A finished job outlives its coordinator: after one more kill -9 the restarted one serves it from JetStream.
    await d.coordinator.kill9();
    await d.coordinator.start();
    const client = new CoordinatorClient(d.address);
    try {
      const listed = await client.list();
      assert.ok(listed.some((j) => j.jobId === hurt.jobId && j.state === 'JOB_STATE_SUCCEEDED'), 'the finished job is listed after the restart');
      assert.ok((await client.fetchAudio(hurt.jobId, 0)).equals(clean.wavs[0]), 'its audio is served after the restart');
    } finally {
      client.close();
    }
  } finally {
    await d.stop();
  }
});
