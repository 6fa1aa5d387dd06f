// The worker's inference threads: a thread that dies fails its task (to be retried elsewhere) and is replaced.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Worker } from 'node:worker_threads';
import { InferenceError, InferencePool } from '../worker/inference-pool.js';
import { DEFAULT_MODEL_DIR, readModelFolder } from '../models/model-folder.js';
import { warmUp, warmUpBatch } from '../worker/warm-up.js';

const tokens = (n: number): Int32Array[] => [Int32Array.from({ length: n }, (_, i) => (i * 7) % 256)];

test('a dead inference thread fails its task with ThreadDied and a new thread takes the next', async () => {
  const pool = await InferencePool.start({ modelDir: DEFAULT_MODEL_DIR, levels: [0], decode: true, provider: 'cpu', threads: 1, intraOpThreads: 1, samplingChunk: -1 });
  try {
    // The pool's threads are private; reaching in is the only way to kill one as a crash would. It is stopped
    // before the task reaches it: a thread stopped inside a native session.run can abort the whole process
    // (onnxruntime-node's binding throws through N-API on the way out; this test used to SIGABRT now and then).
    // Once terminate() is asked, the thread starts no more JavaScript, so the task posted next dies with it.
    const slots = (pool as unknown as { slots: { thread: Worker }[] }).slots;
    const stopped = slots[0].thread.terminate();
    const running = pool.decode(0, tokens(4000), 0, 0);
    assert.equal(pool.running, 1, 'the task was handed to the dying thread');
    await stopped;
    await assert.rejects(running.result, (e: InferenceError) => e instanceof InferenceError && e.kind === 'ThreadDied');
    const next = await pool.decode(0, tokens(100), 0, 0).result;
    assert.equal(next.audio[0].length, 100 * 8);
    assert.equal(pool.capacity, 1);
  } finally {
    await pool.close();
  }
});

test('cancel drops a queued task; a closing pool refuses new ones', async () => {
  const pool = await InferencePool.start({ modelDir: DEFAULT_MODEL_DIR, levels: [0], decode: true, provider: 'cpu', threads: 1, intraOpThreads: 1, samplingChunk: -1 });
  const first = pool.decode(0, tokens(2000), 0, 0);
  const queued = pool.decode(0, tokens(100), 0, 0);
  assert.equal(pool.queued, 1);
  queued.cancel();
  await assert.rejects(queued.result, (e: InferenceError) => e.kind === 'WindowCancelledError');
  await first.result;
  await pool.close();
  assert.throws(() => pool.decode(0, tokens(10), 0, 0), (e: InferenceError) => e.kind === 'Closing');
});

test('warm-up: one token at every hosted level and a short decode run before a worker reports ready; a level it cannot run fails it by name', async () => {
  const model = await readModelFolder(DEFAULT_MODEL_DIR);
  const pool = await InferencePool.start({ modelDir: DEFAULT_MODEL_DIR, levels: [0, 1, 2], decode: true, provider: 'cpu', threads: 1, intraOpThreads: 1, samplingChunk: -1 });
  try {
    for (const level of [0, 1, 2]) {
      const { rows } = await pool.sample(warmUpBatch(model.manifest, level), () => undefined).result;
      assert.equal(rows.length, 1);
      assert.equal(rows[0].length, 1, `level ${level}: one token`);
    }
    assert.ok((await warmUp(pool, model.manifest, [0, 1, 2], true)) > 0);
  } finally {
    await pool.close();
  }
  const partial = await InferencePool.start({ modelDir: DEFAULT_MODEL_DIR, levels: [1], decode: false, provider: 'cpu', threads: 1, intraOpThreads: 1, samplingChunk: -1 });
  try {
    await assert.rejects(warmUp(partial, model.manifest, [2], false), /warm-up of level 2 failed/);
  } finally {
    await partial.close();
  }
});
