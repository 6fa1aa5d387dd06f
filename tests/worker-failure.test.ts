// A worker process killed mid-song: its windows are retried elsewhere and the song comes out the same.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Coordinator } from '../coordinator/coordinator.js';
import { CoordinatorClient, type SubmitRequest } from '../client/coordinator-client.js';
import { spawnWorker } from '../client/local-cluster.js';
import { DEFAULT_MODEL_DIR } from '../models/model-folder.js';
import { setQuiet } from '../server/log.js';

setQuiet(true);

const request: SubmitRequest = { model: 'tiny', artist: 'dr_noise', genres: ['ambient'], lyrics: '', durationSeconds: 6, samples: 2, seed: '77', sampling: [] };

async function runToEnd(client: CoordinatorClient, onProgress?: (windowsDone: number) => void): Promise<{ state: string; tokens: number[][][]; audio: Buffer[] }> {
  const job = await client.submit(request);
  let state = '';
  for await (const j of client.watch(job.jobId)) {
    state = j.state;
    onProgress?.(j.levels[0].windowsDone);
  }
  const tokens = await client.fetchTokens(job.jobId);
  const audio = state === 'JOB_STATE_SUCCEEDED' ? [await client.fetchAudio(job.jobId, 0), await client.fetchAudio(job.jobId, 1)] : [];
  return { state, tokens, audio };
}

test('killing a worker mid-job: windows are retried on the other worker, tokens and WAV unchanged', async () => {
  const a = await spawnWorker(DEFAULT_MODEL_DIR, 1, false);
  const b = await spawnWorker(DEFAULT_MODEL_DIR, 1, false);
  const coordinator = await Coordinator.start({ modelDirs: [DEFAULT_MODEL_DIR], workers: [a.address, b.address] });
  const client = new CoordinatorClient(coordinator.address);
  try {
    let killed = false;
    const hurt = await runToEnd(client, (done) => {
      if (!killed && done >= 10) {
        killed = true;
        a.child.kill('SIGKILL');
      }
    });
    assert.ok(killed, 'the worker was killed during the job');
    assert.equal(hurt.state, 'JOB_STATE_SUCCEEDED');
    const retried = [...coordinator.store.list()[0].attempts.keys()];
    assert.ok(retried.some((k) => k.startsWith('window:')), `a window in flight on the killed worker was retried (${retried.join(', ')})`);
    // The same job again, on the surviving worker alone.
    const clean = await runToEnd(client);
    assert.equal(clean.state, 'JOB_STATE_SUCCEEDED');
    assert.deepEqual(hurt.tokens, clean.tokens);
    assert.ok(hurt.audio[0].equals(clean.audio[0]) && hurt.audio[1].equals(clean.audio[1]));
  } finally {
    client.close();
    await coordinator.close();
    a.child.kill('SIGKILL');
    b.child.kill('SIGKILL');
  }
});
