// A worker announcing itself on NATS: a heartbeat now, every interval and after each reconnect; a goodbye on stop.
import type { NatsConnection } from '@nats-io/transport-node';
import { GOODBYE_SUBJECT, HEARTBEAT_INTERVAL_MS, HEARTBEAT_SUBJECT, type Goodbye, type Heartbeat } from '../shared/worker-heartbeat.js';
import { log } from '../server/log.js';

export interface Announcer {
  /** Stops the heartbeats and publishes a goodbye (flushed, at most ~1 s). Does not close the connection. */
  stop(): Promise<void>;
}

const GOODBYE_FLUSH_MS = 1000;

/**
 * Publishes `info()` on HEARTBEAT_SUBJECT at once and every `intervalMs`. `info` is called for each beat, so that
 * free capacity and memory are current. Publishing never throws here: a beat that cannot be sent is logged and
 * the next one tries again (while NATS is down the client buffers beats and sends them on reconnect).
 */
export function startAnnouncing(nc: NatsConnection, info: () => Heartbeat, intervalMs: number = HEARTBEAT_INTERVAL_MS): Announcer {
  let stopped = false;
  let last: Heartbeat | undefined;
  const beat = (): void => {
    if (stopped) return;
    try {
      last = info();
      nc.publish(HEARTBEAT_SUBJECT, JSON.stringify(last));
    } catch (err) {
      log('worker', 'heartbeat not sent', { error: (err as Error).message });
    }
  };
  beat();
  const timer = setInterval(beat, intervalMs);
  // The gRPC server keeps the process up; the heartbeat alone should not.
  timer.unref();
  // After a reconnect, beat at once: coordinators that lost the server too are waiting to hear from workers.
  void (async () => {
    for await (const s of nc.status()) {
      if (stopped) break;
      if (s.type === 'reconnect') beat();
    }
  })().catch(() => {
    // The status stream ends with the connection; nothing to do.
  });

  return {
    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      if (!last || nc.isClosed()) return;
      const bye: Goodbye = { workerId: last.workerId, address: last.address, sentAtMs: Date.now() };
      try {
        nc.publish(GOODBYE_SUBJECT, JSON.stringify(bye));
        // Make sure it left before the caller closes the connection; a server that is down now gets nothing,
        // and coordinators drop the worker when its heartbeats time out instead.
        let timeout: NodeJS.Timeout | undefined;
        await Promise.race([nc.flush(), new Promise<void>((resolve) => (timeout = setTimeout(resolve, GOODBYE_FLUSH_MS)))]).finally(() => clearTimeout(timeout));
      } catch (err) {
        log('worker', 'goodbye not sent', { error: (err as Error).message });
      }
    },
  };
}
