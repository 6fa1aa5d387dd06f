// Jukebox's other sample.py modes, end to end on a local cluster (real worker processes over gRPC): primed
// (an audio prompt encoded at every level), continue (an earlier song's tokens, to a longer song) and
// upsample-only (given top-level tokens). The random fixture model (tests/fixtures/tiny-random) has encoders.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { fileURLToPath } from 'node:url';
import { startLocalCluster, type LocalCluster } from '../client/local-cluster.js';
import { CoordinatorClient, type SubmitRequest } from '../client/coordinator-client.js';
import { GrpcWorkerConnection } from '../coordinator/grpc-worker.js';
import { readModelFolder } from '../models/model-folder.js';
import { decodeWav, encodeWav } from '../shared/wav.js';
import { resample } from '../shared/prompt-audio.js';
import type { Manifest } from '../shared/types.js';

const MODEL = fileURLToPath(new URL('./fixtures/tiny-random', import.meta.url));
let cluster: LocalCluster;
let client: CoordinatorClient;
let manifest: Manifest;
let hash: string;

before(async () => {
  const folder = await readModelFolder(MODEL);
  manifest = folder.manifest;
  hash = folder.hash;
  cluster = await startLocalCluster({ modelDir: MODEL, workers: 2 });
  client = new CoordinatorClient(cluster.coordinator.address);
});

after(async () => {
  client.close();
  await cluster.close();
});

const base = (seconds: number, seed = '7'): SubmitRequest => ({ durationSeconds: seconds, seed, samples: 2, artist: 'unknown', sampling: [] });

async function run(req: SubmitRequest): Promise<{ tokens: number[][][]; wav: Float32Array[]; job: Awaited<ReturnType<CoordinatorClient['get']>> }> {
  const submitted = await client.submit(req);
  let job = submitted;
  for await (const j of client.watch(submitted.jobId)) job = j;
  assert.equal(job.state, 'JOB_STATE_SUCCEEDED', job.error);
  const tokens = await client.fetchTokens(job.jobId);
  const wav = [0, 1].map((r) => r).slice(0, job.samples);
  return { tokens, wav: await Promise.all(wav.map(async (r) => decodeWav(await client.fetchAudio(job.jobId, r)).samples)), job };
}

const given = (levels: number[][][], only?: number) => ({
  levels: levels.flatMap((rows, level) => (only === undefined || only === level ? [{ level, rows: rows.map((tokens) => ({ tokens })) }] : [])),
});

let short: Awaited<ReturnType<typeof run>>;

test('continue: the shorter song\'s tokens are the prefix of the longer one\'s, every level and row', async () => {
  short = await run(base(3));
  const long = await run({ ...base(5), continueFrom: given(short.tokens) });
  assert.equal(long.job.start?.mode, 'START_MODE_CONTINUE');
  assert.equal(long.job.start?.givenSeconds, 3);
  short.tokens.forEach((rows, level) =>
    rows.forEach((row, r) => {
      assert.equal(long.tokens[level][r].length, (row.length * 5) / 3, `level ${level}: the song is longer`);
      assert.deepEqual(long.tokens[level][r].slice(0, row.length), row, `level ${level} row ${r}: the prefix is the shorter song`);
    }),
  );
  // Only what is new was sampled: the plan skipped the windows inside the given tokens.
  const windows = (job: typeof long.job): number[] => job.levels.map((l) => l.windowsTotal);
  const fresh = await run(base(5));
  windows(long.job).forEach((n, level) => assert.ok(n < windows(fresh.job)[level], `level ${level}: ${n} windows, a fresh 5 s song has ${windows(fresh.job)[level]}`));
});

test('upsample-only: given an earlier job\'s top-level tokens and its seed, the levels below and the audio come out byte for byte', async () => {
  const top = manifest.levels.length - 1;
  const up = await run({ ...base(0), upsample: given(short.tokens, top) });
  assert.equal(up.job.durationSeconds, 3, 'the duration is the tokens\' length');
  assert.equal(up.job.start?.mode, 'START_MODE_UPSAMPLE');
  assert.deepEqual(up.tokens, short.tokens);
  assert.deepEqual(up.wav, short.wav);
  assert.equal(up.job.levels[top].windowsTotal, 0, 'the top level samples nothing');
});

test('primed: the prompt\'s tokens are the song\'s first tokens, and its audio is the prompt\'s decode up to the decoder margin', async () => {
  // The prompt: the short song's row 0 at 22.05 kHz (resampled by the coordinator), 2 s of it kept.
  const prompt = encodeWav(resample(short.wav[0], manifest.sampleRate, 22050), 22050, 'float32');
  const primed = await run({ ...base(4, '11'), prompt: { wav: prompt, seconds: 2 } });
  const again = await run({ ...base(4, '12'), prompt: { wav: prompt, seconds: 2 } });
  assert.equal(primed.job.start?.mode, 'START_MODE_PRIMED');
  // Reference: the same resampled prompt through a worker's encoders and decoder, directly.
  const audio = resample(decodeWav(prompt).samples, 22050, manifest.sampleRate).subarray(0, 2 * manifest.sampleRate);
  const worker = new GrpcWorkerConnection(cluster.workerAddresses[0]);
  try {
    const reference = await Promise.all(manifest.levels.map((lm) => worker.encode({ modelHash: hash, level: lm.level, rows: [audio] }, 30_000).then((r) => Array.from(r[0]))));
    reference.forEach((tokens, level) => {
      for (const job of [primed, again]) {
        for (const row of job.tokens[level]) assert.deepEqual(row.slice(0, tokens.length), tokens, `level ${level}: the prompt's tokens, unchanged, in every row`);
      }
      assert.notDeepEqual(primed.tokens[level][0].slice(tokens.length), again.tokens[level][0].slice(tokens.length), `level ${level}: after the prompt, each seed samples its own`);
    });
    const decoded = await new Promise<Float32Array>((resolve, reject) =>
      worker.decode({ modelHash: hash, level: 0, rows: [Int32Array.from(reference[0])], trimStart: 0, trimEnd: 0 }, 30_000, (f, a) => (f ? reject(new Error(f.message)) : resolve(a![0]))),
    );
    const margin = manifest.vqvae.decoders[0].marginTokens * manifest.levels[0].hopLength;
    const keep = decoded.length - margin;
    for (const job of [primed, again]) {
      let worst = 0;
      for (let i = 0; i < keep; i++) worst = Math.max(worst, Math.abs(job.wav[0][i] - decoded[i]));
      assert.ok(worst < 1e-4, `the prompt's audio (but its last ${margin} samples) is its decode: max difference ${worst}`);
    }
  } finally {
    worker.close();
  }
});

test('bad starts are INVALID_ARGUMENT naming the field', async () => {
  const refused = async (req: SubmitRequest, message: RegExp): Promise<void> => {
    await assert.rejects(client.submit(req), (err: grpc.ServiceError) => err.code === grpc.status.INVALID_ARGUMENT && message.test(err.details));
  };
  await refused({ ...base(2), continueFrom: given(short.tokens) }, /^duration_seconds: must be longer than the continued song's 3 s/);
  await refused({ ...base(5), continueFrom: given(short.tokens.slice(0, 2)) }, /^continue_from.levels: must give every level/);
  await refused({ ...base(0), upsample: given(short.tokens) }, /^upsample.levels\[0\]: only the top level/);
  await refused({ ...base(5), prompt: { wav: new Uint8Array([1, 2, 3]), seconds: 1 } }, /^prompt.wav: not a RIFF\/WAVE file/);
  await refused({ ...base(5), prompt: { wav: encodeWav(new Float32Array(16000), 16000, 'pcm16'), seconds: 2 } }, /^prompt.seconds: 2 s is longer than the prompt audio/);
  await refused({ ...base(5), mode: 'JOB_MODE_SHARDED', continueFrom: given(short.tokens) }, /^mode: level 0 starts from given tokens/);
});
