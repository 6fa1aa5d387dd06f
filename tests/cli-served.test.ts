// Served mode through the CLI: worker and coordinator processes, then submit, watch, list, fetch, cancel.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCliServer, type Announcement } from './helpers/processes.js';
import { execFile, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { readModelFolder, DEFAULT_MODEL_DIR } from '../models/model-folder.js';
import { planSong } from '../shared/plan.js';

const run = promisify(execFile);
const BIN = fileURLToPath(new URL('../bin/jukebox.js', import.meta.url));
const children: ChildProcess[] = [];
let coordinator = '';
let dir = '';

const startServer = (args: string[]): Promise<Announcement> => startCliServer(args, children);

const cli = async (...args: string[]): Promise<string> => (await run(process.execPath, [BIN, ...args, '--coordinator', coordinator], { timeout: 120_000 })).stdout;

interface Exit {
  /** The exit code; -1 when the process was killed (a signal or the timeout). */
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI and resolves with its exit code and output, whether it succeeded or not. */
function cliExit(...args: string[]): Promise<Exit> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args, '--coordinator', coordinator], { timeout: 120_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** A crash (an uncaught exception) prints a stack trace; a CLI that reports a failure prints one line. */
const STACK_TRACE = /^\s+at .+[(:]\d+/m;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'jukebox-cli-'));
  const worker = await startServer(['worker', '--host', '127.0.0.1', '--port', '0', '--metrics-port', '0']);
  const c = await startServer(['coordinator', '--workers', worker.listening, '--host', '127.0.0.1', '--port', '0', '--metrics-port', '0']);
  coordinator = c.listening;
});

after(async () => {
  for (const c of children) c.kill('SIGTERM');
  await rm(dir, { recursive: true, force: true });
});

test('submit, watch, list and fetch a job on a running coordinator', async () => {
  const id = (await cli('submit', '--seconds', '2', '--seed', '3', '--artist', 'gaussian_quartet', '--genre', 'folk', '--lyrics', 'one two three')).trim();
  assert.match(id, /^job-/);
  await cli('watch', id);
  const listed = JSON.parse(await cli('list', '--json')) as { jobId: string; state: string }[];
  assert.deepEqual(listed.map((j) => [j.jobId, j.state]), [[id, 'JOB_STATE_SUCCEEDED']]);
  const out = join(dir, 'served.wav');
  await cli('fetch', id, '--out', out, '--tokens-out', join(dir, 'served.json'));
  const { manifest } = await readModelFolder(DEFAULT_MODEL_DIR);
  const wav = await readFile(out);
  assert.equal(wav.length, 44 + planSong(manifest, 2).totalSamples * 2);
  const tokens = JSON.parse(await readFile(join(dir, 'served.json'), 'utf8')) as { levels: Record<string, number[][]> };
  assert.deepEqual(Object.keys(tokens.levels), ['0', '1', '2']);
});

test('cancel stops a long job; watch then exits non-zero', async () => {
  const id = (await cli('submit', '--seconds', '120', '--seed', '4')).trim();
  const cancelled = await cli('cancel', id);
  assert.match(cancelled, /CANCELLED/);
  // watch follows the job to its end, shows the final state (CANCELLED) and exits 1: the job did not succeed.
  const watched = await cliExit('watch', id);
  const said = `${watched.stdout}${watched.stderr}`;
  assert.equal(watched.code, 1, `watch exits 1 for a cancelled job; stdout: ${watched.stdout} stderr: ${watched.stderr}`);
  assert.match(said, /\bCANCELLED\b/i, 'watch says the job was cancelled');
  assert.doesNotMatch(said, STACK_TRACE, 'watch reports the end of the job, it does not crash');
  assert.doesNotMatch(said, /\bSUCCEEDED\b/i);
  // An error line from the CLI itself ("jukebox: ...") may only be about the cancellation, not some other failure.
  for (const line of said.split('\n').filter((l) => l.startsWith('jukebox:'))) assert.match(line, /cancel/i, `watch failed for another reason: ${line}`);
  // fetch refuses: there is no audio for a cancelled job, and no file is written.
  const never = join(dir, 'never.wav');
  const fetched = await cliExit('fetch', id, '--out', never);
  assert.equal(fetched.code, 1, fetched.stderr);
  assert.match(fetched.stderr, new RegExp(`${id}.*\\bCANCELLED\\b`, 'i'), 'fetch names the job and its state');
  assert.doesNotMatch(fetched.stderr, STACK_TRACE);
  assert.equal(existsSync(never), false, 'no WAV is written for a cancelled job');
});

test('submit with a bad field fails with the field in the message', async () => {
  const r = await cliExit('submit', '--seconds', '2', '--top-p', '1.5');
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stdout, '', 'no job id is printed: nothing was submitted');
  assert.match(r.stderr, /sampling\.top_p\b.*must be in \(0, 1\].*got 1\.5/);
  assert.doesNotMatch(r.stderr, STACK_TRACE);
});

test('plan --json prints the Jukebox window plan', async () => {
  const { stdout } = await run(process.execPath, [BIN, 'plan', '--seconds', '7.3', '--json']);
  const plan = JSON.parse(stdout) as { sampleRate: number; totalSamples: number; levels: { level: number; totalTokens: number; windows: { segment: number; start: number; end: number; newTokens: number }[] }[] };
  const { manifest } = await readModelFolder(DEFAULT_MODEL_DIR);
  const expected = planSong(manifest, 7.3);
  assert.equal(plan.totalSamples, expected.totalSamples);
  assert.equal(plan.totalSamples % 128, 0);
  for (const l of plan.levels) {
    assert.deepEqual(l.windows, expected.levels[l.level].windows.map((w) => ({ segment: 0, start: w.start, end: w.end, newTokens: w.newTokens })));
    assert.equal(l.windows.reduce((s, w) => s + w.newTokens, 0), l.totalTokens);
  }
});

test('submit --row (once per row) and --metas FILE give each row its own labels; the job echoes them', async () => {
  const rowsOf = async (id: string): Promise<unknown> => {
    const listed = JSON.parse(await cli('list', '--json')) as { jobId: string; samples: number; request: { rows: unknown[]; artist: string } }[];
    const job = listed.find((j) => j.jobId === id)!;
    assert.equal(job.samples, job.request.rows.length);
    assert.equal(job.request.artist, '');
    return job.request.rows;
  };
  const lyricsFile = join(dir, 'lyrics.txt');
  await writeFile(lyricsFile, 'one; two\nthree');
  const id = (await cli('submit', '--seconds', '2', '--row', 'artist=gaussian_quartet;genres=folk;lyrics=@' + lyricsFile, '--row', 'artist=dr_noise;genres=rock, pop')).trim();
  assert.deepEqual(await rowsOf(id), [
    { artist: 'gaussian_quartet', genres: ['folk'], lyrics: 'one; two\nthree' },
    { artist: 'dr_noise', genres: ['rock', 'pop'], lyrics: '' },
  ]);
  await cli('cancel', id);
  const metas = join(dir, 'metas.json');
  const rows = [{ artist: 'tiny_ensemble', genres: ['jazz'], lyrics: 'la; la' }, { artist: 'dr_noise', genres: [], lyrics: '' }, { artist: 'mono_16k', genres: ['blues'], lyrics: 'x' }];
  await writeFile(metas, JSON.stringify(rows));
  const fromFile = (await cli('submit', '--seconds', '2', '--metas', metas, '--samples', '3')).trim();
  assert.deepEqual(await rowsOf(fromFile), rows);
  await cli('cancel', fromFile);
  // The coordinator's own check, as the CLI shows it: the row (0-based) and field.
  const r = await cliExit('submit', '--seconds', '2', '--row', 'artist=tiny_ensemble', '--row', 'artist=nobody we know');
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /^jukebox: rows\[1\]\.artist: artist "nobody we know" .*is not known to model tiny/);
});
