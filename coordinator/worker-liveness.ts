// Pure: which discovered workers have gone quiet. nats-discovery.ts keeps the last-seen times and asks this on a
// timer; kept apart so that the rule is tested without servers or real time.

/**
 * Addresses not heard from for longer than `timeoutMs` at time `nowMs` (same clock as the last-seen times), in
 * the map's order. A worker heard exactly `timeoutMs` ago is still alive.
 */
export function expiredWorkers(lastSeenMs: ReadonlyMap<string, number>, nowMs: number, timeoutMs: number): string[] {
  const expired: string[] = [];
  for (const [address, seen] of lastSeenMs) {
    if (nowMs - seen > timeoutMs) expired.push(address);
  }
  return expired;
}
