// Golden answer: one fixed job rendered with the random tiny model (tests/fixtures/tiny-random: models/tiny before it
// was trained, graph for graph) through the CLI must give exactly the WAV and tokens
// recorded in tests/fixtures/golden/ (computed before the coordinator/worker rewrite, see "produced" there),
// with 2 workers and with 1. The other render tests compare runs with each other; this one compares with a
// fixed result, so a change that alters what a seed renders everywhere alike cannot pass unnoticed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'bin', 'jukebox.js');
const FIXTURE = join(ROOT, 'tests', 'fixtures', 'golden', 'tiny-2s-seed1234.json');
const MODEL = join(ROOT, 'tests', 'fixtures', 'tiny-random');

interface Golden {
  produced: { commit: string; command: string; modelManifestSha256: string };
  /** The render arguments, without --workers, --out and --tokens-out. */
  args: string[];
  wav: { bytes: number; sampleRate: number; bitsPerSample: number; samples: number; sha256: string };
  levels: Record<string, { tokens: number; sha256: string; first32: number[] }>;
}

/**
 * The fixture pins exact mode (Jukebox's own windows), the only mode when it was produced; the CLI has had
 * `--mode exact|sharded` since, so ask for exact explicitly, whatever the default becomes.
 */
const MODE = ['--mode', 'exact'];

const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

function jukebox(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: ROOT, timeout: 300_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
}

for (const workers of [2, 1]) {
  test(`golden: the fixed 2-second tiny job with ${workers} worker(s) renders the recorded WAV and tokens`, async () => {
    const golden = JSON.parse(await readFile(FIXTURE, 'utf8')) as Golden;
    const manifestNow = sha256(await readFile(join(MODEL, 'manifest.json')));
    const about =
      `golden answer from ${golden.produced.commit.slice(0, 7)} (${golden.produced.command}); ` +
      (manifestNow === golden.produced.modelManifestSha256 ? 'the model\'s manifest.json is unchanged since' : 'NOTE: the model\'s manifest.json has changed since (graphs may be the same)');
    const dir = await mkdtemp(join(tmpdir(), 'jukebox-golden-'));
    try {
      const out = join(dir, 'tiny.wav');
      const tokensOut = join(dir, 'tiny.json');
      const r = await jukebox(['render', ...golden.args, ...MODE, '--model', MODEL, '--workers', String(workers), '--out', out, '--tokens-out', tokensOut]);
      assert.equal(r.code, 0, `render exit code; stderr: ${r.stderr}`);
      const report = JSON.parse(r.stdout.trim().split('\n').pop()!) as { files: string[]; audioSeconds: number };
      assert.deepEqual(report.files, [out, tokensOut]);
      assert.equal(report.audioSeconds, golden.wav.samples / golden.wav.sampleRate);

      // Tokens first, top level first: a divergence starts at the top and flows down, and first32 gives a readable diff.
      const tokens = JSON.parse(await readFile(tokensOut, 'utf8')) as { levels: Record<string, number[][]> };
      assert.deepEqual(Object.keys(tokens.levels).sort(), Object.keys(golden.levels).sort(), 'levels in --tokens-out');
      for (const level of Object.keys(golden.levels).sort((a, b) => Number(b) - Number(a))) {
        const want = golden.levels[level];
        const rows = tokens.levels[level];
        assert.equal(rows.length, 1, `level ${level}: one sample row`);
        assert.equal(rows[0].length, want.tokens, `level ${level}: token count; ${about}`);
        assert.deepEqual(rows[0].slice(0, 32), want.first32, `level ${level}: first 32 tokens; ${about}`);
        assert.equal(sha256(JSON.stringify(rows)), want.sha256, `level ${level}: sha256 of the tokens; ${about}`);
      }

      const wav = await readFile(out);
      assert.equal(wav.length, golden.wav.bytes, `WAV size; ${about}`);
      assert.equal(wav.toString('ascii', 0, 4), 'RIFF');
      assert.equal(wav.readUInt32LE(24), golden.wav.sampleRate, 'WAV sample rate');
      assert.equal(wav.readUInt16LE(34), golden.wav.bitsPerSample, 'WAV bits per sample');
      assert.equal(sha256(wav), golden.wav.sha256, `sha256 of the WAV bytes; ${about}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}
