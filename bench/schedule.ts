// The real scheduler and dispatcher, driven by simulated workers on a simulated clock (coordinator/simulation.ts):
// a window takes new tokens × a per-level step cost. Jukebox's real shapes; 60 s and 180 s songs; W = 1, 4, 16, 64
// workers of one window at a time; exact and sharded mode with the automatic segment layout. Per case: makespan,
// the lower bounds (critical path, work / W, and a tighter one that counts each level's earliest start), their
// ratio, and the speedup over Jukebox's level-after-level sampling on one worker. Deterministic: one run suffices.
import { setQuiet } from '../server/log.js';
import { simulate, jukeboxShapeManifest, simulationSpec, boundsOf } from '../coordinator/simulation.js';
import { planSong } from '../shared/plan.js';
import { analysePlan } from '../shared/critical-path.js';
import { DEFAULT_SEGMENT_OVERLAP } from '../shared/segments.js';
import { saveResult } from './common.js';

setQuiet(true);

/** Milliseconds per sampled token, index = level (0 = bottom). */
const COSTS: Record<string, { stepMs: number[]; source: string }> = {
  v100: { stepMs: [66, 66, 88], source: 'Jukebox on a V100: ~88 ms per 5b top step, ~66 ms per upsampler step (shared/reference/jukebox.md §4)' },
  h100: { stepMs: [0.6, 0.6, 3.1], source: 'H100 bandwidth floor: the weights read once per step (≈3.1 ms top, ≈0.6 ms upsamplers)' },
};
const SECONDS = [60, 180];
const WORKERS = [1, 4, 16, 64];

const round = (x: number, d = 3): number => Number(x.toFixed(d));

async function main(): Promise<void> {
  const manifest = jukeboxShapeManifest();
  const cases = [];
  for (const [costName, { stepMs }] of Object.entries(COSTS)) {
    for (const seconds of SECONDS) {
      // Jukebox's own order: every window of the top, then level 1, then level 0, one at a time on one GPU.
      const levelAfterLevelMs = analysePlan(planSong(manifest, seconds), stepMs).work;
      for (const workers of WORKERS) {
        for (const mode of ['exact', 'sharded'] as const) {
          const t0 = performance.now();
          const r = await simulate({
            manifest,
            workers: Array.from({ length: workers }, () => ({ stepMs, levels: [0, 1, 2], capacity: 1, maxBatchRows: 1 })),
            jobs: [{ spec: simulationSpec(seconds, mode) }],
            stepCost: stepMs,
          });
          const { job, makespanMs } = r.jobs[0];
          if (job.state !== 'SUCCEEDED') throw new Error(`${costName} ${seconds} s W=${workers} ${mode}: ${job.state} ${job.error ?? ''}`);
          const { bounds } = boundsOf(job, stepMs, workers);
          const c = {
            costs: costName,
            seconds,
            workers,
            mode,
            segments: job.plan.levels.map((lp) => lp.segments.length),
            makespanHours: round(makespanMs / 3.6e6, 4),
            criticalPathHours: round(bounds.criticalPath / 3.6e6, 4),
            workOverWorkersHours: round(bounds.workOverWorkers / 3.6e6, 4),
            lowerBoundHours: round(bounds.simple / 3.6e6, 4),
            tightLowerBoundHours: round(bounds.tight / 3.6e6, 4),
            ratioToLowerBound: round(makespanMs / bounds.simple),
            ratioToTightLowerBound: round(makespanMs / bounds.tight),
            levelAfterLevelHours: round(levelAfterLevelMs / 3.6e6, 4),
            speedupOverLevelAfterLevel: round(levelAfterLevelMs / makespanMs, 2),
            simulatedInMs: Math.round(performance.now() - t0),
          };
          process.stderr.write(
            `${costName} ${seconds}s W=${String(workers).padStart(2)} ${mode.padEnd(7)} segments ${c.segments.join(',').padEnd(8)} ` +
              `makespan ${c.makespanHours} h  LB ${c.lowerBoundHours} h  ratio ${c.ratioToLowerBound} (tight ${c.ratioToTightLowerBound})  speedup ${c.speedupOverLevelAfterLevel}×\n`,
          );
          cases.push(c);
        }
      }
    }
  }
  const checks = {
    ratioAtW1_16_64: Math.max(...cases.filter((c) => c.workers !== 4).map((c) => c.ratioToLowerBound)),
    ratioAtW4: Math.max(...cases.filter((c) => c.workers === 4).map((c) => c.ratioToLowerBound)),
    sharded16x60sV100Speedup: cases.find((c) => c.costs === 'v100' && c.seconds === 60 && c.workers === 16 && c.mode === 'sharded')!.speedupOverLevelAfterLevel,
    sharded16x60sH100Speedup: cases.find((c) => c.costs === 'h100' && c.seconds === 60 && c.workers === 16 && c.mode === 'sharded')!.speedupOverLevelAfterLevel,
  };
  await saveResult('schedule', {
    model: 'Jukebox shapes: 44.1 kHz, hop lengths 8/32/128, n_ctx 8192, hop fractions 0.5/0.5/0.125; one row',
    costs: COSTS,
    workerModel: 'each simulated worker runs one window at a time (capacity 1, batch 1); decoding not counted',
    segmentOverlap: DEFAULT_SEGMENT_OVERLAP,
    checks,
    cases,
  });
}

await main();
