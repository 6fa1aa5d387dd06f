// The fused loop graph (contract v2) against the step graph with the host sampler, on the bundled model's real
// graphs: the same tokens (boundary flips counted, at most 1 per 10,000), whatever the chunk or the batch.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_MODEL_DIR, readModelFolder } from '../models/model-folder.js';
import { LevelGraphs, openSession } from '../worker/onnx-runtime.js';
import { sampleBatch, type WindowBatch, type WindowItemTask } from '../worker/window-sampler.js';
import type { Manifest, SamplingParams } from '../shared/types.js';
import { NO_AGREEMENT, SAMPLING_CASES, addAgreement, agreement, sampleBothWays, type Agreement, windowContext, windowItem } from './helpers/fused-agreement.js';

let manifest: Manifest;
const graphs = new Map<number, LevelGraphs>();

before(async () => {
  const folder = await readModelFolder(DEFAULT_MODEL_DIR);
  manifest = folder.manifest;
  const opts = { provider: 'cpu' as const, intraOpThreads: 1 };
  for (const lm of manifest.levels) {
    assert.ok(lm.graphs.loop, `level ${lm.level} of the bundled model has a loop graph`);
    const open = async (file: string, loopGraph = false) => (await openSession(join(folder.dir, file), { ...opts, loopGraph })).session;
    graphs.set(lm.level, new LevelGraphs(lm, await open(lm.graphs.conditioner.file), await open(lm.graphs.step.file), await open(lm.graphs.loop!.file, true)));
  }
});

function item(level: number, seed: bigint, start: number, context: Int32Array | null, sampling: SamplingParams, sampleId = 0): WindowItemTask {
  return windowItem(manifest.levels[level], seed, start, context, sampling, sampleId);
}

function contextOf(level: number, seed: number): Int32Array {
  return windowContext(manifest.levels[level], seed);
}

let pooled: Agreement = NO_AGREEMENT;

for (const level of [0, 1, 2]) {
  test(`level ${level}: the loop graph samples the step graph's tokens (fresh and primed windows, every filter, batches of 4 and 16)`, async (t) => {
    const g = graphs.get(level)!;
    const lm = manifest.levels[level];
    const hop = Math.floor(lm.hopFraction * lm.nCtx);
    let a: Agreement = NO_AGREEMENT;
    for (const seed of [1n, 2n]) {
      const fresh: WindowBatch = { level, newTokens: lm.nCtx, items: SAMPLING_CASES.map((s, i) => item(level, seed + BigInt(10 * i), 0, null, s, i)) };
      const r1 = await sampleBothWays(g, fresh, 64);
      a = addAgreement(a, agreement(r1.step, r1.fused, `seed ${seed} fresh`));
      const primed: WindowBatch = {
        level,
        newTokens: hop,
        items: SAMPLING_CASES.map((s, i) => item(level, seed + BigInt(10 * i), 4 * hop, contextOf(level, Number(seed) + i), s, i)),
      };
      const r2 = await sampleBothWays(g, primed, 64);
      a = addAgreement(a, agreement(r2.step, r2.fused, `seed ${seed} primed`));
    }
    const wide: WindowBatch = { level, newTokens: lm.nCtx, items: Array.from({ length: 16 }, (_, i) => item(level, 100n + BigInt(i), 0, null, SAMPLING_CASES[i % 4], i)) };
    const r3 = await sampleBothWays(g, wide, 64);
    a = addAgreement(a, agreement(r3.step, r3.fused, 'batch 16'));
    t.diagnostic(`level ${level}: ${a.compared} tokens compared, ${a.flips} boundary flips${a.where.length ? ` (${a.where.join('; ')})` : ''}`);
    pooled = addAgreement(pooled, a);
    assert.ok(a.compared >= 3000);
    assert.ok(a.flips <= 1, `at most one flip per level: ${a.where.join('; ')}`);
  });
}

test('over every level: at most 1 boundary flip per 10,000 tokens', () => {
  assert.ok(pooled.compared >= 10_000, `compared ${pooled.compared}`);
  assert.ok(pooled.flips <= Math.floor(pooled.compared / 10_000), `${pooled.flips} flips in ${pooled.compared}: ${pooled.where.join('; ')}`);
});

test("a row's fused tokens depend neither on the chunk size nor on the batch it rides in", async () => {
  for (const level of [0, 2]) {
    const g = graphs.get(level)!;
    const lm = manifest.levels[level];
    const items = SAMPLING_CASES.map((s, i) => item(level, 7n + BigInt(i), 0, null, s, i));
    const batch: WindowBatch = { level, newTokens: lm.nCtx, items };
    const whole = (await sampleBatch(g, batch, { samplingChunk: lm.nCtx })).rows;
    for (const chunk of [1, 7, 64]) {
      const rows = (await sampleBatch(g, batch, { samplingChunk: chunk })).rows;
      assert.deepEqual(rows.map((r) => Array.from(r)), whole.map((r) => Array.from(r)), `level ${level}, chunk ${chunk}`);
    }
    for (let i = 0; i < items.length; i++) {
      const alone = (await sampleBatch(g, { level, newTokens: lm.nCtx, items: [items[i]] }, { samplingChunk: 64 })).rows[0];
      assert.deepEqual(Array.from(alone), Array.from(whole[i]), `level ${level}: window ${i} alone`);
    }
  }
});

test('the fused path reports progress per chunk and stops at a cancel', async () => {
  const g = graphs.get(0)!;
  const lm = manifest.levels[0];
  const batch: WindowBatch = { level: 0, newTokens: lm.nCtx, items: [item(0, 3n, 0, null, SAMPLING_CASES[0])] };
  const seen: number[] = [];
  const got: number[] = [];
  const { rows } = await sampleBatch(g, batch, {
    samplingChunk: 16,
    progressIntervalMs: 0,
    onTokens: (fresh, done) => {
      seen.push(done);
      got.push(...fresh[0]);
    },
  });
  assert.deepEqual(seen, [16, 32, 48, 64, 80, 96, 112, 128]);
  assert.deepEqual(got, Array.from(rows[0]), 'the reported tokens are the window');
  let runs = 0;
  // Polled after every chunk: cancelled after the fourth, nothing further runs.
  await assert.rejects(sampleBatch(g, batch, { samplingChunk: 16, cancelled: () => ++runs > 3 }), /cancelled/);
  assert.equal(runs, 4);
});

test('regression: a top-level window alone samples what it samples in a batch with another job (concurrent-jobs case)', async () => {
  // The case was found on the random tiny model (tests/fixtures/tiny-random), whose tokens the fixture records.
  const random = await readModelFolder(fileURLToPath(new URL('./fixtures/tiny-random', import.meta.url)));
  const fx = JSON.parse(readFileSync(new URL('./fixtures/fused-batch-regression.json', import.meta.url), 'utf8')) as {
    level: number;
    newTokens: number;
    items: { seed: string; start: number; sampleIds: number[]; sampling: SamplingParams; labels: number[]; context: number[] }[];
    batchTokens: number[][];
  };
  const lm = random.manifest.levels[fx.level];
  const open = async (file: string, loopGraph = false) => (await openSession(join(random.dir, file), { provider: 'cpu', intraOpThreads: 1, loopGraph })).session;
  const g = new LevelGraphs(lm, await open(lm.graphs.conditioner.file), await open(lm.graphs.step.file), await open(lm.graphs.loop!.file, true));
  const items: WindowItemTask[] = fx.items.map((it) => ({ start: it.start, context: [Int32Array.from(it.context)], upper: null, labels: [Int32Array.from(it.labels)], seed: BigInt(it.seed), sampling: it.sampling, sampleIds: it.sampleIds }));
  for (const chunk of [0, 64]) {
    const together = (await sampleBatch(g, { level: fx.level, newTokens: fx.newTokens, items }, { samplingChunk: chunk })).rows.map((r) => Array.from(r));
    assert.deepEqual(together, fx.batchTokens, `chunk ${chunk}: the batch samples the recorded tokens`);
    for (let i = 0; i < items.length; i++) {
      const alone = (await sampleBatch(g, { level: fx.level, newTokens: fx.newTokens, items: [items[i]] }, { samplingChunk: chunk })).rows[0];
      assert.deepEqual(Array.from(alone), fx.batchTokens[i], `chunk ${chunk}: window ${i} alone`);
    }
  }
});
