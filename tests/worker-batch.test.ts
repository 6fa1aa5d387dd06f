// A real worker over gRPC on loopback: a SampleWindow batch of windows of different jobs answers exactly what each
// window answers alone, and the batch's limits are enforced (bad fields: INVALID_ARGUMENT naming the field). No coordinator.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { JukeboxWorker } from '../worker/worker-server.js';
import { DEFAULT_MODEL_DIR } from '../models/model-folder.js';
import { CHANNEL_OPTIONS, jukeboxProto } from '../proto/index.js';
import type { WorkerClient } from '../proto/generated/jukebox/v1/Worker.js';
import type { WindowItem } from '../proto/generated/jukebox/v1/WindowItem.js';
import type { SampleWindowRequest } from '../proto/generated/jukebox/v1/SampleWindowRequest.js';
import type { SampleWindowResponse__Output } from '../proto/generated/jukebox/v1/SampleWindowResponse.js';
import type { DescribeResponse__Output } from '../proto/generated/jukebox/v1/DescribeResponse.js';
import { setQuiet } from '../server/log.js';

setQuiet(true);

const MAX_ROWS = 4;
const LEVEL = 1;
let worker: JukeboxWorker;
let wc: WorkerClient;
let info: DescribeResponse__Output;

function describe(client: WorkerClient): Promise<DescribeResponse__Output> {
  return new Promise((resolve, reject) => client.Describe({}, (err, res) => (err ? reject(err) : resolve(res!))));
}

before(async () => {
  worker = await JukeboxWorker.start({ modelDir: DEFAULT_MODEL_DIR, levels: [LEVEL], decode: false, maxBatchRows: MAX_ROWS, port: 0, metricsPort: 0 });
  wc = new (jukeboxProto().Worker)(worker.address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS) as WorkerClient;
  info = await describe(wc);
});

after(async () => {
  wc.close();
  await worker.close();
});

/** Window k of job k at level 1 of models/tiny: its own labels, upper tokens, context, seed, start and sampling. */
function windowOf(k: number, rows: number, ctxLen: number): WindowItem {
  return {
    jobId: `job-${k}`,
    windowIndex: 3 + k,
    start: 128 + 64 * k,
    context: Array.from({ length: rows }, (_, r) => ({ tokens: Array.from({ length: ctxLen }, (_, i) => (i * 17 + r * 5 + k * 3) % 256) })),
    // 9 label values (total_length, offset, sample_length, artist, genres); 32 upper tokens (nCtx 128 / ratio 4).
    upper: Array.from({ length: rows }, () => ({ tokens: Array.from({ length: 32 }, (_, i) => (i * 11 + k * 7) % 256) })),
    labels: Array.from({ length: rows }, () => ({ tokens: [32000 * (k + 1), (128 + 64 * k) * 32, 128 * 32, 1 + k, 2, -1, -1, -1, -1] })),
    seed: ['11', '18446744073709551000'][k % 2],
    temperature: [0.9, 1.05][k % 2],
    topK: [0, 30][k % 2],
    topP: [1, 0.95][k % 2],
    sampleIds: Array.from({ length: rows }, (_, r) => r + k),
  };
}

function request(windows: WindowItem[], newTokens: number): SampleWindowRequest {
  return { modelHash: info.modelHash, level: LEVEL, newTokens, windows };
}

/** Runs a SampleWindow call; returns the result rows and the progress rows put back together. */
async function sample(req: SampleWindowRequest): Promise<{ rows: number[][]; streamed: number[][] }> {
  const messages: SampleWindowResponse__Output[] = [];
  for await (const m of wc.SampleWindow(req)) messages.push(m as SampleWindowResponse__Output);
  const result = messages.at(-1)!.result!;
  const streamed = result.rows.map(() => [] as number[]);
  for (const m of messages) m.progress?.rows.forEach((r, i) => streamed[i].push(...r.tokens));
  return { rows: result.rows.map((r) => r.tokens), streamed };
}

async function expectInvalid(req: SampleWindowRequest, field: RegExp, code = grpc.status.INVALID_ARGUMENT): Promise<void> {
  await assert.rejects(
    (async () => {
      for await (const _ of wc.SampleWindow(req)) void _;
    })(),
    (e: grpc.ServiceError) => {
      assert.equal(e.code, code, `${grpc.status[e.code]} ${e.details}`);
      assert.match(e.details, field);
      return true;
    },
  );
}

test('Describe reports max_batch_rows (16 unless set) and the precision (auto on CPU: fp32)', async () => {
  assert.equal(info.maxBatchRows, MAX_ROWS);
  assert.equal(info.precision, 'fp32');
  const plain = await JukeboxWorker.start({ modelDir: DEFAULT_MODEL_DIR, levels: [0], decode: false });
  const pc = new (jukeboxProto().Worker)(plain.address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS) as WorkerClient;
  try {
    assert.equal((await describe(pc)).maxBatchRows, 16);
  } finally {
    pc.close();
    await plain.close();
  }
});

test('a batch of windows of two jobs returns the rows each window returns alone, in request order', async () => {
  const a = windowOf(0, 1, 64);
  const b = windowOf(1, 2, 64);
  const aloneA = await sample(request([a], 64));
  const aloneB = await sample(request([b], 64));
  const batched = await sample(request([a, b], 64));
  assert.equal(batched.rows.length, 3);
  assert.deepEqual(batched.rows, [...aloneA.rows, ...aloneB.rows]);
  assert.ok(batched.rows.every((r) => r.length === 64));
  assert.notDeepEqual(batched.rows[0], batched.rows[1], 'the jobs draw their own tokens');
  // Streamed progress, where there was any, is a prefix of the result, row by row.
  batched.streamed.forEach((s, i) => assert.deepEqual(s, batched.rows[i].slice(0, s.length)));
  const metrics = await (await fetch(`http://127.0.0.1:${worker.metricsPort}/metrics`)).text();
  assert.match(metrics, /jukebox_batch_rows_bucket\{le="4",role="worker",level="1"\} 3/);
  assert.match(metrics, /jukebox_tokens_sampled_total\{level="1",role="worker"\} 384/);
});

test('a batch over max_batch_rows is RESOURCE_EXHAUSTED (another worker may take it); unequal context lengths or no windows INVALID_ARGUMENT naming the field', async () => {
  await expectInvalid(request([windowOf(0, 2, 64), windowOf(1, 2, 64), windowOf(2, 1, 64)], 64), /windows: 5 rows .*max_batch_rows 4/, grpc.status.RESOURCE_EXHAUSTED);
  await expectInvalid(request([windowOf(0, 1, 64), windowOf(1, 1, 63)], 64), /windows\[1\]\.context: 63 tokens per row, but windows\[0\] has 64/);
  await expectInvalid(request([], 64), /windows: at least one/);
  await expectInvalid(request([windowOf(0, 1, 64)], 65), /new_tokens: 65 with 64 context tokens exceeds n_ctx 128/);
  await expectInvalid(request([windowOf(0, 1, 64)], 0), /new_tokens: must be >= 1/);
  // A bad field of a later window names that window (and its job, for the coordinator's logs).
  await expectInvalid(request([windowOf(0, 1, 64), { ...windowOf(1, 1, 64), topP: 0 }], 64), /windows\[1\]\.top_p: .*\(job job-1, window 4\)/);
  await expectInvalid(request([windowOf(0, 1, 64), { ...windowOf(1, 1, 64), seed: '-4' }], 64), /windows\[1\]\.seed/);
  // Echoed values are cut short.
  const long = await assert.rejects((async () => {
    for await (const _ of wc.SampleWindow(request([{ ...windowOf(0, 1, 64), jobId: 'j'.repeat(100_000), seed: '9'.repeat(100_000) }], 64))) void _;
  })(), (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT && /windows\[0\]\.seed: "9{61}\.\.\." .*job j{61}\.\.\./.test(e.details) && e.details.length < 300);
  void long;
});
