// The store of served mode: job state in NATS JetStream, so that it outlives the coordinator process and a
// restarted (or second) coordinator takes the jobs over. Three JetStream assets, all named from one prefix P
// (default 'jukebox'):
//
//   KV bucket  P_jobs    (stream KV_P_jobs)   small records, keyed per job J (the job id, token-escaped):
//       J.job            {fixed, progress}                      createJob / setProgress (CAS on the revision)
//       J.lease          {owner, untilMs}                       acquireLease / releaseLease (CAS on the revision)
//       J.w.<task key>   blob manifest of a window's tokens     putWindow
//       J.d.<chunk>      blob manifest of a decode chunk        putDecoded
//       J.a.<row>        blob manifest of a row's WAV file      putAudio
//   stream     P_blobs   subjects P.blob.J.<blob id>.<chunk index>, one message per chunk of at most chunkBytes
//   stream     P_events  subjects P.events.J, one message per event, numbered by expected-last-subject-sequence
//
// Why blobs are not in the Object Store (@nats-io/obj): a job's windows and decode chunks must be listed per job
// (Objm's list() scans the metadata of every object of every job), deleted per job in one step (here: one
// purge by subject P.blob.J.>, no tombstones left behind), read without buffering a whole WAV (Objm's get()
// pushes every chunk into a ReadableStream without backpressure) and written across a nats-server restart
// (Objm's put() gives up on the first failed chunk, and putAudio's pieces cannot be replayed). Here a chunk is
// a message on its own subject in a stream keeping one message per subject, so publishing it again after an
// ambiguous failure replaces it, and a blob counts as stored only once its manifest (written after its
// chunks) is in the KV bucket.
import { createHash } from 'node:crypto';
import { nuid, type NatsConnection } from '@nats-io/transport-node';
import {
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  jetstream,
  jetstreamManager,
  type JetStreamClient,
  type JetStreamManager,
  type StoredMsg,
  type StreamConfig,
} from '@nats-io/jetstream';
import { Kvm, type KV, type KvEntry } from '@nats-io/kv';
import { connectNats } from '../../server/nats.js';
import { packRows, unpackFloat32, unpackInt32, type DurableStore, type JobEventRecord, type JobProgressRecord, type StoredJob } from './store.js';

export interface JetStreamStoreOptions {
  /** NATS server URL(s), comma separated. */
  servers: string;
  /** Client name shown by the server's monitoring. */
  clientName?: string;
  /** Prefix of the bucket, stream and subject names (letters, digits, '-', '_'). Default 'jukebox'. */
  prefix?: string;
  /**
   * Retention: the server drops any record, chunk or event older than this (JetStream max_age on every asset).
   * It applies to running jobs' data too (a window written at the start of a job ages from then), so it must
   * exceed the longest a job can queue and run. 0 (the default) keeps everything until deleteJob.
   */
  maxAgeMs?: number;
  /** Bytes each asset (KV bucket, blob stream, event stream) may hold; writes beyond fail. Default unlimited. */
  maxBytes?: number;
  /** JetStream replicas of each asset (1, 3 or 5). Default 1. */
  replicas?: number;
  /** How long an operation retries while NATS is unreachable before it throws. Default 30 s. */
  retryForMs?: number;
  /** Timeout of one JetStream request. Default 5 s. */
  requestTimeoutMs?: number;
  /** Size of a blob chunk (one JetStream message). Default 256 KiB; at most half the server's max_payload. */
  chunkBytes?: number;
  /** The lease clock (Unix ms). Coordinators sharing a store must agree on it to well within a lease's ttl. */
  now?: () => number;
}

/** Where a blob's chunks are: P.blob.J.<blob>.0 .. <chunks - 1>. */
interface BlobManifest {
  blob: string;
  bytes: number;
  chunks: number;
  /** Hex SHA-256 of the whole blob, checked when it is read back whole. */
  sha256: string;
}

interface LeaseRecord {
  owner: string;
  untilMs: number;
}

const RETRY_WAIT_MS = 250;
/** Rounds of read-then-compare-and-set before a CAS write gives up (only contention makes it loop). */
const CAS_ROUNDS = 20;
/** Parallel chunk reads when a blob is read whole. */
const READ_PARALLELISM = 8;

/**
 * A name as one token of a KV key or subject: letters, digits, '-' and '_' stay, every other UTF-8 byte
 * becomes '=' and two hex digits ('window:1:0:3' -> 'window=3A1=3A0=3A3'). Injective, so it decodes back.
 */
export function encodeToken(s: string): string {
  if (s.length === 0) throw new RangeError('store: empty name');
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9_-]/.test(c) ? c : `=${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export function decodeToken(token: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < token.length; i++) {
    if (token[i] === '=') {
      bytes.push(parseInt(token.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(token.charCodeAt(i));
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Errors that mean "NATS is (briefly) unreachable": the operation is retried. */
function isTransient(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  // TimeoutError: no reply (server down, or the reply lost in a reconnect). NoResponders / JetStreamNotEnabled:
  // the server is up but its JetStream is not serving yet (just restarted). ConnectionError / RequestError:
  // the connection broke under a request.
  if (['TimeoutError', 'NoResponders', 'NoRespondersError', 'JetStreamNotEnabled', 'ConnectionError', 'RequestError'].includes(err.name)) return true;
  // 10008: JetStream temporarily unavailable (e.g. no leader during an election); 10076: JetStream not enabled
  // (yet). Not every 503 is transient: "maximum bytes exceeded" (10077) is a 503 too, and retrying it is useless.
  return err instanceof JetStreamApiError && (err.code === 10008 || err.code === 10076);
}

function isWrongLastSequence(err: unknown): boolean {
  return err instanceof JetStreamApiError && (err.code === JetStreamApiCodes.StreamWrongLastSequence || err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const live = (e: KvEntry | null): e is KvEntry => e !== null && e.operation === 'PUT';
const json = (v: unknown): string => JSON.stringify(v);

/** Runs `fn` over `items` with at most `limit` calls in flight, results in order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export class JetStreamStore implements DurableStore {
  readonly kind = 'jetstream';
  private closed = false;
  private connected = true;
  /** Resolved (and replaced) on every reconnect: what an operation waits on while the connection is down. */
  private reconnected: { promise: Promise<void>; resolve: () => void };

  private constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly kv: KV,
    private readonly prefix: string,
    private readonly chunkBytes: number,
    private readonly retryForMs: number,
    private readonly now: () => number,
  ) {
    this.reconnected = JetStreamStore.signal();
    void this.watchStatus();
  }

  private static signal(): { promise: Promise<void>; resolve: () => void } {
    let resolve!: () => void;
    const promise = new Promise<void>((r) => (resolve = r));
    return { promise, resolve };
  }

  /** Connects, creates (or binds to, and updates the limits of) the bucket and streams. */
  static async open(opts: JetStreamStoreOptions): Promise<JetStreamStore> {
    const prefix = opts.prefix ?? 'jukebox';
    if (!/^[A-Za-z0-9_-]+$/.test(prefix)) throw new RangeError(`jetstream store: invalid prefix "${prefix}"`);
    const timeout = opts.requestTimeoutMs ?? 5_000;
    const retryForMs = opts.retryForMs ?? 30_000;
    const nc = await connectNats(opts.servers, opts.clientName ?? 'jukebox-store');
    try {
      const maxPayload = nc.info?.max_payload ?? 1024 * 1024;
      // At most half of max_payload: a chunk read from the leader (readChunk's fallback) comes back base64
      // inside a JSON reply, a third larger than the chunk.
      const chunkBytes = Math.min(opts.chunkBytes ?? 256 * 1024, Math.floor(maxPayload / 2));
      const js = jetstream(nc, { timeout });
      const jsm = await jetstreamManager(nc, { timeout });
      const maxAgeNs = (opts.maxAgeMs ?? 0) * 1_000_000;
      const twoMinutesNs = 120 * 1e9; // JetStream's default duplicate window (appendEvent's msgID relies on it)
      const limits: StreamLimits = {
        max_age: maxAgeNs,
        max_bytes: opts.maxBytes ?? -1,
        num_replicas: opts.replicas ?? 1,
        duplicate_window: maxAgeNs > 0 ? Math.min(twoMinutesNs, maxAgeNs) : twoMinutesNs,
      };
      const bucket = `${prefix}_jobs`;
      // Direct gets off: with replicas > 1 they may be answered by a lagging follower, and a CAS loop or a
      // "does the job exist" check must read what the last acknowledged write left.
      const kv = await new Kvm(js).create(bucket, { history: 1, storage: StorageType.File, replicas: limits.num_replicas, allow_direct: false });
      await ensureStream(jsm, `KV_${bucket}`, limits);
      const base: Partial<StreamConfig> = { retention: RetentionPolicy.Limits, storage: StorageType.File, discard: DiscardPolicy.New };
      // One message per chunk subject: a chunk published again (a retry) replaces itself.
      // Direct gets on: chunk reads are the bulk of the traffic and direct replies carry the bytes raw
      // (no base64); a chunk a lagging follower lacks is read again from the leader (readChunk).
      await ensureStream(jsm, `${prefix}_blobs`, limits, { ...base, subjects: [`${prefix}.blob.>`], max_msgs_per_subject: 1, allow_direct: true });
      await ensureStream(jsm, `${prefix}_events`, limits, { ...base, subjects: [`${prefix}.events.>`] });
      return new JetStreamStore(nc, js, jsm, kv, prefix, chunkBytes, retryForMs, opts.now ?? Date.now);
    } catch (err) {
      await nc.close();
      throw err;
    }
  }

  private async watchStatus(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type === 'disconnect') this.connected = false;
      if (s.type === 'reconnect') {
        this.connected = true;
        this.reconnected.resolve();
        this.reconnected = JetStreamStore.signal();
      }
    }
  }

  /**
   * Runs `fn` until it succeeds, retrying transient failures (NATS down or restarting) for up to retryForMs.
   * While the connection is down it waits for the reconnect instead of sending requests that would only time
   * out. Other errors go to the caller as they are. `fn` must be safe to repeat (see the callers).
   */
  private async retry<T>(op: string, fn: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.retryForMs;
    for (;;) {
      if (this.closed) throw new Error(`jetstream store: ${op}: the store is closed`);
      if (!this.connected) {
        const left = deadline - Date.now();
        if (left > 0) await this.waitReconnect(left);
        if (!this.connected && !this.closed) throw this.unreachable(op);
      }
      try {
        return await fn();
      } catch (err) {
        if (!isTransient(err) || this.closed) throw err;
        if (Date.now() + RETRY_WAIT_MS > deadline) throw this.unreachable(op, err);
        await sleep(RETRY_WAIT_MS);
      }
    }
  }

  /** Resolves on the next reconnect (or close), or after `ms`; leaves no timer behind. */
  private async waitReconnect(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.reconnected.promise, new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
    clearTimeout(timer);
  }

  private unreachable(op: string, cause?: unknown): Error {
    const why = cause instanceof Error ? ` (last error: ${cause.message})` : '';
    return new Error(`jetstream store: ${op} failed: NATS unreachable for ${this.retryForMs} ms${why}`, { cause });
  }

  // ---- names ---------------------------------------------------------------------------------------------

  private get blobStream(): string {
    return `${this.prefix}_blobs`;
  }
  private get eventStream(): string {
    return `${this.prefix}_events`;
  }
  private jobKey(id: string): string {
    return `${encodeToken(id)}.job`;
  }
  private leaseKey(id: string): string {
    return `${encodeToken(id)}.lease`;
  }
  private chunkSubject(id: string, blob: string, index: number): string {
    return `${this.prefix}.blob.${encodeToken(id)}.${blob}.${index}`;
  }
  private eventSubject(id: string): string {
    return `${this.prefix}.events.${encodeToken(id)}`;
  }

  // ---- job records ---------------------------------------------------------------------------------------

  private async jobEntry(id: string, op: string): Promise<KvEntry | null> {
    const e = await this.retry(op, () => this.kv.get(this.jobKey(id)));
    return live(e) ? e : null;
  }

  /** Throws like MemoryStore when the job is unknown. */
  private async requireJob(id: string, op: string): Promise<KvEntry> {
    const e = await this.jobEntry(id, op);
    if (!e) throw new RangeError(`store: no job "${id}"`);
    return e;
  }

  async createJob(job: StoredJob): Promise<void> {
    const id = job.fixed.id;
    const value = json(job);
    try {
      await this.retry(`createJob(${id})`, () => this.kv.create(this.jobKey(id), value));
    } catch (err) {
      if (!isWrongLastSequence(err)) throw err;
      // The key exists. If it holds exactly this job, an earlier attempt of this very call landed before its
      // reply was lost (a retry across a reconnect): that is success, not a duplicate.
      const e = await this.jobEntry(id, `createJob(${id})`);
      if (e?.string() !== value) throw new RangeError(`store: job "${id}" exists`);
    }
  }

  async listJobs(): Promise<StoredJob[]> {
    const keys = await this.retry('listJobs', async () => {
      const out: string[] = [];
      for await (const k of await this.kv.keys('*.job')) out.push(k);
      return out;
    });
    const jobs = await mapLimit(keys, READ_PARALLELISM, async (k) => {
      const e = await this.retry('listJobs', () => this.kv.get(k));
      return live(e) ? e.json<StoredJob>() : undefined;
    });
    return jobs.filter((j): j is StoredJob => j !== undefined).sort((a, b) => a.fixed.seq - b.fixed.seq);
  }

  async getJob(id: string): Promise<StoredJob | undefined> {
    return (await this.jobEntry(id, `getJob(${id})`))?.json<StoredJob>();
  }

  async setProgress(id: string, progress: JobProgressRecord): Promise<void> {
    const op = `setProgress(${id})`;
    // Compare-and-set on the record's revision: a job deleted meanwhile is not written back to life.
    for (let round = 0; round < CAS_ROUNDS; round++) {
      const e = await this.requireJob(id, op);
      const job = e.json<StoredJob>();
      try {
        await this.retry(op, () => this.kv.update(this.jobKey(id), json({ fixed: job.fixed, progress }), e.revision));
        return;
      } catch (err) {
        if (!isWrongLastSequence(err)) throw err;
        // Changed under us (or our own write landed before a lost reply): read again and write again.
      }
    }
    throw new Error(`jetstream store: ${op}: the record kept changing (${CAS_ROUNDS} rounds)`);
  }

  // ---- blobs ---------------------------------------------------------------------------------------------

  /** Writes the bytes as chunk messages of a new blob; the caller then points a manifest at it. */
  private async writeBlob(id: string, pieces: Iterable<Uint8Array> | AsyncIterable<Uint8Array>, op: string): Promise<BlobManifest> {
    const blob = nuid.next();
    const sha = createHash('sha256');
    const buf = new Uint8Array(this.chunkBytes);
    let fill = 0;
    let chunks = 0;
    let bytes = 0;
    const flush = async (): Promise<void> => {
      // A copy: the client may still hold the payload of a request that timed out in a reconnect.
      const data = buf.slice(0, fill);
      const subject = this.chunkSubject(id, blob, chunks);
      await this.retry(op, () => this.js.publish(subject, data));
      chunks++;
      fill = 0;
    };
    try {
      for await (const piece of pieces) {
        sha.update(piece);
        bytes += piece.length;
        for (let off = 0; off < piece.length; ) {
          const n = Math.min(piece.length - off, buf.length - fill);
          buf.set(piece.subarray(off, off + n), fill);
          fill += n;
          off += n;
          if (fill === buf.length) await flush();
        }
      }
      if (fill > 0) await flush();
    } catch (err) {
      // The pieces failed (or NATS stayed away): drop the chunks written so far, best effort (deleteJob's
      // purge takes any left).
      if (chunks > 0) await this.purgeBlob(id, blob);
      throw err;
    }
    return { blob, bytes, chunks, sha256: sha.digest('hex') };
  }

  /** Points `key` at the new blob, then drops the chunks of the blob it pointed at before (if any). */
  private async commitBlob(id: string, key: string, manifest: BlobManifest, op: string): Promise<void> {
    const old = await this.retry(op, () => this.kv.get(key));
    await this.retry(op, () => this.kv.put(key, json(manifest)));
    if (live(old)) {
      const prev = old.json<BlobManifest>();
      if (prev.blob !== manifest.blob) await this.purgeBlob(id, prev.blob);
    }
  }

  /** Drops a blob's chunks. Best effort: chunks left behind go with deleteJob's purge (or with max_age). */
  private async purgeBlob(id: string, blob: string): Promise<void> {
    await this.jsm.streams.purge(this.blobStream, { filter: `${this.prefix}.blob.${encodeToken(id)}.${blob}.>` }).catch(() => undefined);
  }

  private async manifest(key: string, op: string): Promise<BlobManifest | undefined> {
    const e = await this.retry(op, () => this.kv.get(key));
    return live(e) ? e.json<BlobManifest>() : undefined;
  }

  private async readChunk(id: string, m: BlobManifest, index: number, op: string): Promise<Uint8Array> {
    const subject = this.chunkSubject(id, m.blob, index);
    const msg: StoredMsg | null = await this.retry(op, async () => {
      // A follower that has not caught up answers a direct get with "not found": ask the leader then.
      const direct = await this.jsm.direct.getMessage(this.blobStream, { last_by_subj: subject });
      return direct ?? (await this.jsm.streams.getMessage(this.blobStream, { last_by_subj: subject }));
    });
    if (!msg) throw new Error(`jetstream store: ${op}: chunk ${index} of ${m.chunks} is missing (expired by max age, or the job was deleted)`);
    return msg.data;
  }

  private async readBlob(id: string, m: BlobManifest, op: string): Promise<Uint8Array> {
    const out = new Uint8Array(m.bytes);
    let offset = 0;
    const parts = await mapLimit(
      Array.from({ length: m.chunks }, (_, i) => i),
      READ_PARALLELISM,
      (i) => this.readChunk(id, m, i, op),
    );
    for (const p of parts) {
      if (offset + p.length > m.bytes) throw new Error(`jetstream store: ${op}: blob longer than its manifest says`);
      out.set(p, offset);
      offset += p.length;
    }
    if (offset !== m.bytes) throw new Error(`jetstream store: ${op}: blob holds ${offset} bytes, its manifest ${m.bytes}`);
    if (createHash('sha256').update(out).digest('hex') !== m.sha256) throw new Error(`jetstream store: ${op}: blob digest mismatch`);
    return out;
  }

  async putWindow(id: string, key: string, rows: Int32Array[]): Promise<void> {
    const op = `putWindow(${id}, ${key})`;
    await this.requireJob(id, op);
    const m = await this.writeBlob(id, [packRows(rows)], op);
    await this.commitBlob(id, `${encodeToken(id)}.w.${encodeToken(key)}`, m, op);
  }

  /** Task keys of the KV keys J.<kind>.* (decoded). */
  private async blobKeys(id: string, kind: 'w' | 'd' | 'a', op: string): Promise<string[]> {
    const prefix = `${encodeToken(id)}.${kind}.`;
    return this.retry(op, async () => {
      const out: string[] = [];
      for await (const k of await this.kv.keys(`${prefix}*`)) out.push(decodeToken(k.slice(prefix.length)));
      return out;
    });
  }

  async windows(id: string): Promise<Map<string, Int32Array[]>> {
    const op = `windows(${id})`;
    await this.requireJob(id, op);
    const keys = await this.blobKeys(id, 'w', op);
    const rows = await mapLimit(keys, 2, async (key) => {
      const m = await this.manifest(`${encodeToken(id)}.w.${encodeToken(key)}`, op);
      return m && unpackInt32(await this.readBlob(id, m, op));
    });
    const out = new Map<string, Int32Array[]>();
    keys.forEach((k, i) => {
      const r = rows[i];
      if (r) out.set(k, r);
    });
    return out;
  }

  async putDecoded(id: string, chunk: number, rows: Float32Array[]): Promise<void> {
    const op = `putDecoded(${id}, ${chunk})`;
    await this.requireJob(id, op);
    const m = await this.writeBlob(id, [packRows(rows)], op);
    await this.commitBlob(id, `${encodeToken(id)}.d.${chunk}`, m, op);
  }

  async decodedChunks(id: string): Promise<number[]> {
    const op = `decodedChunks(${id})`;
    await this.requireJob(id, op);
    return (await this.blobKeys(id, 'd', op)).map(Number).sort((a, b) => a - b);
  }

  async getDecoded(id: string, chunk: number): Promise<Float32Array[] | undefined> {
    const op = `getDecoded(${id}, ${chunk})`;
    await this.requireJob(id, op);
    const m = await this.manifest(`${encodeToken(id)}.d.${chunk}`, op);
    return m && unpackFloat32(await this.readBlob(id, m, op));
  }

  async putAudio(id: string, row: number, pieces: AsyncIterable<Uint8Array>): Promise<number> {
    const op = `putAudio(${id}, ${row})`;
    await this.requireJob(id, op);
    // Streams: at most one chunk of the file is held here at a time.
    const m = await this.writeBlob(id, pieces, op);
    await this.commitBlob(id, `${encodeToken(id)}.a.${row}`, m, op);
    return m.bytes;
  }

  async readAudio(id: string, row: number): Promise<AsyncIterable<Uint8Array> | undefined> {
    const op = `readAudio(${id}, ${row})`;
    const m = await this.manifest(`${encodeToken(id)}.a.${row}`, op);
    if (!m) return undefined;
    const read = (i: number): Promise<Uint8Array> => this.readChunk(id, m, i, op);
    // Chunk by chunk, one read ahead: memory stays at two chunks whatever the file's size.
    return (async function* (): AsyncGenerator<Uint8Array> {
      let next = m.chunks > 0 ? read(0) : undefined;
      for (let i = 0; i < m.chunks; i++) {
        const data = await next!;
        next = i + 1 < m.chunks ? read(i + 1) : undefined;
        // Keep an unawaited read-ahead from surfacing as an unhandled rejection if the reader stops here.
        next?.catch(() => undefined);
        yield data;
      }
    })();
  }

  // ---- events --------------------------------------------------------------------------------------------

  async appendEvent(id: string, event: Omit<JobEventRecord, 'seq'>): Promise<number> {
    const op = `appendEvent(${id})`;
    await this.requireJob(id, op);
    const subject = this.eventSubject(id);
    // Tags this call's message, so that a retry can recognise its own earlier attempt (see below).
    const msgID = nuid.next();
    for (let round = 0; round < CAS_ROUNDS; round++) {
      const last = await this.retry(op, () => this.jsm.streams.getMessage(this.eventStream, { last_by_subj: subject }));
      // Our own earlier attempt landed but its ack was lost: it is the event, do not append it twice.
      if (last && last.header?.get('Nats-Msg-Id') === msgID) return last.json<JobEventRecord>().seq;
      const seq = last ? last.json<JobEventRecord>().seq + 1 : 1;
      try {
        // Accepted only if the subject's last message is still the one read above: a concurrent appender
        // makes this fail and read again, so numbers never repeat and never skip.
        const ack = await this.retry(op, () =>
          this.js.publish(subject, json({ ...event, seq }), { msgID, expect: { lastSubjectSequence: last ? last.seq : 0 } }),
        );
        if (!ack.duplicate) return seq;
        // Deduplicated by msgID: an earlier attempt of this call is stored; its sequence is the answer.
        const mine = await this.retry(op, () => this.jsm.streams.getMessage(this.eventStream, { seq: ack.seq }));
        if (mine) return mine.json<JobEventRecord>().seq;
      } catch (err) {
        if (!isWrongLastSequence(err)) throw err;
      }
    }
    throw new Error(`jetstream store: ${op}: lost the race for the next event number ${CAS_ROUNDS} times`);
  }

  async events(id: string, afterSeq: number): Promise<JobEventRecord[]> {
    const op = `events(${id})`;
    await this.requireJob(id, op);
    const subject = this.eventSubject(id);
    return this.retry(op, async () => {
      const last = await this.jsm.streams.getMessage(this.eventStream, { last_by_subj: subject });
      if (!last || last.json<JobEventRecord>().seq <= afterSeq) return [];
      // One ordered consumer over the job's subject: far faster than a request per event. It stops at the
      // last message (pending 0); `expires` bounds the wait should the messages vanish meanwhile.
      const consumer = await this.js.consumers.get(this.eventStream, { filter_subjects: subject });
      try {
        const out: JobEventRecord[] = [];
        const messages = await consumer.fetch({ max_messages: last.json<JobEventRecord>().seq, expires: 5_000 });
        for await (const m of messages) {
          const ev = m.json<JobEventRecord>();
          if (ev.seq > afterSeq) out.push(ev);
          if (m.info.pending === 0 || m.seq >= last.seq) break;
        }
        return out;
      } finally {
        // The server would keep the ephemeral consumer for 5 minutes of inactivity otherwise.
        await consumer.delete().catch(() => false);
      }
    });
  }

  // ---- deletion ------------------------------------------------------------------------------------------

  async deleteJob(id: string): Promise<void> {
    const op = `deleteJob(${id})`;
    const j = encodeToken(id);
    // The records first (one purge of J.>: record, lease and manifests, leaving no delete markers), so a crash
    // part-way leaves at most unreferenced chunks and events, which nothing reads and max_age would drop.
    await this.retry(op, () => this.jsm.streams.purge(`KV_${this.prefix}_jobs`, { filter: `$KV.${this.prefix}_jobs.${j}.>` }));
    await this.retry(op, () => this.jsm.streams.purge(this.eventStream, { filter: this.eventSubject(id) }));
    await this.retry(op, () => this.jsm.streams.purge(this.blobStream, { filter: `${this.prefix}.blob.${j}.>` }));
  }

  // ---- leases --------------------------------------------------------------------------------------------

  async acquireLease(id: string, owner: string, ttlMs: number): Promise<boolean> {
    const op = `acquireLease(${id})`;
    await this.requireJob(id, op);
    const key = this.leaseKey(id);
    for (let round = 0; round < CAS_ROUNDS; round++) {
      const e = await this.retry(op, () => this.kv.get(key));
      const now = this.now();
      const held = live(e) ? e.json<LeaseRecord>() : undefined;
      if (held && held.owner !== owner && held.untilMs > now) return false;
      const value = json({ owner, untilMs: now + ttlMs } satisfies LeaseRecord);
      try {
        // Create when there is no lease (kv.create also takes over a delete marker), else compare-and-set on
        // the revision read above: of two coordinators racing for the same lease, at most one write lands.
        if (live(e)) await this.retry(op, () => this.kv.update(key, value, e.revision));
        else await this.retry(op, () => this.kv.create(key, value));
        return true;
      } catch (err) {
        if (!isWrongLastSequence(err)) throw err;
        // Someone wrote the lease since we read it (or our own write landed before a lost reply): decide again.
      }
    }
    return false;
  }

  async releaseLease(id: string, owner: string): Promise<void> {
    const op = `releaseLease(${id})`;
    const key = this.leaseKey(id);
    for (let round = 0; round < CAS_ROUNDS; round++) {
      const e = await this.retry(op, () => this.kv.get(key));
      if (!live(e) || e.json<LeaseRecord>().owner !== owner) return;
      try {
        await this.retry(op, () => this.kv.delete(key, { previousSeq: e.revision }));
        return;
      } catch (err) {
        if (!isWrongLastSequence(err)) throw err;
      }
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.reconnected.resolve();
    await this.nc.drain();
  }
}

interface StreamLimits {
  /** Nanoseconds, 0 = no limit. */
  max_age: number;
  max_bytes: number;
  num_replicas: number;
  /** Nanoseconds; the server refuses one longer than max_age. */
  duplicate_window: number;
}

/**
 * Creates the stream, or brings an existing one to the requested limits (retention options may change
 * between coordinator runs). `config` is only used to create it.
 */
async function ensureStream(
  jsm: JetStreamManager,
  name: string,
  limits: StreamLimits,
  config?: Partial<StreamConfig>,
): Promise<void> {
  let info;
  try {
    info = await jsm.streams.info(name);
  } catch (err) {
    if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) || !config) throw err;
    await jsm.streams.add({ ...config, name, ...limits });
    return;
  }
  const c = info.config;
  const wantDirect = config?.allow_direct;
  if (
    c.max_age !== limits.max_age ||
    c.max_bytes !== limits.max_bytes ||
    c.num_replicas !== limits.num_replicas ||
    c.duplicate_window !== limits.duplicate_window ||
    (wantDirect !== undefined && c.allow_direct !== wantDirect)
  ) {
    await jsm.streams.update(name, { ...c, ...limits, ...(wantDirect !== undefined ? { allow_direct: wantDirect } : {}) });
  }
}
