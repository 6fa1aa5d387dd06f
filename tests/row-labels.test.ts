// Per-row labels (SubmitJobRequest.rows, issue 11): each sample row is conditioned on its own artist, genres and
// lyrics, and a row's tokens depend only on (seed, row, level, position) and its own labels. Real servers on
// loopback with the test model; runs are compared with each other, never with fixed token values.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Coordinator } from '../coordinator/coordinator.js';
import { JukeboxWorker } from '../worker/worker-server.js';
import { CoordinatorClient, type JobView, type SubmitRequest } from '../client/coordinator-client.js';
import { DEFAULT_MODEL_DIR } from '../models/model-folder.js';
import { setQuiet } from '../server/log.js';

setQuiet(true);

let worker: JukeboxWorker;
let coordinator: Coordinator;
let client: CoordinatorClient;

before(async () => {
  worker = await JukeboxWorker.start({ modelDir: DEFAULT_MODEL_DIR, port: 0, metricsPort: 0 });
  coordinator = await Coordinator.start({ modelDirs: [DEFAULT_MODEL_DIR], workers: [worker.address], metricsPort: 0 });
  client = new CoordinatorClient(coordinator.address);
});

after(async () => {
  client.close();
  await coordinator.close();
  await worker.close();
});

const A = { artist: 'tiny_ensemble', genres: ['jazz'], lyrics: 'la la la, a tiny song' };
const B = { artist: 'dr_noise', genres: ['rock', 'pop'], lyrics: 'Something else entirely; and louder!' };
const BASE: SubmitRequest = { model: 'tiny', durationSeconds: 2, seed: '77', sampling: [] };

interface Rendered {
  job: JobView;
  /** Index = level, then row. */
  tokens: number[][][];
  /** Each row's WAV file. */
  wavs: Buffer[];
}

/** Runs a job to the end; one at a time, so that every batch holds this job's rows alone. */
async function render(req: SubmitRequest): Promise<Rendered> {
  const submitted = await client.submit({ ...BASE, ...req });
  let job = submitted;
  for await (const j of client.watch(submitted.jobId)) job = j;
  assert.equal(job.state, 'JOB_STATE_SUCCEEDED', job.error);
  const tokens = await client.fetchTokens(job.jobId);
  const wavs = await Promise.all(Array.from({ length: job.samples }, (_, row) => client.fetchAudio(job.jobId, row)));
  return { job: submitted, tokens, wavs };
}

const row = (r: Rendered, i: number): number[][] => r.tokens.map((rows) => rows[i]);

test('a 2-row job with different labels per row gives each row the tokens and audio of a job whose rows all have its labels', async () => {
  const mixed = await render({ rows: [A, B] });
  // All rows A through the job-wide fields, all rows B through `rows`: both forms mean the same job.
  const allA = await render({ ...A, samples: 2 });
  const allB = await render({ rows: [B, B] });
  assert.equal(mixed.job.samples, 2);
  assert.deepEqual(row(mixed, 0), row(allA, 0), 'row 0: the tokens of A at row 0');
  assert.deepEqual(row(mixed, 1), row(allB, 1), 'row 1: the tokens of B at row 1');
  assert.ok(mixed.wavs[0].equals(allA.wavs[0]), 'row 0: the audio of A at row 0');
  assert.ok(mixed.wavs[1].equals(allB.wavs[1]), 'row 1: the audio of B at row 1');
  // The labels reach the model: row 1 conditioned on A (allA) is not row 1 conditioned on B.
  assert.notDeepEqual(row(allA, 1), row(mixed, 1), 'row 1 under A and under B differ');

  // Job.request echoes the labels as a request would give them: rows when they differ, job-wide when all equal.
  const echo = (await client.get(mixed.job.jobId)).request!;
  assert.deepEqual(echo.rows, [A, B]);
  assert.deepEqual([echo.artist, echo.genres, echo.lyrics, echo.samples], ['', [], '', 2]);
  const uniform = (await client.get(allB.job.jobId)).request!;
  assert.deepEqual([uniform.artist, uniform.genres, uniform.lyrics, uniform.rows], [B.artist, B.genres, B.lyrics, []]);
  const listed = (await client.list()).find((j) => j.jobId === mixed.job.jobId)!;
  assert.deepEqual(listed.request!.rows, [A, B], 'ListJobs shows the rows too');
  // The echo is a valid request for the same job.
  const again = await render(echo);
  assert.deepEqual(again.tokens, mixed.tokens);
});
