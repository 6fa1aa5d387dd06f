// The workers a coordinator knows: gRPC clients, what each hosts, free slots.
import * as grpc from '@grpc/grpc-js';
import { CHANNEL_OPTIONS, jukeboxProto } from '../proto/index.js';
import type { WorkerClient } from '../proto/generated/jukebox/v1/Worker.js';
import type { DescribeResponse__Output } from '../proto/generated/jukebox/v1/DescribeResponse.js';
import { log } from '../server/log.js';

export interface WorkerEntry {
  address: string;
  client: WorkerClient;
  info?: DescribeResponse__Output;
  inFlight: number;
  /** performance.now() until which the worker is skipped after a transport failure. */
  downUntilMs: number;
}

/** What a task needs of a worker. */
export interface WorkerRequirement {
  modelHash: string;
  /** A prior level, or 'decode'. */
  level: number | 'decode';
}

const DESCRIBE_DEADLINE_MS = 5000;
const DOWN_BACKOFF_MS = 2000;

export class WorkerDirectory {
  private readonly workers = new Map<string, WorkerEntry>();

  add(address: string): WorkerEntry {
    const existing = this.workers.get(address);
    if (existing) return existing;
    const Client = jukeboxProto().Worker;
    const entry: WorkerEntry = {
      address,
      client: new Client(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS),
      inFlight: 0,
      downUntilMs: 0,
    };
    this.workers.set(address, entry);
    return entry;
  }

  list(): WorkerEntry[] {
    return [...this.workers.values()];
  }

  /** Asks a worker what it hosts; a worker that does not answer is marked down for a while. */
  describe(entry: WorkerEntry): Promise<DescribeResponse__Output | undefined> {
    return new Promise((resolve) => {
      entry.client.Describe({}, { deadline: Date.now() + DESCRIBE_DEADLINE_MS }, (err, res) => {
        if (err || !res) {
          this.markDown(entry, err?.message ?? 'no answer');
          resolve(undefined);
          return;
        }
        entry.info = res;
        entry.downUntilMs = 0;
        resolve(res);
      });
    });
  }

  async describeAll(): Promise<void> {
    await Promise.all(this.list().map((e) => this.describe(e)));
  }

  markDown(entry: WorkerEntry, reason: string): void {
    entry.downUntilMs = performance.now() + DOWN_BACKOFF_MS;
    entry.info = undefined;
    log('coordinator', 'worker unavailable', { worker: entry.address, reason });
  }

  /**
   * A worker with a free slot that hosts what the task needs, least loaded first. Workers marked down are
   * described again once their backoff ends; until then they are skipped.
   */
  acquire(req: WorkerRequirement): WorkerEntry | undefined {
    let best: WorkerEntry | undefined;
    const now = performance.now();
    for (const e of this.workers.values()) {
      if (!e.info) {
        if (e.downUntilMs <= now) {
          e.downUntilMs = now + DOWN_BACKOFF_MS;
          void this.describe(e);
        }
        continue;
      }
      if (e.info.modelHash !== req.modelHash) continue;
      if (req.level !== 'decode' && !e.info.levels.includes(req.level)) continue;
      if (e.inFlight >= e.info.capacity) continue;
      if (!best || e.inFlight / e.info.capacity < best.inFlight / best.info!.capacity) best = e;
    }
    if (best) best.inFlight++;
    return best;
  }

  release(entry: WorkerEntry): void {
    entry.inFlight = Math.max(0, entry.inFlight - 1);
  }

  /** True when some known worker could ever serve the model (hosts every level it needs). */
  hasWorkersFor(modelHash: string): boolean {
    return this.list().some((e) => e.info?.modelHash === modelHash);
  }

  close(): void {
    for (const e of this.workers.values()) e.client.close();
    this.workers.clear();
  }
}
