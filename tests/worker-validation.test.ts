// A worker validates what it is sent as the coordinator validates what it is asked (issue 10, part 2): a stranger
// who learns the model hash from Describe and calls SampleWindow or Decode directly gets the status each case
// should get, with a message naming the field and nothing of the graphs' insides. And nothing a coordinator sends
// is refused: every window of planned jobs (exact and sharded, per-level label sets, prefix lyrics) passes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { JukeboxWorker, inferenceStatus } from '../worker/worker-server.js';
import { InferenceError } from '../worker/inference-pool.js';
import { DEFAULT_MODEL_DIR, readModelFolder } from '../models/model-folder.js';
import { CHANNEL_OPTIONS, jukeboxProto } from '../proto/index.js';
import type { WorkerClient } from '../proto/generated/jukebox/v1/Worker.js';
import type { WindowItem } from '../proto/generated/jukebox/v1/WindowItem.js';
import type { SampleWindowRequest } from '../proto/generated/jukebox/v1/SampleWindowRequest.js';
import type { DecodeRequest } from '../proto/generated/jukebox/v1/DecodeRequest.js';
import { resolveLabels, validateJobRequest } from '../shared/job-spec.js';
import { planSong } from '../shared/plan.js';
import { windowLabels } from '../shared/labels.js';
import { planDecodeChunks } from '../shared/decode-plan.js';
import type { JobRequest, Manifest } from '../shared/types.js';
import { DEFAULT_DECODE_CHUNK_TOKENS, MAX_WINDOW_ROWS, checkLabelVector, defaultMaxDecodeTokens, labelRanges } from '../worker/request-limits.js';
import { mulberry32, int, pick } from './helpers/fuzz.js';
import { setQuiet } from '../server/log.js';

setQuiet(true);

/** What the graphs' errors are made of (onnxruntime: "Non-zero status code returned while running Gather node. Name:'/y_emb/...'"). */
const INTERNAL_NAMES = /Gather|node|onnx|Name:|y_emb|\/prime_prior|status code|indices/i;

let worker: JukeboxWorker;
/** A worker with room for 256 rows per batch: the batch limit is not what refuses a 256-row window there. */
let wide: JukeboxWorker;
let wc: WorkerClient;
let widec: WorkerClient;
let manifest: Manifest;
let hash: string;

const client = (address: string): WorkerClient => new (jukeboxProto().Worker)(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS) as WorkerClient;

before(async () => {
  worker = await JukeboxWorker.start({ modelDir: DEFAULT_MODEL_DIR });
  wide = await JukeboxWorker.start({ modelDir: DEFAULT_MODEL_DIR, levels: [0], decode: false, maxBatchRows: 256 });
  wc = client(worker.address);
  widec = client(wide.address);
  manifest = worker.model.manifest;
  hash = worker.model.hash;
});

after(async () => {
  wc?.close();
  widec?.close();
  await wide?.close();
  await worker?.close();
});

const TOTAL = 32_000; // a 2 s song at 16 kHz

/** A window as the coordinator sends it (shared/labels.ts windowLabels), `rows` rows, `ctx` context tokens. */
function windowItem(level: number, rows = 1, ctx = 0, start = 0): WindowItem {
  const lm = manifest.levels[level];
  const label = windowLabels(manifest, level, start, TOTAL, { artistId: 1, genreIds: [2], lyricIds: [8, 9, 10] });
  const ratio = lm.conditioning.upper ? manifest.levels[level + 1].hopLength / lm.hopLength : 0;
  return {
    jobId: 'job-1',
    windowIndex: 0,
    start,
    context: ctx ? Array.from({ length: rows }, () => ({ tokens: new Array(ctx).fill(7) })) : [],
    upper: ratio ? Array.from({ length: rows }, () => ({ tokens: new Array(lm.nCtx / ratio).fill(3) })) : [],
    labels: Array.from({ length: rows }, () => ({ tokens: [...label] })),
    seed: '9',
    temperature: 1,
    topK: 0,
    topP: 1,
    sampleIds: Array.from({ length: rows }, (_, i) => i),
  };
}

function request(level: number, windows: WindowItem[], newTokens: number): SampleWindowRequest {
  return { modelHash: hash, level, newTokens, windows };
}

async function sample(c: WorkerClient, req: SampleWindowRequest): Promise<number[][]> {
  let rows: number[][] = [];
  for await (const m of c.SampleWindow(req)) if (m.result) rows = m.result.rows.map((r: { tokens: number[] }) => r.tokens);
  return rows;
}

/** The call fails with `code` and a message matching `message`, short and free of the graphs' names. */
async function refused(run: Promise<unknown>, code: grpc.status, message: RegExp): Promise<string> {
  let details = '';
  await assert.rejects(run, (e: grpc.ServiceError) => {
    assert.equal(grpc.status[e.code], grpc.status[code], e.details);
    assert.match(e.details, message);
    assert.doesNotMatch(e.details, INTERNAL_NAMES);
    assert.ok(e.details.length < 400, `${e.details.length} chars`);
    details = e.details;
    return true;
  });
  return details;
}

const sampleRefused = (c: WorkerClient, req: SampleWindowRequest, code: grpc.status, message: RegExp): Promise<string> => refused(sample(c, req), code, message);

function decode(req: DecodeRequest): Promise<Buffer[]> {
  return new Promise((resolve, reject) => wc.Decode(req, (e, r) => (e ? reject(e) : resolve(r!.audio))));
}

/** One label vector of a level-`level` window, one value changed. */
function withLabel(level: number, index: number, value: number, start = 0): WindowItem {
  const it = windowItem(level, 1, 0, start);
  it.labels![0].tokens![index] = value;
  return it;
}

test('256 rows × 64 tokens: over max_batch_rows RESOURCE_EXHAUSTED; where the batch fits, over a job\'s 16 rows per window INVALID_ARGUMENT; 16 windows of 16 rows still run', async () => {
  const I = grpc.status.INVALID_ARGUMENT;
  await sampleRefused(wc, request(0, [windowItem(0, 256, 64)], 64), grpc.status.RESOURCE_EXHAUSTED, /^windows: 256 rows in all \(1 windows\) exceed this worker's max_batch_rows 16/);
  await sampleRefused(wc, request(0, Array.from({ length: 16 }, () => windowItem(0, 16, 64)), 64), grpc.status.RESOURCE_EXHAUSTED, /max_batch_rows 16/);
  await sampleRefused(widec, request(0, [windowItem(0, 256, 64)], 64), I, /^windows\[0\]\.labels: 256 rows; a window holds at most 16 \(a job's samples\)/);
  await sampleRefused(widec, request(0, [windowItem(0, 1, 64), windowItem(0, 17, 64)], 64), I, /^windows\[1\]\.labels: 17 rows; a window holds at most 16/);
  assert.equal(MAX_WINDOW_ROWS, 16);
  // What a wide worker is for: many jobs' windows in one batch.
  const rows = await sample(widec, request(0, Array.from({ length: 16 }, () => windowItem(0, 16, 64)), 1));
  assert.equal(rows.length, 256);
});

test('a 200,000-token decode is RESOURCE_EXHAUSTED naming max_decode_tokens; the coordinator\'s chunk with its margins is decoded', async () => {
  const limit = defaultMaxDecodeTokens(manifest);
  const margin = Math.max(...manifest.vqvae.decoders.map((d) => d.marginTokens));
  assert.equal(limit, DEFAULT_DECODE_CHUNK_TOKENS + 2 * margin);
  await refused(decode({ modelHash: hash, level: 0, rows: [{ tokens: new Array(200_000).fill(1) }] }), grpc.status.RESOURCE_EXHAUSTED, new RegExp(`^rows: 200000 tokens per row exceed this worker's max_decode_tokens ${limit}$`));
  await refused(decode({ modelHash: hash, level: 0, rows: [{ tokens: new Array(limit + 1).fill(1) }] }), grpc.status.RESOURCE_EXHAUSTED, /max_decode_tokens/);
  // The longest chunk a default coordinator plans (16384 tokens, a margin each side) fits.
  const chunks = planDecodeChunks(3 * DEFAULT_DECODE_CHUNK_TOKENS, DEFAULT_DECODE_CHUNK_TOKENS, manifest.vqvae.decoders[0].marginTokens);
  const longest = Math.max(...chunks.map((c) => c.inEnd - c.inStart));
  assert.ok(longest <= limit, `${longest} > ${limit}`);
  const audio = await decode({ modelHash: hash, level: 0, rows: [{ tokens: new Array(longest).fill(1) }], trimStartTokens: margin, trimEndTokens: margin });
  assert.equal(audio[0].length, (longest - 2 * margin) * manifest.levels[0].hopLength * 4);
  // Rows: a job's samples at most, all of one length.
  const I = grpc.status.INVALID_ARGUMENT;
  await refused(decode({ modelHash: hash, level: 0, rows: Array.from({ length: 17 }, () => ({ tokens: [1, 2] })) }), I, /^rows: 17 rows; a decode holds at most 16/);
  await refused(decode({ modelHash: hash, level: 0, rows: [{ tokens: [1, 2] }, { tokens: [1] }] }), I, /^rows\[1\]: 1 tokens, but rows\[0\] has 2/);
  await refused(decode({ modelHash: hash, level: 0, rows: [{ tokens: [1, 256] }] }), I, /^rows\[0\]: tokens must be in 0\.\.255/);
  await refused(decode({ modelHash: hash, level: 0, rows: [{ tokens: [1, 2] }], trimStartTokens: -1 }), I, /^trim_start_tokens: must be >= 0, got -1/);
  await refused(decode({ modelHash: hash, level: 0, rows: [{ tokens: [1, 2] }], trimStartTokens: 1, trimEndTokens: 1 }), I, /^trim_start_tokens\/trim_end_tokens/);
  // The limit is a worker option.
  await assert.rejects(JukeboxWorker.start({ modelDir: DEFAULT_MODEL_DIR, maxDecodeTokens: 0 }), /maxDecodeTokens must be an integer >= 1, got 0/);
});

test('forged out-of-range label ids and fields are INVALID_ARGUMENT naming windows[w].labels[row][index], without the graphs\' node names', async () => {
  const I = grpc.status.INVALID_ARGUMENT;
  // Each of these used to reach the conditioner: an artist or genre id past the embedding table failed INTERNAL
  // with the Gather node's name, a lyric id past the vocabulary likewise.
  await sampleRefused(wc, request(0, [withLabel(0, 3, 999)], 1), I, /^windows\[0\]\.labels\[0\]\[3\]: artist id 999 is not in 0\.\.5 \(job job-1, window 0\)$/);
  await sampleRefused(wc, request(1, [withLabel(1, 3, -1)], 1), I, /^windows\[0\]\.labels\[0\]\[3\]: artist id -1 is not in 0\.\.5/);
  await sampleRefused(wc, request(0, [withLabel(0, 4, 999)], 1), I, /^windows\[0\]\.labels\[0\]\[4\]: genre id 999 is not in 0\.\.8 or -1 \(padding\)/);
  await sampleRefused(wc, request(2, [withLabel(2, 8, 9)], 1), I, /^windows\[0\]\.labels\[0\]\[8\]: genre id 9 is not in 0\.\.8 or -1/);
  await sampleRefused(wc, request(2, [withLabel(2, 9, 999)], 1), I, /^windows\[0\]\.labels\[0\]\[9\]: lyric token 999 is not in 0\.\.78 \(0 = padding\)/);
  await sampleRefused(wc, request(2, [withLabel(2, 40, -1)], 1), I, /^windows\[0\]\.labels\[0\]\[40\]: lyric token -1 is not in 0\.\.78/);
  // The timing fields: the song's length within the model's durations, the window inside it, its length the level's.
  await sampleRefused(wc, request(2, [withLabel(2, 0, -1)], 1), I, /^windows\[0\]\.labels\[0\]\[0\]: total_length -1 is not in \[16000, 9600000\)/);
  await sampleRefused(wc, request(2, [withLabel(2, 0, 9_600_000)], 1), I, /labels\[0\]\[0\]: total_length 9600000/);
  await sampleRefused(wc, request(2, [withLabel(2, 1, 40_000)], 1), I, /^windows\[0\]\.labels\[0\]\[1\]: offset 40000 is not in 0\.\.31999/);
  await sampleRefused(wc, request(2, [withLabel(2, 1, 128, 0)], 1), I, /^windows\[0\]\.labels\[0\]\[1\]: offset 128 is not the window's start 0 × hop_length 128 = 0/);
  await sampleRefused(wc, request(2, [withLabel(2, 2, 1)], 1), I, /^windows\[0\]\.labels\[0\]\[2\]: sample_length 1 is not n_ctx × hop_length = 16384/);
  // A later row and a later window are named as such.
  const two = windowItem(0, 2);
  two.labels![1].tokens![3] = 6;
  await sampleRefused(wc, request(0, [windowItem(0), two], 1), I, /^windows\[1\]\.labels\[1\]\[3\]: artist id 6 is not in 0\.\.5/);
  await sampleRefused(wc, request(0, [{ ...windowItem(0), labels: [{ tokens: [1, 2] }] }], 1), I, /^windows\[0\]\.labels\[0\]: 2 values; level 0 takes 9/);
  // Other fields, range-checked alike.
  await sampleRefused(wc, request(0, [{ ...windowItem(0), windowIndex: -3 }], 1), I, /^windows\[0\]\.window_index: must be >= 0, got -3/);
  await sampleRefused(wc, request(0, [{ ...windowItem(0), temperature: Infinity }], 1), I, /^windows\[0\]\.temperature: must be a finite number > 0, got Infinity/);
  await sampleRefused(wc, request(2, [{ ...windowItem(2), upper: [{ tokens: [1] }] }], 1), I, /^windows\[0\]\.upper: level 2 takes no upper-level tokens/);
  await sampleRefused(wc, request(0, [windowItem(0, 1, 128)], 1), I, /^windows\[0\]\.context: 128 tokens per row; at most n_ctx - 1 = 127/);
  await sampleRefused(wc, request(0, [windowItem(0)], 129), I, /^new_tokens: 129 exceeds n_ctx 128/);
  // The same windows with their labels intact run.
  assert.equal((await sample(wc, request(2, [windowItem(2, 2)], 1))).length, 2);
});

test('negative sample ids are INVALID_ARGUMENT naming sample_ids[i] (they used to fail INTERNAL in the RNG); repeated ones too', async () => {
  const I = grpc.status.INVALID_ARGUMENT;
  await sampleRefused(wc, request(0, [{ ...windowItem(0), sampleIds: [-1] }], 1), I, /^windows\[0\]\.sample_ids\[0\]: -1 is not a non-negative integer \(job job-1, window 0\)$/);
  await sampleRefused(wc, request(0, [{ ...windowItem(0, 3), sampleIds: [0, 1, -2147483648] }], 1), I, /^windows\[0\]\.sample_ids\[2\]: -2147483648 is not a non-negative integer/);
  await sampleRefused(wc, request(0, [{ ...windowItem(0, 2), sampleIds: [4, 4] }], 1), I, /^windows\[0\]\.sample_ids\[1\]: 4 is given twice/);
  await sampleRefused(wc, request(0, [{ ...windowItem(0, 2), sampleIds: [0] }], 1), I, /^windows\[0\]\.sample_ids: 1 ids for 2 rows/);
  // Any distinct ids run (the coordinator sends 0..samples-1; a resampled row keeps its id).
  assert.equal((await sample(wc, request(0, [{ ...windowItem(0, 2), sampleIds: [7, 2_000_000_000] }], 1))).length, 2);
});

test('a genre id of -5 is INVALID_ARGUMENT naming the slot; -1 stays the padding', async () => {
  const details = await sampleRefused(wc, request(0, [withLabel(0, 4, -5)], 1), grpc.status.INVALID_ARGUMENT, /^windows\[0\]\.labels\[0\]\[4\]: genre id -5 is not in 0\.\.8 or -1 \(padding\)/);
  assert.match(details, /job job-1/);
  await sampleRefused(wc, request(1, [withLabel(1, 7, -2)], 1), grpc.status.INVALID_ARGUMENT, /labels\[0\]\[7\]: genre id -2 is not in 0\.\.8 or -1/);
  const padded = windowItem(0);
  assert.deepEqual(padded.labels![0].tokens!.slice(4), [2, -1, -1, -1, -1]);
  assert.equal((await sample(wc, request(0, [padded], 1))).length, 1);
});

test('echoed values are cut short: a 100,000-character model hash or job id comes back as 61 characters and "..."', async () => {
  const long = 'h'.repeat(100_000);
  const d1 = await sampleRefused(wc, { ...request(0, [windowItem(0)], 1), modelHash: long }, grpc.status.FAILED_PRECONDITION, /^model_hash: worker holds model tiny with hash [0-9a-f]{64}, not h{61}\.\.\.$/);
  assert.ok(d1.length < 200);
  await refused(decode({ modelHash: long, level: 0, rows: [{ tokens: [1] }] }), grpc.status.FAILED_PRECONDITION, /^model_hash: .* not h{61}\.\.\.$/);
  await sampleRefused(wc, request(0, [{ ...windowItem(0), jobId: 'j'.repeat(100_000), sampleIds: [-1] }], 1), grpc.status.INVALID_ARGUMENT, /\(job j{61}\.\.\., window 0\)$/);
  await sampleRefused(wc, request(7, [windowItem(0)], 1), grpc.status.FAILED_PRECONDITION, /^level: worker does not host level 7/);
  await refused(decode({ modelHash: hash, level: 9, rows: [{ tokens: [1] }] }), grpc.status.FAILED_PRECONDITION, /^level: worker has no VQ-VAE decoder for level 9/);
});

test('an unexpected inference error answers INTERNAL with a reference, not the runtime\'s text; shutdown and a dead thread UNAVAILABLE', () => {
  const onnx = new InferenceError("Non-zero status code returned while running Gather node. Name:'/y_emb/artist_emb/emb/Gather' Status Message: indices element out of data bounds, idx=999 must be within the inclusive range [-6,5]", 'Error');
  const e = inferenceStatus(onnx, 'SampleWindow');
  assert.equal(e.code, grpc.status.INTERNAL);
  assert.match(e.details, /^SampleWindow: inference failed \(ref [0-9a-f]{8} in the worker's log\)$/);
  assert.doesNotMatch(e.details, INTERNAL_NAMES);
  const plain = inferenceStatus(new RangeError('uniform: every argument must be a uint32, got (0, 1, -3, 0, 0)'), 'Decode');
  assert.equal(plain.code, grpc.status.INTERNAL);
  assert.doesNotMatch(plain.details, /uniform|uint32/);
  assert.equal(inferenceStatus(new InferenceError('worker is shutting down', 'Closing'), 'Decode').code, grpc.status.UNAVAILABLE);
  const died = inferenceStatus(new InferenceError("inference thread died: Name:'/x/Gather'", 'ThreadDied'), 'Decode');
  assert.equal(died.code, grpc.status.UNAVAILABLE);
  assert.doesNotMatch(died.details, INTERNAL_NAMES);
  assert.equal(inferenceStatus(new InferenceError('window cancelled', 'WindowCancelledError'), 'SampleWindow').code, grpc.status.CANCELLED);
});

/** Every window of planned jobs: the label vectors the coordinator would send pass the worker's checks. */
function checkPlannedJobs(m: Manifest, seed: number, jobs: number): number {
  const rng = mulberry32(seed);
  const artists = Object.keys(m.labels.artists);
  const genres = Object.keys(m.labels.genres);
  // A level with its own, smaller label set refuses more genre words than it has slots (validateJobRequest).
  const maxWords = Math.min(m.labels.maxGenreWords, ...m.levels.map((l) => l.labels?.maxGenreWords ?? Infinity));
  let checked = 0;
  for (let j = 0; j < jobs; j++) {
    const durationSeconds = pick(rng, [m.labels.minDurationSeconds, m.labels.minDurationSeconds + rng() * 10, 20 + rng() * 40, m.labels.maxDurationSeconds - 0.01]);
    const req: JobRequest = {
      model: m.modelId,
      artist: pick(rng, artists),
      genres: Array.from({ length: int(rng, 0, maxWords) }, () => pick(rng, genres)),
      lyrics: pick(rng, ['', 'Hello tiny world, sing along!', 'la '.repeat(1000)]),
      durationSeconds,
      samples: int(rng, 1, 16),
      seed: 1,
      sampling: [],
    };
    const spec = validateJobRequest(req, m);
    const labels = resolveLabels(spec, m);
    const totalLength = Math.floor(spec.durationSeconds * m.sampleRate);
    const layouts = [undefined, { segments: m.levels.map((_, l) => (l === m.levels.length - 1 ? 1 : int(rng, 1, 6))), overlap: pick(rng, [0, 0.25, 0.5]) }];
    for (const layout of layouts) {
      let plan;
      try {
        plan = planSong(m, spec.durationSeconds, layout);
      } catch {
        continue; // too short for that many segments
      }
      for (const lp of plan.levels) {
        const ranges = labelRanges(m, lp.level);
        for (const w of lp.windows) {
          const v = windowLabels(m, lp.level, w.start, totalLength, labels[0][lp.level]);
          assert.equal(v.length, ranges.length);
          const why = checkLabelVector(v, ranges, w.start);
          assert.equal(why, null, `${m.modelId} ${durationSeconds} s level ${lp.level} window ${w.start}: ${why}`);
          checked++;
        }
      }
    }
  }
  return checked;
}

test('every label vector a coordinator sends passes: tiny, and a model with per-level label sets and prefix lyrics', async () => {
  const tiny = (await readModelFolder(DEFAULT_MODEL_DIR)).manifest;
  assert.ok(checkPlannedJobs(tiny, 1, 12) > 1000);
  // As 1b_lyrics: the top prior's own (v3-like) label set with lyrics as a prefix, upsamplers with a smaller set
  // of their own (v2) that maps unknown names to 0.
  const variant = structuredClone(tiny);
  const top = variant.levels[2];
  top.conditioning.lyrics = 'prefix';
  top.vocabOffset = Array.from(variant.lyrics!.vocab).length + 1;
  for (const l of [0, 1]) {
    variant.levels[l].labels = { version: 'v2', artists: { unknown: 0, tiny_ensemble: 3 }, genres: { unknown: 0, rock: 1 }, maxGenreWords: 3, minDurationSeconds: 0, maxDurationSeconds: 100 };
    variant.levels[l].labelLength = 4 + 3;
  }
  assert.ok(checkPlannedJobs(variant, 2, 12) > 1000);
  const ranges = labelRanges(variant, 0);
  assert.equal(ranges.maxArtist, 3);
  assert.equal(ranges.genreSlots, 3);
  assert.match(checkLabelVector([TOTAL, 0, 1024, 4, -1, -1, -1], ranges, 0) ?? '', /^\[3\]: artist id 4 is not in 0\.\.3/);
});
