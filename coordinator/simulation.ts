// The real dispatcher, scheduler and worker directory driven by simulated workers on a simulated clock: a window
// takes new tokens × a per-level step cost, a batch of windows as long as its longest (a GPU step costs about the
// same for one row or a few), a decode chunk its audio length × a decode cost. No ONNX, no gRPC, no waiting:
// bench/schedule and `jukebox plan` use it to model a song on W workers; unit tests use it as fake workers.
import { planSong, songSamples } from '../shared/plan.js';
import type { JobSpec, Manifest } from '../shared/types.js';
import { analysePlan, scheduleBounds, type PlanAnalysis, type ScheduleBounds } from '../shared/critical-path.js';
import { SimulatedClock } from './clock.js';
import { DEFAULT_SEGMENT_OVERLAP } from '../shared/segments.js';
import { Dispatcher, type DispatcherOptions } from './dispatcher.js';
import { JobPersistence } from './job-persistence.js';
import { MemoryStore } from './durable/memory-store.js';
import type { DurableStore } from './durable/store.js';
import { MemoryJobStore, TERMINAL_STATES, type JobRecord } from './job.js';
import { createJob } from './job-factory.js';
import { CoordinatorMetrics } from './metrics.js';
import { WorkerDirectory } from './worker-directory.js';
import { resolveLayout } from './coordinator.js';
import type { TaskFailure } from './retry.js';
import type { ResolvedLabels } from '../shared/labels.js';
import type { BatchHandlers, DecodeJob, RemoteCall, WindowBatch, WorkerConnection, WorkerInfo } from './worker-connection.js';

export interface SimulatedWorkerSpec {
  /** Milliseconds per sampled token (one step) per level, index = level. */
  stepMs: number[];
  /** Milliseconds of decoding per bottom-level token. @default 0 */
  decodeMsPerToken?: number;
  /** Batches at once. @default 1 */
  capacity?: number;
  /** Rows per batch. @default 1 */
  maxBatchRows?: number;
  levels: number[];
  decodes?: boolean;
  provider?: string;
  /** @default 'fp32' */
  precision?: string;
}

/** What a simulated worker should do with one call, for failure tests: undefined = behave. */
export type FaultPlan = (call: { worker: string; kind: 'window' | 'decode'; level: number; jobIds: string[] }) => TaskFailure | 'hang' | undefined;

export class SimulatedWorker implements WorkerConnection {
  /** Calls received: [level or 'decode', rows, jobIds]. */
  readonly calls: { kind: 'window' | 'decode'; level: number; rows: number; jobIds: string[]; at: number }[] = [];

  constructor(
    readonly address: string,
    private readonly clock: SimulatedClock,
    private readonly spec: SimulatedWorkerSpec,
    private readonly modelHash: string,
    private readonly faults?: FaultPlan,
  ) {}

  describe(): Promise<WorkerInfo> {
    return Promise.resolve({
      workerId: this.address,
      modelId: 'simulated',
      modelHash: this.modelHash,
      levels: this.spec.levels,
      capacity: this.spec.capacity ?? 1,
      maxBatchRows: this.spec.maxBatchRows ?? 1,
      executionProvider: this.spec.provider ?? 'cpu',
      batchBucket: 0,
      precision: this.spec.precision ?? 'fp32',
      decodes: this.spec.decodes ?? true,
    });
  }

  private schedule(
    ms: number,
    kind: 'window' | 'decode',
    level: number,
    jobIds: string[],
    ok: () => void,
    fail: (f: TaskFailure) => void,
    progress?: (elapsedMs: number) => void,
  ): RemoteCall {
    const fault = this.faults?.({ worker: this.address, kind, level, jobIds });
    let cancelled = false;
    if (fault !== 'hang') {
      this.clock.setTimer(() => {
        if (cancelled) return;
        if (fault) fail(fault);
        else ok();
      }, fault ? 1 : ms);
      // Real workers report progress every 100 ms; once a simulated minute is enough to keep stall detection quiet.
      if (!fault && progress) for (let t = PROGRESS_MS; t < ms; t += PROGRESS_MS) this.clock.setTimer(() => !cancelled && progress(t), t);
    }
    return {
      cancel: () => {
        if (cancelled) return;
        cancelled = true;
        this.clock.setTimer(() => fail({ kind: 'unavailable', message: 'CANCELLED: cancelled by the coordinator' }), 0);
      },
    };
  }

  sampleBatch(batch: WindowBatch, handlers: BatchHandlers): RemoteCall {
    const rows = batch.items.reduce((n, it) => n + it.labels.length, 0);
    const jobIds = batch.items.map((it) => it.jobId);
    this.calls.push({ kind: 'window', level: batch.level, rows, jobIds, at: this.clock.now() });
    const ms = batch.newTokens * this.spec.stepMs[batch.level];
    return this.schedule(
      ms,
      'window',
      batch.level,
      jobIds,
      () => handlers.done(Array.from({ length: rows }, () => new Int32Array(batch.newTokens))),
      (f) => handlers.failed(f),
      (t) => handlers.progress(Math.floor(t / this.spec.stepMs[batch.level])),
    );
  }

  decode(job: DecodeJob, _timeoutMs: number, done: (failure: TaskFailure | null, audio?: Float32Array[]) => void): RemoteCall {
    const tokens = job.rows[0].length;
    this.calls.push({ kind: 'decode', level: job.level, rows: job.rows.length, jobIds: [], at: this.clock.now() });
    const samples = (tokens - job.trimStart - job.trimEnd) * this.hop;
    return this.schedule(
      tokens * (this.spec.decodeMsPerToken ?? 0),
      'decode',
      0,
      [],
      () => done(null, job.rows.map(() => new Float32Array(samples))),
      (f) => done(f),
    );
  }

  /** Bottom hop length, set by the simulation (decode replies are that many samples per token). */
  hop = 1;

  close(): void {}
}

export interface SimulationJob {
  spec: JobSpec;
  /** Milliseconds after the start at which it is submitted. @default 0 */
  submitAtMs?: number;
  /** Label ids per level, for every row. @default artist 0, no genres, no lyrics */
  labels?: ResolvedLabels[];
}

/** Something to do at a simulated time, with the dispatcher and the jobs submitted so far (tests: cancel, inspect). */
export interface SimulationAction {
  atMs: number;
  run: (dispatcher: Dispatcher, jobs: JobRecord[]) => void;
}

export interface SimulationOptions {
  manifest: Manifest;
  workers: SimulatedWorkerSpec[];
  jobs: SimulationJob[];
  /** Bottom tokens per decode chunk. @default 16384 */
  decodeChunkTokens?: number;
  dispatch?: Omit<DispatcherOptions, 'clock'>;
  faults?: FaultPlan;
  /** Relative step cost per level for the critical-path order: the true costs unless told otherwise. */
  stepCost?: number[];
  actions?: SimulationAction[];
  /** Where job state, tokens and audio go. @default an in-memory store */
  durable?: DurableStore;
}

export interface SimulatedJobResult {
  job: JobRecord;
  /** Submission to end, simulated ms. */
  makespanMs: number;
  /** First task dispatched, simulated ms after submission. */
  firstTaskMs?: number;
}

export interface SimulationResult {
  jobs: SimulatedJobResult[];
  /** Start to the end of the last job. */
  makespanMs: number;
  workers: SimulatedWorker[];
  clock: SimulatedClock;
  /** The dispatcher's metrics as they stand at the end. */
  metrics: CoordinatorMetrics;
}

const MODEL_HASH = 'simulated';
const PROGRESS_MS = 60_000;

/** Runs the jobs to their end on the simulated workers. */
export async function simulate(opts: SimulationOptions): Promise<SimulationResult> {
  const clock = new SimulatedClock();
  const workers: SimulatedWorker[] = opts.workers.map((w, i) => new SimulatedWorker(`sim-${i}`, clock, w, MODEL_HASH, opts.faults));
  for (const w of workers) w.hop = opts.manifest.levels[0].hopLength;
  const byAddress = new Map(workers.map((w) => [w.address, w]));
  const directory = new WorkerDirectory((a) => byAddress.get(a)!, clock);
  for (const w of workers) directory.add(w.address);
  await directory.describeAll();
  const store = new MemoryJobStore(Number.MAX_SAFE_INTEGER);
  const metrics = new CoordinatorMetrics();
  const dispatcher = new Dispatcher(store, directory, metrics, new JobPersistence(opts.durable ?? new MemoryStore()), { ...opts.dispatch, clock });
  const stepCost = opts.stepCost ?? opts.workers[0].stepMs;
  const results: SimulatedJobResult[] = [];
  opts.jobs.forEach((sj, i) => {
    clock.setTimer(() => {
      const { manifest } = opts;
      const layout = resolveLayout(sj.spec, manifest, songSamples(manifest, sj.spec.durationSeconds), (l) => directory.rowSlots(MODEL_HASH, l));
      const givenTokens = sj.spec.start?.givenTokens;
      const plan = planSong(manifest, sj.spec.durationSeconds, layout, givenTokens);
      // Given tokens (a primed, continued or upsample-only job): their values do not matter here, only that they exist.
      const given = givenTokens?.map((n) => (n > 0 ? Array.from({ length: sj.spec.samples }, () => new Int32Array(n)) : []));
      const job = createJob({ id: `sim-job-${i}`, spec: sj.spec, modelHash: MODEL_HASH, wavFormat: 'float32', plan, manifest, decodeChunkTokens: opts.decodeChunkTokens ?? 16384, stepCost, ...(given ? { given } : {}) });
      const submitted = clock.now();
      const result: SimulatedJobResult = { job, makespanMs: NaN };
      results[i] = result;
      dispatcher.on('update', (j) => {
        if (j !== job) return;
        if (result.firstTaskMs === undefined && job.startedMs !== undefined) result.firstTaskMs = job.startedMs - submitted;
        if (TERMINAL_STATES.has(job.state) && Number.isNaN(result.makespanMs)) result.makespanMs = clock.now() - submitted;
      });
      const labels = sj.labels ?? manifest.levels.map(() => ({ artistId: 0, genreIds: [], lyricIds: [] }));
      dispatcher.add(job, { manifest, labels: Array.from({ length: sj.spec.samples }, () => labels) });
    }, sj.submitAtMs ?? 0);
  });
  for (const a of opts.actions ?? []) clock.setTimer(() => a.run(dispatcher, results.filter(Boolean).map((r) => r.job)), a.atMs);
  await clock.run(() => results.length === opts.jobs.length && results.every((r) => r && TERMINAL_STATES.has(r.job.state)), undefined, opts.durable ? 60_000 : 0);
  dispatcher.close();
  return { jobs: results, makespanMs: clock.now(), workers, clock, metrics };
}

/** A model with Jukebox's real shapes (44.1 kHz, hops 8/32/128, n_ctx 8192, hop fractions 0.5/0.5/0.125). */
export function jukeboxShapeManifest(): Manifest {
  const SHA = '0'.repeat(64);
  const level = (l: number, hopLength: number, hopFraction: number, top: boolean) => ({
    level: l,
    hopLength,
    nCtx: 8192,
    hopFraction,
    codebookSize: 2048,
    width: top ? 4800 : 1920,
    layers: top ? 72 : 72,
    heads: top ? 8 : 1,
    headDim: top ? 150 : 480,
    prefillChunk: 32,
    conditioning: { labels: true, timing: top, lyrics: 'none' as const, lyricTokens: 0, upper: !top },
    labelLength: 9,
    vocabOffset: 0,
    graphs: { conditioner: { file: 'c.onnx', sha256: SHA }, step: { file: 's.onnx', sha256: SHA } },
  });
  return {
    contractVersion: 1,
    modelId: 'jukebox-shape',
    sampleRate: 44100,
    labels: { version: 'v2', artists: { unknown: 0 }, genres: { unknown: 0 }, maxGenreWords: 5, minDurationSeconds: 0, maxDurationSeconds: 600 },
    levels: [level(0, 8, 0.5, false), level(1, 32, 0.5, false), level(2, 128, 0.125, true)],
    vqvae: { decoders: [{ level: 0, file: 'd0.onnx', sha256: SHA, marginTokens: 5742 }] },
  };
}

/** A job spec for simulations: only what planning and scheduling read matters. */
export function simulationSpec(seconds: number, mode: 'exact' | 'sharded', extra: Partial<JobSpec> = {}): JobSpec {
  const samples = extra.samples ?? 1;
  return {
    model: 'simulated',
    rows: Array.from({ length: samples }, () => ({ artist: 'unknown', genres: [], lyrics: '' })),
    durationSeconds: seconds,
    samples,
    seed: 0n,
    sampling: [0, 1, 2].map(() => ({ temperature: 0.99, topK: 0, topP: 1 })),
    mode,
    segments: [0, 0, 1],
    segmentOverlap: DEFAULT_SEGMENT_OVERLAP,
    priority: 5,
    ...extra,
  };
}

/** The DAG bounds of a job's plan under the simulation's true costs. */
export function boundsOf(job: JobRecord, stepMs: number[], workers: number): { analysis: PlanAnalysis; bounds: ScheduleBounds } {
  const analysis = analysePlan(job.plan, stepMs);
  return { analysis, bounds: scheduleBounds(analysis, workers) };
}

