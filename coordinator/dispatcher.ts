// Carries out scheduling decisions: sends ready windows and decode chunks to free workers, stitches results.
import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import type { SampleWindowResponse__Output } from '../proto/generated/jukebox/v1/SampleWindowResponse.js';
import type { SampleWindowRequest } from '../proto/generated/jukebox/v1/SampleWindowRequest.js';
import { labelVector, lyricWindow } from '../shared/labels.js';
import { stitchDecodedChunks } from '../shared/decode-plan.js';
import { encodeWav } from '../shared/wav.js';
import type { Manifest, WindowPlan } from '../shared/types.js';
import { log } from '../server/log.js';
import { readyTasks, isComplete, type Task } from './scheduler.js';
import { TERMINAL_STATES, transition, type JobRecord, type JobState, type JobStore } from './job.js';
import type { WorkerDirectory, WorkerEntry } from './worker-directory.js';
import type { CoordinatorMetrics } from './metrics.js';

export interface ResolvedLabels {
  artistId: number;
  genreIds: number[];
  lyricIds: number[];
}

export interface DispatchContext {
  manifest: Manifest;
  labels: ResolvedLabels;
}

/** Attempts per window or decode chunk before the job fails. */
export const MAX_ATTEMPTS = 4;

/** Deadline of one Decode call. */
const DECODE_DEADLINE_MS = 120_000;

export interface DispatcherEvents {
  update: [job: JobRecord];
}

export class Dispatcher extends EventEmitter<DispatcherEvents> {
  private readonly contexts = new Map<string, DispatchContext>();
  /** Calls in flight per job, so a cancel can stop them. */
  private readonly calls = new Map<string, Set<grpc.Call>>();
  private pumping = false;
  private retryTimer?: NodeJS.Timeout;

  constructor(
    private readonly store: JobStore,
    private readonly workers: WorkerDirectory,
    private readonly metrics: CoordinatorMetrics,
  ) {
    super();
  }

  add(job: JobRecord, ctx: DispatchContext): void {
    this.contexts.set(job.id, ctx);
    this.calls.set(job.id, new Set());
    this.store.put(job);
    this.metrics.jobCreated(job.state);
    this.emit('update', job);
    this.pump();
  }

  private setState(job: JobRecord, to: JobState, error?: string): void {
    const from = job.state;
    job.state = transition(from, to);
    if (error) job.error = error;
    if (TERMINAL_STATES.has(to)) {
      job.finishedAtMs = Date.now();
      this.contexts.delete(job.id);
      for (const call of this.calls.get(job.id) ?? []) call.cancel();
      this.calls.delete(job.id);
      // Decoded chunks are no longer needed once the WAVs exist.
      job.decodedChunks = [];
      this.metrics.forgetJob(job.id);
    }
    this.metrics.jobMoved(from, to);
    log('coordinator', 'job state', { job: job.id, from, to, ...(error ? { error } : {}) });
    this.emit('update', job);
  }

  cancel(job: JobRecord): void {
    if (TERMINAL_STATES.has(job.state)) return;
    this.setState(job, 'CANCELLED');
  }

  /** Sends every ready task that has a free worker; called after anything that may make work ready. */
  pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      let blocked = false;
      for (const job of this.store.list()) {
        const ctx = this.contexts.get(job.id);
        if (!ctx || TERMINAL_STATES.has(job.state)) continue;
        const waiting: Task[] = [];
        for (const task of readyTasks(job.plan, job.levels, job.decodeChunks, job.decode)) {
          const worker = this.workers.acquire({ modelHash: job.modelHash, level: task.kind === 'decode' ? 'decode' : task.level });
          if (!worker) {
            waiting.push(task);
            continue;
          }
          if (job.state === 'QUEUED') this.setState(job, 'RUNNING');
          if (task.kind === 'window') this.runWindow(job, ctx, task.level, task.window, worker);
          else this.runDecode(job, task.chunk, worker);
        }
        this.metrics.setQueued(job.id, waiting);
        if (waiting.length > 0) blocked = true;
      }
      // No free worker for ready work (workers down or busy elsewhere): look again shortly.
      if (blocked && !this.retryTimer) {
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.pump();
        }, 250);
      }
    } finally {
      this.pumping = false;
    }
  }

  private track(job: JobRecord, call: grpc.Call): () => void {
    const set = this.calls.get(job.id);
    set?.add(call);
    return () => set?.delete(call);
  }

  private windowRequest(job: JobRecord, ctx: DispatchContext, level: number, w: WindowPlan): SampleWindowRequest {
    const lm = ctx.manifest.levels[level];
    const rows = job.spec.samples;
    const totalLength = job.plan.totalSamples;
    const offset = w.start * lm.hopLength;
    const sampleLength = lm.nCtx * lm.hopLength;
    const lyrics =
      lm.conditioning.lyricTokens > 0
        ? lyricWindow(ctx.labels.lyricIds, lm.conditioning.lyricTokens, totalLength, offset, sampleLength)
        : [];
    const label = labelVector(
      { totalLength, offset, sampleLength, artistId: ctx.labels.artistId, genreIds: ctx.labels.genreIds, lyricWindow: lyrics },
      ctx.manifest.labels.maxGenreWords,
    );
    const context = job.tokens[level].window(w.start, w.start + w.contextTokens);
    const upper = lm.conditioning.upper ? job.tokens[level + 1].window(w.upperStart, w.upperEnd) : [];
    const sampling = job.spec.sampling[level];
    return {
      jobId: job.id,
      modelHash: job.modelHash,
      level,
      windowIndex: w.index,
      start: w.start,
      context: context.map((r) => ({ tokens: Array.from(r) })),
      newTokens: w.newTokens,
      upper: upper.map((r) => ({ tokens: Array.from(r) })),
      labels: Array.from({ length: rows }, () => ({ tokens: label })),
      seed: job.spec.seed.toString(),
      temperature: sampling.temperature,
      topK: sampling.topK,
      topP: sampling.topP,
      sampleIds: Array.from({ length: rows }, (_, i) => i),
    };
  }

  private runWindow(job: JobRecord, ctx: DispatchContext, level: number, w: WindowPlan, worker: WorkerEntry): void {
    const state = job.levels[level];
    state.running = true;
    const timing = job.timing[level];
    timing.firstStartMs ??= performance.now();
    const key = `w${level}:${w.index}`;
    const started = performance.now();
    this.metrics.windowsRunning.inc({ level: String(level) });
    const call = worker.client.SampleWindow(this.windowRequest(job, ctx, level, w));
    const untrack = this.track(job, call);
    let result: Int32Array[] | undefined;
    call.on('data', (msg: SampleWindowResponse__Output) => {
      if (msg.progress) {
        job.partialTokens[level] = msg.progress.tokensDone;
        this.emit('update', job);
      } else if (msg.result) {
        result = msg.result.rows.map((r) => Int32Array.from(r.tokens));
      }
    });
    let settled = false;
    const finish = (err: grpc.ServiceError | null): void => {
      if (settled) return;
      settled = true;
      untrack();
      this.workers.release(worker);
      this.metrics.windowsRunning.dec({ level: String(level) });
      state.running = false;
      job.partialTokens[level] = 0;
      if (TERMINAL_STATES.has(job.state)) return this.pump();
      if (!err && result && result.length === job.spec.samples && result.every((r) => r.length === w.newTokens)) {
        job.tokens[level].append(w.start + w.contextTokens, result);
        state.windowsDone++;
        state.tokensDone = job.tokens[level].length;
        timing.newTokensDone += w.newTokens;
        timing.lastEndMs = performance.now();
        this.metrics.tokens.inc({ level: String(level) }, w.newTokens * job.spec.samples);
        this.metrics.windowSeconds.observe({ level: String(level) }, (performance.now() - started) / 1000);
        this.afterProgress(job);
      } else {
        const why = err ? `${grpc.status[err.code]}: ${err.details}` : 'stream ended without a complete window';
        this.retryOrFail(job, key, worker, err, `level ${level} window ${w.index} on ${worker.address}: ${why}`);
      }
      this.pump();
    };
    call.on('error', (err: grpc.ServiceError) => finish(err));
    call.on('end', () => finish(null));
  }

  private runDecode(job: JobRecord, chunkIndex: number, worker: WorkerEntry): void {
    const chunk = job.decodeChunks[chunkIndex];
    job.decode.running[chunkIndex] = true;
    const rows = job.tokens[0].window(chunk.inStart, chunk.inEnd);
    const started = performance.now();
    const call = worker.client.Decode(
      {
        modelHash: job.modelHash,
        level: 0,
        rows: rows.map((r) => ({ tokens: Array.from(r) })),
        trimStartTokens: chunk.trimStart,
        trimEndTokens: chunk.trimEnd,
      },
      { deadline: Date.now() + DECODE_DEADLINE_MS },
      (err, res) => {
        untrack();
        this.workers.release(worker);
        job.decode.running[chunkIndex] = false;
        if (TERMINAL_STATES.has(job.state)) return this.pump();
        if (err || !res) {
          this.retryOrFail(job, `d${chunkIndex}`, worker, err, `decode chunk ${chunkIndex} on ${worker.address}: ${err?.details ?? 'no answer'}`);
        } else {
          job.decodedChunks[chunkIndex] = res.audio.map(
            (b) => new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)),
          );
          job.decode.done[chunkIndex] = true;
          this.metrics.decodeSeconds.observe((performance.now() - started) / 1000);
          this.afterProgress(job);
        }
        this.pump();
      },
    );
    const untrack = this.track(job, call);
  }

  private retryOrFail(job: JobRecord, key: string, worker: WorkerEntry, err: grpc.ServiceError | null, message: string): void {
    const attempts = (job.attempts.get(key) ?? 0) + 1;
    job.attempts.set(key, attempts);
    // A worker that cannot be reached, or holds another model, should not get the retry.
    if (err && (err.code === grpc.status.UNAVAILABLE || err.code === grpc.status.FAILED_PRECONDITION)) {
      this.workers.markDown(worker, err.details);
    }
    // Bad input is not fixed by another attempt.
    if ((err && err.code === grpc.status.INVALID_ARGUMENT) || attempts >= MAX_ATTEMPTS) {
      this.setState(job, 'FAILED', `${message} (after ${attempts} attempt${attempts > 1 ? 's' : ''})`);
      return;
    }
    log('coordinator', 'retrying', { job: job.id, task: key, attempt: attempts, error: message });
  }

  private afterProgress(job: JobRecord): void {
    const samplingDone = job.plan.levels.every((lp, l) => job.levels[l].windowsDone >= lp.windows.length);
    if (samplingDone && job.state === 'RUNNING') this.setState(job, 'DECODING');
    if (isComplete(job.plan, job.levels, job.decode)) {
      this.finish(job);
      return;
    }
    this.emit('update', job);
  }

  private finish(job: JobRecord): void {
    const hop = job.plan.levels[0].hopLength;
    const chunks = job.decodedChunks as Float32Array[][];
    job.audio = Array.from({ length: job.spec.samples }, (_, row) => {
      const audio = stitchDecodedChunks(job.decodeChunks, chunks.map((c) => c[row]), hop);
      return encodeWav(audio, job.plan.sampleRate, job.wavFormat);
    });
    this.setState(job, 'SUCCEEDED');
  }

  close(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    for (const set of this.calls.values()) for (const c of set) c.cancel();
  }
}

export type { Task };
