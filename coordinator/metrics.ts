// Coordinator metrics, base units: seconds and tokens.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Task } from './scheduler.js';
import type { JobState } from './job.js';

const JOB_STATES: JobState[] = ['QUEUED', 'RUNNING', 'DECODING', 'SUCCEEDED', 'FAILED', 'CANCELLED'];

export class CoordinatorMetrics {
  readonly registry = new Registry();
  readonly tokens = new Counter({
    name: 'jukebox_tokens_sampled_total',
    help: 'Tokens sampled and stitched, summed over rows',
    labelNames: ['level'],
    registers: [this.registry],
  });
  readonly windowSeconds = new Histogram({
    name: 'jukebox_window_duration_seconds',
    help: 'Wall time of one window as the coordinator sees it (gRPC included)',
    labelNames: ['level'],
    buckets: [0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30, 100, 300, 1000],
    registers: [this.registry],
  });
  readonly batchRows = new Histogram({
    name: 'jukebox_batch_rows',
    help: 'Rows of one SampleWindow batch (windows of any jobs sampled together)',
    labelNames: ['level'],
    buckets: [1, 2, 4, 8, 16, 32, 64],
    registers: [this.registry],
  });
  readonly batchSeconds = new Histogram({
    name: 'jukebox_batch_duration_seconds',
    help: 'Wall time of one SampleWindow batch as the coordinator sees it (gRPC included)',
    labelNames: ['level'],
    buckets: [0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30, 100, 300, 1000],
    registers: [this.registry],
  });
  readonly windowsQueued = new Gauge({
    name: 'jukebox_windows_queued',
    help: 'Windows whose inputs exist, waiting for a worker',
    labelNames: ['level'],
    registers: [this.registry],
  });
  readonly windowsRunning = new Gauge({
    name: 'jukebox_windows_running',
    help: 'Windows being sampled on workers',
    labelNames: ['level'],
    registers: [this.registry],
  });
  readonly jobs = new Gauge({
    name: 'jukebox_jobs',
    help: 'Jobs by state',
    labelNames: ['state'],
    registers: [this.registry],
  });
  readonly decodeSeconds = new Histogram({
    name: 'jukebox_decode_duration_seconds',
    help: 'Wall time of one VQ-VAE decode chunk (gRPC included)',
    buckets: [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30],
    registers: [this.registry],
  });
  /** Ready windows per job and level; the gauge is their sum. */
  private readonly queued = new Map<string, number[]>();

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'jukebox_coordinator_' });
    for (const s of JOB_STATES) this.jobs.set({ state: s }, 0);
  }

  jobCreated(state: JobState): void {
    this.jobs.inc({ state });
  }

  jobMoved(from: JobState, to: JobState): void {
    this.jobs.dec({ state: from });
    this.jobs.inc({ state: to });
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
}
