// Coordinator memory against song length: the real dispatcher and job store (JetStream on a real nats-server,
// and the in-memory store for contrast) drive simulated workers that answer at once with tokens and decoded
// audio of the real sizes (Jukebox's shapes: 44.1 kHz, hops 8/32/128, n_ctx 8192). Each case runs in a fresh
// process, which samples its RSS every 20 ms. Run: node --import tsx bench/coordinator-memory.ts
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { simulate, jukeboxShapeManifest, simulationSpec } from '../coordinator/simulation.js';
import { JetStreamStore } from '../coordinator/durable/jetstream-store.js';
import { MemoryStore } from '../coordinator/durable/memory-store.js';
import { setQuiet } from '../server/log.js';
import { NatsServer } from '../tests/helpers/nats-server.js';
import { saveResult, spreadStat } from './common.js';

const SELF = fileURLToPath(import.meta.url);
const SONGS = [60, 600];
const ROWS = 4;
const RUNS = 3;

interface CaseResult {
  seconds: number;
  store: string;
  peakRssMiB: number;
  baseRssMiB: number;
  wallSeconds: number;
}

/** One case in this process: returns peak RSS over the render. */
async function runCase(seconds: number, storeKind: string, natsUrl: string): Promise<CaseResult> {
  setQuiet(true);
  const durable = storeKind === 'jetstream' ? await JetStreamStore.open({ servers: natsUrl, prefix: `mem${Date.now()}` }) : new MemoryStore();
  global.gc?.();
  const base = process.memoryUsage().rss;
  let peak = base;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  const t0 = performance.now();
  const manifest = jukeboxShapeManifest();
  const r = await simulate({
    manifest,
    durable,
    workers: Array.from({ length: 8 }, () => ({ stepMs: [1, 1, 4], levels: [0, 1, 2], decodeMsPerToken: 0.001, maxBatchRows: 16 })),
    jobs: [{ spec: { ...simulationSpec(seconds, 'exact'), samples: ROWS } }],
    decodeChunkTokens: 65536,
  });
  const wall = (performance.now() - t0) / 1000;
  clearInterval(timer);
  peak = Math.max(peak, process.memoryUsage().rss);
  if (r.jobs[0].job.state !== 'SUCCEEDED') throw new Error(`job ${r.jobs[0].job.state}: ${r.jobs[0].job.error}`);
  await durable.close();
  const mib = (b: number): number => Math.round(b / 2 ** 20);
  return { seconds, store: storeKind, peakRssMiB: mib(peak), baseRssMiB: mib(base), wallSeconds: Number(wall.toFixed(1)) };
}

async function main(): Promise<void> {
  if (process.argv[2] === '--case') {
    const r = await runCase(Number(process.argv[3]), process.argv[4], process.argv[5]);
    process.stdout.write(`${JSON.stringify(r)}\n`);
    process.exit(0);
  }
  const nats = await NatsServer.start();
  const run = promisify(execFile);
  const cases: { seconds: number; store: string; peakRssMiB: ReturnType<typeof spreadStat>; overBaseMiB: ReturnType<typeof spreadStat>; wallSeconds: number }[] = [];
  try {
    for (const store of ['jetstream', 'memory']) {
      for (const seconds of SONGS) {
        const runs: CaseResult[] = [];
        for (let i = 0; i < RUNS; i++) {
          const { stdout } = await run(process.execPath, ['--expose-gc', '--import', 'tsx', SELF, '--case', String(seconds), store, nats.url], { maxBuffer: 1 << 20, timeout: 900_000 });
          runs.push(JSON.parse(stdout.trim().split('\n').pop()!) as CaseResult);
          process.stderr.write(`${store} ${seconds} s: peak ${runs[i].peakRssMiB} MiB (base ${runs[i].baseRssMiB}), ${runs[i].wallSeconds} s\n`);
        }
        cases.push({
          seconds,
          store,
          peakRssMiB: spreadStat(runs.map((r) => r.peakRssMiB), 0),
          overBaseMiB: spreadStat(runs.map((r) => r.peakRssMiB - r.baseRssMiB), 0),
          wallSeconds: spreadStat(runs.map((r) => r.wallSeconds), 1).median,
        });
      }
    }
  } finally {
    await nats.stop();
  }
  const jsShort = cases.find((c) => c.store === 'jetstream' && c.seconds === 60)!;
  const jsLong = cases.find((c) => c.store === 'jetstream' && c.seconds === 600)!;
  await saveResult('coordinator-memory', {
    what: `peak RSS of a process running the coordinator's dispatcher and store client while one ${ROWS}-row song renders on simulated workers (Jukebox shapes); median of ${RUNS} fresh processes`,
    rows: ROWS,
    decodeChunkTokens: 65536,
    cases,
    longOverShortPeakRss: Number((jsLong.peakRssMiB.median / jsShort.peakRssMiB.median).toFixed(1)),
  });
}

await main();
