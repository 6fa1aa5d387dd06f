// Carries out scheduling decisions: sends ready windows and decode chunks to free workers, stitches results.
import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import type { SampleWindowResponse__Output } from '../proto/generated/jukebox/v1/SampleWindowResponse.js';
import type { SampleWindowRequest } from '../proto/generated/jukebox/v1/SampleWindowRequest.js';
import type { DecodeResponse__Output } from '../proto/generated/jukebox/v1/DecodeResponse.js';
import { windowLabels, type ResolvedLabels } from '../shared/labels.js';
import { stitchDecodedChunks } from '../shared/decode-plan.js';
import { encodeWav } from '../shared/wav.js';
import type { Manifest, WindowPlan } from '../shared/types.js';
import { log } from '../server/log.js';
import { readyTasks, isComplete, taskKey, type Task } from './scheduler.js';
import { TERMINAL_STATES, transition, type JobRecord, type JobState, type JobStore } from './job.js';
import type { WorkerDirectory, WorkerEntry } from './worker-directory.js';
import type { CoordinatorMetrics } from './metrics.js';

export interface DispatchContext {
  manifest: Manifest;
  /** Index = level. */
  labels: ResolvedLabels[];
}

export interface DispatcherOptions {
  /** Attempts per window or decode chunk before the job fails. @default 4 */
  maxAttempts?: number;
  /** A window with no message from its worker for this long is cancelled and retried. @default 300000 */
  windowStallMs?: number;
  /** Deadline of one Decode call. @default 120000 */
  decodeDeadlineMs?: number;
  /** A job whose ready work has had no worker able to run it for this long fails. @default 60000 */
  unservedTimeoutMs?: number;
  /** First retry delay; doubles with each attempt. @default 200 */
  retryBaseMs?: number;
}

export interface DispatcherEvents {
  update: [job: JobRecord];
}

/** Why a task failed, as the retry decision needs it. */
interface TaskFailure {
  message: string;
  /** Retrying cannot help (bad input). */
  permanent: boolean;
  /** The worker should not get work for a while. */
  workerSuspect: boolean;
}

function failureOf(err: grpc.ServiceError): TaskFailure {
  const code = err.code;
  return {
    message: `${grpc.status[code]}: ${err.details}`,
    permanent: code === grpc.status.INVALID_ARGUMENT,
    workerSuspect: code === grpc.status.UNAVAILABLE || code === grpc.status.FAILED_PRECONDITION || code === grpc.status.DEADLINE_EXCEEDED,
  };
}

export class Dispatcher extends EventEmitter<DispatcherEvents> {
  private readonly contexts = new Map<string, DispatchContext>();
  /** Calls in flight per job, so a cancel can stop them. */
  private readonly calls = new Map<string, Set<grpc.Call>>();
  private readonly opts: Required<DispatcherOptions>;
  private pumping = false;
  private closed = false;
  private retryTimer?: NodeJS.Timeout;

  constructor(
    private readonly store: JobStore,
    private readonly workers: WorkerDirectory,
    private readonly metrics: CoordinatorMetrics,
    options: DispatcherOptions = {},
  ) {
    super();
    this.opts = {
      maxAttempts: options.maxAttempts ?? 4,
      windowStallMs: options.windowStallMs ?? 300_000,
      decodeDeadlineMs: options.decodeDeadlineMs ?? 120_000,
      unservedTimeoutMs: options.unservedTimeoutMs ?? 60_000,
      retryBaseMs: options.retryBaseMs ?? 200,
    };
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
      const calls = this.calls.get(job.id);
      this.calls.delete(job.id);
      for (const call of calls ?? []) call.cancel();
      // Decoded chunks are no longer needed once the WAVs exist (or never will).
      job.decodedChunks = [];
      this.metrics.forgetJob(job.id);
      // Re-put so the store can drop old finished jobs.
      this.store.put(job);
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
    if (this.pumping || this.closed) return;
    this.pumping = true;
    try {
      let waitingAnywhere = false;
      const now = performance.now();
      for (const [id, ctx] of this.contexts) {
        const job = this.store.get(id);
        if (!job || TERMINAL_STATES.has(job.state)) continue;
        const waiting: Task[] = [];
        let unserved: Task | undefined;
        for (const task of readyTasks(job.plan, job.levels, job.decodeChunks, job.decode)) {
          const key = taskKey(task);
          if ((job.retryAt.get(key) ?? 0) > now) {
            waiting.push(task);
            continue;
          }
          const req = { modelHash: job.modelHash, level: task.kind === 'decode' ? ('decode' as const) : task.level, provider: job.provider, avoid: job.failedOn.get(key) };
          const worker = this.workers.acquire(req);
          if (!worker) {
            waiting.push(task);
            if (!this.workers.canServe(req)) unserved ??= task;
            continue;
          }
          job.provider ??= worker.info?.executionProvider;
          if (job.state === 'QUEUED') this.setState(job, 'RUNNING');
          if (task.kind === 'window') this.runWindow(job, ctx, task.level, task.window, worker);
          else this.runDecode(job, task.chunk, worker);
        }
        this.metrics.setQueued(job.id, waiting);
        if (waiting.length > 0) waitingAnywhere = true;
        this.checkUnserved(job, unserved, now);
      }
      // Ready work without a free worker (busy, down, or backing off): look again shortly.
      if (waitingAnywhere && !this.retryTimer) {
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.pump();
        }, 250);
      }
    } finally {
      this.pumping = false;
    }
  }

  /** Fails a job whose ready work has had no live worker able to run it for too long. */
  private checkUnserved(job: JobRecord, unserved: Task | undefined, now: number): void {
    if (!unserved) {
      job.unservedSinceMs = undefined;
      return;
    }
    job.unservedSinceMs ??= now;
    if (now - job.unservedSinceMs < this.opts.unservedTimeoutMs) return;
    const what = unserved.kind === 'decode' ? 'VQ-VAE decoding' : `level ${unserved.level}`;
    const pinned = job.provider ? ` on execution provider ${job.provider}` : '';
    this.setState(job, 'FAILED', `no live worker can run ${what} of model ${job.spec.model}${pinned} for ${Math.round(this.opts.unservedTimeoutMs / 1000)} s`);
  }

  private track(job: JobRecord, call: grpc.Call): () => void {
    const set = this.calls.get(job.id);
    set?.add(call);
    return () => set?.delete(call);
  }

  private windowRequest(job: JobRecord, ctx: DispatchContext, level: number, w: WindowPlan): SampleWindowRequest {
    const lm = ctx.manifest.levels[level];
    const rows = job.spec.samples;
    // Jukebox conditions on the intended song length (total_sample_length_in_seconds * sr), not the rounded one.
    const totalLength = Math.floor(job.spec.durationSeconds * job.plan.sampleRate);
    const label = windowLabels(ctx.manifest, level, w.start, totalLength, ctx.labels[level]);
    const context = job.tokens[level].window(w.start, w.start + w.contextTokens);
    const upper = lm.conditioning.upper ? job.tokens[level + 1].upper(w.upperStart, w.upperEnd) : [];
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
    const key = taskKey({ kind: 'window', level, window: w });
    const levelLabel = String(level);
    const started = performance.now();
    this.metrics.windowsRunning.inc({ level: levelLabel });
    const call = worker.client.SampleWindow(this.windowRequest(job, ctx, level, w));
    const untrack = this.track(job, call);
    let result: Int32Array[] | undefined;
    let stalled = false;
    let stallTimer = setTimeout(onStall, this.opts.windowStallMs);
    function onStall(): void {
      stalled = true;
      call.cancel();
    }
    call.on('data', (msg: SampleWindowResponse__Output) => {
      clearTimeout(stallTimer);
      stallTimer = setTimeout(onStall, this.opts.windowStallMs);
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
      clearTimeout(stallTimer);
      untrack();
      this.workers.release(worker);
      this.metrics.windowsRunning.dec({ level: levelLabel });
      state.running = false;
      job.partialTokens[level] = 0;
      if (TERMINAL_STATES.has(job.state) || this.closed) return this.pump();
      const codebook = ctx.manifest.levels[level].codebookSize;
      const complete =
        !err &&
        result !== undefined &&
        result.length === job.spec.samples &&
        result.every((r) => r.length === w.newTokens && r.every((t) => t >= 0 && t < codebook));
      if (complete) {
        job.tokens[level].append(w.start + w.contextTokens, result!);
        state.windowsDone++;
        state.tokensDone = job.tokens[level].length;
        timing.newTokensDone += w.newTokens;
        timing.lastEndMs = performance.now();
        this.metrics.tokens.inc({ level: levelLabel }, w.newTokens * job.spec.samples);
        this.metrics.windowSeconds.observe({ level: levelLabel }, (performance.now() - started) / 1000);
        this.afterProgress(job);
      } else {
        const failure: TaskFailure = stalled
          ? { message: `no message for ${this.opts.windowStallMs / 1000} s`, permanent: false, workerSuspect: true }
          : err
            ? failureOf(err)
            : { message: 'the worker ended the stream without a complete, in-range window', permanent: false, workerSuspect: true };
        this.retryOrFail(job, key, worker, failure, `level ${level} window ${w.index}`);
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
    const expectedBytes = (chunk.end - chunk.start) * job.plan.levels[0].hopLength * 4;
    const key = taskKey({ kind: 'decode', chunk: chunkIndex });
    const started = performance.now();
    const call = worker.client.Decode(
      {
        modelHash: job.modelHash,
        level: 0,
        rows: rows.map((r) => ({ tokens: Array.from(r) })),
        trimStartTokens: chunk.trimStart,
        trimEndTokens: chunk.trimEnd,
      },
      { deadline: Date.now() + this.opts.decodeDeadlineMs },
      (err: grpc.ServiceError | null, res?: DecodeResponse__Output) => {
        untrack();
        this.workers.release(worker);
        job.decode.running[chunkIndex] = false;
        if (TERMINAL_STATES.has(job.state) || this.closed) return this.pump();
        const valid = !err && res !== undefined && res.audio.length === rows.length && res.audio.every((b) => b.byteLength === expectedBytes);
        if (valid) {
          // Copy: the reply's buffer may not be 4-byte aligned.
          job.decodedChunks[chunkIndex] = res!.audio.map((b) => new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)));
          job.decode.done[chunkIndex] = true;
          this.metrics.decodeSeconds.observe((performance.now() - started) / 1000);
          this.afterProgress(job);
        } else {
          const failure = err
            ? failureOf(err)
            : { message: `the reply does not hold ${rows.length} rows of ${expectedBytes} bytes`, permanent: false, workerSuspect: true };
          this.retryOrFail(job, key, worker, failure, `decode chunk ${chunkIndex}`);
        }
        this.pump();
      },
    );
    const untrack = this.track(job, call);
  }

  private retryOrFail(job: JobRecord, key: string, worker: WorkerEntry, failure: TaskFailure, what: string): void {
    const attempts = (job.attempts.get(key) ?? 0) + 1;
    job.attempts.set(key, attempts);
    job.failedOn.set(key, worker.address);
    const message = `${what} on ${worker.address}: ${failure.message}`;
    if (failure.workerSuspect) this.workers.markDown(worker, failure.message);
    if (failure.permanent || attempts >= this.opts.maxAttempts) {
      this.setState(job, 'FAILED', `${message} (after ${attempts} attempt${attempts > 1 ? 's' : ''})`);
      return;
    }
    job.retryAt.set(key, performance.now() + this.opts.retryBaseMs * 2 ** (attempts - 1));
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
    try {
      const hop = job.plan.levels[0].hopLength;
      const chunks = job.decodedChunks as Float32Array[][];
      job.audio = Array.from({ length: job.spec.samples }, (_, row) => {
        const audio = stitchDecodedChunks(job.decodeChunks, chunks.map((c) => c[row]), hop);
        return encodeWav(audio, job.plan.sampleRate, job.wavFormat);
      });
    } catch (err) {
      this.setState(job, 'FAILED', `writing the WAV failed: ${(err as Error).message}`);
      return;
    }
    this.setState(job, 'SUCCEEDED');
  }

  /** Stops sending work; calls in flight are cancelled and not retried. */
  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    for (const set of this.calls.values()) for (const c of set) c.cancel();
  }
}
