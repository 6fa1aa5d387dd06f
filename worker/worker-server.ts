// The worker's gRPC service: Describe, SampleWindow (streamed), Decode.
import * as grpc from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import { jukeboxProto } from '../proto/index.js';
import type { WorkerHandlers } from '../proto/generated/jukebox/v1/Worker.js';
import type { SampleWindowRequest__Output } from '../proto/generated/jukebox/v1/SampleWindowRequest.js';
import type { WindowItem__Output } from '../proto/generated/jukebox/v1/WindowItem.js';
import type { SampleWindowResponse } from '../proto/generated/jukebox/v1/SampleWindowResponse.js';
import type { DecodeRequest__Output } from '../proto/generated/jukebox/v1/DecodeRequest.js';
import type { DecodeResponse } from '../proto/generated/jukebox/v1/DecodeResponse.js';
import type { DescribeResponse } from '../proto/generated/jukebox/v1/DescribeResponse.js';
import type { EncodeRequest__Output } from '../proto/generated/jukebox/v1/EncodeRequest.js';
import type { EncodeResponse } from '../proto/generated/jukebox/v1/EncodeResponse.js';
import type { NatsConnection } from '@nats-io/transport-node';
import { createGrpcServer, listen, statusError, type GrpcServerHandle } from '../server/grpc-server.js';
import { connectNats } from '../server/nats.js';
import { serveMetrics, type MetricsServer } from '../server/metrics-http.js';
import { log } from '../server/log.js';
import { readModelFolder, verifyModelFiles, type ModelFolder } from '../models/model-folder.js';
import { InferenceError, InferencePool } from './inference-pool.js';
import { WorkerMetrics } from './metrics.js';
import type { ExecutionProvider, Precision } from './onnx-runtime.js';
import type { WindowBatch } from './window-sampler.js';
import { startAnnouncing, type Announcer } from './nats-announce.js';
import { warmUp } from './warm-up.js';
import type { Span } from '@opentelemetry/api';
import { TRACEPARENT_METADATA, contextOf, endSpan, startTracing, type Tracing, type TracingOptions } from '../server/tracing.js';
import { checkWorkerAddress, type Heartbeat } from '../shared/worker-heartbeat.js';
import { isLoopback, type ServerSecurity } from '../server/security.js';
import { MAX_DECODE_ROWS, MAX_ENCODE_SAMPLES, MAX_WINDOW_ROWS, checkLabelVector, checkSampleIds, checkSeed, defaultMaxDecodeTokens, labelRanges, type LabelRanges } from './request-limits.js';
import { cut } from '../shared/errors.js';

export const WORKER_SERVICE = 'jukebox.v1.Worker';

/**
 * The status a failed inference answers with: retryable ones as UNAVAILABLE so the coordinator goes elsewhere.
 * Anything else is INTERNAL with a generic message and a reference: the runtime's own text (ONNX node and tensor
 * names, file paths) goes to the worker's log only, never to the caller.
 */
export function inferenceStatus(err: Error, method: 'SampleWindow' | 'Decode' | 'Encode'): grpc.ServiceError {
  if (err instanceof InferenceError) {
    if (err.kind === 'WindowCancelledError') return statusError(grpc.status.CANCELLED, 'cancelled');
    if (err.kind === 'Closing') return statusError(grpc.status.UNAVAILABLE, 'worker is shutting down');
    if (err.kind === 'ThreadDied') {
      const ref = randomUUID().slice(0, 8);
      log('worker', 'inference thread died', { method, ref, error: err.message });
      return statusError(grpc.status.UNAVAILABLE, `inference thread died (ref ${ref} in the worker's log)`);
    }
  }
  const ref = randomUUID().slice(0, 8);
  log('worker', 'inference failed', { method, ref, error: err.message, name: err.name });
  return statusError(grpc.status.INTERNAL, `${method}: inference failed (ref ${ref} in the worker's log)`);
}

export interface WorkerOptions {
  /** Model folder. */
  modelDir: string;
  /** Levels to host; default all. */
  levels?: number[];
  /** Host the VQ-VAE decoders. @default true */
  decode?: boolean;
  /** @default 'cpu' */
  provider?: ExecutionProvider;
  /** Inference threads = batches (of windows) sampled at once. @default 1 */
  threads?: number;
  /** Most sample rows one SampleWindow batch may hold, all its windows together (Describe's max_batch_rows). @default 16 */
  maxBatchRows?: number;
  /**
   * Most tokens per row one Decode may carry; more is RESOURCE_EXHAUSTED. A coordinator sends its decode chunk
   * (--decode-chunk) plus the decoder's margin on each side. @default 16384 + 2 · the largest decoder marginTokens
   */
  maxDecodeTokens?: number;
  /**
   * Pad every batch to this many rows (0 = off). Default: maxBatchRows on CUDA, where kernels are chosen by shape
   * and a row's numbers could otherwise depend on the batch it rides in; off on CPU, measured batch-invariant.
   */
  batchBucket?: number;
  /** @default 1 */
  intraOpThreads?: number;
  /**
   * Tokens per run of a level's fused loop graph (contract v2): -1 the manifest's samplingChunk, 0 the step graph
   * (one session.run per token, contract v1's way). Tokens do not depend on it. @default -1
   */
  samplingChunk?: number;
  /**
   * Graph set: 'fp16' the model's float16 graphs (manifest graphs.fp16), 'fp32' the float32 ones, 'auto' fp16 on
   * CUDA where the model has them, else fp32. fp16 on CPU runs but is not faithful float16 (ORT's CPU provider
   * computes most float16 ops in float32): for testing only. @default 'auto'
   */
  precision?: Precision | 'auto';
  /** @default '127.0.0.1' */
  host?: string;
  /** 0 picks a free port. @default 0 */
  port?: number;
  /** Port for /metrics (0 picks a free one); -1 disables it. @default -1 (the CLI's default is 9465) */
  metricsPort?: number;
  workerId?: string;
  /** NATS server URL(s), comma separated: announce this worker there (heartbeats) for coordinators to discover. */
  nats?: string;
  /**
   * host:port coordinators should dial, announced instead of the listening address. Needed with `nats` when
   * binding a wildcard (0.0.0.0), and behind NAT or port mapping.
   */
  advertise?: string;
  /** OpenTelemetry traces: a span per window and decode chunk, in the coordinator's trace. @default off */
  tracing?: TracingOptions;
  /** On close, how long calls in flight may finish before they are cut. @default 5000 (the CLI's: 60 s) */
  drainMs?: number;
  /**
   * TLS (with tls.clientCa: only clients holding a certificate that CA signed, i.e. the coordinator) and the
   * coordinator's shared secret (tokens: TokenTable.secret). Every call but health checks is then refused without
   * them, Describe included. @default plaintext, no authentication
   */
  security?: ServerSecurity;
  /** Also serve gRPC health alone, in plaintext, on this port (for probes that cannot do TLS). @default none */
  healthPort?: number;
  /** Address /metrics binds. @default host */
  metricsHost?: string;
}

/** Options only listen() reads: kept out of the options handed to inference threads (the secret above all). */
type ListenOnly = 'security' | 'healthPort' | 'metricsHost';

type Rows = { tokens: number[] }[];

function toInt32Rows(rows: Rows): Int32Array[] {
  return rows.map((r) => Int32Array.from(r.tokens));
}

function toProtoRows(rows: Int32Array[]): Rows {
  return rows.map((r) => ({ tokens: Array.from(r) }));
}

export class JukeboxWorker {
  private grpc?: GrpcServerHandle;
  private metricsServer?: MetricsServer;
  private listenOptions: Pick<WorkerOptions, ListenOnly> = {};
  readonly metrics = new WorkerMetrics();
  private closing?: Promise<void>;
  private nats?: NatsConnection;
  private announcer?: Announcer;
  private readonly tracing?: Tracing;
  /** Per level (index = level): what its label vectors may hold. */
  private readonly labelLimits: LabelRanges[];

  private constructor(
    readonly options: Required<Omit<WorkerOptions, 'levels' | ListenOnly>> & { levels: number[] },
    readonly model: ModelFolder,
    private readonly pool: InferencePool,
  ) {
    this.tracing = startTracing('jukebox-worker', options.tracing);
    this.labelLimits = model.manifest.levels.map((_, l) => labelRanges(model.manifest, l));
  }

  /** One span per traced item of a call, each a child of the coordinator's span for it (metadata in item order). */
  private startSpans(call: { metadata: grpc.Metadata }, name: string, attributes: Record<string, string | number>[]): Span[] {
    if (!this.tracing) return [];
    const parents = call.metadata.get(TRACEPARENT_METADATA).map(String);
    return attributes.flatMap((attrs, i) =>
      parents[i] ? [this.tracing!.tracer.startSpan(name, { attributes: { ...attrs, 'jukebox.worker': this.options.workerId } }, contextOf(parents[i]))] : [],
    );
  }

  static async start(opts: WorkerOptions): Promise<JukeboxWorker> {
    const model = await readModelFolder(opts.modelDir);
    await verifyModelFiles(model);
    const levels = opts.levels ?? model.manifest.levels.map((l) => l.level);
    if (levels.length === 0 && opts.decode === false) throw new Error('a worker must host a prior level or the VQ-VAE decoders (levels none and no decode)');
    if (opts.maxBatchRows !== undefined && !(Number.isInteger(opts.maxBatchRows) && opts.maxBatchRows >= 1)) {
      throw new Error(`maxBatchRows must be an integer >= 1, got ${opts.maxBatchRows}`);
    }
    const maxRows = opts.maxBatchRows ?? 16;
    if (opts.maxDecodeTokens !== undefined && !(Number.isInteger(opts.maxDecodeTokens) && opts.maxDecodeTokens >= 1)) {
      throw new Error(`maxDecodeTokens must be an integer >= 1, got ${opts.maxDecodeTokens}`);
    }
    // A bucket smaller than the largest batch would leave big batches unpadded: shapes would vary again.
    if (opts.batchBucket !== undefined && !(Number.isInteger(opts.batchBucket) && (opts.batchBucket === 0 || opts.batchBucket >= maxRows))) {
      throw new Error(`batchBucket must be 0 (off) or an integer >= maxBatchRows (${maxRows}), got ${opts.batchBucket}`);
    }
    if (opts.samplingChunk !== undefined && !(Number.isInteger(opts.samplingChunk) && opts.samplingChunk >= -1)) {
      throw new Error(`samplingChunk must be -1 (the manifest's), 0 (step graph) or a token count, got ${opts.samplingChunk}`);
    }
    for (const l of levels) {
      if (!model.manifest.levels[l]) throw new Error(`model ${model.manifest.modelId} has no level ${l}`);
    }
    const precision = opts.precision ?? 'auto';
    if (!['auto', 'fp32', 'fp16'].includes(precision)) throw new Error(`precision must be auto, fp32 or fp16, got ${precision}`);
    const noHalf = levels.filter((l) => !model.manifest.levels[l].graphs.fp16);
    if (precision === 'fp16' && noHalf.length > 0) {
      throw new Error(`precision fp16: model ${model.manifest.modelId} has no float16 graphs (graphs.fp16) for level ${noHalf.join(', ')}`);
    }
    if (opts.advertise !== undefined) {
      const why = checkWorkerAddress(opts.advertise);
      if (why) throw new Error(`advertise: ${why}`);
    }
    const host = opts.host ?? '127.0.0.1';
    // Checked before the model loads: a heartbeat must carry an address a coordinator can dial.
    if (opts.nats && opts.advertise === undefined && checkWorkerAddress(`${host.includes(':') ? `[${host}]` : host}:1`)) {
      throw new Error(`nats: the worker binds ${host}, which coordinators cannot dial; give advertise host:port`);
    }
    const options = {
      modelDir: model.dir,
      levels,
      decode: opts.decode ?? true,
      provider: opts.provider ?? 'cpu',
      threads: opts.threads ?? 1,
      maxBatchRows: opts.maxBatchRows ?? 16,
      maxDecodeTokens: opts.maxDecodeTokens ?? defaultMaxDecodeTokens(model.manifest),
      batchBucket: opts.batchBucket ?? -1,
      intraOpThreads: opts.intraOpThreads ?? 1,
      samplingChunk: opts.samplingChunk ?? -1,
      precision,
      host,
      port: opts.port ?? 0,
      metricsPort: opts.metricsPort ?? -1,
      workerId: opts.workerId ?? `worker-${randomUUID().slice(0, 8)}`,
      nats: opts.nats ?? '',
      advertise: opts.advertise ?? '',
      tracing: opts.tracing ?? {},
      drainMs: opts.drainMs ?? 5000,
    };
    const pool = await InferencePool.start(options);
    const worker = new JukeboxWorker(options, model, pool);
    worker.listenOptions = { security: opts.security, healthPort: opts.healthPort, metricsHost: opts.metricsHost };
    try {
      // Listen (and so report SERVING) only once every hosted graph has run: a deep readiness check.
      const seconds = await warmUp(pool, model.manifest, options.levels, options.decode);
      log('worker', 'warmed up', { seconds: Number(seconds.toFixed(3)) });
      await worker.listen();
      if (options.nats) await worker.announce(options.nats);
    } catch (err) {
      await worker.close();
      throw err;
    }
    return worker;
  }

  /** The address heartbeats carry: advertise, else the listening address. */
  get advertisedAddress(): string {
    return this.options.advertise || this.address;
  }

  /** Connects to NATS (after listening: a heartbeat must name a server that answers) and starts the heartbeats. */
  private async announce(servers: string): Promise<void> {
    this.nats = await connectNats(servers, `jukebox-worker ${this.options.workerId}`);
    this.announcer = startAnnouncing(this.nats, () => this.heartbeat());
    log('worker', 'announcing on NATS', { servers, address: this.advertisedAddress });
  }

  heartbeat(): Heartbeat {
    return {
      workerId: this.options.workerId,
      address: this.advertisedAddress,
      modelHash: this.model.hash,
      levels: this.options.levels,
      decodes: this.options.decode,
      provider: this.pool.provider,
      capacity: this.pool.capacity,
      free: Math.max(0, this.pool.capacity - this.pool.running),
      rssBytes: process.memoryUsage.rss(),
      sentAtMs: Date.now(),
    };
  }

  get address(): string {
    return this.grpc!.address;
  }

  get metricsPort(): number | undefined {
    return this.metricsServer?.port;
  }

  /** The plaintext health-only port (WorkerOptions.healthPort), when there is one. */
  get healthPort(): number | undefined {
    return this.grpc?.healthPort;
  }

  private async listen(): Promise<void> {
    const { security, healthPort, metricsHost } = this.listenOptions;
    const { server, health } = createGrpcServer(WORKER_SERVICE, security);
    server.addService(jukeboxProto().Worker.service, this.handlers());
    this.grpc = await listen(server, health, WORKER_SERVICE, this.options.host, this.options.port, { tls: security?.tls, healthPort });
    if (this.options.metricsPort >= 0) {
      this.metricsServer = await serveMetrics(this.metrics.registry, metricsHost ?? this.options.host, this.options.metricsPort);
    }
    if (!isLoopback(this.options.host) && !security?.tokens && !security?.tls?.clientCa) {
      log('worker', 'WARNING: no --worker-token-file or --tls-client-ca: anyone who reaches this address can run the model', { host: this.options.host });
    }
    log('worker', 'listening', {
      address: this.grpc.address,
      model: this.model.manifest.modelId,
      levels: this.options.levels.join(','),
      provider: this.pool.provider,
      precision: this.pool.precision,
      tls: security?.tls ? (security.tls.clientCa ? 'mutual' : 'on') : 'off',
      secret: security?.tokens ? 'required' : 'off',
    });
  }

  /** Rows every batch is padded to (0 = no padding). */
  batchBucket(): number {
    if (this.options.batchBucket >= 0) return this.options.batchBucket;
    return this.pool.provider === 'cuda' ? this.options.maxBatchRows : 0;
  }

  describe(): DescribeResponse {
    return {
      workerId: this.options.workerId,
      modelId: this.model.manifest.modelId,
      modelHash: this.model.hash,
      levels: this.options.levels,
      capacity: this.pool.capacity,
      executionProvider: this.pool.provider,
      decodes: this.options.decode,
      encodes: this.encodes(),
      maxBatchRows: this.options.maxBatchRows,
      batchBucket: this.batchBucket(),
      precision: this.pool.precision,
    };
  }

  /** Checks a request against what this worker holds; returns a status error or null. */
  private precondition(modelHash: string, level: number): grpc.ServiceError | null {
    if (modelHash !== this.model.hash) {
      return statusError(
        grpc.status.FAILED_PRECONDITION,
        `model_hash: worker holds model ${this.model.manifest.modelId} with hash ${this.model.hash}, not ${cut(modelHash) || '(none)'}`,
      );
    }
    if (!this.options.levels.includes(level)) {
      return statusError(grpc.status.FAILED_PRECONDITION, `level: worker does not host level ${level} (hosts ${this.options.levels.join(', ') || 'none'})`);
    }
    return null;
  }

  /**
   * One window of a batch; messages name the field as windows[i].field. Returns its context length or an error.
   * Lengths are checked before contents, so that the work of checking is bounded by what a window may hold.
   */
  private validateItem(level: number, item: WindowItem__Output, w: number): { ctx: number } | { error: string } {
    const lm = this.model.manifest.levels[level];
    const vocab = lm.codebookSize + lm.vocabOffset;
    const at = (field: string, msg: string): { error: string } => ({
      error: `windows[${w}].${field}: ${msg}${item.jobId ? ` (job ${cut(item.jobId)}, window ${item.windowIndex})` : ''}`,
    });
    const rows = item.labels.length;
    if (rows < 1) return at('labels', 'at least one row is required');
    if (rows > MAX_WINDOW_ROWS) return at('labels', `${rows} rows; a window holds at most ${MAX_WINDOW_ROWS} (a job's samples)`);
    if (item.sampleIds.length !== rows) return at('sample_ids', `${item.sampleIds.length} ids for ${rows} rows`);
    if (item.context.length !== 0 && item.context.length !== rows) return at('context', `${item.context.length} rows for ${rows} label rows`);
    const ctx = item.context[0]?.tokens.length ?? 0;
    if (item.context.some((r) => r.tokens.length !== ctx)) return at('context', 'rows differ in length');
    if (ctx >= lm.nCtx) return at('context', `${ctx} tokens per row; at most n_ctx - 1 = ${lm.nCtx - 1} (a window samples at least one)`);
    const bad = item.labels.findIndex((r) => r.tokens.length !== lm.labelLength);
    if (bad >= 0) return at(`labels[${bad}]`, `${item.labels[bad].tokens.length} values; level ${level} takes ${lm.labelLength}`);
    if (lm.conditioning.upper) {
      const ratio = this.model.manifest.levels[level + 1].hopLength / lm.hopLength;
      if (item.upper.length !== rows || item.upper.some((r) => r.tokens.length !== lm.nCtx / ratio)) {
        return at('upper', `level ${level} needs ${lm.nCtx / ratio} upper-level tokens per row, one row per label row`);
      }
    } else if (item.upper.length !== 0) {
      return at('upper', `level ${level} takes no upper-level tokens`);
    }
    if (item.windowIndex < 0) return at('window_index', `must be >= 0, got ${item.windowIndex}`);
    if (item.start < 0) return at('start', `must be >= 0, got ${item.start}`);
    const ids = checkSampleIds(item.sampleIds);
    if (ids) return at(`sample_ids${ids.slice(0, ids.indexOf(':'))}`, ids.slice(ids.indexOf(':') + 2));
    const outside = (rows: Rows, limit: number): number => rows.findIndex((r) => r.tokens.some((x) => x < 0 || x >= limit));
    const ctxOut = outside(item.context, lm.codebookSize);
    if (ctxOut >= 0) return at(`context[${ctxOut}]`, `tokens must be in 0..${lm.codebookSize - 1}`);
    if (lm.conditioning.upper) {
      const upperCodebook = this.model.manifest.levels[level + 1].codebookSize;
      const upOut = outside(item.upper, upperCodebook);
      if (upOut >= 0) return at(`upper[${upOut}]`, `tokens must be in 0..${upperCodebook - 1}`);
    }
    const ranges = this.labelLimits[level];
    for (let r = 0; r < rows; r++) {
      const why = checkLabelVector(item.labels[r].tokens, ranges, item.start);
      if (why) return at(`labels[${r}]${why.slice(0, why.indexOf(':'))}`, why.slice(why.indexOf(':') + 2));
    }
    const seed = checkSeed(item.seed);
    if (seed) return at('seed', seed);
    if (!(Number.isFinite(item.temperature) && item.temperature > 0)) return at('temperature', `must be a finite number > 0, got ${item.temperature}`);
    if (!(item.topP > 0 && item.topP <= 1)) return at('top_p', `must be in (0, 1], got ${item.topP}`);
    if (item.topK < 0 || item.topK > vocab) return at('top_k', `must be in 0..${vocab}, got ${item.topK}`);
    return { ctx };
  }

  /** The whole batch: its size, every window, and what the windows must share (one prefill, one step loop). */
  private validateBatch(req: SampleWindowRequest__Output): string | null {
    const lm = this.model.manifest.levels[req.level];
    if (req.windows.length < 1) return 'windows: at least one window is required';
    if (req.newTokens < 1) return `new_tokens: must be >= 1, got ${req.newTokens}`;
    if (req.newTokens > lm.nCtx) return `new_tokens: ${req.newTokens} exceeds n_ctx ${lm.nCtx}`;
    let ctx = -1;
    for (let w = 0; w < req.windows.length; w++) {
      const checked = this.validateItem(req.level, req.windows[w], w);
      if ('error' in checked) return checked.error;
      if (ctx < 0) ctx = checked.ctx;
      else if (checked.ctx !== ctx) return `windows[${w}].context: ${checked.ctx} tokens per row, but windows[0] has ${ctx}; a batch shares one context length`;
    }
    if (ctx + req.newTokens > lm.nCtx) return `new_tokens: ${req.newTokens} with ${ctx} context tokens exceeds n_ctx ${lm.nCtx}`;
    return null;
  }

  /** Decoding workers also encode, where the model has encoder graphs. */
  private encodes(): boolean {
    return this.options.decode !== false && (this.model.manifest.vqvae.encoders?.length ?? 0) > 0;
  }

  /** An Encode request: rows of equal length, a multiple of the level's hop, finite samples; null when fine. */
  private validateEncode(req: EncodeRequest__Output): grpc.ServiceError | null {
    const invalid = (msg: string): grpc.ServiceError => statusError(grpc.status.INVALID_ARGUMENT, msg);
    if (req.audio.length < 1) return invalid('audio: at least one row is required');
    if (req.audio.length > MAX_DECODE_ROWS) return invalid(`audio: ${req.audio.length} rows; an encode holds at most ${MAX_DECODE_ROWS}`);
    const bytes = req.audio[0].length;
    const hop = this.model.manifest.levels[req.level].hopLength;
    if (bytes === 0 || bytes % 4 !== 0) return invalid(`audio[0]: ${bytes} bytes is not a whole, non-empty number of float32 samples`);
    if (bytes / 4 > MAX_ENCODE_SAMPLES) return invalid(`audio[0]: ${bytes / 4} samples; an encode takes at most ${MAX_ENCODE_SAMPLES} per row`);
    if ((bytes / 4) % hop !== 0) return invalid(`audio[0]: ${bytes / 4} samples is not a multiple of level ${req.level}'s hop length ${hop}`);
    const uneven = req.audio.findIndex((a) => a.length !== bytes);
    if (uneven >= 0) return invalid(`audio[${uneven}]: ${req.audio[uneven].length} bytes, but audio[0] has ${bytes}; rows must be of equal length`);
    return null;
  }

  /** A Decode request against this worker's limits and the level's codebook; null when fine. */
  private validateDecode(req: DecodeRequest__Output): grpc.ServiceError | null {
    const invalid = (msg: string): grpc.ServiceError => statusError(grpc.status.INVALID_ARGUMENT, msg);
    if (req.rows.length < 1) return invalid('rows: at least one row is required');
    if (req.rows.length > MAX_DECODE_ROWS) return invalid(`rows: ${req.rows.length} rows; a decode holds at most ${MAX_DECODE_ROWS} (a job's samples)`);
    const t = req.rows[0].tokens.length;
    if (t === 0) return invalid('rows[0]: no tokens');
    const uneven = req.rows.findIndex((r) => r.tokens.length !== t);
    if (uneven >= 0) return invalid(`rows[${uneven}]: ${req.rows[uneven].tokens.length} tokens, but rows[0] has ${t}; rows must be of equal length`);
    // A limit of this worker, not bad input: another worker (with a larger --max-decode-tokens) may take it.
    if (t > this.options.maxDecodeTokens) {
      return statusError(grpc.status.RESOURCE_EXHAUSTED, `rows: ${t} tokens per row exceed this worker's max_decode_tokens ${this.options.maxDecodeTokens}`);
    }
    if (req.trimStartTokens < 0) return invalid(`trim_start_tokens: must be >= 0, got ${req.trimStartTokens}`);
    if (req.trimEndTokens < 0) return invalid(`trim_end_tokens: must be >= 0, got ${req.trimEndTokens}`);
    if (req.trimStartTokens + req.trimEndTokens >= t) {
      return invalid(`trim_start_tokens/trim_end_tokens: ${req.trimStartTokens} + ${req.trimEndTokens} must leave some of the ${t} tokens`);
    }
    const codebook = this.model.manifest.levels[req.level].codebookSize;
    const out = req.rows.findIndex((r) => r.tokens.some((x) => x < 0 || x >= codebook));
    if (out >= 0) return invalid(`rows[${out}]: tokens must be in 0..${codebook - 1}`);
    return null;
  }

  /** A request that ended with an error status: a cancellation (the caller gave the work up) is no failure. */
  private countFailure(method: 'SampleWindow' | 'Decode' | 'Encode', err: grpc.ServiceError): void {
    if (err.code === grpc.status.CANCELLED) this.metrics.cancelled.inc({ method });
    else this.metrics.failures.inc({ method, code: grpc.status[err.code] });
  }

  private handlers(): WorkerHandlers {
    return {
      Describe: (_call, callback) => callback(null, this.describe()),

      SampleWindow: (call: grpc.ServerWritableStream<SampleWindowRequest__Output, SampleWindowResponse>) => {
        const req = call.request;
        const fail = (err: grpc.ServiceError): void => {
          this.countFailure('SampleWindow', err);
          call.emit('error', err);
        };
        const pre = this.precondition(req.modelHash, req.level);
        if (pre) return fail(pre);
        // Checked first: cheap, and it bounds the work of checking the rest. A limit of this worker, not bad
        // input: RESOURCE_EXHAUSTED, so that the coordinator tries a worker with bigger batches.
        const total = req.windows.reduce((n, w) => n + w.labels.length, 0);
        if (total > this.options.maxBatchRows) {
          return fail(statusError(grpc.status.RESOURCE_EXHAUSTED, `windows: ${total} rows in all (${req.windows.length} windows) exceed this worker's max_batch_rows ${this.options.maxBatchRows}`));
        }
        const invalid = this.validateBatch(req);
        if (invalid) return fail(statusError(grpc.status.INVALID_ARGUMENT, invalid));

        const batch: WindowBatch = {
          level: req.level,
          newTokens: req.newTokens,
          padToRows: this.batchBucket(),
          items: req.windows.map((w) => ({
            start: w.start,
            context: toInt32Rows(w.context),
            upper: w.upper.length > 0 ? toInt32Rows(w.upper) : null,
            labels: toInt32Rows(w.labels),
            seed: BigInt(w.seed),
            sampling: { temperature: w.temperature, topK: w.topK, topP: w.topP },
            sampleIds: w.sampleIds,
          })),
        };
        const level = String(req.level);
        const windows = batch.items.length;
        let started: ReturnType<InferencePool['sample']>;
        try {
          started = this.pool.sample(batch, (fresh, tokensDone) => {
            call.write({ progress: { tokensDone, rows: toProtoRows(fresh) } });
          });
        } catch (err) {
          return fail(inferenceStatus(err as Error, 'SampleWindow'));
        }
        const { result, cancel } = started;
        const spans = this.startSpans(call, 'sample window', req.windows.map((w) => ({ 'jukebox.job_id': w.jobId, 'jukebox.level': req.level, 'jukebox.window': w.windowIndex, 'jukebox.rows': w.labels.length })));
        const windowKeys = req.windows.map((w) => `${w.jobId}@${req.level}:${w.start}:${w.context[0]?.tokens.length ?? 0}`).join(',');
        log('worker', 'batch started', { level: req.level, windows: windowKeys, newTokens: req.newTokens, rows: total });
        this.metrics.windowsRunning.inc({ level }, windows);
        call.on('cancelled', cancel);
        result.then(
          ({ rows, timing }) => {
            this.metrics.windowsRunning.dec({ level }, windows);
            this.metrics.tokens.inc({ level }, req.newTokens * rows.length);
            this.metrics.audioSeconds.inc({ level }, (req.newTokens * rows.length * this.model.manifest.levels[req.level].hopLength) / this.model.manifest.sampleRate);
            this.metrics.busySeconds.inc({ level }, timing.seconds);
            this.metrics.batchRows.observe({ level }, rows.length);
            this.metrics.batchWindows.observe({ level }, windows);
            // Every window of the batch took the batch's wall time.
            for (let w = 0; w < windows; w++) this.metrics.windowSeconds.observe({ level }, timing.seconds);
            // One line per batch: which windows were sampled here (a chaos run counts re-sampled work from these).
            log('worker', 'batch sampled', { level: req.level, windows: windowKeys, newTokens: req.newTokens, rows: rows.length, seconds: Number(timing.seconds.toFixed(3)) });
            call.write({ result: { rows: toProtoRows(rows), seconds: timing.seconds, prefillSeconds: timing.prefillSeconds } });
            call.end();
            for (const span of spans) endSpan(span);
          },
          (err: Error) => {
            this.metrics.windowsRunning.dec({ level }, windows);
            for (const span of spans) endSpan(span, err.message);
            fail(inferenceStatus(err, 'SampleWindow'));
          },
        );
      },

      Encode: (call: grpc.ServerUnaryCall<EncodeRequest__Output, EncodeResponse>, callback) => {
        const req = call.request;
        const failWith = (err: grpc.ServiceError): void => {
          this.countFailure('Encode', err);
          callback(err);
        };
        if (req.modelHash !== this.model.hash) {
          return failWith(statusError(grpc.status.FAILED_PRECONDITION, `model_hash: worker holds model hash ${this.model.hash}, not ${cut(req.modelHash) || '(none)'}`));
        }
        if (!this.encodes() || !this.model.manifest.vqvae.encoders!.some((e) => e.level === req.level)) {
          return failWith(statusError(grpc.status.FAILED_PRECONDITION, `level: worker has no VQ-VAE encoder for level ${req.level}`));
        }
        const invalid = this.validateEncode(req);
        if (invalid) return failWith(invalid);
        const rows = req.audio.map((b) => {
          const copy = new Float32Array(b.length / 4); // aligned copy; bytes are little-endian float32
          new Uint8Array(copy.buffer).set(b);
          return copy;
        });
        const bad = rows.findIndex((r) => r.some((x) => !Number.isFinite(x)));
        if (bad >= 0) return failWith(statusError(grpc.status.INVALID_ARGUMENT, `audio[${bad}]: samples must be finite numbers`));
        let started: ReturnType<InferencePool['encode']>;
        try {
          started = this.pool.encode(req.level, rows);
        } catch (err) {
          return failWith(inferenceStatus(err as Error, 'Encode'));
        }
        call.on('cancelled', started.cancel);
        started.result.then(
          ({ tokens, seconds }) => {
            this.metrics.busySeconds.inc({ level: 'encode' }, seconds);
            callback(null, { rows: tokens.map((t) => ({ tokens: Array.from(t) })), seconds });
          },
          (err: Error) => failWith(inferenceStatus(err, 'Encode')),
        );
      },

      Decode: (call: grpc.ServerUnaryCall<DecodeRequest__Output, DecodeResponse>, callback) => {
        const req = call.request;
        const failWith = (err: grpc.ServiceError): void => {
          this.countFailure('Decode', err);
          callback(err);
        };
        if (req.modelHash !== this.model.hash) {
          return failWith(statusError(grpc.status.FAILED_PRECONDITION, `model_hash: worker holds model hash ${this.model.hash}, not ${cut(req.modelHash) || '(none)'}`));
        }
        if (!this.options.decode || !this.model.manifest.vqvae.decoders.some((d) => d.level === req.level)) {
          return failWith(statusError(grpc.status.FAILED_PRECONDITION, `level: worker has no VQ-VAE decoder for level ${req.level}`));
        }
        const invalid = this.validateDecode(req);
        if (invalid) return failWith(invalid);
        const t = req.rows[0].tokens.length;
        let started: ReturnType<InferencePool['decode']>;
        try {
          started = this.pool.decode(req.level, toInt32Rows(req.rows), req.trimStartTokens, req.trimEndTokens);
        } catch (err) {
          return failWith(inferenceStatus(err as Error, 'Decode'));
        }
        call.on('cancelled', started.cancel);
        const spans = this.startSpans(call, 'decode', [{ 'jukebox.level': req.level, 'jukebox.tokens': t }]);
        started.result.then(
          ({ audio, seconds }) => {
            for (const span of spans) endSpan(span);
            this.metrics.decodeSeconds.observe(seconds);
            this.metrics.busySeconds.inc({ level: 'decode' }, seconds);
            this.metrics.audioSeconds.inc({ level: 'decode' }, audio.reduce((n, a) => n + a.length, 0) / this.model.manifest.sampleRate);
            callback(null, { audio: audio.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength)), seconds });
          },
          (err: Error) => {
            for (const span of spans) endSpan(span, err.message);
            failWith(inferenceStatus(err, 'Decode'));
          },
        );
      },
    };
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      // Goodbye first, so that coordinators stop sending work while the calls running here drain.
      try {
        await this.announcer?.stop();
        await this.nats?.close();
      } catch (err) {
        log('worker', 'NATS shutdown failed', { error: (err as Error).message });
      }
      try {
        await this.grpc?.close(this.options.drainMs);
      } catch (err) {
        log('worker', 'grpc shutdown failed', { error: (err as Error).message });
      }
      try {
        await this.metricsServer?.close();
      } catch (err) {
        log('worker', 'metrics shutdown failed', { error: (err as Error).message });
      }
      await this.pool.close();
      await this.tracing?.shutdown().catch((err: Error) => log('worker', 'trace export failed', { error: err.message }));
    })();
    return this.closing;
  }
}
