// The worker's inference threads: a thread that dies fails its task (to be retried elsewhere) and is replaced.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Worker } from 'node:worker_threads';
import { InferenceError, InferencePool } from '../worker/inference-pool.js';
import { DEFAULT_MODEL_DIR } from '../models/model-folder.js';

const tokens = (n: number): Int32Array[] => [Int32Array.from({ length: n }, (_, i) => (i * 7) % 256)];

test('a dead inference thread fails its task with ThreadDied and a new thread takes the next', async () => {
  const pool = await InferencePool.start({ modelDir: DEFAULT_MODEL_DIR, levels: [0], decode: true, provider: 'cpu', threads: 1, intraOpThreads: 1, samplingChunk: -1 });
  try {
    // The pool's threads are private; reaching in is the only way to kill one as a crash would.
    const slots = (pool as unknown as { slots: { thread: Worker }[] }).slots;
    const running = pool.decode(0, tokens(4000), 0, 0);
    await slots[0].thread.terminate();
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
