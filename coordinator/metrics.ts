// Coordinator metrics, base units (seconds, tokens). A quantity both roles measure has one name in both
// (worker/metrics.ts); every series carries role="coordinator". Level labels: a prior level ("0", "1", ...) or
// "decode" (the VQ-VAE decode chunks).
import { Counter, Gauge, Histogram } from 'prom-client';
import { DURATION_BUCKETS, ROW_BUCKETS, roleRegistry } from '../server/metrics-http.js';
import type { Task } from './scheduler.js';
import type { JobState } from './job.js';
import type { FailureKind } from './retry.js';

const JOB_STATES: JobState[] = ['QUEUED', 'RUNNING', 'DECODING', 'SUCCEEDED', 'FAILED', 'CANCELLED'];
const TERMINAL: JobState[] = ['SUCCEEDED', 'FAILED', 'CANCELLED'];

/** What the scrape-time gauges read: the coordinator's workers and its unfinished jobs. */
export interface MetricsSources {
  /** Each worker known, by what it last said it hosts (levels as labels: "0", ..., "decode"), and whether it is up. */
  workers(): { model: string; levels: string[]; up: boolean }[];
  /** Each unfinished job driven here, with the share (0..1) of its sampling work done. */
  jobs(): { id: string; progress: number }[];
}

export class CoordinatorMetrics {
  readonly registry = roleRegistry('coordinator');
  private sources?: MetricsSources;

  readonly tokens = new Counter({
    name: 'jukebox_tokens_sampled_total',
    help: 'Tokens of windows stored and stitched into their job, summed over rows (work sampled again after a failure counts once)',
    labelNames: ['level'],
    registers: [this.registry],
  });
  readonly windowSeconds = new Histogram({
    name: 'jukebox_window_duration_seconds',
    help: 'Wall time of one window from sending its batch to the reply (gRPC included), windows that succeeded',
    labelNames: ['level'],
    buckets: DURATION_BUCKETS,
    registers: [this.registry],
  });
  readonly batchRows = new Histogram({
    name: 'jukebox_batch_rows',
    help: 'Sample rows of one SampleWindow batch sent (windows of any jobs sampled together)',
    labelNames: ['level'],
    buckets: ROW_BUCKETS,
    registers: [this.registry],
  });
  readonly batchSeconds = new Histogram({
    name: 'jukebox_batch_duration_seconds',
    help: 'Wall time of one SampleWindow batch from sending to the reply (gRPC included), batches that succeeded',
    labelNames: ['level'],
    buckets: DURATION_BUCKETS,
    registers: [this.registry],
  });
  readonly windowsQueued = new Gauge({
    name: 'jukebox_windows_queued',
    help: 'Windows whose inputs exist, waiting for a worker (retry backoff included)',
    labelNames: ['level'],
    registers: [this.registry],
  });
  readonly queueWait = new Histogram({
    name: 'jukebox_queue_wait_seconds',
    help: 'Time from a window or decode chunk being ready (first, or again after a failure) to being sent to a worker',
    labelNames: ['level'],
    buckets: [0.001, 0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30, 100, 300, 1000, 3000],
    registers: [this.registry],
  });
  readonly windowsRunning = new Gauge({
    name: 'jukebox_windows_running',
    help: 'Windows sent to workers and not answered yet',
    labelNames: ['level'],
    registers: [this.registry],
  });
  readonly jobs = new Gauge({
    name: 'jukebox_jobs',
    help: 'Jobs this coordinator took on (submitted or resumed here) by state',
    labelNames: ['state'],
    registers: [this.registry],
  });
  readonly jobSeconds = new Histogram({
    name: 'jukebox_job_duration_seconds',
    help: 'Time from submission to the end state of each job that ended here',
    labelNames: ['state'],
    buckets: [1, 3, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800, 86400],
    registers: [this.registry],
  });
  readonly jobProgress = new Gauge({
    name: 'jukebox_job_progress_ratio',
    help: 'Share of an unfinished job\'s sampling work done (windows weighted by cost, as its ETA); one series per job while it runs here',
    labelNames: ['job_id'],
    registers: [this.registry],
    collect: () => this.collectJobs(),
  });
  readonly workersUp = new Gauge({
    name: 'jukebox_workers_up',
    help: 'Workers that answered Describe and are not marked down, by model and by level they host (a worker counts in each of its levels)',
    labelNames: ['model', 'level'],
    registers: [this.registry],
    collect: () => this.collectWorkers(),
  });
  readonly decodeSeconds = new Histogram({
    name: 'jukebox_decode_duration_seconds',
    help: 'Wall time of one VQ-VAE decode chunk from sending to the reply (gRPC included), chunks that succeeded',
    buckets: [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30],
    registers: [this.registry],
  });
  readonly taskFailures = new Counter({
    name: 'jukebox_task_failures_total',
    help: 'Failed attempts of windows and decode chunks by reason (a failure kind: unavailable, timeout, internal, ...); each is retried (jukebox_task_retries_total) or fails its job. Cancellations are not failures',
    labelNames: ['level', 'reason'],
    registers: [this.registry],
  });
  readonly taskRetries = new Counter({
    name: 'jukebox_task_retries_total',
    help: 'Windows and decode chunks scheduled again after a failure, by the failure\'s reason',
    labelNames: ['level', 'reason'],
    registers: [this.registry],
  });
  readonly tasksCancelled = new Counter({
    name: 'jukebox_tasks_cancelled_total',
    help: 'Windows and decode chunks in flight when their job ended or left this coordinator (cancelled, failed, taken over, shutdown): their result is dropped, not retried',
    labelNames: ['level'],
    registers: [this.registry],
  });
  /** Ready windows per job and level; the gauge is their sum. */
  private readonly queued = new Map<string, number[]>();

  constructor() {
    for (const s of JOB_STATES) this.jobs.set({ state: s }, 0);
    this.publishQueued();
    // Present from the start, so that the first job to end shows as an increase.
    for (const s of TERMINAL) this.jobSeconds.zero({ state: s });
  }

  /** Where the workers-up and job-progress gauges read from at each scrape. */
  readFrom(sources: MetricsSources): void {
    this.sources = sources;
  }

  jobCreated(state: JobState): void {
    this.jobs.inc({ state });
  }

  jobMoved(from: JobState, to: JobState): void {
    this.jobs.dec({ state: from });
    this.jobs.inc({ state: to });
  }

  jobEnded(state: JobState, seconds: number): void {
    this.jobSeconds.observe({ state }, seconds);
  }

  /** A task failed: counted by reason, and as a retry when it will run again. */
  taskFailed(level: string, reason: FailureKind, retried: boolean): void {
    this.taskFailures.inc({ level, reason });
    if (retried) this.taskRetries.inc({ level, reason });
  }

  setQueued(jobId: string, ready: Task[]): void {
    const perLevel: number[] = [];
    for (const t of ready) if (t.kind === 'window') perLevel[t.level] = (perLevel[t.level] ?? 0) + 1;
    this.queued.set(jobId, perLevel);
    this.publishQueued();
  }

  forgetJob(jobId: string): void {
    this.queued.delete(jobId);
    this.publishQueued();
  }

  private publishQueued(): void {
    const sums: number[] = [];
    for (const levels of this.queued.values()) levels.forEach((n, l) => (sums[l] = (sums[l] ?? 0) + (n ?? 0)));
    for (let l = 0; l < Math.max(sums.length, 3); l++) this.windowsQueued.set({ level: String(l) }, sums[l] ?? 0);
  }

  private collectJobs(): void {
    this.jobProgress.reset();
    for (const j of this.sources?.jobs() ?? []) this.jobProgress.set({ job_id: j.id }, j.progress);
  }

  private collectWorkers(): void {
    this.workersUp.reset();
    for (const w of this.sources?.workers() ?? []) {
      // Levels of workers that are down stay, at 0: a level nobody serves any more shows as 0, not as no data.
      for (const level of w.levels) this.workersUp.inc({ model: w.model, level }, w.up ? 1 : 0);
    }
  }
}
