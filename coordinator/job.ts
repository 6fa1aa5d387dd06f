// A job's record and its lifecycle as an explicit state machine.
import type { JobSpec, SongPlan } from '../shared/types.js';
import type { SegmentLayout } from '../shared/plan.js';
import type { DecodeChunk } from '../shared/decode-plan.js';
import type { LevelStream } from '../shared/stitch.js';
import type { PlanAnalysis } from '../shared/critical-path.js';
import type { DecodeProgressState, LevelProgressState } from './scheduler.js';

export type JobState = 'QUEUED' | 'RUNNING' | 'DECODING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';

/** Why a job FAILED, for programs (JobErrorCode in coordinator.proto, without its prefix). */
export type JobErrorCode = 'INPUT_REFUSED' | 'RETRIES_EXHAUSTED' | 'NO_WORKER' | 'STORE' | 'INTERNAL';

export const TERMINAL_STATES: ReadonlySet<JobState> = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);

const TRANSITIONS: Record<JobState, JobState[]> = {
  QUEUED: ['RUNNING', 'FAILED', 'CANCELLED'],
  RUNNING: ['DECODING', 'FAILED', 'CANCELLED'],
  DECODING: ['SUCCEEDED', 'FAILED', 'CANCELLED'],
  SUCCEEDED: [],
  FAILED: [],
  CANCELLED: [],
};

export class IllegalTransitionError extends Error {
  override name = 'IllegalTransitionError';
}

/** Pure: the next state, or an error for a move the lifecycle does not allow. */
export function transition(from: JobState, to: JobState): JobState {
  if (!TRANSITIONS[from].includes(to)) throw new IllegalTransitionError(`job cannot go from ${from} to ${to}`);
  return to;
}

export interface LevelTiming {
  /** clock.now() when the level's first window started; undefined before. */
  firstStartMs?: number;
  lastEndMs?: number;
  /** New tokens per row finished (warm-ups of sharded segments included). */
  newTokensDone: number;
}

export interface JobRecord {
  id: string;
  spec: JobSpec;
  modelHash: string;
  wavFormat: 'pcm16' | 'float32';
  plan: SongPlan;
  /** The segment layout resolved at submission: replanning with it gives the same plan after a restart. */
  layout?: SegmentLayout;
  decodeChunkTokens: number;
  /** The window DAG with relative costs: tails order the job's windows, costs charge its share. */
  analysis: PlanAnalysis;
  state: JobState;
  error?: string;
  /** With error: what kind of failure, and the task key of the window or decode chunk that failed, if one did. */
  errorCode?: JobErrorCode;
  errorTask?: string;
  /** Unix milliseconds when its first task was sent to a worker. */
  startedAtMs?: number;
  /** Unix milliseconds. */
  createdAtMs: number;
  finishedAtMs?: number;
  /** Submission order. */
  seq: number;
  /** The name of the token that submitted it; absent when no tokens were configured. Submitters see only their own jobs. */
  owner?: string;
  /** clock.now() of its first dispatched task. */
  startedMs?: number;
  /** Cost given to the job so far over its priority (fair queuing). */
  virtualTime: number;
  /** Index = level: the kept tokens, assembled from the level's segments. */
  tokens: LevelStream[];
  levels: LevelProgressState[];
  timing: LevelTiming[];
  /** clock.now() when each ready task was first seen ready (thin batches wait relative to it). */
  readySince: Map<string, number>;
  /** Critical-path tails of the job's running windows, by task key. */
  runningTails: Map<string, number>;
  /** Tokens streamed by running windows but not yet stitched, per task key (progress display only). */
  partial: Map<string, { level: number; tokens: number }>;
  /** Cost of the windows done so far (relative units, as analysis). */
  costDone: number;
  decodeChunks: DecodeChunk[];
  decode: DecodeProgressState;
  /** Bytes of each sample row's WAV (in the durable store) once SUCCEEDED. */
  audioBytes: number[];
  /** Sequence number of the job's last durable event (0 before the first). */
  lastEventSeq: number;
  /** Attempts per task key, for retries. */
  attempts: Map<string, number>;
  /** clock.now() before which a failed task is not sent again (backoff). */
  retryAt: Map<string, number>;
  /** The worker a task last failed on: the retry prefers another. */
  failedOn: Map<string, string>;
  /** Tasks that failed inside a batch with a refused input: they run alone from then on. */
  runAlone: Set<string>;
  /** Kernel profile (provider, batch bucket) of the first worker the job ran on; every later task goes to the same. */
  kernels?: string;
  /** clock.now() since when ready work has had no worker able to run it. */
  unservedSinceMs?: number;
}

/** Where job records live. In memory here; a durable store implements the same seam. */
export interface JobStore {
  put(job: JobRecord): void;
  get(id: string): JobRecord | undefined;
  list(): JobRecord[];
  delete(id: string): void;
}

/** Finished jobs kept (with their audio) before the oldest are dropped. */
export const DEFAULT_RETAINED_JOBS = 100;

export class MemoryJobStore implements JobStore {
  private readonly jobs = new Map<string, JobRecord>();

  constructor(
    private readonly retainFinished = DEFAULT_RETAINED_JOBS,
    /** Called for each finished job dropped to keep retainFinished. */
    private readonly onDrop?: (job: JobRecord) => void,
  ) {}

  put(job: JobRecord): void {
    this.jobs.set(job.id, job);
    const finished = [...this.jobs.values()].filter((j) => TERMINAL_STATES.has(j.state));
    // Map order is insertion order: the first finished ones are the oldest.
    for (const old of finished.slice(0, Math.max(0, finished.length - this.retainFinished))) {
      this.jobs.delete(old.id);
      this.onDrop?.(old);
    }
  }
  delete(id: string): void {
    this.jobs.delete(id);
  }
  get(id: string): JobRecord | undefined {
    return this.jobs.get(id);
  }
  list(): JobRecord[] {
    return [...this.jobs.values()];
  }
}
