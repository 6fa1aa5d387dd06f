// Fuzzing both gRPC services (issue 10, part 6): an in-process worker (models/tiny) and a coordinator with it get
// several hundred generated malformed requests from a seeded PRNG: through the generated clients (awkward values
// in every field: edge numbers, NaN, long and broken strings, out-of-range tokens and label ids, wrong lengths,
// empty and huge lists) and as raw bodies through a generic client (random bytes, truncations, wrong wire types,
// over-long varints, lengths past the end, invalid UTF-8). Every call must end with a status a caller can act on
// (INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION, UNAUTHENTICATED, PERMISSION_DENIED, RESOURCE_EXHAUSTED) and
// a short message; OK only where the generated request may be valid by chance (counted). Afterwards both servers
// still serve: the worker samples and decodes, the coordinator renders a song.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { Coordinator } from '../coordinator/coordinator.js';
import { JukeboxWorker } from '../worker/worker-server.js';
import { DEFAULT_MODEL_DIR } from '../models/model-folder.js';
import { CHANNEL_OPTIONS, PROTO_DIR, PROTO_FILES, jukeboxProto } from '../proto/index.js';
import type { WorkerClient } from '../proto/generated/jukebox/v1/Worker.js';
import type { CoordinatorClient } from '../proto/generated/jukebox/v1/Coordinator.js';
import type { WindowItem } from '../proto/generated/jukebox/v1/WindowItem.js';
import type { SampleWindowRequest } from '../proto/generated/jukebox/v1/SampleWindowRequest.js';
import type { DecodeRequest } from '../proto/generated/jukebox/v1/DecodeRequest.js';
import type { SubmitJobRequest } from '../proto/generated/jukebox/v1/SubmitJobRequest.js';
import { cleanLyrics, windowLabels } from '../shared/labels.js';
import type { Manifest } from '../shared/types.js';
import { setQuiet } from '../server/log.js';
import {
  INT32_MAX,
  INT32_MIN,
  chance,
  garbageBody,
  int,
  mulberry32,
  pick,
  rawMessage,
  weirdFloat,
  weirdInt,
  weirdString,
  type RawSchema,
  type Rng,
} from './helpers/fuzz.js';

setQuiet(true);

const SEED = 20_261_201;
const ALLOWED = new Set([
  grpc.status.INVALID_ARGUMENT,
  grpc.status.NOT_FOUND,
  grpc.status.FAILED_PRECONDITION,
  grpc.status.UNAUTHENTICATED,
  grpc.status.PERMISSION_DENIED,
  grpc.status.RESOURCE_EXHAUSTED,
]);
/** Longest acceptable status message. */
const MAX_DETAILS = 1024;
/** Per call: the servers answer these in milliseconds; a call that hangs is a failure (and its channel is replaced). */
const DEADLINE_MS = 5_000;
const WORKER = 'jukebox.v1.Worker';
const COORDINATOR = 'jukebox.v1.Coordinator';

let worker: JukeboxWorker;
let coordinator: Coordinator;
let wc: WorkerClient;
let cc: CoordinatorClient;
let rawWorker: grpc.Client;
let rawCoordinator: grpc.Client;
let manifest: Manifest;
let modelHash: string;
/** A finished job: FetchAudio and WatchJob get out-of-range fields on it. */
let doneJob: string;
/** Decoders as the servers have them, unwrapped: which raw bodies are protobuf of the method's type at all. */
const defs = protoLoader.loadSync(PROTO_FILES, { longs: Number, enums: String, defaults: true, oneofs: true, includeDirs: [PROTO_DIR] });

const VALID_JOB: SubmitJobRequest = { model: 'tiny', artist: 'tiny_ensemble', genres: ['rock'], lyrics: 'hello', durationSeconds: 1, samples: 1, seed: '9', sampling: [] };

function unary<Req, Res>(client: object, method: string, req: Req): Promise<{ code: grpc.status; details: string; res?: Res }> {
  return new Promise((resolve) => {
    (client as Record<string, (r: Req, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r?: Res) => void) => void>)[method](req, { deadline: Date.now() + DEADLINE_MS }, (err, res) =>
      resolve(err ? { code: err.code, details: err.details } : { code: grpc.status.OK, details: '', res }),
    );
  });
}

function stream(call: grpc.ClientReadableStream<unknown>): Promise<{ code: grpc.status; details: string; messages: unknown[] }> {
  return new Promise((resolve) => {
    const messages: unknown[] = [];
    let done = false;
    call.on('data', (m) => messages.push(m));
    call.on('error', (err: grpc.ServiceError) => {
      if (!done) resolve({ code: err.code, details: err.details, messages });
      done = true;
    });
    call.on('status', (s: grpc.StatusObject) => {
      if (!done && s.code === grpc.status.OK) resolve({ code: s.code, details: s.details, messages });
      done = true;
    });
  });
}

async function waitFor(jobId: string, states: string[], ms = 60_000): Promise<string> {
  const until = Date.now() + ms;
  for (;;) {
    const r = await unary<{ jobId: string }, { state: string; error: string }>(cc, 'GetJob', { jobId });
    assert.equal(r.code, grpc.status.OK, r.details);
    if (states.includes(r.res!.state)) return r.res!.state;
    if (Date.now() > until) throw new Error(`job ${jobId} still ${r.res!.state}`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

/** Fresh clients, each on its own connection: a call that hung may have left its connection unusable. */
function connect(): void {
  for (const c of [wc, cc, rawWorker, rawCoordinator]) c?.close();
  const options = { ...CHANNEL_OPTIONS, 'grpc.use_local_subchannel_pool': 1 };
  wc = new (jukeboxProto().Worker)(worker.address, grpc.credentials.createInsecure(), options) as WorkerClient;
  cc = new (jukeboxProto().Coordinator)(coordinator.address, grpc.credentials.createInsecure(), options) as CoordinatorClient;
  rawWorker = new grpc.Client(worker.address, grpc.credentials.createInsecure(), options);
  rawCoordinator = new grpc.Client(coordinator.address, grpc.credentials.createInsecure(), options);
}

before(async () => {
  worker = await JukeboxWorker.start({ modelDir: DEFAULT_MODEL_DIR, port: 0 });
  coordinator = await Coordinator.start({ modelDirs: [DEFAULT_MODEL_DIR], workers: [worker.address], port: 0 });
  manifest = worker.model.manifest;
  modelHash = worker.model.hash;
  connect();
  const job = await unary<SubmitJobRequest, { jobId: string }>(cc, 'SubmitJob', VALID_JOB);
  assert.equal(job.code, grpc.status.OK, job.details);
  doneJob = job.res!.jobId;
  assert.equal(await waitFor(doneJob, ['JOB_STATE_SUCCEEDED', 'JOB_STATE_FAILED']), 'JOB_STATE_SUCCEEDED');
});

after(async () => {
  for (const c of [wc, cc, rawWorker, rawCoordinator]) c?.close();
  await coordinator?.close();
  await worker?.close();
});

// --- requests that a coordinator would send, to break one field at a time ----------------------------------------

const TOTAL = 32_000; // 2 s at 16 kHz
const LYRICS = cleanLyrics('Hello tiny world, sing along!', 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.,:;!?-+\'"()[] \n');

function validWindow(rng: Rng, level: number, rows: number, ctx: number): WindowItem {
  const lm = manifest.levels[level];
  const maxStart = Math.floor(TOTAL / lm.hopLength) - lm.nCtx;
  const r = lm.conditioning.upper ? manifest.levels[level + 1].hopLength / lm.hopLength : 1;
  const start = Math.max(0, Math.floor(int(rng, 0, maxStart) / r) * r);
  const label = windowLabels(manifest, level, start, TOTAL, { artistId: int(rng, 0, 5), genreIds: [int(rng, 0, 8)], lyricIds: LYRICS });
  return {
    jobId: `job-${int(rng, 0, 1e6)}`,
    windowIndex: int(rng, 0, 50),
    start,
    context: ctx === 0 ? [] : Array.from({ length: rows }, () => ({ tokens: Array.from({ length: ctx }, () => int(rng, 0, lm.codebookSize - 1)) })),
    upper: lm.conditioning.upper ? Array.from({ length: rows }, () => ({ tokens: Array.from({ length: lm.nCtx / r }, () => int(rng, 0, 255)) })) : [],
    labels: Array.from({ length: rows }, () => ({ tokens: [...label] })),
    seed: String(int(rng, 0, 2 ** 32)),
    temperature: pick(rng, [0.5, 0.99, 1.2]),
    topK: pick(rng, [0, 10, 256]),
    topP: pick(rng, [1, 0.9]),
    sampleIds: Array.from({ length: rows }, (_, i) => i),
  };
}

function validSampleWindow(rng: Rng): SampleWindowRequest {
  const level = int(rng, 0, 2);
  const nCtx = manifest.levels[level].nCtx;
  const ctx = pick(rng, [0, 1, 64, nCtx - 1]);
  const windows = Array.from({ length: int(rng, 1, 2) }, () => validWindow(rng, level, int(rng, 1, 3), ctx));
  return { modelHash, level, newTokens: int(rng, 1, nCtx - ctx), windows };
}

/** Values outside 0..max (an id range), never -1 when -1 is padding. */
function outside(rng: Rng, max: number, minusOneOk = false): number {
  const v = pick(rng, [-2, -5, -100, max + 1, max + 2, 1000, INT32_MAX, INT32_MIN, ...(minusOneOk ? [] : [-1])]);
  return v;
}

type Mutation = (req: SampleWindowRequest, rng: Rng) => void;

/** Each breaks the request in one way (none can be undone by another: exactly one is applied per request). */
const SAMPLE_WINDOW_MUTATIONS: Record<string, Mutation> = {
  'labels row length': (q, rng) => {
    const row = q.windows![0].labels![0].tokens!;
    q.windows![0].labels![0].tokens = pick(rng, [[], row.slice(0, -1), [...row, 0], new Array(100_000).fill(1)]);
  },
  'labels total_length': (q, rng) => {
    q.windows![0].labels![0].tokens![0] = pick(rng, [0, -1, 15_999, 9_600_000, INT32_MAX, INT32_MIN]);
  },
  'labels offset': (q, rng) => {
    const l = q.windows![0].labels![0].tokens!;
    l[1] = pick(rng, [-1, l[0], l[0] + 5, INT32_MAX, l[1] + 1, INT32_MIN]);
  },
  'labels sample_length': (q, rng) => {
    q.windows![0].labels![0].tokens![2] = pick(rng, [0, -1, 1, 1023, 4097, INT32_MAX]);
  },
  'labels artist id': (q, rng) => {
    q.windows![0].labels![0].tokens![3] = outside(rng, 5);
  },
  'labels genre id': (q, rng) => {
    q.windows![0].labels![0].tokens![4 + int(rng, 0, 4)] = outside(rng, 8, true);
  },
  'labels lyric token': (q, rng) => {
    const lm = manifest.levels[q.level!];
    const l = q.windows![0].labels![0].tokens!;
    if (lm.conditioning.lyricTokens > 0) l[9 + int(rng, 0, lm.conditioning.lyricTokens - 1)] = outside(rng, 78);
    else l[3] = outside(rng, 5); // no lyrics at this level: break the artist instead
  },
  'sample_ids negative': (q, rng) => {
    q.windows![0].sampleIds![0] = pick(rng, [-1, -5, INT32_MIN]);
  },
  'sample_ids repeated': (q) => {
    const w = q.windows![0];
    w.labels!.push(w.labels![0]);
    if (w.context!.length) w.context!.push(w.context![0]);
    if (w.upper!.length) w.upper!.push(w.upper![0]);
    w.sampleIds = [...w.sampleIds!.slice(0, -1), w.sampleIds!.at(-1)!, w.sampleIds!.at(-1)!];
  },
  'sample_ids count': (q, rng) => {
    q.windows![0].sampleIds = pick(rng, [[], [0, 1, 2, 3, 4, 5], new Array(200_000).fill(0).map((_, i) => i)]);
  },
  'rows per window': (q, rng) => {
    const w = q.windows![0];
    const n = pick(rng, [17, 64, 256, 1000]);
    w.labels = Array.from({ length: n }, () => w.labels![0]);
    w.context = w.context!.length ? Array.from({ length: n }, () => w.context![0]) : [];
    w.upper = w.upper!.length ? Array.from({ length: n }, () => w.upper![0]) : [];
    w.sampleIds = Array.from({ length: n }, (_, i) => i);
  },
  'no rows': (q) => {
    Object.assign(q.windows![0], { labels: [], context: [], upper: [], sampleIds: [] });
  },
  'context token': (q, rng) => {
    const w = q.windows![0];
    if (w.context!.length === 0) w.context = w.labels!.map(() => ({ tokens: [0] }));
    w.context![0].tokens = [...w.context![0].tokens!.slice(1), outside(rng, 255)];
  },
  'context rows uneven': (q) => {
    const w = q.windows![0];
    w.context = w.labels!.map((_, i) => ({ tokens: new Array(i === 0 ? 3 : 4).fill(1) }));
    if (w.context.length === 1) w.context.push({ tokens: [1] });
  },
  'context too long': (q, rng) => {
    const w = q.windows![0];
    const n = manifest.levels[q.level!].nCtx + pick(rng, [0, 1, 100_000]);
    w.context = w.labels!.map(() => ({ tokens: new Array(n).fill(1) }));
  },
  'upper tokens': (q, rng) => {
    const w = q.windows![0];
    const lm = manifest.levels[q.level!];
    if (!lm.conditioning.upper) w.upper = w.labels!.map(() => ({ tokens: new Array(32).fill(1) }));
    else if (chance(rng, 0.5)) w.upper![0].tokens = [...w.upper![0].tokens!.slice(1), outside(rng, 255)];
    else w.upper![0].tokens = pick(rng, [[], [1], new Array(33).fill(1), new Array(100_000).fill(1)]);
  },
  seed: (q, rng) => {
    q.windows![0].seed = pick(rng, ['', '-1', 'abc', '18446744073709551616', '1e5', ' 1', '0x10', '١٢', '9'.repeat(int(rng, 21, 100_000)), '\ud800']);
  },
  temperature: (q, rng) => {
    q.windows![0].temperature = pick(rng, [0, -1, NaN, Infinity, -Infinity, -1e-30, 1e39]);
  },
  top_p: (q, rng) => {
    q.windows![0].topP = pick(rng, [0, -0.5, 1.5, NaN, Infinity, -Infinity]);
  },
  top_k: (q, rng) => {
    q.windows![0].topK = pick(rng, [-1, 257, INT32_MAX, INT32_MIN]);
  },
  new_tokens: (q, rng) => {
    q.newTokens = pick(rng, [0, -1, manifest.levels[q.level!].nCtx + 1, INT32_MAX, INT32_MIN]);
  },
  'new_tokens past n_ctx': (q) => {
    const w = q.windows![0];
    const nCtx = manifest.levels[q.level!].nCtx;
    w.context = w.labels!.map(() => ({ tokens: new Array(nCtx - 4).fill(1) }));
    for (const o of q.windows!.slice(1)) o.context = o.labels!.map(() => ({ tokens: new Array(nCtx - 4).fill(1) }));
    q.newTokens = 5;
  },
  start: (q, rng) => {
    q.windows![0].start = pick(rng, [-1, -128, INT32_MIN]);
  },
  window_index: (q, rng) => {
    q.windows![0].windowIndex = pick(rng, [-1, INT32_MIN]);
  },
  'no windows': (q) => {
    q.windows = [];
  },
  'many empty windows': (q, rng) => {
    q.windows = Array.from({ length: pick(rng, [2, 1000, 50_000]) }, () => ({}));
  },
  'context lengths differ': (q, rng) => {
    const level = q.level!;
    q.windows = [validWindow(rng, level, 1, 4), validWindow(rng, level, 1, 5)];
    q.newTokens = 1;
  },
  model_hash: (q, rng) => {
    q.modelHash = pick(rng, ['', modelHash.toUpperCase(), modelHash.slice(1), weirdString(rng)]);
  },
  level: (q, rng) => {
    q.level = pick(rng, [-1, 3, 99, INT32_MAX, INT32_MIN]);
  },
};

/** Valid but odd: applied with a breaking mutation, to see them echoed or skipped safely. */
const NEUTRAL: Mutation[] = [
  (q, rng) => (q.windows![0].jobId = weirdString(rng)),
  (q) => (q.windows![0].windowIndex = INT32_MAX),
];

function validDecode(rng: Rng): DecodeRequest {
  const t = pick(rng, [1, 8, 30, 200]);
  return {
    modelHash,
    level: int(rng, 0, 2),
    rows: Array.from({ length: int(rng, 1, 3) }, () => ({ tokens: Array.from({ length: t }, () => int(rng, 0, 255)) })),
    trimStartTokens: 0,
    trimEndTokens: 0,
  };
}

const DECODE_MUTATIONS: Record<string, (q: DecodeRequest, rng: Rng) => void> = {
  'no rows': (q) => (q.rows = []),
  'too many rows': (q, rng) => (q.rows = Array.from({ length: pick(rng, [17, 100, 5000]) }, () => q.rows![0])),
  'empty row': (q) => (q.rows = q.rows!.map(() => ({ tokens: [] }))),
  'uneven rows': (q) => q.rows!.push({ tokens: [...q.rows![0].tokens!, 1] }),
  'too many tokens': (q, rng) => (q.rows = [{ tokens: new Array(pick(rng, [16_407, 50_000, 200_000, 1_000_000])).fill(3) }]),
  'token out of range': (q, rng) => (q.rows![0].tokens![0] = outside(rng, 255)),
  'trim negative': (q, rng) => (chance(rng, 0.5) ? (q.trimStartTokens = pick(rng, [-1, INT32_MIN])) : (q.trimEndTokens = pick(rng, [-1, INT32_MIN]))),
  'trim everything': (q, rng) => {
    const t = q.rows![0].tokens!.length;
    q.trimStartTokens = pick(rng, [t, INT32_MAX, Math.ceil(t / 2)]);
    q.trimEndTokens = pick(rng, [t, INT32_MAX, Math.ceil(t / 2)]);
  },
  model_hash: (q, rng) => (q.modelHash = pick(rng, ['', 'f'.repeat(64), weirdString(rng)])),
  level: (q, rng) => (q.level = pick(rng, [-1, 3, INT32_MAX, INT32_MIN])),
};

const KNOWN_GENRES = ['rock', 'pop', 'jazz', 'blues', 'classical', 'electronic', 'folk', 'ambient'];

/** Each makes a SubmitJob request invalid on its own (never with a zero or empty value: those are defaults). */
const SUBMIT_MUTATIONS: Record<string, (q: SubmitJobRequest, rng: Rng) => void> = {
  model: (q, rng) => (q.model = pick(rng, ['gpt-17', 'TINY', 'tiny ', 'x'.repeat(int(rng, 100, 100_000)), '\ud800'])),
  artist: (q, rng) => (q.artist = pick(rng, ['zzartist', `zz${'x'.repeat(int(rng, 100, 100_000))}`, 'zz\u0000zz', 'zz漢字'])),
  genres: (q, rng) =>
    (q.genres = pick(rng, [['zzgenre'], ['rock', 'zz'], [...KNOWN_GENRES], new Array(int(rng, 6, 100_000)).fill('rock'), [`zz${'g'.repeat(50_000)}`]])),
  lyrics: (q, rng) => (q.lyrics = 'la '.repeat(int(rng, 1366, 70_000))),
  duration_seconds: (q, rng) => (q.durationSeconds = pick(rng, [0, -1, -0.5, 0.5, 0.999, 600, 601, 1e9, NaN, Infinity, -Infinity, 5e-324, 1e308])),
  samples: (q, rng) => (q.samples = pick(rng, [-1, 17, 1000, INT32_MAX, INT32_MIN])),
  seed: (q, rng) => (q.seed = pick(rng, ['abc', '-1', '18446744073709551616', '1.5', ' 1', '0x10', '١٢', '9'.repeat(int(rng, 21, 100_000))])),
  sampling: (q, rng) =>
    (q.sampling = pick(rng, [
      [{ level: pick(rng, [-1, 3, INT32_MAX, INT32_MIN]) }],
      [{ level: int(rng, 0, 2), temperature: pick(rng, [-1, NaN, Infinity, -Infinity]) }],
      [{ level: int(rng, 0, 2), topP: pick(rng, [-0.5, 1.5, NaN, Infinity]) }],
      [{ level: int(rng, 0, 2), topK: pick(rng, [-1, 257, INT32_MAX]) }],
      [{ level: 1 }, { level: 1 }],
      Array.from({ length: int(rng, 4, 50_000) }, (_, i) => ({ level: i % 3 })),
    ])),
  wav_format: (q, rng) => (q.wavFormat = pick(rng, ['mp3', 'PCM16', 'float64', 'w'.repeat(int(rng, 100, 100_000))])),
  segments: (q, rng) => {
    if (chance(rng, 0.5)) {
      q.mode = 'JOB_MODE_EXACT';
      q.segments = [2, 2];
    } else {
      q.mode = 'JOB_MODE_SHARDED';
      q.segments = pick(rng, [[-1], [1, 1, 2], [1025], [INT32_MAX], [1, 1, 1, 1], new Array(10_000).fill(1)]);
    }
  },
  segment_overlap: (q, rng) => (q.segmentOverlap = pick(rng, [-0.5, 1.5, 2, NaN, Infinity, -Infinity])),
  priority: (q, rng) => (q.priority = pick(rng, [-1, 11, INT32_MAX, INT32_MIN])),
};

function weirdJobId(rng: Rng): string {
  return pick(rng, [() => weirdString(rng), () => `job-${'0'.repeat(8)}-0000-0000-0000-${int(rng, 0, 1e12)}`, () => 'job-' + 'f'.repeat(200_000), () => ''])();
}

// --- raw bodies --------------------------------------------------------------------------------------------------

const SCHEMAS: Record<string, RawSchema> = {
  TokenRow: { fields: [{ no: 1, kind: 'packed' }] },
  WindowItem: {
    fields: [
      { no: 1, kind: 'string' }, { no: 2, kind: 'varint' }, { no: 3, kind: 'varint' }, { no: 4, kind: 'message', type: 'TokenRow' },
      { no: 5, kind: 'message', type: 'TokenRow' }, { no: 6, kind: 'message', type: 'TokenRow' }, { no: 7, kind: 'string' },
      { no: 8, kind: 'float' }, { no: 9, kind: 'varint' }, { no: 10, kind: 'float' }, { no: 11, kind: 'packed' },
    ],
  },
  LevelSampling: { fields: [{ no: 1, kind: 'varint' }, { no: 2, kind: 'float' }, { no: 3, kind: 'varint' }, { no: 4, kind: 'float' }] },
  [`${WORKER}/SampleWindow`]: { fields: [{ no: 1, kind: 'string' }, { no: 2, kind: 'varint' }, { no: 3, kind: 'varint' }, { no: 4, kind: 'message', type: 'WindowItem' }] },
  [`${WORKER}/Decode`]: { fields: [{ no: 1, kind: 'string' }, { no: 2, kind: 'varint' }, { no: 3, kind: 'message', type: 'TokenRow' }, { no: 4, kind: 'varint' }, { no: 5, kind: 'varint' }] },
  [`${COORDINATOR}/SubmitJob`]: {
    fields: [
      { no: 1, kind: 'string' }, { no: 2, kind: 'string' }, { no: 3, kind: 'string' }, { no: 4, kind: 'string' }, { no: 5, kind: 'double' },
      { no: 6, kind: 'varint' }, { no: 7, kind: 'string' }, { no: 8, kind: 'message', type: 'LevelSampling' }, { no: 9, kind: 'string' },
      { no: 10, kind: 'varint' }, { no: 11, kind: 'packed' }, { no: 12, kind: 'double' }, { no: 13, kind: 'varint' },
    ],
  },
  [`${COORDINATOR}/GetJob`]: { fields: [{ no: 1, kind: 'string' }] },
  [`${COORDINATOR}/CancelJob`]: { fields: [{ no: 1, kind: 'string' }] },
  [`${COORDINATOR}/FetchTokens`]: { fields: [{ no: 1, kind: 'string' }] },
  [`${COORDINATOR}/WatchJob`]: { fields: [{ no: 1, kind: 'string' }, { no: 2, kind: 'varint' }] },
  [`${COORDINATOR}/FetchAudio`]: { fields: [{ no: 1, kind: 'string' }, { no: 2, kind: 'varint' }, { no: 3, kind: 'varint' }] },
  [`${COORDINATOR}/ListJobs`]: { fields: [{ no: 1, kind: 'varint' }, { no: 2, kind: 'string' }, { no: 3, kind: 'packed' }] },
};

/** Plausible values for some fields of raw bodies, so that some get past the first checks. */
function knownFields(path: string, rng: Rng): Record<number, () => Buffer | number> {
  if (path.startsWith(WORKER)) return { 1: () => Buffer.from(modelHash), 2: () => int(rng, 0, 2) };
  if (path === `${COORDINATOR}/SubmitJob`) return { 1: () => Buffer.from('tiny'), 2: () => Buffer.from('tiny_ensemble'), 3: () => Buffer.from(pick(rng, KNOWN_GENRES)) };
  if (/GetJob|CancelJob|FetchTokens|WatchJob|FetchAudio/.test(path)) return { 1: () => Buffer.from(doneJob) };
  return {};
}

// --- running and checking ----------------------------------------------------------------------------------------

interface Outcome {
  code: grpc.status;
  details: string;
}

interface Case {
  service: 'worker' | 'coordinator';
  method: string;
  kind: 'fields' | 'raw';
  what: string;
  /** OK is a right answer too: the request may be valid by chance. */
  mayBeValid: boolean;
  /** The one right status, where only one is (a body that is not a message of the method's type). */
  exactly?: grpc.status;
  send(): Promise<Outcome>;
}

const identity = (b: Buffer): Buffer => b;

function rawCall(client: grpc.Client, path: string, body: Buffer): Promise<Outcome & { reply?: Buffer }> {
  const [service, method] = path.split('/');
  const def = defs[service] as Record<string, protoLoader.MethodDefinition<unknown, unknown>>;
  const m = def[method];
  if (m.responseStream) {
    return stream(client.makeServerStreamRequest(`/${path}`, identity, identity, body, { deadline: Date.now() + DEADLINE_MS }) as grpc.ClientReadableStream<unknown>);
  }
  return new Promise((resolve) => {
    client.makeUnaryRequest(`/${path}`, identity, identity, body, { deadline: Date.now() + DEADLINE_MS }, (err, reply) =>
      resolve(err ? { code: err.code, details: err.details } : { code: grpc.status.OK, details: '', reply: reply as Buffer }),
    );
  });
}

function decodes(path: string, body: Buffer): boolean {
  const [service, method] = path.split('/');
  try {
    (defs[service] as Record<string, protoLoader.MethodDefinition<unknown, unknown>>)[method].requestDeserialize(body);
    return true;
  } catch {
    return false;
  }
}

/** A job a fuzz request started after all (it should not): cancelled at once so that it does not load the CPU. */
const started: string[] = [];

function buildCases(rng: Rng): Case[] {
  const cases: Case[] = [];
  const add = (c: Case): void => void cases.push(c);

  // Worker, field by field.
  const swNames = Object.keys(SAMPLE_WINDOW_MUTATIONS);
  for (let i = 0; i < 220; i++) {
    const name = swNames[i % swNames.length];
    const req = validSampleWindow(rng);
    if (chance(rng, 0.3)) pick(rng, NEUTRAL)(req, rng);
    SAMPLE_WINDOW_MUTATIONS[name](req, rng);
    add({ service: 'worker', method: 'SampleWindow', kind: 'fields', what: name, mayBeValid: false, send: () => stream(wc.SampleWindow(req, { deadline: Date.now() + DEADLINE_MS })) });
  }
  for (let i = 0; i < 40; i++) {
    // Every field random (the model hash mostly right): valid only by a fluke, which OK then answers.
    const level = chance(rng, 0.8) ? int(rng, 0, 2) : weirdInt(rng);
    const row = (): { tokens: number[] } => ({ tokens: Array.from({ length: pick(rng, [0, 1, 9, 32, 41, int(rng, 0, 300)]) }, () => (chance(rng, 0.8) ? int(rng, -1, 300) : weirdInt(rng))) });
    const rows = (): { tokens: number[] }[] => Array.from({ length: pick(rng, [0, 1, 2, int(rng, 0, 20)]) }, row);
    const req: SampleWindowRequest = {
      modelHash: chance(rng, 0.8) ? modelHash : weirdString(rng),
      level,
      newTokens: chance(rng, 0.5) ? int(rng, -2, 130) : weirdInt(rng),
      windows: Array.from({ length: pick(rng, [0, 1, 1, 2, 5]) }, () => ({
        jobId: weirdString(rng).slice(0, 1000), windowIndex: weirdInt(rng), start: chance(rng, 0.5) ? int(rng, -2, 300) : weirdInt(rng),
        context: rows(), upper: rows(), labels: rows(), seed: pick(rng, [String(int(rng, 0, 1e9)), weirdString(rng).slice(0, 100)]),
        temperature: weirdFloat(rng), topK: weirdInt(rng), topP: weirdFloat(rng), sampleIds: Array.from({ length: int(rng, 0, 4) }, () => (chance(rng, 0.7) ? int(rng, -1, 4) : weirdInt(rng))),
      })),
    };
    add({ service: 'worker', method: 'SampleWindow', kind: 'fields', what: 'random fields', mayBeValid: true, send: () => stream(wc.SampleWindow(req, { deadline: Date.now() + DEADLINE_MS })) });
  }
  const decNames = Object.keys(DECODE_MUTATIONS);
  for (let i = 0; i < 80; i++) {
    const name = decNames[i % decNames.length];
    const req = validDecode(rng);
    DECODE_MUTATIONS[name](req, rng);
    add({ service: 'worker', method: 'Decode', kind: 'fields', what: name, mayBeValid: false, send: () => unary(wc, 'Decode', req) });
  }
  for (let i = 0; i < 20; i++) {
    const t = pick(rng, [0, 1, 5, int(rng, 0, 100)]);
    const req: DecodeRequest = {
      modelHash: chance(rng, 0.8) ? modelHash : weirdString(rng),
      level: chance(rng, 0.7) ? int(rng, 0, 2) : weirdInt(rng),
      rows: Array.from({ length: pick(rng, [0, 1, 2, 20]) }, () => ({ tokens: Array.from({ length: chance(rng, 0.8) ? t : int(rng, 0, 100) }, () => (chance(rng, 0.9) ? int(rng, -1, 256) : weirdInt(rng))) })),
      trimStartTokens: chance(rng, 0.5) ? int(rng, -1, 3) : weirdInt(rng),
      trimEndTokens: chance(rng, 0.5) ? int(rng, -1, 3) : weirdInt(rng),
    };
    add({ service: 'worker', method: 'Decode', kind: 'fields', what: 'random fields', mayBeValid: true, send: () => unary(wc, 'Decode', req) });
  }
  add({ service: 'worker', method: 'Describe', kind: 'fields', what: 'empty', mayBeValid: true, send: () => unary(wc, 'Describe', {}) });

  // Coordinator, field by field.
  const subNames = Object.keys(SUBMIT_MUTATIONS);
  for (let i = 0; i < 130; i++) {
    const name = subNames[i % subNames.length];
    const req: SubmitJobRequest = { ...VALID_JOB, genres: [...VALID_JOB.genres!], sampling: [] };
    // Valid but odd lyrics, artist spelling and priority ride along with the field that breaks the request.
    if (chance(rng, 0.3)) req.lyrics = pick(rng, ['Ünïcödé ☃ 漢字', '\u0000\n\t', 'x'.repeat(4096)]);
    if (chance(rng, 0.2)) req.artist = 'Tiny Ensemble';
    if (chance(rng, 0.2)) req.priority = int(rng, 1, 10);
    SUBMIT_MUTATIONS[name](req, rng);
    add({ service: 'coordinator', method: 'SubmitJob', kind: 'fields', what: name, mayBeValid: false, send: () => unary(cc, 'SubmitJob', req) });
  }
  for (const method of ['GetJob', 'CancelJob']) {
    for (let i = 0; i < 20; i++) {
      const jobId = weirdJobId(rng);
      add({ service: 'coordinator', method, kind: 'fields', what: 'job_id', mayBeValid: false, send: () => unary(cc, method, { jobId }) });
    }
  }
  for (let i = 0; i < 20; i++) {
    const jobId = weirdJobId(rng);
    add({ service: 'coordinator', method: 'FetchTokens', kind: 'fields', what: 'job_id', mayBeValid: false, send: () => stream(cc.FetchTokens({ jobId }, { deadline: Date.now() + DEADLINE_MS })) });
  }
  for (let i = 0; i < 25; i++) {
    const known = i % 3 === 0;
    const req = known
      ? { jobId: doneJob, afterSequence: pick(rng, [2 ** 53, 2 ** 60, 2 ** 63]) }
      : { jobId: weirdJobId(rng), afterSequence: pick(rng, [0, 1, 2 ** 60]) };
    add({ service: 'coordinator', method: 'WatchJob', kind: 'fields', what: known ? 'after_sequence' : 'job_id', mayBeValid: false, send: () => stream(cc.WatchJob(req, { deadline: Date.now() + DEADLINE_MS })) });
  }
  for (let i = 0; i < 25; i++) {
    const known = i % 2 === 0;
    const req = known ? { jobId: doneJob, sample: pick(rng, [-1, 1, 16, INT32_MAX, INT32_MIN]) } : { jobId: weirdJobId(rng), sample: weirdInt(rng) };
    add({ service: 'coordinator', method: 'FetchAudio', kind: 'fields', what: known ? 'sample' : 'job_id', mayBeValid: false, send: () => stream(cc.FetchAudio(req, { deadline: Date.now() + DEADLINE_MS })) });
  }
  for (let i = 0; i < 10; i++) {
    // Paging fields (where the proto has them): odd values may be refused or taken.
    const req = { pageSize: weirdInt(rng), pageToken: weirdString(rng).slice(0, 2000), states: chance(rng, 0.5) ? [pick(rng, ['JOB_STATE_RUNNING', 'JOB_STATE_SUCCEEDED', 'JOB_STATE_UNSPECIFIED'])] : [] };
    add({ service: 'coordinator', method: 'ListJobs', kind: 'fields', what: 'paging', mayBeValid: true, send: () => unary(cc, 'ListJobs', req) });
  }

  // Raw bodies, for every method of both services.
  for (const [service, label, n] of [[WORKER, 'worker', 40], [COORDINATOR, 'coordinator', 25]] as const) {
    for (const method of Object.keys(defs[service])) {
      const path = `${service}/${method}`;
      const schema = SCHEMAS[path] ?? { fields: [] };
      for (let i = 0; i < n; i++) {
        const message = (): Buffer => rawMessage(rng, schema, SCHEMAS, 0, knownFields(path, rng));
        const body = chance(rng, 0.5) ? message() : garbageBody(rng, message);
        const ok = decodes(path, body);
        add({
          service: label,
          method,
          kind: 'raw',
          what: `raw ${body.length} bytes ${body.subarray(0, 24).toString('hex')}`,
          mayBeValid: ok,
          ...(ok ? {} : { exactly: grpc.status.INVALID_ARGUMENT }),
          send: async () => {
            const r = await rawCall(label === 'worker' ? rawWorker : rawCoordinator, path, body);
            if (r.code === grpc.status.OK && method === 'SubmitJob' && 'reply' in r && r.reply) {
              const job = (defs[service] as Record<string, protoLoader.MethodDefinition<unknown, { jobId: string }>>)[method].responseDeserialize(r.reply);
              started.push(job.jobId);
              await unary(cc, 'CancelJob', { jobId: job.jobId });
            }
            return r;
          },
        });
      }
    }
  }
  return cases;
}

test('both services answer several hundred malformed requests with a status a caller can act on, and keep serving', { timeout: 120_000 }, async (t) => {
  const rng = mulberry32(SEED);
  const cases = buildCases(rng);
  assert.ok(cases.length >= 500, `${cases.length} cases`);
  const counts = new Map<string, Map<string, number>>();
  const failures: string[] = [];
  const t0 = performance.now();
  for (const c of cases) {
    const tc = performance.now();
    const r = await c.send();
    if (process.env.FUZZ_DEBUG) process.stderr.write(`${((performance.now() - tc) / 1000).toFixed(2)} s ${c.service}.${c.method} ${c.what.slice(0, 60)} -> ${grpc.status[r.code]}\n`);
    const key = `${c.service} ${c.method} (${c.kind})`;
    const byStatus = counts.get(key) ?? new Map<string, number>();
    byStatus.set(grpc.status[r.code], (byStatus.get(grpc.status[r.code]) ?? 0) + 1);
    counts.set(key, byStatus);
    const show = `${c.service}.${c.method} [${c.what.slice(0, 80)}] -> ${grpc.status[r.code]} ${JSON.stringify((r.details ?? '').slice(0, 200))}`;
    if (r.code === grpc.status.OK) {
      if (!c.mayBeValid) failures.push(`accepted: ${show}`);
      continue;
    }
    if (r.code === grpc.status.DEADLINE_EXCEEDED || r.code === grpc.status.UNAVAILABLE) connect();
    if (c.exactly !== undefined ? r.code !== c.exactly : !ALLOWED.has(r.code)) failures.push(`status: ${show}`);
    else if (!r.details || r.details.length > MAX_DETAILS) failures.push(`message (${r.details?.length ?? 0} chars): ${show}`);
  }
  const seconds = (performance.now() - t0) / 1000;
  for (const [key, byStatus] of [...counts].sort()) {
    t.diagnostic(`${key}: ${[...byStatus].sort().map(([s, n]) => `${s} ${n}`).join(', ')}`);
  }
  const total = (service: string): Map<string, number> => {
    const out = new Map<string, number>();
    for (const [key, byStatus] of counts) if (key.startsWith(service)) for (const [s, n] of byStatus) out.set(s, (out.get(s) ?? 0) + n);
    return out;
  };
  for (const service of ['worker', 'coordinator']) {
    const m = total(service);
    t.diagnostic(`${service}: ${[...m.values()].reduce((a, b) => a + b, 0)} requests: ${[...m].sort().map(([s, n]) => `${s} ${n}`).join(', ')}`);
  }
  t.diagnostic(`${cases.length} requests in ${seconds.toFixed(1)} s; jobs a fuzz request started (cancelled): ${started.length}`);

  // Both still serve.
  const info = await unary<object, { modelHash: string }>(wc, 'Describe', {});
  assert.equal(info.code, grpc.status.OK);
  const window = validSampleWindow(mulberry32(1));
  window.newTokens = 1;
  const sampled = await stream(wc.SampleWindow(window, { deadline: Date.now() + DEADLINE_MS }));
  assert.equal(sampled.code, grpc.status.OK, sampled.details);
  const decoded = await unary<DecodeRequest, { audio: Buffer[] }>(wc, 'Decode', { modelHash, level: 0, rows: [{ tokens: new Array(64).fill(5) }], trimStartTokens: 0, trimEndTokens: 0 });
  assert.equal(decoded.code, grpc.status.OK, decoded.details);
  assert.equal(decoded.res!.audio[0].length, 64 * manifest.levels[0].hopLength * 4);
  const job = await unary<SubmitJobRequest, { jobId: string }>(cc, 'SubmitJob', { ...VALID_JOB, seed: '10' });
  assert.equal(job.code, grpc.status.OK, job.details);
  assert.equal(await waitFor(job.res!.jobId, ['JOB_STATE_SUCCEEDED', 'JOB_STATE_FAILED', 'JOB_STATE_CANCELLED']), 'JOB_STATE_SUCCEEDED');
  const audio = await stream(cc.FetchAudio({ jobId: job.res!.jobId, sample: 0 }, { deadline: Date.now() + DEADLINE_MS }));
  assert.equal(audio.code, grpc.status.OK, audio.details);
  assert.ok(audio.messages.length > 0);

  assert.deepEqual(failures.slice(0, 30), [], `${failures.length} of ${cases.length} answers were wrong`);
});
