// Workers found over NATS: a heartbeat adds its worker, a goodbye removes it at once, silence removes it after a
// timeout. What "add" and "remove" do is the caller's (directoryTarget below feeds a WorkerDirectory).
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { GOODBYE_SUBJECT, HEARTBEAT_SUBJECT, HEARTBEAT_TIMEOUT_MS, parseGoodbye, parseHeartbeat, type Heartbeat } from '../shared/worker-heartbeat.js';
import { log } from '../server/log.js';
import { realClock, type Clock, type Timer } from './clock.js';
import { expiredWorkers } from './worker-liveness.js';
import type { WorkerDirectory } from './worker-directory.js';

/** What discovery drives. */
export interface DiscoveredWorkers {
  /** A worker was heard from for the first time, or again after it was removed. */
  add(address: string): void;
  /** A worker left: it said goodbye, went quiet, or restarted under a new id (then add follows at once). */
  remove(address: string, reason: string): void;
}

export interface NatsDiscoveryOptions {
  /** A worker not heard from for this long is removed. @default HEARTBEAT_TIMEOUT_MS (3 heartbeats, 3000 ms) */
  timeoutMs?: number;
  /** How often expiry is checked. @default timeoutMs / 6 (500 ms by default) */
  checkEveryMs?: number;
  /** Last-seen times and expiry run on this clock. @default realClock (monotonic) */
  clock?: Clock;
}

interface Known {
  workerId: string;
  lastSeenMs: number;
  heartbeat: Heartbeat;
}

export class NatsDiscovery {
  private readonly known = new Map<string, Known>();
  private readonly subs: Subscription[];
  private readonly timeoutMs: number;
  private readonly checkEveryMs: number;
  private readonly clock: Clock;
  /** False while our own connection to NATS is down: silence then says nothing about the workers. */
  private connected = true;
  private timer?: Timer;
  private closed = false;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly target: DiscoveredWorkers,
    opts: NatsDiscoveryOptions,
  ) {
    this.timeoutMs = opts.timeoutMs ?? HEARTBEAT_TIMEOUT_MS;
    this.checkEveryMs = opts.checkEveryMs ?? Math.max(50, Math.round(this.timeoutMs / 6));
    this.clock = opts.clock ?? realClock;
    this.subs = [
      nc.subscribe(HEARTBEAT_SUBJECT, { callback: (err, msg) => this.guard(err, msg, (m) => this.onHeartbeat(m)) }),
      nc.subscribe(GOODBYE_SUBJECT, { callback: (err, msg) => this.guard(err, msg, (m) => this.onGoodbye(m)) }),
    ];
    void this.watchConnection();
    this.armCheck();
  }

  /**
   * Subscribes on `nc` (which the caller owns and closes, after close() here) and resolves once the server has
   * the subscriptions, so that no heartbeat sent after this resolves is missed.
   */
  static async start(nc: NatsConnection, target: DiscoveredWorkers, opts: NatsDiscoveryOptions = {}): Promise<NatsDiscovery> {
    const discovery = new NatsDiscovery(nc, target, opts);
    await nc.flush();
    return discovery;
  }

  /** The latest heartbeat of every worker known now (free capacity, memory, ...). */
  workers(): Heartbeat[] {
    return [...this.known.values()].map((k) => k.heartbeat);
  }

  /** Stops listening; removes nothing (the coordinator closing its directory closes the connections). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.timer?.cancel();
    for (const s of this.subs) s.unsubscribe();
  }

  /** A callback that throws would break the subscription's delivery: contain it. */
  private guard(err: Error | null, msg: Msg, handle: (m: Msg) => void): void {
    if (this.closed) return;
    if (err) {
      log('coordinator', 'discovery subscription failed', { error: err.message });
      return;
    }
    try {
      handle(msg);
    } catch (e) {
      log('coordinator', 'discovery message handling failed', { subject: msg.subject, error: (e as Error).stack ?? String(e) });
    }
  }

  private onHeartbeat(msg: Msg): void {
    const parsed = parseHeartbeat(msg.string());
    if (!parsed.ok) {
      log('coordinator', 'heartbeat ignored', { reason: parsed.reason });
      return;
    }
    const hb = parsed.value;
    const now = this.clock.now();
    const known = this.known.get(hb.address);
    if (known && known.workerId === hb.workerId) {
      known.lastSeenMs = now;
      known.heartbeat = hb;
      return;
    }
    if (known) {
      // Another process at the same address (a restart between two beats): drop the old connection and what
      // it described, so that the new worker is described afresh.
      this.target.remove(hb.address, `restarted as ${hb.workerId} (was ${known.workerId})`);
    }
    this.known.set(hb.address, { workerId: hb.workerId, lastSeenMs: now, heartbeat: hb });
    log('coordinator', 'worker discovered', { worker: hb.address, workerId: hb.workerId, levels: hb.levels.join(','), decodes: hb.decodes });
    this.target.add(hb.address);
  }

  private onGoodbye(msg: Msg): void {
    const parsed = parseGoodbye(msg.string());
    if (!parsed.ok) {
      log('coordinator', 'goodbye ignored', { reason: parsed.reason });
      return;
    }
    const { address, workerId } = parsed.value;
    // Only the process we know at that address may take it away: a late goodbye from an earlier one may not.
    if (this.known.get(address)?.workerId !== workerId) return;
    this.known.delete(address);
    this.target.remove(address, 'said goodbye');
  }

  private armCheck(): void {
    this.timer = this.clock.setTimer(() => {
      if (this.closed) return;
      this.expire();
      this.armCheck();
    }, this.checkEveryMs);
  }

  private expire(): void {
    if (!this.connected) return;
    const now = this.clock.now();
    const lastSeen = new Map([...this.known].map(([address, k]) => [address, k.lastSeenMs]));
    for (const address of expiredWorkers(lastSeen, now, this.timeoutMs)) {
      const k = this.known.get(address)!;
      this.known.delete(address);
      this.target.remove(address, `no heartbeat for ${Math.round(now - k.lastSeenMs)} ms (timeout ${this.timeoutMs} ms)`);
    }
  }

  /**
   * While our connection is down no heartbeat can arrive: expiry pauses. On reconnect every known worker gets a
   * full timeout again (workers beat at once when they reconnect), so that a nats-server restart drops nobody.
   */
  private async watchConnection(): Promise<void> {
    try {
      for await (const s of this.nc.status()) {
        if (this.closed) return;
        if (s.type === 'disconnect') {
          this.connected = false;
          log('coordinator', 'discovery lost NATS; worker expiry paused', {});
        } else if (s.type === 'reconnect') {
          const now = this.clock.now();
          for (const k of this.known.values()) k.lastSeenMs = now;
          this.connected = true;
          log('coordinator', 'discovery reconnected to NATS', { workers: this.known.size });
        }
      }
    } catch {
      // The status stream ends with the connection.
    }
  }
}

/**
 * Feeds a WorkerDirectory. Added workers are described at once (canServe() and missingFor() count only described
 * workers). Addresses in `pinned` (the static --workers list) are never removed by discovery: they were
 * configured, not discovered. `onChange` runs after an added worker's Describe settles and after a removal: the
 * place to let the dispatcher look at its queue again.
 */
export function directoryTarget(
  directory: Pick<WorkerDirectory, 'add' | 'remove' | 'describe'>,
  options: { pinned?: Iterable<string>; onChange?: () => void } = {},
): DiscoveredWorkers {
  const pinned = new Set(options.pinned ?? []);
  return {
    add(address) {
      const entry = directory.add(address);
      void directory.describe(entry).then(() => options.onChange?.());
    },
    remove(address, reason) {
      if (pinned.has(address)) return;
      if (directory.remove(address, reason)) options.onChange?.();
    },
  };
}
