// The workers a coordinator knows: their connections, what each hosts, free slots.
import { log } from '../server/log.js';
import { realClock, type Clock } from './clock.js';
import { kernelProfile, type ConnectWorker, type WorkerConnection, type WorkerInfo } from './worker-connection.js';

export interface WorkerEntry {
  address: string;
  conn: WorkerConnection;
  /** What it said in its last answer to Describe; cleared while it is down. */
  info?: WorkerInfo;
  /** The last answer ever, kept while it is down: what it would serve when it comes back. */
  lastInfo?: WorkerInfo;
  /** Batches and decode chunks in flight. */
  inFlight: number;
  /** clock.now() until which the worker is skipped after a failure. */
  downUntilMs: number;
}

/** What a task needs of a worker. */
export interface WorkerRequirement {
  modelHash: string;
  /** A prior level, 'decode', or 'encode' (a primed job's prompt). */
  level: number | 'decode' | 'encode';
  /** Kernel profile the job is pinned to (kernelProfile: provider, precision and batch bucket): kernels differ, so would tokens. */
  kernels?: string;
  /** Sample rows the task brings to a batch: the worker's batches must hold them. */
  rows?: number;
  /** A worker to use only when no other fits (it just failed this task). */
  avoid?: string;
}

const DESCRIBE_DEADLINE_MS = 5000;
const DOWN_BACKOFF_MS = 2000;

export class WorkerDirectory {
  private readonly workers = new Map<string, WorkerEntry>();

  constructor(
    private readonly connect: ConnectWorker,
    private readonly clock: Clock = realClock,
  ) {}

  add(address: string): WorkerEntry {
    const existing = this.workers.get(address);
    if (existing) return existing;
    const entry: WorkerEntry = { address, conn: this.connect(address), inFlight: 0, downUntilMs: 0 };
    this.workers.set(address, entry);
    return entry;
  }

  /**
   * Forgets a worker that left (it said goodbye, or its heartbeats stopped) and closes its connection; returns
   * whether it was known. Closing does not end calls already running on it (grpc-js lets started calls finish;
   * only calls still waiting for a connection fail, UNAVAILABLE): a worker that is really gone fails them
   * through its transport (UNAVAILABLE), which the dispatcher retries elsewhere; one that answers still
   * delivers its results. Entries the dispatcher still holds stay usable for release() and markDown().
   */
  remove(address: string, reason: string): boolean {
    const entry = this.workers.get(address);
    if (!entry) return false;
    this.workers.delete(address);
    entry.conn.close();
    log('coordinator', 'worker removed', { worker: address, reason, inFlight: entry.inFlight });
    return true;
  }

  list(): WorkerEntry[] {
    return [...this.workers.values()];
  }

  /** Asks a worker what it hosts; a worker that does not answer is marked down for a while. */
  async describe(entry: WorkerEntry): Promise<WorkerInfo | undefined> {
    try {
      const info = await entry.conn.describe(DESCRIBE_DEADLINE_MS);
      entry.info = info;
      entry.lastInfo = info;
      entry.downUntilMs = 0;
      return info;
    } catch (err) {
      this.markDown(entry, (err as Error).message ?? 'no answer');
      return undefined;
    }
  }

  async describeAll(): Promise<void> {
    await Promise.all(this.list().map((e) => this.describe(e)));
  }

  markDown(entry: WorkerEntry, reason: string): void {
    entry.downUntilMs = this.clock.now() + DOWN_BACKOFF_MS;
    entry.info = undefined;
    log('coordinator', 'worker unavailable', { worker: entry.address, reason });
  }

  private fits(info: WorkerInfo, req: WorkerRequirement): boolean {
    if (info.modelHash !== req.modelHash) return false;
    if (req.level === 'encode') return info.encodes === true;
    if (req.level === 'decode' ? !info.decodes : !info.levels.includes(req.level)) return false;
    if (req.rows !== undefined && req.level !== 'decode' && info.maxBatchRows < req.rows) return false;
    return req.kernels === undefined || kernelProfile(info) === req.kernels;
  }

  /**
   * A worker with a free slot that fits the task, least loaded first, the avoided one only as a last resort.
   * Workers marked down are described again once their backoff ends; until then they are skipped.
   */
  acquire(req: WorkerRequirement): WorkerEntry | undefined {
    let best: WorkerEntry | undefined;
    let fallback: WorkerEntry | undefined;
    const now = this.clock.now();
    for (const e of this.workers.values()) {
      if (!e.info) {
        if (e.downUntilMs <= now) {
          e.downUntilMs = now + DOWN_BACKOFF_MS;
          void this.describe(e);
        }
        continue;
      }
      if (!this.fits(e.info, req) || e.inFlight >= e.info.capacity) continue;
      if (e.address === req.avoid) {
        fallback = e;
        continue;
      }
      if (!best || e.inFlight / e.info.capacity < best.inFlight / best.info!.capacity) best = e;
    }
    const chosen = best ?? fallback;
    if (chosen) chosen.inFlight++;
    return chosen;
  }

  /** True when a worker that is up now fits the task, busy or not. */
  canServe(req: WorkerRequirement): boolean {
    return this.list().some((e) => e.info !== undefined && e.info.capacity > 0 && this.fits(e.info, req));
  }

  /** Row slots for a level of a model: batches at once × rows per batch, over the workers that are up. */
  rowSlots(modelHash: string, level: number): number {
    return this.list().reduce((n, e) => (e.info && this.fits(e.info, { modelHash, level }) ? n + e.info.capacity * e.info.maxBatchRows : n), 0);
  }

  /** The largest batch any worker that is up takes (1 when none is). */
  maxBatchRows(): number {
    return this.list().reduce((m, e) => Math.max(m, e.info?.maxBatchRows ?? 1), 1);
  }

  /** Levels (and 'decode') of a model that no known worker has ever offered: a job for them could never run. */
  missingFor(modelHash: string, levels: number[], rows = 1): (number | 'decode')[] {
    const offered = this.list().flatMap((e) => (e.lastInfo ? [e.lastInfo] : []));
    const needs: (number | 'decode')[] = [...levels, 'decode'];
    return needs.filter((level) => !offered.some((info) => this.fits(info, { modelHash, level, rows })));
  }

  release(entry: WorkerEntry): void {
    entry.inFlight = Math.max(0, entry.inFlight - 1);
  }

  close(): void {
    for (const e of this.workers.values()) e.conn.close();
    this.workers.clear();
  }
}
