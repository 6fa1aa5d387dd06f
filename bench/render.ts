// Renders on this machine with the bundled model, on warm local clusters (workers started once; each job timed
// from SubmitJob to its WAV fetched), median of RUNS runs with the spread, the compared cases interleaved:
//   - a 20 s song on 1 and on 2 workers (exact mode);
//   - a 60 s song on 2 workers, exact vs sharded (automatic segments);
//   - on 2 workers, one 10 s job alone vs 5 concurrent 10 s jobs (all five done).
// Each case also records the share of the machine's CPU time that was busy while it ran (/proc/stat): where it is
// near 100 %, only less work per song makes the case faster, not a better schedule.
import { startLocalCluster, type LocalCluster } from '../client/local-cluster.js';
import { CoordinatorClient, isTerminal } from '../client/coordinator-client.js';
import { DEFAULT_MODEL_DIR } from '../models/model-folder.js';
import { setQuiet } from '../server/log.js';
import { machineCpuSeconds, median, saveResult } from './common.js';

setQuiet(true);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);

interface Sample {
  seconds: number[];
  /** Busy share of the machine's CPU time during each run (empty where /proc/stat is missing). */
  busyShare: number[];
}

interface Timed {
  seconds: number;
  busyShare?: number;
}

/** Submits jobs at once and waits for all of them, audio fetched; returns the wall seconds and the CPU's busy share. */
async function timeJobs(cluster: LocalCluster, jobs: { seconds: number; seed: number; mode: 'exact' | 'sharded' }[]): Promise<Timed> {
  const client = new CoordinatorClient(cluster.coordinator.address);
  try {
    const cpu0 = machineCpuSeconds();
    const t0 = performance.now();
    await Promise.all(
      jobs.map(async (j) => {
        const job = await client.submit({
          model: 'tiny',
          artist: 'tiny_ensemble',
          genres: ['jazz'],
          lyrics: 'la la la',
          durationSeconds: j.seconds,
          samples: 1,
          seed: String(j.seed),
          sampling: [],
          mode: j.mode === 'sharded' ? 'JOB_MODE_SHARDED' : 'JOB_MODE_EXACT',
        });
        let state = job.state;
        for await (const v of client.watch(job.jobId)) {
          state = v.state;
          if (isTerminal(v.state)) break;
        }
        if (state !== 'JOB_STATE_SUCCEEDED') throw new Error(`job ${job.jobId} ended ${state}`);
        await client.fetchAudio(job.jobId, 0);
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    const cpu1 = machineCpuSeconds();
    if (!cpu0 || !cpu1) return { seconds };
    const busy = cpu1.busy - cpu0.busy;
    return { seconds, busyShare: busy / (busy + cpu1.idle - cpu0.idle) };
  } finally {
    client.close();
  }
}

function record(s: Sample, t: Timed): void {
  s.seconds.push(t.seconds);
  if (t.busyShare !== undefined) s.busyShare.push(t.busyShare);
}

function summary(s: Sample): { median: number; min: number; max: number; spreadPct: number; runs: number[]; cpuBusyShare?: number[] } {
  const m = median(s.seconds);
  const min = Math.min(...s.seconds);
  const max = Math.max(...s.seconds);
  const busy = s.busyShare.length > 0 ? { cpuBusyShare: s.busyShare.map((x) => Number(x.toFixed(2))) } : {};
  return { median: Number(m.toFixed(2)), min: Number(min.toFixed(2)), max: Number(max.toFixed(2)), spreadPct: Number(((100 * (max - min)) / m).toFixed(1)), runs: s.seconds.map((x) => Number(x.toFixed(2))), ...busy };
}

async function withCluster<T>(workers: number, f: (c: LocalCluster) => Promise<T>): Promise<T> {
  const cluster = await startLocalCluster({ modelDir: DEFAULT_MODEL_DIR, workers });
  try {
    return await f(cluster);
  } finally {
    await cluster.close();
  }
}

async function main(): Promise<void> {
  // One warm-up job per cluster keeps the first measured run from paying for lazy initialisation.
  const oneWorker: Sample = { seconds: [], busyShare: [] };
  const twoWorkers: Sample = { seconds: [], busyShare: [] };
  const exact60: Sample = { seconds: [], busyShare: [] };
  const sharded60: Sample = { seconds: [], busyShare: [] };
  const single10: Sample = { seconds: [], busyShare: [] };
  const five10: Sample = { seconds: [], busyShare: [] };
  await withCluster(1, async (c) => {
    await timeJobs(c, [{ seconds: 2, seed: 0, mode: 'exact' }]);
    for (let r = 0; r < RUNS; r++) record(oneWorker, await timeJobs(c, [{ seconds: 20, seed: 1, mode: 'exact' }]));
  });
  await withCluster(2, async (c) => {
    await timeJobs(c, [{ seconds: 2, seed: 0, mode: 'exact' }]);
    for (let r = 0; r < RUNS; r++) {
      record(twoWorkers, await timeJobs(c, [{ seconds: 20, seed: 1, mode: 'exact' }]));
      record(exact60, await timeJobs(c, [{ seconds: 60, seed: 1, mode: 'exact' }]));
      record(sharded60, await timeJobs(c, [{ seconds: 60, seed: 1, mode: 'sharded' }]));
      record(single10, await timeJobs(c, [{ seconds: 10, seed: 1, mode: 'exact' }]));
      record(five10, await timeJobs(c, [1, 2, 3, 4, 5].map((seed) => ({ seconds: 10, seed, mode: 'exact' as const }))));
    }
  });
  const ratio = (a: Sample, b: Sample): number => Number((median(a.seconds) / median(b.seconds)).toFixed(2));
  // Ratios per interleaved run pair show how much of the median ratio is noise.
  const pairRatios = (a: Sample, b: Sample): number[] => a.seconds.map((x, i) => Number((x / b.seconds[i]).toFixed(2)));
  await saveResult('render', {
    note: 'warm local clusters (worker processes on loopback gRPC); each job timed from SubmitJob until its WAV is fetched; median of runs, spread = (max - min) / median; cpuBusyShare = busy share of the whole machine\'s CPU time during each run (/proc/stat)',
    runs: RUNS,
    render20s: { oneWorker: summary(oneWorker), twoWorkers: summary(twoWorkers), realTimeFactorTwoWorkers: Number((median(twoWorkers.seconds) / 20).toFixed(2)) },
    render60sTwoWorkers: {
      exact: summary(exact60),
      sharded: summary(sharded60),
      shardedSpeedup: ratio(exact60, sharded60),
      shardedSpeedupPerRun: pairRatios(exact60, sharded60),
    },
    concurrentJobsTwoWorkers: {
      oneJob10s: summary(single10),
      fiveJobs10s: summary(five10),
      fiveOverOne: ratio(five10, single10),
      fiveOverOnePerRun: pairRatios(five10, single10),
    },
  });
}

await main();
