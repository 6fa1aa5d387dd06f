// One place that says how this project connects to NATS: a connection that never gives up on a server that
// restarts (the coordinator's durable store and the workers' heartbeats both ride on it).
import { connect, type NatsConnection, type NodeConnectionOptions } from '@nats-io/transport-node';

/** Reconnect settings shared by every NATS client of the project. */
export const NATS_RECONNECT_OPTIONS = {
  // Never stop trying: a nats-server restart (or a long outage) must not leave a dead client behind.
  maxReconnectAttempts: -1,
  // Retry quickly: a restarted server is usually back within a second or two.
  reconnectTimeWait: 250,
  reconnectJitter: 100,
  // Notice a silently dead server (no TCP reset, e.g. a lost host) within ~15 s instead of the 2 min default.
  pingInterval: 5_000,
  maxPingOut: 3,
  // The first connect is not retried (no waitOnFirstConnect): with maxReconnectAttempts -1 it would wait
  // forever on a mistyped URL. A caller that must wait for a server starting later passes
  // { waitOnFirstConnect: true } in `extra`.
} as const satisfies NodeConnectionOptions;

/**
 * Connects to `servers` (one URL or several, comma separated) as client `name` (shown in the server's
 * monitoring pages), with the project's reconnect settings. Extra options override the defaults.
 */
export async function connectNats(servers: string, name: string, extra: NodeConnectionOptions = {}): Promise<NatsConnection> {
  const list = servers
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (list.length === 0) throw new Error('connectNats: no server URL given');
  return connect({ servers: list, name, ...NATS_RECONNECT_OPTIONS, ...extra });
}
