// Writes a job's durable records through the DurableStore, one write after another per job (a window's tokens
// land before its event, its event before the next state), and numbers the events watchers replay.
import { EventEmitter } from 'node:events';
import { wavHeader, wavSamples } from '../shared/wav.js';
import type { DecodeChunk } from '../shared/decode-plan.js';
import type { DurableStore, JobEventRecord, JobFixedRecord, JobProgressRecord, StoredJob } from './durable/store.js';
import type { JobRecord } from './job.js';

export interface PersistenceEvents {
  /** A job's event is durable: watchers may send it. */
  event: [jobId: string, seq: number];
}

export function fixedRecord(job: JobRecord): JobFixedRecord {
  return {
    id: job.id,
    spec: { ...job.spec, seed: job.spec.seed.toString() },
    modelHash: job.modelHash,
    wavFormat: job.wavFormat,
    ...(job.layout ? { layout: job.layout } : {}),
    decodeChunkTokens: job.decodeChunkTokens,
    createdAtMs: job.createdAtMs,
    seq: job.seq,
    ...(job.owner !== undefined ? { owner: job.owner } : {}),
  };
}

export function progressRecord(job: JobRecord): JobProgressRecord {
  return {
    state: job.state,
    ...(job.error !== undefined ? { error: job.error } : {}),
    ...(job.errorCode !== undefined ? { errorCode: job.errorCode } : {}),
    ...(job.errorTask !== undefined ? { errorTask: job.errorTask } : {}),
    ...(job.startedAtMs !== undefined ? { startedAtMs: job.startedAtMs } : {}),
    ...(job.finishedAtMs !== undefined ? { finishedAtMs: job.finishedAtMs } : {}),
    ...(job.audioBytes.length > 0 ? { audioBytes: job.audioBytes } : {}),
  };
}

export class JobPersistence extends EventEmitter<PersistenceEvents> {
  private readonly chains = new Map<string, Promise<unknown>>();

  constructor(readonly store: DurableStore) {
    super();
    this.setMaxListeners(0);
  }

  /** Runs `write` after every earlier write of the job has settled; its result or error is the caller's. */
  enqueue<T>(jobId: string, write: () => Promise<T>): Promise<T> {
    const prev = this.chains.get(jobId) ?? Promise.resolve();
    const next = prev.then(write, write);
    const tail = next.catch(() => undefined);
    this.chains.set(jobId, tail);
    // Forget the chain once it is idle, so finished jobs do not pin promises.
    void tail.then(() => {
      if (this.chains.get(jobId) === tail) this.chains.delete(jobId);
    });
    return next;
  }

  /** Resolves when every write queued so far for the job has settled. */
  settled(jobId: string): Promise<void> {
    return (this.chains.get(jobId) ?? Promise.resolve()).then(() => undefined);
  }

  create(job: JobRecord): Promise<void> {
    const stored: StoredJob = { fixed: fixedRecord(job), progress: progressRecord(job) };
    // The state it was created in (QUEUED): by the time the write runs it may have moved on, with its own event.
    const state = job.state;
    return this.enqueue(job.id, async () => {
      await this.store.createJob(stored);
      await this.event(job, { kind: 'state', state });
    });
  }

  /** The window's tokens, then its event: a window counts as done only once this resolved. */
  windowDone(job: JobRecord, key: string, rows: Int32Array[]): Promise<void> {
    return this.enqueue(job.id, async () => {
      await this.store.putWindow(job.id, key, rows);
      await this.event(job, { kind: 'window', task: key });
    });
  }

  decodeDone(job: JobRecord, chunk: number, key: string, audio: Float32Array[]): Promise<void> {
    return this.enqueue(job.id, async () => {
      await this.store.putDecoded(job.id, chunk, audio);
      await this.event(job, { kind: 'decode', task: key });
    });
  }

  /** The job's progress record as it is now, and a state event. */
  stateChanged(job: JobRecord): Promise<void> {
    const progress = progressRecord(job);
    const state = job.state;
    const error = job.error;
    return this.enqueue(job.id, async () => {
      await this.store.setProgress(job.id, progress);
      await this.event(job, { kind: 'state', state, ...(error !== undefined ? { error } : {}) });
    });
  }

  /**
   * Writes each row's WAV from the stored decode chunks, one chunk in memory at a time, and returns the bytes of
   * each file. Chunks tile the song in order (decode-plan); workers return them trimmed.
   */
  writeWavs(job: JobRecord, chunks: readonly DecodeChunk[], hopLength: number): Promise<number[]> {
    return this.enqueue(job.id, async () => {
      const total = chunks.reduce((n, c) => n + (c.end - c.start), 0) * hopLength;
      const sizes: number[] = [];
      for (let row = 0; row < job.spec.samples; row++) {
        const store = this.store;
        const pieces = async function* (): AsyncGenerator<Uint8Array> {
          yield wavHeader(total, job.plan.sampleRate, job.wavFormat);
          for (const c of chunks) {
            const rows = await store.getDecoded(job.id, c.index);
            if (!rows) throw new Error(`decode chunk ${c.index} is not in the store`);
            const audio = rows[row];
            const wanted = (c.end - c.start) * hopLength;
            if (audio.length !== wanted) throw new Error(`decode chunk ${c.index} holds ${audio.length} samples, expected ${wanted}`);
            yield wavSamples(audio, job.wavFormat);
          }
        };
        sizes.push(await this.store.putAudio(job.id, row, pieces()));
      }
      return sizes;
    });
  }

  private async event(job: JobRecord, event: Omit<JobEventRecord, 'seq' | 'atMs'>): Promise<void> {
    const seq = await this.store.appendEvent(job.id, { ...event, atMs: Date.now() });
    job.lastEventSeq = Math.max(job.lastEventSeq, seq);
    this.emit('event', job.id, seq);
  }
}
