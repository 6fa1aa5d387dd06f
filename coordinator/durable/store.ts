// What the coordinator keeps durable about a job, and the narrow interface every store implements: in memory
// for embedded mode, JetStream KV + Object Store for the served mode. The live JobRecord (coordinator/job.ts)
// is rebuilt from these records after a restart: the fixed part replans the job exactly, the stored windows
// and decode chunks say what is done, the events let a watcher resume.
import type { SegmentLayout } from '../../shared/plan.js';
import type { JobSpec } from '../../shared/types.js';

export type StoredJobState = 'QUEUED' | 'RUNNING' | 'DECODING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';

/** A job's validated spec as JSON can hold it (the seed as a decimal string). */
export type StoredSpec = Omit<JobSpec, 'seed'> & { seed: string };

/** Written once at submission: everything needed to plan the job again, token for token. */
export interface JobFixedRecord {
  id: string;
  spec: StoredSpec;
  modelHash: string;
  wavFormat: 'pcm16' | 'float32';
  /** The segment layout resolved at submission (automatic segments depend on the workers then). */
  layout?: SegmentLayout;
  decodeChunkTokens: number;
  /** Unix milliseconds. */
  createdAtMs: number;
  /** Submission order across coordinator restarts. */
  seq: number;
  /** The name of the token that submitted it (coordinator --tokens-file); absent when no tokens were configured. */
  owner?: string;
}

/** Changes only through the store: where the job's lifecycle stands. */
export interface JobProgressRecord {
  state: StoredJobState;
  error?: string;
  /** With error: JobErrorCode (coordinator/job.ts) and the failed task's key. */
  errorCode?: string;
  errorTask?: string;
  /** Unix milliseconds when its first task was sent to a worker. */
  startedAtMs?: number;
  finishedAtMs?: number;
  /** Bytes of each row's WAV once SUCCEEDED. */
  audioBytes?: number[];
}

/** One thing that happened to a job, numbered from 1 without gaps: what WatchJob replays after a disconnect. */
export interface JobEventRecord {
  seq: number;
  /** Unix milliseconds. */
  atMs: number;
  kind: 'state' | 'window' | 'decode';
  state?: StoredJobState;
  error?: string;
  /** Task key of a finished window or decode chunk (coordinator/scheduler.ts taskKey). */
  task?: string;
}

export interface StoredJob {
  fixed: JobFixedRecord;
  progress: JobProgressRecord;
}

/**
 * Durable job state. Every write resolves once the data is durable in the store (a window counts as done only
 * after putWindow resolved); reads return what a completed write left. Keys are task keys (taskKey()).
 */
export interface DurableStore {
  /** Short name for logs and metrics ('memory', 'jetstream'). */
  readonly kind: string;
  createJob(job: StoredJob): Promise<void>;
  /** Every job the store holds (finished ones too, until retention drops them). */
  listJobs(): Promise<StoredJob[]>;
  getJob(id: string): Promise<StoredJob | undefined>;
  setProgress(id: string, progress: JobProgressRecord): Promise<void>;
  /** A window's new tokens, one array per sample row. Writing the same key again replaces them. */
  putWindow(id: string, key: string, rows: Int32Array[]): Promise<void>;
  /** Every stored window of a job, by task key. */
  windows(id: string): Promise<Map<string, Int32Array[]>>;
  /** A decode chunk's audio, one array per sample row. */
  putDecoded(id: string, chunk: number, rows: Float32Array[]): Promise<void>;
  /** Indices of the stored decode chunks. */
  decodedChunks(id: string): Promise<number[]>;
  getDecoded(id: string, chunk: number): Promise<Float32Array[] | undefined>;
  /** A row's WAV file, written piece by piece (never whole in memory). */
  putAudio(id: string, row: number, pieces: AsyncIterable<Uint8Array>): Promise<number>;
  /** A row's WAV file piece by piece, or undefined when there is none. */
  readAudio(id: string, row: number): AsyncIterable<Uint8Array> | undefined | Promise<AsyncIterable<Uint8Array> | undefined>;
  /** Appends an event with the next sequence number (1, 2, ...) and returns it. */
  appendEvent(id: string, event: Omit<JobEventRecord, 'seq'>): Promise<number>;
  /** Events with seq > afterSeq, in order. */
  events(id: string, afterSeq: number): Promise<JobEventRecord[]>;
  /** Drops a job and everything stored for it. */
  deleteJob(id: string): Promise<void>;
  /**
   * Takes or renews the lease on a job for `owner` until now + ttlMs. True when `owner` holds it afterwards:
   * no other owner held an unexpired lease. Two coordinators never both get true for the same job at once.
   */
  acquireLease(id: string, owner: string, ttlMs: number): Promise<boolean>;
  releaseLease(id: string, owner: string): Promise<void>;
  close(): Promise<void>;
}

/** Tokens of a window as bytes (little-endian int32, rows back to back) and back. */
export function packRows(rows: readonly (Int32Array | Float32Array)[]): Uint8Array {
  const n = rows.reduce((s, r) => s + r.length, 0);
  const header = new Uint32Array(1 + rows.length);
  header[0] = rows.length;
  rows.forEach((r, i) => (header[1 + i] = r.length));
  const out = new Uint8Array(header.byteLength + 4 * n);
  out.set(new Uint8Array(header.buffer), 0);
  let offset = header.byteLength;
  for (const r of rows) {
    out.set(new Uint8Array(r.buffer, r.byteOffset, r.byteLength), offset);
    offset += r.byteLength;
  }
  return out;
}

export function unpackRows<T extends Int32Array | Float32Array>(bytes: Uint8Array, make: (buf: ArrayBuffer, offset: number, length: number) => T): T[] {
  // Copy once so the views are aligned and own their memory.
  const buf = bytes.slice().buffer;
  const view = new DataView(buf);
  const count = view.getUint32(0, true);
  const lengths = Array.from({ length: count }, (_, i) => view.getUint32(4 + 4 * i, true));
  let offset = 4 * (1 + count);
  return lengths.map((len) => {
    const row = make(buf, offset, len);
    offset += 4 * len;
    return row;
  });
}

export const unpackInt32 = (bytes: Uint8Array): Int32Array[] => unpackRows(bytes, (b, o, n) => new Int32Array(b, o, n));
export const unpackFloat32 = (bytes: Uint8Array): Float32Array[] => unpackRows(bytes, (b, o, n) => new Float32Array(b, o, n));
