// What the tests that drive bin/jukebox.js share: the binary, a promisified execFile, the render report, soxi.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

export const run = promisify(execFile);
export const BIN = fileURLToPath(new URL('../../bin/jukebox.js', import.meta.url));

/** The JSON line `jukebox render` prints on stdout. */
export interface RenderReport {
  job: string;
  files: string[];
  audioSeconds: number;
  wallSeconds: number;
  realTimeFactor: number;
}

/** A WAV file's header as sox reads it. */
export async function soxi(path: string): Promise<{ rate: number; samples: number; channels: number; bits: number }> {
  const q = async (flag: string): Promise<number> => Number((await run('soxi', [flag, path])).stdout.trim());
  return { rate: await q('-r'), samples: await q('-s'), channels: await q('-c'), bits: await q('-b') };
}
