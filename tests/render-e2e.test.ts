// The real distributed path: CLI -> embedded coordinator -> worker processes over gRPC -> ONNX -> WAV.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readModelFolder, DEFAULT_MODEL_DIR } from '../models/model-folder.js';
import { BIN, run, soxi, type RenderReport as Report } from './helpers/cli.js';
import { planSong } from '../shared/plan.js';

const SECONDS = 3;



async function render(dir: string, workers: number, extra: string[] = []): Promise<{ wav: Buffer; tokens: { levels: Record<string, number[][]> }; report: Report }> {
  const out = join(dir, `w${workers}.wav`);
  const tokensOut = join(dir, `w${workers}.json`);
  const { stdout } = await run(
    process.execPath,
    [BIN, 'render', '--seconds', String(SECONDS), '--seed', '1234', '--workers', String(workers), '--out', out, '--tokens-out', tokensOut, '--quiet', '--artist', 'tiny_ensemble', '--genre', 'jazz', '--lyrics', 'la la la, a tiny song', ...extra],
    { timeout: 300_000 },
  );
  // The last stdout line is the report: the job, the files written, the audio length, wall time and real-time factor.
  const report = JSON.parse(stdout.trim().split('\n').pop()!) as Report;
  assert.match(report.job, /^job-/);
  assert.deepEqual(report.files, [out, tokensOut]);
  const { manifest } = await readModelFolder(DEFAULT_MODEL_DIR);
  assert.equal(report.audioSeconds, planSong(manifest, SECONDS).totalSamples / manifest.sampleRate);
  assert.ok(report.wallSeconds > 0, `wallSeconds ${report.wallSeconds}`);
  assert.ok(Math.abs(report.realTimeFactor - report.wallSeconds / report.audioSeconds) < 0.002, `realTimeFactor ${report.realTimeFactor}`);
  return {
    wav: await readFile(out),
    tokens: JSON.parse(await readFile(tokensOut, 'utf8')) as { levels: Record<string, number[][]> },
    report,
  };
}

test('render: same seed gives byte-identical WAV and tokens with 1, 2 and 4 workers, whole or chunked decode', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'jukebox-e2e-'));
  try {
    const { manifest } = await readModelFolder(DEFAULT_MODEL_DIR);
    const plan = planSong(manifest, SECONDS);
    const one = await render(dir, 1);
    const info = await soxi(join(dir, 'w1.wav'));
    assert.deepEqual(info, { rate: manifest.sampleRate, samples: plan.totalSamples, channels: 1, bits: 16 });
    for (const lp of plan.levels) {
      const rows = one.tokens.levels[String(lp.level)];
      assert.equal(rows.length, 1);
      assert.equal(rows[0].length, lp.totalTokens, `level ${lp.level} token count`);
      assert.ok(rows[0].every((t) => Number.isInteger(t) && t >= 0 && t < manifest.levels[lp.level].codebookSize));
      // A random model still uses many codes: a stuck sampler would not.
      assert.ok(new Set(rows[0]).size > 20, `level ${lp.level} uses ${new Set(rows[0]).size} distinct tokens`);
    }
    for (const w of [2, 4]) {
      // With 4 workers the bottom level is also decoded in many small chunks, spread over the workers.
      const other = await render(dir, w, w === 4 ? ['--decode-chunk', '700'] : []);
      assert.deepEqual(other.tokens, one.tokens, `tokens with ${w} workers`);
      assert.ok(other.wav.equals(one.wav), `WAV bytes with ${w} workers`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('render: --samples 2 writes FILE-1.wav and FILE-2.wav with different rows; a seed change changes them', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'jukebox-e2e-'));
  try {
    const out = join(dir, 'song.wav');
    // From another working directory: the CLI must find its own tsx and model, not the caller's.
    await run(process.execPath, [BIN, 'render', '--seconds', '2', '--seed', '5', '--workers', '2', '--samples', '2', '--out', out, '--quiet', '--wav-format', 'float32'], { timeout: 300_000, cwd: dir });
    const a = await readFile(join(dir, 'song-1.wav'));
    const b = await readFile(join(dir, 'song-2.wav'));
    assert.ok(!a.equals(b), 'two sample rows differ');
    const info = await soxi(join(dir, 'song-1.wav'));
    assert.equal(info.bits, 32);
    await run(process.execPath, [BIN, 'render', '--seconds', '2', '--seed', '6', '--workers', '2', '--out', join(dir, 'other.wav'), '--quiet', '--wav-format', 'float32'], { timeout: 300_000 });
    assert.ok(!(await readFile(join(dir, 'other.wav'))).equals(a), 'another seed gives another song');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('render: a bad request fails with a message naming the field, and writes nothing', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'jukebox-e2e-'));
  try {
    const out = join(dir, 'never.wav');
    const tokensOut = join(dir, 'never.json');
    const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [BIN, 'render', '--seconds', '3', '--out', out, '--tokens-out', tokensOut, '--artist', 'nobody_we_know', '--quiet'],
        { timeout: 120_000 },
        (err, stdout, stderr) => resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr }),
      );
    });
    assert.equal(r.code, 1, `exit code; stderr: ${r.stderr}`);
    assert.equal(r.stdout, '', 'no JSON report line: nothing was rendered');
    // One line: the field, the value, the model, and what it would have accepted.
    assert.match(r.stderr, /^jukebox: artist "nobody_we_know" .*is not known to model tiny; known artists: .*"tiny_ensemble"/);
    assert.equal(r.stderr.trim().split('\n').length, 1, `a one-line message, no stack trace: ${r.stderr}`);
    assert.deepEqual(await readdir(dir), [], 'neither the WAV nor the tokens file is written');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
