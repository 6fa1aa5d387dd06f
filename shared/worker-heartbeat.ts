// Pure: the messages workers publish on NATS so that coordinators find them (worker/nats-announce.ts sends them,
// coordinator/nats-discovery.ts reads them), and their validation. JSON, one message per NATS payload.
import { cut } from './errors.js';

/** Every `intervalMs` (and once at start, and after each reconnect) while a worker serves. */
export const HEARTBEAT_SUBJECT = 'jukebox.v1.workers.heartbeat';
/** Once when a worker shuts down normally: coordinators drop it at once instead of waiting for the timeout. */
export const GOODBYE_SUBJECT = 'jukebox.v1.workers.goodbye';

/** Default heartbeat period. */
export const HEARTBEAT_INTERVAL_MS = 1000;
/** Default time without a heartbeat after which a coordinator drops a worker: three missed beats. */
export const HEARTBEAT_TIMEOUT_MS = 3 * HEARTBEAT_INTERVAL_MS;

export interface Heartbeat {
  /** The worker's id (Describe's worker_id); a new id at a known address means the worker restarted. */
  workerId: string;
  /** gRPC host:port a coordinator dials: the listening address, or the worker's --advertise. Never a wildcard. */
  address: string;
  modelHash: string;
  /** Prior levels it hosts (may be empty for a decode-only worker). */
  levels: number[];
  /** Whether it hosts the VQ-VAE decoders. */
  decodes: boolean;
  /** Execution provider ("cpu", "cuda"). */
  provider: string;
  /** Batches (or decode chunks) it runs at once: its inference threads alive now. */
  capacity: number;
  /** capacity minus batches running now; absent when the worker does not know. */
  free?: number;
  /** Resident set size of the worker process, bytes. */
  rssBytes: number;
  /** The worker's wall clock when it sent this, ms since the epoch. Informative only: coordinators time
   *  liveness by when a beat arrives, so clock skew between hosts does not matter. */
  sentAtMs: number;
}

export interface Goodbye {
  workerId: string;
  address: string;
  sentAtMs: number;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

const MAX_ID_CHARS = 200;

/**
 * Why `address` is not a host:port a coordinator can dial, or null when it is. Hosts: a name, an IPv4 address,
 * or a bracketed IPv6 address; ports 1..65535. Wildcards (0.0.0.0, [::]) are refused: they name no machine.
 */
export function checkWorkerAddress(address: string): string | null {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})$/.exec(address);
  if (!m) return `"${cut(address, 80)}" is not host:port`;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return `port ${m[2]} is not in 1..65535`;
  if (m[1] === '0.0.0.0' || /^\[[0:]+\]$/.test(m[1])) return `${address} is a wildcard address that no coordinator can dial`;
  return null;
}

/** Parses and checks a heartbeat. Fields it does not know are ignored (newer workers may add some). */
export function parseHeartbeat(text: string): Parsed<Heartbeat> {
  const obj = parseObject(text);
  if (typeof obj === 'string') return { ok: false, reason: obj };
  const why =
    idField(obj, 'workerId') ??
    addressField(obj) ??
    idField(obj, 'modelHash') ??
    (Array.isArray(obj.levels) && obj.levels.every((l) => Number.isInteger(l) && (l as number) >= 0) ? null : 'levels must be an array of integers >= 0') ??
    (typeof obj.decodes === 'boolean' ? null : 'decodes must be a boolean') ??
    idField(obj, 'provider') ??
    countField(obj, 'capacity') ??
    (obj.free === undefined ? null : countField(obj, 'free')) ??
    (obj.free !== undefined && (obj.free as number) > (obj.capacity as number) ? `free ${String(obj.free)} exceeds capacity ${String(obj.capacity)}` : null) ??
    countField(obj, 'rssBytes') ??
    timeField(obj);
  if (why) return { ok: false, reason: why };
  const value: Heartbeat = {
    workerId: obj.workerId as string,
    address: obj.address as string,
    modelHash: obj.modelHash as string,
    levels: [...(obj.levels as number[])],
    decodes: obj.decodes as boolean,
    provider: obj.provider as string,
    capacity: obj.capacity as number,
    rssBytes: obj.rssBytes as number,
    sentAtMs: obj.sentAtMs as number,
  };
  if (obj.free !== undefined) value.free = obj.free as number;
  return { ok: true, value };
}

export function parseGoodbye(text: string): Parsed<Goodbye> {
  const obj = parseObject(text);
  if (typeof obj === 'string') return { ok: false, reason: obj };
  const why = idField(obj, 'workerId') ?? addressField(obj) ?? timeField(obj);
  if (why) return { ok: false, reason: why };
  return { ok: true, value: { workerId: obj.workerId as string, address: obj.address as string, sentAtMs: obj.sentAtMs as number } };
}

/** The JSON object in `text`, or why there is none. */
function parseObject(text: string): Record<string, unknown> | string {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    return `not JSON: ${(err as Error).message}`;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not a JSON object';
  return v as Record<string, unknown>;
}

function idField(obj: Record<string, unknown>, name: string): string | null {
  const v = obj[name];
  if (typeof v !== 'string' || v.length === 0) return `${name} must be a non-empty string`;
  if (v.length > MAX_ID_CHARS) return `${name} is longer than ${MAX_ID_CHARS} characters`;
  return null;
}

function addressField(obj: Record<string, unknown>): string | null {
  if (typeof obj.address !== 'string') return 'address must be a string host:port';
  const why = checkWorkerAddress(obj.address);
  return why ? `address: ${why}` : null;
}

function countField(obj: Record<string, unknown>, name: string): string | null {
  const v = obj[name];
  return Number.isSafeInteger(v) && (v as number) >= 0 ? null : `${name} must be an integer >= 0`;
}

function timeField(obj: Record<string, unknown>): string | null {
  const v = obj.sentAtMs;
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? null : 'sentAtMs must be a time in ms since the epoch';
}
