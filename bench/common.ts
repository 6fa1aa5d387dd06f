// Helpers for benchmarks: machine facts and saving results as JSON under bench/results/.
import { cpus, totalmem } from 'node:os';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export const RESULTS_DIR = fileURLToPath(new URL('./results', import.meta.url));

export function machine(): Record<string, string | number> {
  return { node: process.version, cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memGiB: Math.round(totalmem() / 2 ** 30), provider: 'cpu' };
}

export async function saveResult(name: string, result: object): Promise<string> {
  await mkdir(RESULTS_DIR, { recursive: true });
  const path = join(RESULTS_DIR, `${name}.json`);
  const body = { bench: name, at: new Date().toISOString(), machine: machine(), ...result };
  await writeFile(path, `${JSON.stringify(body, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(body)}\n`);
  return path;
}

export interface SpreadStat {
  median: number;
  min: number;
  max: number;
  /** (max - min) / median, in percent. */
  spreadPct: number;
}

/** Median, extremes and spread of runs, rounded to `digits` decimals (the spread to one). */
export function spreadStat(xs: number[], digits: number): SpreadStat {
  const m = median(xs);
  const min = Math.min(...xs);
  const max = Math.max(...xs);
  const r = (x: number): number => Number(x.toFixed(digits));
  return { median: r(m), min: r(min), max: r(max), spreadPct: Number(((100 * (max - min)) / m).toFixed(1)) };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** CPU seconds the whole machine spent busy and idle since boot (Linux /proc/stat; undefined elsewhere). */
export function machineCpuSeconds(): { busy: number; idle: number } | undefined {
  let line: string;
  try {
    line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  } catch {
    return undefined;
  }
  // cpu user nice system idle iowait irq softirq steal ...; in USER_HZ ticks (100 per second on Linux).
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1, 9).map(Number);
  return { busy: (user + nice + system + irq + softirq + steal) / 100, idle: (idle + iowait) / 100 };
}
