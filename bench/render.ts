// Wall time and real-time factor of a 20-second render with 1 and 2 local workers, through the CLI.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { saveResult } from './common.js';

const run = promisify(execFile);
const BIN = fileURLToPath(new URL('../bin/jukebox.js', import.meta.url));
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'jukebox-bench-'));
  const runs = [];
  try {
    for (const workers of [1, 2]) {
      const t0 = performance.now();
      const { stdout } = await run(process.execPath, [BIN, 'render', '--seconds', String(SECONDS), '--seed', '1', '--workers', String(workers), '--out', join(dir, `w${workers}.wav`), '--quiet'], { timeout: 600_000 });
      const wall = (performance.now() - t0) / 1000;
      const report = JSON.parse(stdout.trim().split('\n').pop()!) as { audioSeconds: number; wallSeconds: number };
      runs.push({ workers, audioSeconds: report.audioSeconds, wallSeconds: Number(wall.toFixed(2)), renderSeconds: report.wallSeconds, realTimeFactor: Number((wall / report.audioSeconds).toFixed(3)) });
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  await saveResult('render', { seconds: SECONDS, note: 'wallSeconds includes process start-up; renderSeconds is from starting workers to the WAV on disk', runs });
}

await main();
