// The window sampling loop against the tiny model's real graphs: priming, positions and the RNG line up.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DEFAULT_MODEL_DIR, readModelFolder } from '../models/model-folder.js';
import { LevelGraphs, openSession } from '../worker/onnx-runtime.js';
import { sampleWindow, type WindowTask } from '../worker/window-sampler.js';
import type { Manifest } from '../shared/types.js';

let manifest: Manifest;
const graphs = new Map<number, LevelGraphs>();

before(async () => {
  const folder = await readModelFolder(DEFAULT_MODEL_DIR);
  manifest = folder.manifest;
  const opts = { provider: 'cpu' as const, intraOpThreads: 1 };
  for (const lm of manifest.levels) {
    const cond = await openSession(join(folder.dir, lm.graphs.conditioner.file), opts);
    const step = await openSession(join(folder.dir, lm.graphs.step.file), opts);
    graphs.set(lm.level, new LevelGraphs(lm, cond.session, step.session));
  }
});

function task(level: number, context: Int32Array[], newTokens: number, rows = 1): WindowTask {
  const lm = manifest.levels[level];
  const labels = Array.from({ length: rows }, () => {
    const l = new Int32Array(lm.labelLength).fill(-1);
    l.set([16000 * 30, 16 * lm.hopLength, lm.nCtx * lm.hopLength, 2, 3]);
    for (let i = 9; i < lm.labelLength; i++) l[i] = 1 + (i % 50);
    return l;
  });
  const upper = lm.conditioning.upper
    ? Array.from({ length: rows }, () => Int32Array.from({ length: lm.nCtx / 4 }, (_, i) => (i * 11) % lm.codebookSize))
    : null;
  return { level, start: 16, context, newTokens, upper, labels, seed: 2024n, sampling: { temperature: 0.95, topK: 0, topP: 1 }, sampleIds: Array.from({ length: rows }, (_, i) => i) };
}

for (const level of [0, 2]) {
  test(`level ${level}: a window primed with the first k tokens of a whole window samples the rest again`, async () => {
    const g = graphs.get(level)!;
    const nCtx = manifest.levels[level].nCtx;
    const whole = (await sampleWindow(g, task(level, [], nCtx))).rows[0];
    assert.ok(new Set(whole).size > 20, 'a varied window');
    // k around the prefill chunk (32) exercises partial and whole chunks.
    for (const k of [1, 31, 32, 33, 100]) {
      const rest = (await sampleWindow(g, task(level, [whole.slice(0, k)], nCtx - k))).rows[0];
      assert.deepEqual(Array.from(rest), Array.from(whole.slice(k)), `primed with ${k} tokens`);
    }
  });
}

test('the same window sampled twice (a retry) gives the same tokens; another seed does not', async () => {
  const g = graphs.get(1)!;
  const a = await sampleWindow(g, task(1, [], 64, 2));
  const b = await sampleWindow(g, task(1, [], 64, 2));
  assert.deepEqual(a.rows.map((r) => Array.from(r)), b.rows.map((r) => Array.from(r)));
  assert.notDeepEqual(Array.from(a.rows[0]), Array.from(a.rows[1]), 'rows draw from their own streams');
  const other = await sampleWindow(g, { ...task(1, [], 64, 2), seed: 2025n });
  assert.notDeepEqual(Array.from(other.rows[0]), Array.from(a.rows[0]));
});

test('a row gives the same tokens alone as in a batch of 4 (measured property of the CPU provider)', async () => {
  const g = graphs.get(0)!;
  const alone = await sampleWindow(g, task(0, [], 128, 1));
  const batched = await sampleWindow(g, task(0, [], 128, 4));
  assert.deepEqual(Array.from(batched.rows[0]), Array.from(alone.rows[0]));
});

test('top-k 1 is greedy: tokens do not depend on the seed', async () => {
  const g = graphs.get(2)!;
  const greedy = { temperature: 1, topK: 1, topP: 1 };
  const a = await sampleWindow(g, { ...task(2, [], 40), sampling: greedy });
  const b = await sampleWindow(g, { ...task(2, [], 40), sampling: greedy, seed: 99n });
  assert.deepEqual(Array.from(a.rows[0]), Array.from(b.rows[0]));
});
