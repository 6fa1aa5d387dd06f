// Carries out scheduling decisions: offers ready windows and decode chunks of all jobs to free workers in
// schedule order, fills each worker's batch with compatible windows of any job, stitches results, retries.
import { EventEmitter } from 'node:events';
import { windowLabels, type ResolvedLabels } from '../shared/labels.js';
import type { Manifest } from '../shared/types.js';
import { log } from '../server/log.js';
import { readyTasks, isComplete, samplingComplete, taskKey, taskLevelLabel, tokensNeededFrom, type Task } from './scheduler.js';
import { CRITICAL_FRACTION, batchOrder, holdUntil, scheduleOrder, queuePositions, type BatchCandidate, type JobShare } from './schedule-order.js';
import { decideRetry, type RetryPolicy, type TaskFailure } from './retry.js';
import { TERMINAL_STATES, transition, type JobErrorCode, type JobRecord, type JobState, type JobStore } from './job.js';
import { realClock, type Clock, type Timer } from './clock.js';
import type { WorkerDirectory, WorkerEntry, WorkerRequirement } from './worker-directory.js';
import { kernelProfile, type RemoteCall, type WindowItem } from './worker-connection.js';
import type { CoordinatorMetrics } from './metrics.js';
import type { JobPersistence } from './job-persistence.js';
import { noJobTracing, type JobTracer } from './job-tracing.js';

export interface DispatchContext {
  manifest: Manifest;
  /** Index = sample row, then level (resolveLabels). */
  labels: ResolvedLabels[][];
}

export interface DispatcherOptions {
  /** Attempts per window or decode chunk before the job fails. @default 4 */
  maxAttempts?: number;
  /** A batch with no message from its worker for this long is cancelled and retried. @default 300000 */
  windowStallMs?: number;
  /** Deadline of one Decode call. @default 120000 */
  decodeDeadlineMs?: number;
  /** A job whose ready work has had no worker able to run it for this long fails. @default 60000 */
  unservedTimeoutMs?: number;
  /** First retry delay; doubles with each attempt. @default 200 */
  retryBaseMs?: number;
  /** Time source; the simulated one in bench/schedule. @default the real clock */
  clock?: Clock;
  /** Traces of jobs, windows and decode chunks. @default none */
  tracing?: JobTracer;
}

export interface DispatcherEvents {
  update: [job: JobRecord];
}

/** One ready task of one job, as schedule order sees it. */
interface Offer {
  job: JobRecord;
  task: Task;
  key: string;
}

/** A batch in flight: the jobs still interested in it (the call is cancelled when none is). */
interface BatchCall {
  call?: RemoteCall;
  live: Set<string>;
}

/** Relative cost charged for a decode chunk: small next to windows, but not free. */
const DECODE_COST = 1e-3;

export class Dispatcher extends EventEmitter<DispatcherEvents> {
  private readonly contexts = new Map<string, DispatchContext>();
  /** Calls in flight per job, so that a cancel can stop them. */
  private readonly calls = new Map<string, Set<BatchCall>>();
  private readonly opts: Required<Omit<DispatcherOptions, 'clock' | 'tracing'>>;
  private readonly retry: RetryPolicy;
  readonly clock: Clock;
  private readonly tracing: JobTracer;
  private pumping = false;
  private pumpAgain = false;
  private closed = false;
  private retryTimer?: Timer;
  private holdTimer?: { at: number; timer: Timer };
  private seq = 0;
  /** Batches in flight: level, model, expected end. */
  private readonly inFlight = new Set<{ modelHash: string; level: number; expectedEndMs: number }>();
  /** Typical batch duration per model and level (moving average), for holding thin batches. */
  private readonly batchMs = new Map<string, number>();
  /** Jobs whose WAVs are being written. */
  private readonly finishing = new Set<string>();
  /** How to give up each call in flight, by worker address: a worker that stops heartbeating fails them at once. */
  private readonly aborts = new Map<string, Set<(failure: TaskFailure) => void>>();

  constructor(
    private readonly store: JobStore,
    private readonly workers: WorkerDirectory,
    private readonly metrics: CoordinatorMetrics,
    private readonly persistence: JobPersistence,
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
    this.retry = { maxAttempts: this.opts.maxAttempts, baseDelayMs: this.opts.retryBaseMs, maxDelayMs: 30_000 };
    this.clock = options.clock ?? realClock;
    this.tracing = options.tracing ?? noJobTracing;
    metrics.readFrom({
      workers: () =>
        workers.list().flatMap((e) => {
          const info = e.lastInfo;
          if (!info) return [];
          return [{ model: info.modelId, levels: [...info.levels.map(String), ...(info.decodes ? ['decode'] : [])], up: e.info !== undefined }];
        }),
      jobs: () => this.active().map((j) => ({ id: j.id, progress: j.analysis.work > 0 ? Math.min(1, j.costDone / j.analysis.work) : 0 })),
    });
  }

  /** Jobs not finished. */
  private active(): JobRecord[] {
    const out: JobRecord[] = [];
    for (const id of this.contexts.keys()) {
      const job = this.store.get(id);
      if (job && !TERMINAL_STATES.has(job.state)) out.push(job);
    }
    return out;
  }

  /** Unfinished jobs and their rows, for admission control. */
  pending(): { jobs: number; rows: number } {
    const jobs = this.active();
    return { jobs: jobs.length, rows: jobs.reduce((n, j) => n + j.spec.samples, 0) };
  }

  /**
   * Takes a job on. A new one is written to the durable store first (await persistence.settled(job.id) to know
   * it landed); a restored one (resumed after a restart) keeps its submission order and stored progress.
   */
  add(job: JobRecord, ctx: DispatchContext, restored = false): void {
    // A newcomer starts level with the least served job, not at zero: it must not starve the others.
    const running = this.active();
    job.virtualTime = running.length > 0 ? Math.min(...running.map((j) => j.virtualTime)) : 0;
    if (restored) this.seq = Math.max(this.seq, job.seq + 1);
    else job.seq = this.seq++;
    this.contexts.set(job.id, ctx);
    this.calls.set(job.id, new Set());
    this.store.put(job);
    this.metrics.jobCreated(job.state);
    this.tracing.jobStarted(job.id, { 'jukebox.model': job.spec.model, 'jukebox.seconds': job.spec.durationSeconds, 'jukebox.samples': job.spec.samples, 'jukebox.mode': job.spec.mode, 'jukebox.resumed': restored ? 1 : 0 });
    if (!restored) {
      this.persistence.create(job).catch((err: Error) => {
        if (!TERMINAL_STATES.has(job.state)) this.setState(job, 'FAILED', `storing the job failed: ${err.message}`, { code: 'STORE' });
      });
    }
    this.emit('update', job);
    this.pump();
  }

  /**
   * Stops driving a job without changing its state (it ended, or another coordinator took its lease): its calls are
   * cancelled, except batches shared with other jobs, which go on for them.
   */
  release(job: JobRecord): void {
    this.contexts.delete(job.id);
    const calls = this.calls.get(job.id);
    this.calls.delete(job.id);
    for (const bc of calls ?? []) {
      bc.live.delete(job.id);
      if (bc.live.size === 0) bc.call?.cancel();
    }
    this.metrics.forgetJob(job.id);
  }

  /**
   * A worker is gone (it stopped heartbeating): its calls in flight fail now as 'unavailable' and are retried
   * elsewhere, rather than waiting for the transport or the stall timer to notice.
   */
  workerLost(address: string, reason: string): void {
    const aborts = [...(this.aborts.get(address) ?? [])];
    this.aborts.delete(address);
    for (const abort of aborts) abort({ kind: 'unavailable', message: `worker left: ${reason}` });
  }

  /** Registers how to give up a call on `address`; returns the unregistration. */
  private onWorkerLost(address: string, abort: (failure: TaskFailure) => void): () => void {
    let set = this.aborts.get(address);
    if (!set) this.aborts.set(address, (set = new Set()));
    set.add(abort);
    return () => {
      set.delete(abort);
      if (set.size === 0 && this.aborts.get(address) === set) this.aborts.delete(address);
    };
  }

  /** Whether this dispatcher drives the job. */
  drives(jobId: string): boolean {
    return this.contexts.has(jobId);
  }

  /** A result that arrives for this job now is dropped: it ended, it left this coordinator, or the dispatcher closed. */
  private gone(job: JobRecord): boolean {
    return TERMINAL_STATES.has(job.state) || this.closed || !this.drives(job.id);
  }

  private setState(job: JobRecord, to: JobState, error?: string, why?: { code: JobErrorCode; task?: string }): void {
    const from = job.state;
    job.state = transition(from, to);
    if (error) job.error = error;
    if (to === 'FAILED') {
      job.errorCode = why?.code ?? 'INTERNAL';
      if (why?.task !== undefined) job.errorTask = why.task;
    }
    if (TERMINAL_STATES.has(to)) {
      this.tracing.jobEnded(job.id, to, error);
      job.finishedAtMs = Date.now();
      this.metrics.jobEnded(to, (job.finishedAtMs - job.createdAtMs) / 1000);
      this.release(job);
      job.partial.clear();
      // Re-put so the store can drop old finished jobs.
      this.store.put(job);
    }
    this.metrics.jobMoved(from, to);
    log('coordinator', 'job state', { job: job.id, from, to, ...(error ? { error } : {}) });
    this.persistence.stateChanged(job).catch((err: Error) => log('coordinator', 'storing a job state failed', { job: job.id, to, error: err.message }));
    this.emit('update', job);
  }

  /** Whatever goes wrong while handling one job fails that job with the message, never the coordinator. */
  private guard(job: JobRecord, what: string, f: () => void): void {
    try {
      f();
    } catch (err) {
      log('coordinator', 'job handling failed', { job: job.id, what, error: (err as Error).stack ?? String(err) });
      if (!TERMINAL_STATES.has(job.state)) this.setState(job, 'FAILED', `internal error while ${what}: ${(err as Error).message}`, { code: 'INTERNAL' });
    }
  }

  cancel(job: JobRecord): void {
    if (TERMINAL_STATES.has(job.state)) return;
    this.setState(job, 'CANCELLED');
  }

  /** 1-based place among jobs that have not started; 0 for others. */
  queuePosition(job: JobRecord): number {
    if (job.state !== 'QUEUED') return 0;
    const queued = this.active().filter((j) => j.state === 'QUEUED').map((j) => ({ jobId: j.id, priority: j.spec.priority, seq: j.seq }));
    return queuePositions(queued).get(job.id) ?? 0;
  }

  /**
   * Seconds until the job ends, extrapolated from its own rate so far (cost-weighted share of its windows done
   * per second since it started); undefined until it has done at least 2 % of its work.
   */
  etaSeconds(job: JobRecord): number | undefined {
    if (TERMINAL_STATES.has(job.state)) return 0;
    if (job.startedMs === undefined || job.analysis.work <= 0) return undefined;
    // Costs summed in completion order may pass the total by a rounding error.
    const done = Math.min(1, job.costDone / job.analysis.work);
    if (done < 0.02) return undefined;
    const elapsed = (this.clock.now() - job.startedMs) / 1000;
    return Math.max(0, (elapsed * (1 - done)) / done);
  }

  /** Sends every ready task that has a free worker; called after anything that may make work ready. */
  pump(): void {
    if (this.closed) return;
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.pumpAgain = false;
        this.pumpOnce();
      } while (this.pumpAgain && !this.closed);
    } finally {
      this.pumping = false;
    }
  }

  private pumpOnce(): void {
    const now = this.clock.now();
    const candidates: BatchCandidate<Offer>[] = [];
    const shares: JobShare[] = [];
    const waiting = new Map<string, Task[]>();
    const jobs = this.active();
    for (const job of jobs) {
      waiting.set(job.id, []);
      this.guard(job, 'finding its ready work', () => {
        for (const task of readyTasks(job.plan, job.levels, (l, a, b) => job.tokens[l].has(a, b), job.decodeChunks, job.decode)) {
          const key = taskKey(task);
          if (!job.readySince.has(key)) job.readySince.set(key, now);
          if ((job.retryAt.get(key) ?? 0) > now) {
            waiting.get(job.id)!.push(task);
            continue;
          }
          const node = task.kind === 'window' ? job.analysis.levelOffset[task.level] + task.flat : -1;
          candidates.push({
            jobId: job.id,
            tail: node >= 0 ? job.analysis.tail[node] : 0,
            cost: node >= 0 ? job.analysis.nodes[node].cost * job.spec.samples : DECODE_COST,
            item: { job, task, key },
            batchKey: task.kind === 'window' && !job.runAlone.has(key) ? `${job.modelHash}|${task.level}|${task.window.contextTokens}|${task.window.newTokens}` : '',
            rows: job.spec.samples,
            jobMaxTail: 0,
          });
        }
        shares.push({ jobId: job.id, priority: job.spec.priority, virtualTime: job.virtualTime, seq: job.seq });
      });
    }
    // Each job's longest remaining path: its ready work's and its running windows' tails.
    const maxTail = new Map<string, number>();
    for (const job of jobs) maxTail.set(job.id, Math.max(0, ...job.runningTails.values()));
    for (const c of candidates) maxTail.set(c.jobId, Math.max(maxTail.get(c.jobId) ?? 0, c.tail));
    for (const c of candidates) c.jobMaxTail = maxTail.get(c.jobId) ?? 0;
    const ordered = batchOrder(scheduleOrder(candidates, shares) as BatchCandidate<Offer>[], this.workers.maxBatchRows());
    const taken = new Set<BatchCandidate<Offer>>();
    const unserved = new Map<string, Task>();
    const held = new Set<string>();
    ordered.forEach((c, i) => {
      if (taken.has(c) || (c.batchKey !== '' && held.has(c.batchKey))) return;
      const { job, task, key } = c.item;
      if (TERMINAL_STATES.has(job.state)) return;
      const req = this.requirement(job, task, key);
      const worker = this.workers.acquire(req);
      if (!worker) {
        waiting.get(job.id)?.push(task);
        if (!this.workers.canServe(req) && !unserved.has(job.id)) unserved.set(job.id, task);
        return;
      }
      taken.add(c);
      if (task.kind === 'decode') {
        let sent = false;
        this.guard(job, `sending decode chunk ${task.chunk}`, () => {
          this.started(job, worker, c.cost, key);
          this.runDecode(job, task.chunk, worker);
          sent = true;
        });
        if (!sent) this.workers.release(worker);
        return;
      }
      const batch = [c];
      let rows = job.spec.samples;
      if (!job.runAlone.has(key)) {
        for (let k = i + 1; k < ordered.length && rows < worker.info!.maxBatchRows; k++) {
          const o = ordered[k];
          if (taken.has(o) || !this.canJoin(o.item, c.item, worker, rows)) continue;
          batch.push(o);
          taken.add(o);
          rows += o.item.job.spec.samples;
        }
      }
      // Critical windows and windows that must run alone never wait for company.
      const mayHold = c.batchKey !== '' && batch.every((b) => b.tail < CRITICAL_FRACTION * b.jobMaxTail);
      const until = !mayHold ? undefined : holdUntil({
        rows,
        maxRows: worker.info!.maxBatchRows,
        readySinceMs: Math.min(...batch.map((b) => b.item.job.readySince.get(b.item.key) ?? now)),
        nowMs: now,
        typicalBatchMs: this.batchMs.get(`${job.modelHash}|${task.level}`),
        inFlightEndsMs: [...this.inFlight].filter((f) => f.level === task.level && f.modelHash === job.modelHash).map((f) => f.expectedEndMs),
      });
      if (until !== undefined) {
        // Thin, and same-level windows are about to be ready: leave the worker free and look again then.
        this.workers.release(worker);
        for (const b of batch) taken.delete(b);
        held.add(c.batchKey);
        for (const b of batch) waiting.get(b.item.job.id)?.push(b.item.task);
        this.pumpAt(until);
        return;
      }
      for (const b of batch) this.guard(b.item.job, 'starting a window', () => this.started(b.item.job, worker, b.cost, b.item.key));
      this.runBatch(worker, batch.map((b) => b.item).filter((o) => !TERMINAL_STATES.has(o.job.state)));
    });
    let waitingAnywhere = false;
    for (const job of jobs) {
      if (TERMINAL_STATES.has(job.state)) continue;
      const w = waiting.get(job.id) ?? [];
      this.metrics.setQueued(job.id, w);
      if (w.length > 0) waitingAnywhere = true;
      this.guard(job, 'checking its workers', () => this.checkUnserved(job, unserved.get(job.id), now));
    }
    // Ready work without a free worker (busy, down, or backing off): look again shortly.
    if (waitingAnywhere && !this.retryTimer) {
      this.retryTimer = this.clock.setTimer(() => {
        this.retryTimer = undefined;
        this.pump();
      }, 250);
    }
  }

  /** Pumps again at `at` (the earliest of the times asked for). */
  private pumpAt(at: number): void {
    if (this.holdTimer && this.holdTimer.at <= at) return;
    this.holdTimer?.timer.cancel();
    const timer = this.clock.setTimer(() => {
      this.holdTimer = undefined;
      this.pump();
    }, at - this.clock.now());
    this.holdTimer = { at, timer };
  }

  private requirement(job: JobRecord, task: Task, key: string): WorkerRequirement {
    return {
      modelHash: job.modelHash,
      level: task.kind === 'decode' ? 'decode' : task.level,
      kernels: job.kernels,
      rows: job.spec.samples,
      avoid: job.failedOn.get(key),
    };
  }

  /** Whether `o` may ride in the batch that `first` opens on `worker`: same shapes, fits, not pinned elsewhere. */
  private canJoin(o: Offer, first: Offer, worker: WorkerEntry, rows: number): boolean {
    if (o.task.kind !== 'window' || first.task.kind !== 'window') return false;
    if (TERMINAL_STATES.has(o.job.state) || o.job.runAlone.has(o.key)) return false;
    if (rows + o.job.spec.samples > worker.info!.maxBatchRows) return false;
    if (o.job.modelHash !== first.job.modelHash || o.task.level !== first.task.level) return false;
    if (o.task.window.newTokens !== first.task.window.newTokens || o.task.window.contextTokens !== first.task.window.contextTokens) return false;
    if (o.job.kernels !== undefined && o.job.kernels !== kernelProfile(worker.info!)) return false;
    return o.job.failedOn.get(o.key) !== worker.address;
  }

  /** Bookkeeping when a task of `job` goes to `worker`. */
  private started(job: JobRecord, worker: WorkerEntry, cost: number, key: string): void {
    const readySince = job.readySince.get(key);
    if (readySince !== undefined) this.metrics.queueWait.observe({ level: taskLevelLabel(key) }, (this.clock.now() - readySince) / 1000);
    job.readySince.delete(key);
    if (worker.info) job.kernels ??= kernelProfile(worker.info);
    job.startedMs ??= this.clock.now();
    job.startedAtMs ??= Date.now();
    job.virtualTime += cost / job.spec.priority;
    if (job.state === 'QUEUED') this.setState(job, 'RUNNING');
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
    const pinned = job.kernels ? ` on ${job.kernels}` : '';
    this.setState(job, 'FAILED', `no live worker can run ${what} of model ${job.spec.model}${pinned} for ${Math.round(this.opts.unservedTimeoutMs / 1000)} s`, { code: 'NO_WORKER' });
  }

  private track(jobs: JobRecord[], bc: BatchCall): () => void {
    for (const job of jobs) this.calls.get(job.id)?.add(bc);
    return () => {
      for (const job of jobs) this.calls.get(job.id)?.delete(bc);
    };
  }

  private windowItem(job: JobRecord, task: Extract<Task, { kind: 'window' }>): WindowItem {
    const ctx = this.contexts.get(job.id)!;
    const { level, window: w } = task;
    const lm = ctx.manifest.levels[level];
    const rows = job.spec.samples;
    // Jukebox conditions on the intended song length (total_sample_length_in_seconds * sr), not the rounded one;
    // offsets are the window's true place in the song, in every segment.
    const totalLength = Math.floor(job.spec.durationSeconds * job.plan.sampleRate);
    // Each row conditioned on its own labels (Jukebox's per-row metas); rows with the same labels share one vector.
    const vectors = new Map<ResolvedLabels, Int32Array>();
    const labels = ctx.labels.map((perLevel) => {
      let v = vectors.get(perLevel[level]);
      if (!v) vectors.set(perLevel[level], (v = Int32Array.from(windowLabels(ctx.manifest, level, w.start, totalLength, perLevel[level]))));
      return v;
    });
    if (labels.length !== rows) throw new Error(`job ${job.id} has labels for ${labels.length} rows, not ${rows}`);
    return {
      jobId: job.id,
      windowIndex: w.index,
      start: w.start,
      context: job.tokens[level].context(w.segment, w.start, w.start + w.contextTokens),
      upper: lm.conditioning.upper ? job.tokens[level + 1].range(w.upperStart, w.upperEnd) : [],
      labels,
      seed: job.spec.seed,
      sampling: job.spec.sampling[level],
      sampleIds: Array.from({ length: rows }, (_, i) => i),
    };
  }

  private runBatch(worker: WorkerEntry, offers: Offer[]): void {
    if (offers.length === 0) {
      this.workers.release(worker);
      return;
    }
    const first = offers[0].task as Extract<Task, { kind: 'window' }>;
    const level = first.level;
    const levelLabel = String(level);
    const items: WindowItem[] = [];
    const sent: Offer[] = [];
    for (const o of offers) {
      this.guard(o.job, `preparing level ${level} window ${o.key}`, () => {
        const task = o.task as Extract<Task, { kind: 'window' }>;
        const item = this.windowItem(o.job, task);
        item.traceparent = this.tracing.taskStarted(o.job.id, o.key, worker.address);
        const tail = o.job.analysis.tail[o.job.analysis.levelOffset[level] + task.flat];
        // Both lists change together, after everything that can throw: rows are matched to jobs by position.
        items.push(item);
        sent.push(o);
        o.job.levels[level].segments[task.window.segment].running = true;
        o.job.runningTails.set(o.key, tail);
        o.job.timing[level].firstStartMs ??= this.clock.now();
        this.metrics.windowsRunning.inc({ level: levelLabel });
      });
    }
    if (sent.length === 0) {
      this.workers.release(worker);
      return;
    }
    this.metrics.batchRows.observe({ level: levelLabel }, items.reduce((n, it) => n + it.labels.length, 0));
    const bc: BatchCall = { live: new Set(sent.map((o) => o.job.id)) };
    // Shared with other jobs: a failure may be another job's fault.
    const shared = bc.live.size > 1;
    const untrack = this.track(sent.map((o) => o.job), bc);
    const startedAt = this.clock.now();
    const typeKey = `${sent[0].job.modelHash}|${level}`;
    const flight = { modelHash: sent[0].job.modelHash, level, expectedEndMs: startedAt + (this.batchMs.get(typeKey) ?? Infinity) };
    this.inFlight.add(flight);
    let settled = false;
    let stallTimer: Timer | undefined;
    const armStall = (): void => {
      stallTimer?.cancel();
      stallTimer = this.clock.setTimer(() => {
        bc.call?.cancel();
        settle({ kind: 'timeout', message: `no message for ${this.opts.windowStallMs / 1000} s` });
      }, this.opts.windowStallMs);
    };
    const settle = (failure: TaskFailure | null, rows?: Int32Array[]): void => {
      if (settled) return;
      settled = true;
      unwatch();
      stallTimer?.cancel();
      untrack();
      this.workers.release(worker);
      this.inFlight.delete(flight);
      if (!failure) {
        const ms = this.clock.now() - startedAt;
        const prev = this.batchMs.get(typeKey);
        this.batchMs.set(typeKey, prev === undefined ? ms : 0.8 * prev + 0.2 * ms);
        this.metrics.batchSeconds.observe({ level: levelLabel }, ms / 1000);
      }
      let offset = 0;
      for (const o of sent) {
        const n = o.job.spec.samples;
        const mine = rows?.slice(offset, offset + n);
        offset += n;
        this.metrics.windowsRunning.dec({ level: levelLabel });
        this.guard(o.job, `finishing level ${level} window ${o.key}`, () => this.windowFinished(o, worker, failure, mine, startedAt, shared));
      }
      this.pump();
    };
    const unwatch = this.onWorkerLost(worker.address, (f) => {
      bc.call?.cancel();
      settle(f);
    });
    armStall();
    bc.call = worker.conn.sampleBatch(
      { modelHash: sent[0].job.modelHash, level, newTokens: first.window.newTokens, items },
      {
        progress: (tokensDone) => {
          if (settled) return;
          armStall();
          for (const o of sent) {
            if (TERMINAL_STATES.has(o.job.state)) continue;
            o.job.partial.set(o.key, { level, tokens: tokensDone });
            this.emit('update', o.job);
          }
        },
        done: (rows) => settle(rows.length === items.reduce((n, it) => n + it.labels.length, 0) ? null : { kind: 'bad-reply', message: `the reply holds ${rows.length} rows` }, rows),
        failed: (f) => settle(f),
      },
    );
  }

  private windowFinished(o: Offer, worker: WorkerEntry, failure: TaskFailure | null, rows: Int32Array[] | undefined, startedAt: number, shared: boolean): void {
    const { job, key } = o;
    const task = o.task as Extract<Task, { kind: 'window' }>;
    const { level, window: w } = task;
    job.partial.delete(key);
    job.runningTails.delete(key);
    const seg = job.levels[level].segments[w.segment];
    if (this.gone(job)) {
      seg.running = false;
      this.metrics.tasksCancelled.inc({ level: String(level) });
      return;
    }
    const codebook = this.contexts.get(job.id)!.manifest.levels[level].codebookSize;
    const what = `level ${level} segment ${w.segment} window ${w.index}`;
    // A failed call may be another job's fault when it was shared; rows wrong for this window alone are this job's.
    if (failure) {
      seg.running = false;
      return this.retryOrFail(job, key, worker, failure, what, shared);
    }
    if (!(rows && rows.length === job.spec.samples && rows.every((r) => r.length === w.newTokens && r.every((t) => t >= 0 && t < codebook)))) {
      seg.running = false;
      return this.retryOrFail(job, key, worker, { kind: 'bad-reply', message: 'the worker returned rows of the wrong length or out-of-range tokens' }, what, false);
    }
    // The segment stays busy until the tokens are durable: only then does the window count as done.
    const elapsedMs = this.clock.now() - startedAt;
    this.persistence.windowDone(job, key, rows!).then(
      () => {
        seg.running = false;
        this.tracing.taskEnded(job.id, key);
        if (this.gone(job)) return;
        this.guard(job, `finishing ${what}`, () => this.applyWindow(job, task, rows!, elapsedMs));
        this.pump();
      },
      (err: Error) => {
        seg.running = false;
        if (this.gone(job)) return;
        this.guard(job, `finishing ${what}`, () => this.retryOrFail(job, key, worker, { kind: 'store', message: `storing its tokens failed: ${err.message}` }, what, false));
        this.pump();
      },
    );
  }

  /** Counts a stored window as done: its tokens join the level, progress and metrics move. */
  private applyWindow(job: JobRecord, task: Extract<Task, { kind: 'window' }>, rows: Int32Array[], elapsedMs: number): void {
    const { level, window: w } = task;
    const seg = job.levels[level].segments[w.segment];
    job.tokens[level].append(w.segment, w.start + w.contextTokens, rows);
    seg.windowsDone++;
    const timing = job.timing[level];
    timing.newTokensDone += w.newTokens;
    timing.lastEndMs = this.clock.now();
    job.costDone += job.analysis.nodes[job.analysis.levelOffset[level] + task.flat].cost;
    const levelLabel = String(level);
    this.metrics.tokens.inc({ level: levelLabel }, w.newTokens * job.spec.samples);
    this.metrics.windowSeconds.observe({ level: levelLabel }, elapsedMs / 1000);
    this.afterProgress(job);
  }

  private runDecode(job: JobRecord, chunkIndex: number, worker: WorkerEntry): void {
    const chunk = job.decodeChunks[chunkIndex];
    job.decode.running[chunkIndex] = true;
    const rows = job.tokens[0].range(chunk.inStart, chunk.inEnd);
    const expectedSamples = (chunk.end - chunk.start) * job.plan.levels[0].hopLength;
    const key = taskKey({ kind: 'decode', chunk: chunkIndex });
    const started = this.clock.now();
    const bc: BatchCall = { live: new Set([job.id]) };
    const untrack = this.track([job], bc);
    let settled = false;
    const unwatch = this.onWorkerLost(worker.address, (f) => {
      bc.call?.cancel();
      onDone(f);
    });
    const onDone = (failure: TaskFailure | null, audio?: Float32Array[]): void => {
      if (settled) return;
      settled = true;
      unwatch();
      untrack();
      this.workers.release(worker);
      if (this.gone(job)) {
        job.decode.running[chunkIndex] = false;
        this.metrics.tasksCancelled.inc({ level: 'decode' });
        return this.pump();
      }
      this.guard(job, `finishing decode chunk ${chunkIndex}`, () => {
        const valid = !failure && audio !== undefined && audio.length === rows.length && audio.every((a) => a.length === expectedSamples);
        if (valid) {
          const seconds = (this.clock.now() - started) / 1000;
          // The chunk's audio goes to the store, not this process's memory; it counts once it landed.
          this.persistence.decodeDone(job, chunkIndex, key, audio!).then(
            () => {
              job.decode.running[chunkIndex] = false;
              if (this.gone(job)) return;
              this.guard(job, `finishing decode chunk ${chunkIndex}`, () => {
                job.decode.done[chunkIndex] = true;
                this.tracing.taskEnded(job.id, key);
                this.metrics.decodeSeconds.observe(seconds);
                this.afterProgress(job);
              });
              this.pump();
            },
            (err: Error) => {
              job.decode.running[chunkIndex] = false;
              if (this.gone(job)) return;
              this.guard(job, `finishing decode chunk ${chunkIndex}`, () =>
                this.retryOrFail(job, key, worker, { kind: 'store', message: `storing its audio failed: ${err.message}` }, `decode chunk ${chunkIndex}`, false),
              );
              this.pump();
            },
          );
        } else {
          job.decode.running[chunkIndex] = false;
          const f = failure ?? { kind: 'bad-reply' as const, message: `the reply does not hold ${rows.length} rows of ${expectedSamples} samples` };
          this.retryOrFail(job, key, worker, f, `decode chunk ${chunkIndex}`, false);
        }
      });
      this.pump();
    };
    bc.call = worker.conn.decode(
      { modelHash: job.modelHash, level: 0, rows, trimStart: chunk.trimStart, trimEnd: chunk.trimEnd, traceparent: this.tracing.taskStarted(job.id, key, worker.address) },
      this.opts.decodeDeadlineMs,
      onDone,
    );
  }

  private retryOrFail(job: JobRecord, key: string, worker: WorkerEntry, failure: TaskFailure, what: string, shared: boolean): void {
    const before = job.attempts.get(key) ?? 0;
    job.failedOn.set(key, worker.address);
    const message = `${what} on ${worker.address}: ${failure.message}`;
    this.tracing.taskEnded(job.id, key, message);
    const decision = decideRetry({ ...failure, message }, before, worker.address, this.retry, shared);
    const attempts = decision.action === 'retry' && !decision.countsAttempt ? before : before + 1;
    job.attempts.set(key, attempts);
    this.metrics.taskFailed(taskLevelLabel(key), failure.kind, decision.action === 'retry');
    if (decision.action === 'fail') {
      const code: JobErrorCode = failure.kind === 'invalid' ? 'INPUT_REFUSED' : failure.kind === 'store' ? 'STORE' : 'RETRIES_EXHAUSTED';
      this.setState(job, 'FAILED', decision.reason, { code, task: key });
      return;
    }
    if (decision.markWorkerDown && worker.info) this.workers.markDown(worker, failure.message);
    if (decision.runAlone) job.runAlone.add(key);
    job.retryAt.set(key, this.clock.now() + decision.delayMs);
    log('coordinator', 'retrying', { job: job.id, task: key, attempt: attempts, error: message });
  }

  /** Moves the job on after progress (also after a restore): DECODING once sampled, the WAVs once decoded. */
  afterProgress(job: JobRecord): void {
    // Memory holds only the tokens that work still to do reads; the rest is in the durable store.
    const need = tokensNeededFrom(job.plan, job.levels, job.decodeChunks, job.decode);
    job.tokens.forEach((t, l) => t.discardBefore(need[l]));
    if (samplingComplete(job.plan, job.levels) && (job.state === 'RUNNING' || job.state === 'QUEUED')) {
      if (job.state === 'QUEUED') this.setState(job, 'RUNNING');
      this.setState(job, 'DECODING');
    }
    if (isComplete(job.plan, job.levels, job.decode)) {
      this.finish(job);
      return;
    }
    this.emit('update', job);
  }

  /** Writes each row's WAV into the store from the stored decode chunks, then SUCCEEDED. */
  private finish(job: JobRecord): void {
    if (this.finishing.has(job.id)) return;
    this.finishing.add(job.id);
    this.persistence.writeWavs(job, job.decodeChunks, job.plan.levels[0].hopLength).then(
      (sizes) => {
        this.finishing.delete(job.id);
        if (TERMINAL_STATES.has(job.state) || !this.drives(job.id)) return;
        job.audioBytes = sizes;
        this.setState(job, 'SUCCEEDED');
      },
      (err: Error) => {
        this.finishing.delete(job.id);
        if (TERMINAL_STATES.has(job.state) || !this.drives(job.id)) return;
        this.setState(job, 'FAILED', `writing the WAV failed: ${err.message}`, { code: 'STORE' });
      },
    );
    this.emit('update', job);
  }

  /** Stops sending work; calls in flight are cancelled and not retried. */
  close(): void {
    this.closed = true;
    this.retryTimer?.cancel();
    this.holdTimer?.timer.cancel();
    for (const set of this.calls.values()) for (const bc of set) bc.call?.cancel();
  }
}
