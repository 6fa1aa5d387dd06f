// What the coordinator needs of one worker, in domain types: the dispatcher and the worker directory talk to
// workers only through this, so that tests and bench/schedule drive them with fakes. grpc-worker.ts is the real one.
import type { SamplingParams } from '../shared/types.js';
import type { TaskFailure } from './retry.js';

export interface WorkerInfo {
  workerId: string;
  modelId: string;
  modelHash: string;
  levels: number[];
  /** Batches or decode chunks it runs at once. */
  capacity: number;
  /** Most rows one batch holds. */
  maxBatchRows: number;
  executionProvider: string;
  /** Rows every batch is padded to (0 = none). */
  batchBucket: number;
  /** The model's graph set it runs: "fp32" or "fp16" (workers from before precision answer "": fp32). */
  precision: string;
  decodes: boolean;
  /** Runs VQ-VAE Encode (a primed job's prompt); absent: no. */
  encodes?: boolean;
}

/**
 * What fixes the numbers a row gets: the execution provider, the graph set's precision and the batch bucket. A job
 * is pinned to the first profile it runs on, so that its tokens do not depend on which worker a window lands on.
 */
export function kernelProfile(info: Pick<WorkerInfo, 'executionProvider' | 'batchBucket' | 'precision'>): string {
  const kernels = `${info.executionProvider} ${info.precision || 'fp32'}`;
  return info.batchBucket > 0 ? `${kernels} (batches padded to ${info.batchBucket} rows)` : kernels;
}

/** One window of one job inside a batch. */
export interface WindowItem {
  jobId: string;
  windowIndex: number;
  start: number;
  context: Int32Array[];
  upper: Int32Array[];
  labels: Int32Array[];
  seed: bigint;
  sampling: SamplingParams;
  sampleIds: number[];
  /** W3C trace context of the window's span ('' or absent without tracing). */
  traceparent?: string;
}

/** Windows of one level with the same context length and new token count, sampled together. */
export interface WindowBatch {
  modelHash: string;
  level: number;
  newTokens: number;
  items: WindowItem[];
}

export interface DecodeJob {
  modelHash: string;
  level: number;
  rows: Int32Array[];
  trimStart: number;
  trimEnd: number;
  /** W3C trace context of the decode chunk's span ('' or absent without tracing). */
  traceparent?: string;
}

export interface BatchHandlers {
  /** The worker is making progress: new tokens so far per row. */
  progress(tokensDone: number): void;
  /** All rows of all items, in item order. */
  done(rows: Int32Array[]): void;
  failed(failure: TaskFailure): void;
}

export interface RemoteCall {
  cancel(): void;
}

export interface WorkerConnection {
  readonly address: string;
  describe(timeoutMs: number): Promise<WorkerInfo>;
  sampleBatch(batch: WindowBatch, handlers: BatchHandlers): RemoteCall;
  /** Float32 audio per row. */
  decode(job: DecodeJob, timeoutMs: number, done: (failure: TaskFailure | null, audio?: Float32Array[]) => void): RemoteCall;
  /** A primed job's prompt through one level's VQ-VAE encoder: tokens per row. Absent: the connection cannot encode. */
  encode?(job: EncodeJob, timeoutMs: number): Promise<Int32Array[]>;
  close(): void;
}

export interface EncodeJob {
  modelHash: string;
  level: number;
  /** Samples per row at the model's rate, a multiple of the level's hop length. */
  rows: Float32Array[];
}

export type ConnectWorker = (address: string) => WorkerConnection;
