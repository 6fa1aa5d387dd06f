// The window sampling loop against the tiny model's real graphs: priming, positions and the RNG line up.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DEFAULT_MODEL_DIR, readModelFolder } from '../models/model-folder.js';
import { LevelGraphs, openSession } from '../worker/onnx-runtime.js';
import { sampleBatch, sampleWindow, type WindowTask } from '../worker/window-sampler.js';
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

/** Window k of another "job": its own labels, upper tokens, context, seed, start, sample ids and sampling. */
function jobWindow(level: number, k: number, ctxLen: number, rows: number): WindowTask {
  const lm = manifest.levels[level];
  const base = task(level, [], lm.nCtx - ctxLen, rows);
  const samplings = [{ temperature: 0.95, topK: 0, topP: 1 }, { temperature: 1.1, topK: 20, topP: 1 }, { temperature: 0.8, topK: 0, topP: 0.9 }];
  return {
    ...base,
    start: 16 + 40 * k,
    labels: base.labels.map((l) => {
      const m = l.slice();
      m[1] = (16 + 40 * k) * lm.hopLength;
      m[3] = 1 + k;
      return m;
    }),
    upper: base.upper && base.upper.map((u) => u.map((x) => (x + 5 * k) % lm.codebookSize)),
    context: Array.from({ length: rows }, (_, r) => Int32Array.from({ length: ctxLen }, (_, i) => (i * 31 + r * 7 + k * 13) % lm.codebookSize)),
    // One seed above 2^63: the high word of the seed matters too.
    seed: [2024n, 2n ** 64n - 3n, 77n][k],
    sampling: samplings[k],
    sampleIds: Array.from({ length: rows }, (_, r) => (k + 2 * r) % 3),
  };
}

for (const level of [0, 2]) {
  test(`level ${level}: windows of different jobs batched together give exactly their tokens sampled alone`, async () => {
    const g = graphs.get(level)!;
    const ctxLen = 40; // past one prefill chunk (32)
    const items = [jobWindow(level, 0, ctxLen, 1), jobWindow(level, 1, ctxLen, 2), jobWindow(level, 2, ctxLen, 1)];
    const alone = [];
    for (const item of items) alone.push(...(await sampleWindow(g, item)).rows.map((r) => Array.from(r)));
    const batched = await sampleBatch(g, { level, newTokens: items[0].newTokens, items });
    assert.deepEqual(batched.rows.map((r) => Array.from(r)), alone);
    assert.equal(new Set(alone.map((r) => r.join())).size, alone.length, 'every row its own tokens');
    // A fixed batch bucket (CUDA's default): padding rows ride along and are dropped, the real rows are unchanged.
    const padded = await sampleBatch(g, { level, newTokens: items[0].newTokens, items, padToRows: 8 });
    assert.deepEqual(padded.rows.map((r) => Array.from(r)), alone);
  });
}

test('a batch whose windows differ in context length, level or new token count is refused', async () => {
  const g = graphs.get(0)!;
  const a = jobWindow(0, 0, 40, 1);
  const b = { ...jobWindow(0, 1, 41, 1), newTokens: 88 };
  await assert.rejects(sampleBatch(g, { level: 0, newTokens: 88, items: [a, b] }), /window 1: context length 41 differs from the batch's 40/);
  // Within one window, too: every row starts sampling at the same position.
  await assert.rejects(sampleBatch(g, { level: 0, newTokens: 88, items: [{ ...a, context: [a.context[0], b.context[0]], labels: [...a.labels, ...a.labels], upper: [...a.upper!, ...a.upper!], sampleIds: [0, 1] }] }), /context length 41/);
  await assert.rejects(sampleBatch(g, { level: 0, newTokens: 88, items: [] }), /at least one window/);
  await assert.rejects(sampleBatch(g, { level: 1, newTokens: 88, items: [a] }), /window 0: level 0/);
});
