// The gRPC surface against real servers on loopback: validation, statuses, streaming, cancellation.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { Coordinator } from '../coordinator/coordinator.js';
import { JukeboxWorker } from '../worker/worker-server.js';
import { CoordinatorClient, type SubmitRequest } from '../client/coordinator-client.js';
import { DEFAULT_MODEL_DIR } from '../models/model-folder.js';
import { CHANNEL_OPTIONS, jukeboxProto } from '../proto/index.js';
import type { WorkerClient } from '../proto/generated/jukebox/v1/Worker.js';
import { setQuiet } from '../server/log.js';

setQuiet(true);

let worker: JukeboxWorker;
let coordinator: Coordinator;
let client: CoordinatorClient;

before(async () => {
  worker = await JukeboxWorker.start({ modelDir: DEFAULT_MODEL_DIR, port: 0, metricsPort: 0 });
  // Small audio chunks so a short song spans several FetchAudio messages.
  coordinator = await Coordinator.start({ modelDirs: [DEFAULT_MODEL_DIR], workers: [worker.address], metricsPort: 0, audioChunkBytes: 10_000, tokenChunkTokens: 1000 });
  client = new CoordinatorClient(coordinator.address);
});

after(async () => {
  client.close();
  await coordinator.close();
  await worker.close();
});

const good: SubmitRequest = { model: 'tiny', artist: 'tiny_ensemble', genres: ['rock'], lyrics: 'hello', durationSeconds: 2, samples: 1, seed: '9', sampling: [] };

async function expectStatus(req: Partial<SubmitRequest>, code: grpc.status, field: RegExp): Promise<void> {
  await assert.rejects(client.submit({ ...good, ...req }), (err: grpc.ServiceError) => {
    assert.equal(err.code, code, `${JSON.stringify(req)} -> ${grpc.status[err.code]} ${err.details}`);
    assert.match(err.details, field);
    return true;
  });
}

test('SubmitJob rejects bad requests with INVALID_ARGUMENT naming the field', async () => {
  const I = grpc.status.INVALID_ARGUMENT;
  await expectStatus({ durationSeconds: 0 }, I, /duration_seconds/);
  await expectStatus({ durationSeconds: -5 }, I, /duration_seconds/);
  await expectStatus({ durationSeconds: 100_000 }, I, /duration_seconds/);
  await expectStatus({ artist: 'no such artist at all' }, I, /artist/);
  await expectStatus({ genres: ['polka-techno-nonsense'] }, I, /genre/);
  await expectStatus({ lyrics: 'x'.repeat(100_000) }, I, /lyrics/);
  await expectStatus({ sampling: [{ level: 2, temperature: 0 }] }, I, /temperature/);
  await expectStatus({ sampling: [{ level: 0, temperature: -1 }] }, I, /temperature/);
  await expectStatus({ sampling: [{ level: 1, topP: 0 }] }, I, /top_p/);
  await expectStatus({ sampling: [{ level: 1, topP: 1.5 }] }, I, /top_p/);
  await expectStatus({ samples: 17 }, I, /samples/);
  await expectStatus({ samples: -2 }, I, /samples/);
  await expectStatus({ model: 'gpt-17' }, I, /model/);
  await expectStatus({ seed: 'banana' }, I, /seed/);
  // Nothing was created by the rejected requests.
  assert.equal((await client.list()).length, 0);
});

test('SubmitJob: per-row labels (rows) that conflict or are wrong are INVALID_ARGUMENT naming the field', async () => {
  const I = grpc.status.INVALID_ARGUMENT;
  const row = { artist: 'tiny_ensemble', genres: ['rock'], lyrics: 'hello' };
  const rows = (...r: object[]): Partial<SubmitRequest> => ({ artist: '', genres: [], lyrics: '', samples: 0, rows: r });
  await expectStatus({ ...rows(row, row), artist: 'dr_noise' }, I, /^artist: give either job-wide labels \(artist, genres, lyrics\) or rows, not both/);
  await expectStatus({ ...rows(row), genres: ['jazz'] }, I, /^genres: give either/);
  await expectStatus({ ...rows(row), lyrics: 'la' }, I, /^lyrics: give either/);
  await expectStatus({ ...rows(row, row), samples: 3 }, I, /^samples 3 disagrees with the 2 rows given/);
  await expectStatus(rows(...Array.from({ length: 17 }, () => row)), I, /^rows: at most 16 rows/);
  await expectStatus(rows(row, row, { ...row, artist: 'nobody we know' }), I, /^rows\[2\]\.artist: artist "nobody we know" .*is not known to model tiny/);
  await expectStatus(rows({ ...row, genres: ['polka'] }), I, /^rows\[0\]\.genres: genre word "polka"/);
  await expectStatus(rows(row, { ...row, lyrics: 'x'.repeat(100_000) }), I, /^rows\[1\]\.lyrics: lyrics have 100000 characters/);
  assert.equal((await client.list()).length, 0, 'nothing created');
  // Omitted samples, or samples equal to the rows: accepted.
  for (const samples of [0, 2]) {
    const job = await client.submit({ ...good, ...rows(row, { ...row, artist: 'dr_noise' }), samples });
    assert.equal(job.samples, 2);
    await client.cancel(job.jobId);
  }
});

test('GetJob, WatchJob, FetchAudio and CancelJob answer unknown ids with NOT_FOUND', async () => {
  await assert.rejects(client.get('job-nope'), (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND);
  await assert.rejects(client.cancel('job-nope'), (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND);
  await assert.rejects(client.fetchAudio('job-nope', 0), (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND);
  await assert.rejects(
    (async () => {
      for await (const _ of client.watch('job-nope')) void _;
    })(),
    (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND,
  );
});

test('a job runs to SUCCEEDED, streams progress per level, and serves audio in chunks', async () => {
  const job = await client.submit({ ...good, durationSeconds: 2 });
  assert.match(job.state, /JOB_STATE_(QUEUED|RUNNING)/);
  const states: string[] = [];
  let sawPartial = false;
  for await (const j of client.watch(job.jobId)) {
    states.push(j.state);
    if (j.levels.some((l) => l.windowsDone > 0 && l.windowsDone < l.windowsTotal)) sawPartial = true;
  }
  assert.equal(states.at(-1), 'JOB_STATE_SUCCEEDED');
  assert.ok(sawPartial, 'saw levels part-way done');
  const done = await client.get(job.jobId);
  assert.ok(done.levels.every((l) => l.windowsDone === l.windowsTotal && l.tokensDone === l.tokensTotal && l.tokensPerSecond > 0));
  const Client = jukeboxProto().Coordinator;
  const raw = new Client(coordinator.address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
  const sizes: number[] = [];
  for await (const chunk of raw.FetchAudio({ jobId: job.jobId, sample: 0 }) as AsyncIterable<{ data: Buffer; offset: number; totalBytes: number }>) {
    assert.equal(chunk.offset, sizes.reduce((a, b) => a + b, 0));
    sizes.push(chunk.data.length);
  }
  raw.close();
  assert.ok(sizes.length > 1 && sizes.every((n) => n <= 10_000), `chunk sizes ${sizes.join(',')}`);
  const wav = await client.fetchAudio(job.jobId, 0);
  assert.equal(wav.length, sizes.reduce((a, b) => a + b, 0));
  assert.equal(wav.subarray(0, 4).toString(), 'RIFF');
  assert.equal(wav.length, 44 + done.totalSamples * 2);
  // Tokens arrive in pieces of 1000 and are put back together: every level complete.
  const tokens = await client.fetchTokens(job.jobId);
  assert.deepEqual(tokens.map((rows) => rows.map((r) => r.length)), done.levels.map((l) => [l.tokensTotal]));
  await assert.rejects(client.fetchAudio(job.jobId, 1), (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT && /sample/.test(e.details));
  const metrics = await (await fetch(`http://127.0.0.1:${coordinator.metricsPort}/metrics`)).text();
  assert.match(metrics, /jukebox_tokens_sampled_total\{level="0",role="coordinator"\} \d+/);
  assert.match(metrics, /jukebox_window_duration_seconds_bucket/);
  assert.match(metrics, /jukebox_jobs\{state="SUCCEEDED",role="coordinator"\} 1/);
  const wm = await (await fetch(`http://127.0.0.1:${worker.metricsPort}/metrics`)).text();
  assert.match(wm, /jukebox_tokens_sampled_total\{level="2",role="worker"\} \d+/);
});

test('CancelJob stops a running job; audio is then FAILED_PRECONDITION', async () => {
  const job = await client.submit({ ...good, durationSeconds: 30 });
  for await (const j of client.watch(job.jobId)) {
    if (j.levels.some((l) => l.windowsDone > 0)) break;
  }
  const cancelled = await client.cancel(job.jobId);
  assert.equal(cancelled.state, 'JOB_STATE_CANCELLED');
  // The work really stops: the worker's running window ends and no window finishes afterwards.
  const running = async (): Promise<number> => {
    const text = await (await fetch(`http://127.0.0.1:${worker.metricsPort}/metrics`)).text();
    return [...text.matchAll(/^jukebox_windows_running\{level="\d",role="worker"\} (\d+)/gm)].reduce((s, m) => s + Number(m[1]), 0);
  };
  for (let i = 0; i < 50 && (await running()) > 0; i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(await running(), 0, 'no window still running on the worker');
  // The coordinator's own cancellation is no failure on the worker.
  const wm = await (await fetch(`http://127.0.0.1:${worker.metricsPort}/metrics`)).text();
  assert.doesNotMatch(wm, /^jukebox_request_failures_total\{[^}]*code="CANCELLED"/m);
  const before = (await client.get(job.jobId)).levels.map((l) => l.windowsDone);
  await new Promise((r) => setTimeout(r, 500));
  assert.deepEqual((await client.get(job.jobId)).levels.map((l) => l.windowsDone), before);
  await assert.rejects(client.fetchAudio(job.jobId, 0), (e: grpc.ServiceError) => e.code === grpc.status.FAILED_PRECONDITION);
  // The tokens sampled before the cancel can still be fetched (levels not started are empty).
  const partial = await client.fetchTokens(job.jobId);
  const after = await client.get(job.jobId);
  assert.equal(partial.length, 3);
  assert.ok(partial[2][0].length > 0);
  for (const l of after.levels) assert.ok(partial[l.level][0].length <= l.tokensTotal);
});

test('a worker refuses a model hash it does not hold with FAILED_PRECONDITION', async () => {
  const Client = jukeboxProto().Worker;
  const wc = new Client(worker.address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS) as WorkerClient;
  try {
    const info = await new Promise<{ modelHash: string; levels: number[] }>((resolve, reject) =>
      wc.Describe({}, (err, res) => (err ? reject(err) : resolve(res!))),
    );
    assert.equal(info.levels.length, 3);
    const call = wc.SampleWindow({ modelHash: 'f'.repeat(64), level: 2, newTokens: 1, windows: [{ labels: [{ tokens: [] }], sampleIds: [0], seed: '1', temperature: 1, topP: 1 }] });
    await assert.rejects(
      (async () => {
        for await (const _ of call) void _;
      })(),
      (e: grpc.ServiceError) => e.code === grpc.status.FAILED_PRECONDITION && /hash/.test(e.details),
    );
    // The right model, but tokens outside the codebook: INVALID_ARGUMENT naming the field, nothing run.
    const bad = wc.SampleWindow({
      modelHash: info.modelHash, level: 0, newTokens: 64, windows: [{
        start: 64, labels: [{ tokens: [32000, 512, 1024, 1, 1, -1, -1, -1, -1] }], sampleIds: [0],
        context: [{ tokens: new Array(64).fill(9999) }], upper: [{ tokens: new Array(32).fill(1) }], seed: '1', temperature: 1, topP: 1,
      }],
    });
    await assert.rejects(
      (async () => {
        for await (const _ of bad) void _;
      })(),
      (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT && /windows\[0\]\.context/.test(e.details),
    );
    const decode = new Promise((resolve, reject) => wc.Decode({ modelHash: 'f'.repeat(64), level: 0, rows: [{ tokens: [1, 2] }] }, (e, r) => (e ? reject(e) : resolve(r))));
    await assert.rejects(decode, (e: grpc.ServiceError) => e.code === grpc.status.FAILED_PRECONDITION);
  } finally {
    wc.close();
  }
});

test('both servers answer gRPC health checks as SERVING', async () => {
  const { service } = await import('grpc-health-check');
  const HealthClient = grpc.makeGenericClientConstructor(service, 'Health');
  for (const [address, name] of [[coordinator.address, 'jukebox.v1.Coordinator'], [worker.address, 'jukebox.v1.Worker']]) {
    const hc = new HealthClient(address, grpc.credentials.createInsecure());
    for (const svc of ['', name]) {
      const res = await new Promise<{ status: string | number }>((resolve, reject) =>
        (hc as unknown as { Check: (req: object, cb: (e: Error | null, r: { status: string | number }) => void) => void }).Check({ service: svc }, (e, r) => (e ? reject(e) : resolve(r))),
      );
      assert.ok(res.status === 'SERVING' || res.status === 1, `${address} ${svc || '(server)'}: ${res.status}`);
    }
    hc.close();
  }
});

test('SubmitJob answers FAILED_PRECONDITION when no worker hosts a level the model needs', async () => {
  const partial = await JukeboxWorker.start({ modelDir: DEFAULT_MODEL_DIR, levels: [0, 1], decode: false });
  const c = await Coordinator.start({ modelDirs: [DEFAULT_MODEL_DIR], workers: [partial.address] });
  const cc = new CoordinatorClient(c.address);
  try {
    await assert.rejects(cc.submit(good), (e: grpc.ServiceError) => {
      assert.equal(e.code, grpc.status.FAILED_PRECONDITION, e.details);
      assert.match(e.details, /level 2/);
      assert.match(e.details, /decoding/);
      return true;
    });
    assert.equal((await cc.list()).length, 0);
  } finally {
    cc.close();
    await c.close();
    await partial.close();
  }
});
