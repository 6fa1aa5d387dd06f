// The Coordinator API as documented (issue 10, parts 3-5): reflection of the real .proto files, request defaults
// and refusals, the Job fields clients show, ListJobs pages, ListModels, and the audio preview of a running job.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import descriptorModule from 'protobufjs/ext/descriptor/index.js';
import { Coordinator } from '../coordinator/coordinator.js';
import { GrpcWorkerConnection } from '../coordinator/grpc-worker.js';
import { JukeboxWorker } from '../worker/worker-server.js';
import { CoordinatorClient, type JobView, type SubmitRequest } from '../client/coordinator-client.js';
import { DEFAULT_MODEL_DIR } from '../models/model-folder.js';
import { CHANNEL_OPTIONS, jukeboxProto } from '../proto/index.js';
import { setQuiet } from '../server/log.js';

setQuiet(true);

const descriptor = descriptorModule as unknown as typeof import('protobufjs/ext/descriptor/index.js');
const require = createRequire(import.meta.url);
const run = promisify(execFile);
const BIN = fileURLToPath(new URL('../bin/jukebox.js', import.meta.url));

let worker: JukeboxWorker;
let coordinator: Coordinator;
let client: CoordinatorClient;

before(async () => {
  worker = await JukeboxWorker.start({ modelDir: DEFAULT_MODEL_DIR, port: 0, metricsPort: 0 });
  // Small decode chunks: a few seconds of song make many, so that a preview has something to stream early.
  coordinator = await Coordinator.start({ modelDirs: [DEFAULT_MODEL_DIR], workers: [worker.address], decodeChunkTokens: 1000, audioChunkBytes: 4000 });
  client = new CoordinatorClient(coordinator.address);
});

/** Waits until the worker runs no window (those of cancelled jobs end at their next step): closing it mid-inference aborts the process. */
async function workerIdle(): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const text = await (await fetch(`http://127.0.0.1:${worker.metricsPort}/metrics`)).text();
    const running = [...text.matchAll(/^jukebox_windows_running\{level="\d",role="worker"\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
    if (running === 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

after(async () => {
  client.close();
  await coordinator.close();
  await workerIdle();
  await worker.close();
});

const good: SubmitRequest = { model: 'tiny', artist: 'tiny_ensemble', genres: ['rock'], lyrics: 'hello', durationSeconds: 2, samples: 1, seed: '9', sampling: [] };

function statusOf(err: unknown): { code: number; details: string } {
  const e = err as grpc.ServiceError;
  return { code: e.code, details: e.details };
}

async function refused(p: Promise<unknown>, code: grpc.status, details?: RegExp): Promise<string> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught, `expected ${grpc.status[code]}, the call succeeded`);
  const s = statusOf(caught);
  assert.equal(s.code, code, `${grpc.status[s.code]}: ${s.details}`);
  if (details) assert.match(s.details, details);
  return s.details;
}

async function finished(jobId: string): Promise<JobView> {
  let last: JobView | undefined;
  for await (const j of client.watch(jobId)) last = j;
  return last!;
}

// --- reflection ---

interface ReflectionResponse {
  listServicesResponse?: { service: { name: string }[] };
  fileDescriptorResponse?: { fileDescriptorProto: Buffer[] };
  errorResponse?: { errorCode: number; errorMessage: string };
}

const reflectionDef = protoLoader.loadSync(join(dirname(require.resolve('@grpc/reflection/package.json')), 'build/proto/grpc/reflection/v1/reflection.proto'), {
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
});
const ReflectionClient = (grpc.loadPackageDefinition(reflectionDef) as unknown as { grpc: { reflection: { v1: { ServerReflection: grpc.ServiceClientConstructor } } } }).grpc.reflection.v1.ServerReflection;

async function reflect(address: string, request: object): Promise<ReflectionResponse> {
  const c = new ReflectionClient(address, grpc.credentials.createInsecure());
  try {
    const call = (c as unknown as { ServerReflectionInfo(): grpc.ClientDuplexStream<object, ReflectionResponse> }).ServerReflectionInfo();
    call.write(request);
    call.end();
    for await (const res of call) return res as ReflectionResponse;
    throw new Error('no reflection answer');
  } finally {
    c.close();
  }
}

type FileDescriptor = { name: string; dependency: string[]; messageType: { name: string; field: { name: string; jsonName?: string; proto3Optional?: boolean }[] }[]; service: { name: string }[] };

function files(res: ReflectionResponse): FileDescriptor[] {
  assert.ok(res.fileDescriptorResponse, `an error instead of files: ${JSON.stringify(res.errorResponse)}`);
  return res.fileDescriptorResponse.fileDescriptorProto.map((b) => descriptor.FileDescriptorProto.toObject(descriptor.FileDescriptorProto.decode(b), { arrays: true }) as unknown as FileDescriptor);
}

test('reflection: each server lists its own service, health and reflection, and serves the real .proto files with their field names', async () => {
  const reflection = ['grpc.health.v1.Health', 'grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection'];
  for (const [address, own] of [[coordinator.address, 'jukebox.v1.Coordinator'], [worker.address, 'jukebox.v1.Worker']]) {
    const listed = (await reflect(address, { listServices: '*' })).listServicesResponse!.service.map((s) => s.name).sort();
    assert.deepEqual(listed, [own, ...reflection].sort(), address);
  }
  const coordinatorFiles = files(await reflect(coordinator.address, { fileByFilename: 'jukebox/v1/coordinator.proto' }));
  assert.deepEqual(coordinatorFiles.map((f) => f.name).sort(), ['jukebox/v1/common.proto', 'jukebox/v1/coordinator.proto']);
  const main = coordinatorFiles.find((f) => f.name === 'jukebox/v1/coordinator.proto')!;
  assert.deepEqual(main.dependency, ['jukebox/v1/common.proto']);
  const submit = main.messageType.find((m) => m.name === 'SubmitJobRequest')!;
  assert.ok(submit.field.some((f) => f.name === 'duration_seconds' && f.jsonName === 'durationSeconds'), 'snake_case names, camelCase json names');
  assert.ok(submit.field.some((f) => f.name === 'segment_overlap' && f.proto3Optional), 'proto3 optional fields say so');
  const job = main.messageType.find((m) => m.name === 'Job')!;
  for (const name of ['job_id', 'started_at_ms', 'queue_position', 'eta_seconds', 'progress', 'failure', 'request']) assert.ok(job.field.some((f) => f.name === name), name);
  assert.ok(main.messageType.every((m) => m.field.every((f) => !/[A-Z]/.test(f.name))), 'no camelCase field names');
  // By symbol, with the files it imports; health is described too.
  const bySymbol = files(await reflect(coordinator.address, { fileContainingSymbol: 'jukebox.v1.Coordinator' }));
  assert.deepEqual(bySymbol.map((f) => f.name).sort(), ['jukebox/v1/common.proto', 'jukebox/v1/coordinator.proto']);
  assert.equal(files(await reflect(worker.address, { fileContainingSymbol: 'grpc.health.v1.Health' }))[0].name, 'grpc/health/v1/health.proto');
  assert.equal(files(await reflect(worker.address, { fileByFilename: 'jukebox/v1/worker.proto' }))[0].service[0].name, 'Worker');
  // Each server only its own: the worker does not describe the coordinator's file, nor anyone the made-up one.
  assert.equal((await reflect(worker.address, { fileByFilename: 'jukebox/v1/coordinator.proto' })).errorResponse?.errorCode, grpc.status.NOT_FOUND);
  assert.equal((await reflect(coordinator.address, { fileContainingSymbol: 'jukebox.v1.Worker' })).errorResponse?.errorCode, grpc.status.NOT_FOUND);
  assert.equal((await reflect(coordinator.address, { fileByFilename: 'jukebox_v1.proto' })).errorResponse?.errorCode, grpc.status.NOT_FOUND);
});

// --- requests ---

test('SubmitJob: omitted seed and samples take their documented defaults (0 and 1)', async () => {
  const job = await client.submit({ model: 'tiny', durationSeconds: 2 });
  assert.equal(job.samples, 1);
  assert.equal(job.seed, '0');
  const r = job.request!;
  assert.equal(r.samples, 1);
  assert.equal(r.seed, '0');
  assert.equal(r.artist, '');
  assert.deepEqual(r.genres, []);
  assert.equal(r.wavFormat, 'pcm16');
  assert.equal(r.mode, 'JOB_MODE_EXACT');
  assert.equal(r.priority, 5);
  // Every level's sampling filters, defaults filled in.
  assert.deepEqual(r.sampling.map((s) => [s.level, Number(s.temperature!.toFixed(2)), s.topK, s.topP]), [[0, 0.99, 0, 1], [1, 0.99, 0, 1], [2, 0.99, 0, 1]]);
  await client.cancel(job.jobId);
  // An explicit value out of range is still refused.
  await refused(client.submit({ ...good, samples: 17 }), grpc.status.INVALID_ARGUMENT, /samples/);
  await refused(client.submit({ ...good, samples: -1 }), grpc.status.INVALID_ARGUMENT, /samples/);
});

test('SubmitJob: a blank artist and a blank genre both mean the model\'s "unknown"', async () => {
  for (const req of [{ artist: '' }, { genres: [''] }, { artist: '  ', genres: ['!!!'] }, { genres: ['rock', ''] }]) {
    const job = await client.submit({ ...good, ...req });
    assert.match(job.state, /QUEUED|RUNNING/, JSON.stringify(req));
    await client.cancel(job.jobId);
  }
  await refused(client.submit({ ...good, artist: 'nobody we know' }), grpc.status.INVALID_ARGUMENT, /artist/);
  await refused(client.submit({ ...good, genres: ['polka'] }), grpc.status.INVALID_ARGUMENT, /genre/);
});

/** A SubmitJobRequest encoded by the real serializer, with the bytes of `marker` in it replaced. */
function patchedRequest(req: SubmitRequest, marker: string, replacement: Buffer): Buffer {
  const bytes = jukeboxProto().Coordinator.service.SubmitJob.requestSerialize(req);
  const at = bytes.indexOf(Buffer.from(marker));
  assert.ok(at >= 0);
  replacement.copy(bytes, at);
  return bytes;
}

function rawUnary(path: string, body: Buffer): Promise<Buffer> {
  const c = new grpc.Client(coordinator.address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
  return new Promise<Buffer>((resolve, reject) => {
    c.makeUnaryRequest(path, (b: Buffer) => b, (b: Buffer) => b, body, (err, res) => (err ? reject(err) : resolve(res!)));
  }).finally(() => c.close());
}

test('SubmitJob: lyrics, artist and genres that are not valid UTF-8 are INVALID_ARGUMENT naming the field', async () => {
  const bad = Buffer.from([0xff, 0xfe]);
  await refused(rawUnary('/jukebox.v1.Coordinator/SubmitJob', patchedRequest({ ...good, lyrics: 'la XX la' }, 'XX', bad)), grpc.status.INVALID_ARGUMENT, /^lyrics.*UTF-8/);
  await refused(rawUnary('/jukebox.v1.Coordinator/SubmitJob', patchedRequest({ ...good, genres: ['XXrock'] }, 'XX', bad)), grpc.status.INVALID_ARGUMENT, /^genres.*UTF-8/);
  await refused(rawUnary('/jukebox.v1.Coordinator/SubmitJob', patchedRequest({ ...good, artist: 'XXtiny_ensemble' }, 'XX', bad)), grpc.status.INVALID_ARGUMENT, /^artist.*UTF-8/);
  // The same request with valid bytes goes through.
  const ok = jukeboxProto().Coordinator.service.SubmitJob.responseDeserialize(await rawUnary('/jukebox.v1.Coordinator/SubmitJob', patchedRequest({ ...good, lyrics: 'la XX la' }, 'XX', Buffer.from('ok')))) as JobView;
  await client.cancel(ok.jobId);
});

test('a body that is not protobuf is INVALID_ARGUMENT, unary and streaming', async () => {
  await refused(rawUnary('/jukebox.v1.Coordinator/SubmitJob', Buffer.from('garbage')), grpc.status.INVALID_ARGUMENT, /SubmitJob: the request body is not a valid protobuf message/);
  await refused(rawUnary('/jukebox.v1.Coordinator/GetJob', Buffer.from([0x0a, 0xff, 0xff, 0xff])), grpc.status.INVALID_ARGUMENT, /GetJob/);
  const c = new grpc.Client(coordinator.address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
  try {
    const stream = c.makeServerStreamRequest('/jukebox.v1.Coordinator/FetchAudio', (b: Buffer) => b, (b: Buffer) => b, Buffer.from('garbage'));
    await refused(
      (async () => {
        for await (const _ of stream) void _;
      })(),
      grpc.status.INVALID_ARGUMENT,
      /FetchAudio/,
    );
  } finally {
    c.close();
  }
  // The worker too (its server comes from the same factory).
  const w = new grpc.Client(worker.address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
  try {
    await refused(
      new Promise((resolve, reject) => w.makeUnaryRequest('/jukebox.v1.Worker/Decode', (b: Buffer) => b, (b: Buffer) => b, Buffer.from('garbage'), (e, r) => (e ? reject(e) : resolve(r)))),
      grpc.status.INVALID_ARGUMENT,
    );
  } finally {
    w.close();
  }
});

test('an unknown job id, however long, is NOT_FOUND with a short message', async () => {
  const id = `job-${'x'.repeat(100_000)}`;
  const details = await refused(client.get(id), grpc.status.NOT_FOUND, /job_id: no job "job-x+\.\.\."/);
  assert.ok(details.length < 200, `${details.length} characters`);
  await refused(client.cancel(id), grpc.status.NOT_FOUND);
  await refused(client.fetchAudio(id, 0, { preview: true }), grpc.status.NOT_FOUND);
});

// --- Job fields ---

test('Job: times, the request echoed, per-level and overall progress, DECODING as a stage', async () => {
  const t0 = Date.now();
  const submitted = await client.submit({ ...good, durationSeconds: 3, seed: '12' });
  assert.ok(submitted.createdAtMs >= t0 - 1000 && submitted.createdAtMs <= Date.now());
  assert.equal(submitted.finishedAtMs, 0);
  assert.deepEqual({ ...submitted.request, sampling: undefined }, {
    ...submitted.request,
    model: 'tiny', artist: 'tiny_ensemble', genres: ['rock'], lyrics: 'hello', durationSeconds: 3, samples: 1, seed: '12', sampling: undefined,
  });
  assert.deepEqual(submitted.request!.segments, [1, 1, 1]);
  const progress: number[] = [];
  const states = new Set<string>();
  let last: JobView | undefined;
  for await (const u of client.watchChanges(submitted.jobId)) {
    last = u.job;
    progress.push(u.job.progress);
    for (const c of u.changes) if (c.kind === 'state') states.add(c.state);
    for (const l of u.job.levels) assert.ok(l.progress >= 0 && l.progress <= 1);
    if (u.job.state === 'JOB_STATE_RUNNING' || u.job.state === 'JOB_STATE_DECODING') assert.ok(u.job.startedAtMs >= u.job.createdAtMs);
  }
  assert.equal(last!.state, 'JOB_STATE_SUCCEEDED');
  assert.deepEqual([...states], ['JOB_STATE_QUEUED', 'JOB_STATE_RUNNING', 'JOB_STATE_DECODING', 'JOB_STATE_SUCCEEDED'], 'every stage is a change a watcher sees');
  assert.ok(progress.every((p, i) => p >= 0 && p <= 1 && (i === 0 || p >= progress[i - 1])), `progress goes 0..1 and never back: ${progress.join(' ')}`);
  assert.ok(progress.some((p) => p > 0 && p < 1), 'progress part-way');
  const done = await client.get(submitted.jobId);
  assert.equal(done.progress, 1);
  assert.ok(done.levels.every((l) => l.progress === 1));
  assert.ok(done.startedAtMs >= done.createdAtMs && done.finishedAtMs >= done.startedAtMs, `${done.createdAtMs} ${done.startedAtMs} ${done.finishedAtMs}`);
  assert.equal(done.decodedSeconds, done.totalSamples / done.sampleRate);
  assert.equal(done.failure, null);
  assert.equal(done.etaSeconds, 0);
});

test('Job: a failed job carries a machine-readable error code, its message and the task', async () => {
  // The real worker, except that every level 1 window is refused as bad input.
  const c = await Coordinator.start({
    modelDirs: [DEFAULT_MODEL_DIR],
    workers: [worker.address],
    connectWorker: (address) => {
      const real = new GrpcWorkerConnection(address);
      return {
        address,
        describe: (ms) => real.describe(ms),
        sampleBatch: (batch, handlers) => {
          if (batch.level !== 1) return real.sampleBatch(batch, handlers);
          setImmediate(() => handlers.failed({ kind: 'invalid', message: 'refused for the test' }));
          return { cancel() {} };
        },
        decode: (job, ms, done) => real.decode(job, ms, done),
        close: () => real.close(),
      };
    },
  });
  const cc = new CoordinatorClient(c.address);
  try {
    const job = await cc.submit(good);
    let last: JobView | undefined;
    for await (const j of cc.watch(job.jobId)) last = j;
    assert.equal(last!.state, 'JOB_STATE_FAILED');
    const failed = await cc.get(job.jobId);
    assert.equal(failed.failure!.code, 'JOB_ERROR_CODE_INPUT_REFUSED');
    assert.match(failed.failure!.message, /refused for the test/);
    assert.equal(failed.error, failed.failure!.message);
    assert.match(failed.failure!.task, /^window:1:0:\d+$/);
    assert.ok(failed.finishedAtMs > 0 && failed.progress < 1);
  } finally {
    cc.close();
    await c.close();
  }
});

// --- ListJobs ---

test('ListJobs: pages in submission order, a state filter, refusals of bad paging', async () => {
  const all = await client.list();
  assert.ok(all.length >= 6, `${all.length} jobs`);
  const order = (j: JobView): string => `${String(j.createdAtMs).padStart(15, '0')} ${j.jobId}`;
  assert.deepEqual(all.map(order), all.map(order).sort(), 'oldest first');
  const seen: string[] = [];
  let token = '';
  let pages = 0;
  do {
    const page = await client.listPage({ pageSize: 2, pageToken: token });
    assert.ok(page.jobs.length <= 2);
    assert.equal(page.totalSize, all.length);
    seen.push(...page.jobs.map((j) => j.jobId));
    token = page.nextPageToken;
    pages++;
  } while (token !== '');
  assert.deepEqual(seen, all.map((j) => j.jobId));
  assert.equal(pages, Math.ceil(all.length / 2));
  const cancelled = await client.listPage({ states: ['JOB_STATE_CANCELLED'] });
  assert.ok(cancelled.jobs.length >= 4 && cancelled.jobs.every((j) => j.state === 'JOB_STATE_CANCELLED'));
  assert.equal(cancelled.totalSize, all.filter((j) => j.state === 'JOB_STATE_CANCELLED').length);
  const ended = await client.list({ states: ['JOB_STATE_SUCCEEDED', 'JOB_STATE_CANCELLED'] });
  assert.equal(ended.length, all.filter((j) => j.state === 'JOB_STATE_SUCCEEDED' || j.state === 'JOB_STATE_CANCELLED').length);
  await refused(client.listPage({ pageToken: 'not-a-token' }), grpc.status.INVALID_ARGUMENT, /page_token/);
  await refused(client.listPage({ pageSize: -1 }), grpc.status.INVALID_ARGUMENT, /page_size/);
  await refused(client.listPage({ states: ['JOB_STATE_UNSPECIFIED'] }), grpc.status.INVALID_ARGUMENT, /states/);
});

// --- ListModels ---

test('ListModels: artists and genres (searchable), lyrics limit, song lengths, levels and modes', async () => {
  const [tiny] = await client.listModels();
  assert.equal(tiny.model, 'tiny');
  assert.ok(tiny.ready);
  assert.deepEqual(tiny.artists, ['dr_noise', 'gaussian_quartet', 'mono_16k', 'the_random_walkers', 'tiny_ensemble', 'unknown']);
  assert.ok(tiny.genres.includes('rock') && tiny.genres.includes('unknown') && tiny.genres.length === tiny.genresTotal);
  assert.equal(tiny.labelsVersion, 'v2');
  assert.ok(tiny.lyrics && tiny.lyricsMaxChars > 0);
  assert.ok(tiny.minDurationSeconds > 0 && tiny.maxDurationSeconds === 600);
  assert.deepEqual(tiny.levels.map((l) => [l.level, l.hopLength, l.nCtx]), [[0, 8, 128], [1, 32, 128], [2, 128, 128]]);
  assert.deepEqual(tiny.modes, ['JOB_MODE_EXACT', 'JOB_MODE_SHARDED']);
  // Search: a substring, case-insensitive, also as the model normalises names.
  const [found] = await client.listModels({ search: 'Random Walkers' });
  assert.deepEqual(found.artists, ['the_random_walkers']);
  assert.equal(found.artistsTotal, 6);
  assert.deepEqual((await client.listModels({ model: 'tiny', search: 'JAZ' }))[0].genres, ['jazz']);
  await refused(client.listModels({ model: 'gpt-17' }), grpc.status.NOT_FOUND, /model/);
});

test('jukebox models labels --search lists a served model\'s matching artists and genres', async () => {
  const env = { ...process.env, JUKEBOX_FROM_SOURCE: '1' };
  const { stdout } = await run(process.execPath, [BIN, 'models', 'labels', 'tiny', '--search', 'o', '--coordinator', coordinator.address], { env, timeout: 60_000 });
  assert.match(stdout, /^model tiny \(ready, labels v2, 16000 Hz\)/);
  assert.match(stdout, /lyrics: at most \d+ characters/);
  assert.match(stdout, /artists matching "o": 4 of 6\n {4}dr_noise\n {4}mono_16k\n {4}the_random_walkers\n {4}unknown\n/);
  assert.doesNotMatch(stdout, /tiny_ensemble/);
  assert.match(stdout, /genres matching "o": \d+ of 9\n(?: {4}\S+\n)* {4}rock\n/);
  const json = JSON.parse((await run(process.execPath, [BIN, 'models', 'labels', '--json', '--coordinator', coordinator.address], { env, timeout: 60_000 })).stdout) as { artists: string[] }[];
  assert.equal(json[0].artists.length, 6);
});

// --- preview ---

test('FetchAudio with preview streams a running job\'s audio as it is decoded: the bytes of the final WAV', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'jukebox-preview-'));
  try {
    const job = await client.submit({ ...good, durationSeconds: 8, seed: '4' });
    const playTo = join(dir, 'live.wav');
    const env = { ...process.env, JUKEBOX_FROM_SOURCE: '1' };
    const watching = run(process.execPath, [BIN, 'watch', job.jobId, '--play-to', playTo, '--coordinator', coordinator.address], { env, timeout: 300_000 });
    const parts: Buffer[] = [];
    let firstAudio: JobView | undefined;
    let total = 0;
    for await (const chunk of client.audioChunks(job.jobId, 0, { preview: true })) {
      assert.equal(chunk.offset, parts.reduce((n, p) => n + p.length, 0));
      total = chunk.totalBytes;
      parts.push(chunk.data);
      if (!firstAudio && chunk.offset + chunk.data.length > 44) firstAudio = await client.get(job.jobId);
    }
    const preview = Buffer.concat(parts);
    assert.ok(firstAudio, 'audio came');
    // The beginning was heard before the end was sampled.
    assert.ok(firstAudio.levels.some((l) => l.windowsDone < l.windowsTotal), `first audio at ${firstAudio.state}, levels ${firstAudio.levels.map((l) => `${l.windowsDone}/${l.windowsTotal}`).join(' ')}`);
    assert.ok(firstAudio.decodedSeconds > 0 && firstAudio.decodedSeconds < 8);
    const done = await client.get(job.jobId);
    assert.equal(done.state, 'JOB_STATE_SUCCEEDED');
    const final = await client.fetchAudio(job.jobId, 0);
    assert.equal(total, final.length);
    assert.ok(preview.equals(final), 'the preview is the final WAV, byte for byte');
    const cli = await watching;
    assert.match(cli.stderr, /overall \[#{30}\] 100%/);
    assert.ok((await readFile(playTo)).equals(final), 'jukebox watch --play-to wrote the final WAV');
    // Once the job SUCCEEDED, preview or not, the file is the same.
    assert.ok((await client.fetchAudio(job.jobId, 0, { preview: true })).equals(final));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('FetchAudio with preview: a bad sample is INVALID_ARGUMENT, a job cancelled meanwhile ABORTED, an ended one FAILED_PRECONDITION', async () => {
  const job = await client.submit({ ...good, durationSeconds: 30, seed: '5' });
  await refused(client.fetchAudio(job.jobId, 1, { preview: true }), grpc.status.INVALID_ARGUMENT, /sample/);
  const streaming = refused(client.fetchAudio(job.jobId, 0, { preview: true }), grpc.status.ABORTED, /CANCELLED/);
  await new Promise((r) => setTimeout(r, 300));
  await client.cancel(job.jobId);
  await streaming;
  await refused(client.fetchAudio(job.jobId, 0, { preview: true }), grpc.status.FAILED_PRECONDITION);
});
