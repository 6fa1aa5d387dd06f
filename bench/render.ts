// Renders on this machine with the bundled model, on warm local clusters (workers started once; each job timed
// from SubmitJob to its WAV fetched), median of RUNS runs with the spread, the compared cases interleaved:
//   - a 20 s song on 1 and on 2 workers (exact mode);
//   - a 60 s song on 2 workers, exact vs sharded (automatic segments);
//   - on 2 workers, one 10 s job alone vs 5 concurrent 10 s jobs (all five done).
import { startLocalCluster, type LocalCluster } from '../client/local-cluster.js';
import { CoordinatorClient, isTerminal } from '../client/coordinator-client.js';
import { DEFAULT_MODEL_DIR } from '../models/model-folder.js';
import { setQuiet } from '../server/log.js';
import { median, saveResult } from './common.js';

setQuiet(true);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);

interface Sample {
  seconds: number[];
}

/** Submits jobs at once and waits for all of them, audio fetched; returns the wall seconds. */
async function timeJobs(cluster: LocalCluster, jobs: { seconds: number; seed: number; mode: 'exact' | 'sharded' }[]): Promise<number> {
  const client = new CoordinatorClient(cluster.coordinator.address);
  try {
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
    return (performance.now() - t0) / 1000;
  } finally {
    client.close();
  }
}

function summary(s: Sample): { median: number; min: number; max: number; spreadPct: number; runs: number[] } {
  const m = median(s.seconds);
  const min = Math.min(...s.seconds);
  const max = Math.max(...s.seconds);
  return { median: Number(m.toFixed(2)), min: Number(min.toFixed(2)), max: Number(max.toFixed(2)), spreadPct: Number(((100 * (max - min)) / m).toFixed(1)), runs: s.seconds.map((x) => Number(x.toFixed(2))) };
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
  const oneWorker: Sample = { seconds: [] };
  const twoWorkers: Sample = { seconds: [] };
  const exact60: Sample = { seconds: [] };
  const sharded60: Sample = { seconds: [] };
  const single10: Sample = { seconds: [] };
  const five10: Sample = { seconds: [] };
  await withCluster(1, async (c) => {
    await timeJobs(c, [{ seconds: 2, seed: 0, mode: 'exact' }]);
    for (let r = 0; r < RUNS; r++) oneWorker.seconds.push(await timeJobs(c, [{ seconds: 20, seed: 1, mode: 'exact' }]));
  });
  await withCluster(2, async (c) => {
    await timeJobs(c, [{ seconds: 2, seed: 0, mode: 'exact' }]);
    for (let r = 0; r < RUNS; r++) {
      twoWorkers.seconds.push(await timeJobs(c, [{ seconds: 20, seed: 1, mode: 'exact' }]));
      exact60.seconds.push(await timeJobs(c, [{ seconds: 60, seed: 1, mode: 'exact' }]));
      sharded60.seconds.push(await timeJobs(c, [{ seconds: 60, seed: 1, mode: 'sharded' }]));
      single10.seconds.push(await timeJobs(c, [{ seconds: 10, seed: 1, mode: 'exact' }]));
      five10.seconds.push(await timeJobs(c, [1, 2, 3, 4, 5].map((seed) => ({ seconds: 10, seed, mode: 'exact' as const }))));
    }
  });
  const ratio = (a: Sample, b: Sample): number => Number((median(a.seconds) / median(b.seconds)).toFixed(2));
  // Ratios per interleaved run pair show how much of the median ratio is noise.
  const pairRatios = (a: Sample, b: Sample): number[] => a.seconds.map((x, i) => Number((x / b.seconds[i]).toFixed(2)));
  await saveResult('render', {
    note: 'warm local clusters (worker processes on loopback gRPC); each job timed from SubmitJob until its WAV is fetched; median of runs, spread = (max - min) / median',
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
