// The coordinator: the client-facing gRPC service, job planning, and the dispatcher that drives workers.
import * as grpc from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import { jukeboxProto } from '../proto/index.js';
import type { CoordinatorHandlers } from '../proto/generated/jukebox/v1/Coordinator.js';
import type { Job } from '../proto/generated/jukebox/v1/Job.js';
import type { SubmitJobRequest__Output } from '../proto/generated/jukebox/v1/SubmitJobRequest.js';
import type { AudioChunk } from '../proto/generated/jukebox/v1/AudioChunk.js';
import type { TokenChunk } from '../proto/generated/jukebox/v1/TokenChunk.js';
import type { FetchTokensRequest__Output } from '../proto/generated/jukebox/v1/FetchTokensRequest.js';
import type { FetchAudioRequest__Output } from '../proto/generated/jukebox/v1/FetchAudioRequest.js';
import type { JobEvent } from '../proto/generated/jukebox/v1/JobEvent.js';
import type { WatchJobRequest__Output } from '../proto/generated/jukebox/v1/WatchJobRequest.js';
import { createGrpcServer, listen, statusError, type GrpcServerHandle } from '../server/grpc-server.js';
import { serveMetrics, type MetricsServer } from '../server/metrics-http.js';
import { log } from '../server/log.js';
import { readModelFolder, type ModelFolder } from '../models/model-folder.js';
import { InvalidArgumentError } from '../shared/errors.js';
import { validateJobRequest, resolveLabels } from '../shared/job-spec.js';
import { levelShape, planSong, songSamples, type SegmentLayout } from '../shared/plan.js';
import { autoSegments, overlapTokens } from '../shared/segments.js';
import type { JobRequest, JobSpec, Manifest } from '../shared/types.js';
import { Dispatcher, type DispatcherOptions } from './dispatcher.js';
import { MemoryJobStore, TERMINAL_STATES, type JobRecord, type JobStore } from './job.js';
import { createJob } from './job-factory.js';
import { CoordinatorMetrics } from './metrics.js';
import { WorkerDirectory } from './worker-directory.js';
import { GrpcWorkerConnection } from './grpc-worker.js';
import { windowsDone } from './scheduler.js';
import { admissionRefusal, type AdmissionLimits } from './schedule-order.js';
import type { ConnectWorker } from './worker-connection.js';

export const COORDINATOR_SERVICE = 'jukebox.v1.Coordinator';

/** Largest AudioChunk: keeps every message well under gRPC's 4 MiB default receive limit. */
export const AUDIO_CHUNK_BYTES = 1024 * 1024;

export interface CoordinatorOptions {
  /** Model folders this coordinator accepts jobs for, by their manifest's modelId. */
  modelDirs: string[];
  /** Worker addresses (host:port). */
  workers: string[];
  /** @default '127.0.0.1' */
  host?: string;
  /** 0 picks a free port. @default 0 */
  port?: number;
  /** Port for /metrics; -1 disables it. @default -1 */
  metricsPort?: number;
  /** Bottom-level tokens per decode chunk (margins come on top). @default 16384 */
  decodeChunkTokens?: number;
  store?: JobStore;
  /** Bytes per FetchAudio message, at most 1 MiB. @default 1 MiB */
  audioChunkBytes?: number;
  /** Tokens per FetchTokens message, at most TOKEN_CHUNK. @default TOKEN_CHUNK */
  tokenChunkTokens?: number;
  /** Retries, stall detection and deadlines. */
  dispatch?: DispatcherOptions;
  /** Admission control: unfinished jobs and rows beyond these are refused (RESOURCE_EXHAUSTED). @default 64 jobs, 256 rows */
  limits?: Partial<AdmissionLimits>;
  /** How to reach a worker. @default gRPC */
  connectWorker?: ConnectWorker;
  /** Relative cost of one step per level (index = level), for critical-path order. @default layers × width² */
  stepCost?: number[];
}

/** Too much work already: RESOURCE_EXHAUSTED, nothing is queued. */
export class ResourceExhaustedError extends Error {
  override name = 'ResourceExhaustedError';
}

/** Segments per level of a job: what it asked for, or one chain per row slot of the workers serving the level. */
export function resolveLayout(spec: JobSpec, manifest: Manifest, totalSamples: number, rowSlots: (level: number) => number): SegmentLayout | undefined {
  if (spec.mode !== 'sharded') return undefined;
  const top = manifest.levels.length - 1;
  const segments = manifest.levels.map((_, l) => {
    if (l === top) return 1;
    if (spec.segments[l] > 0) return spec.segments[l];
    const shape = levelShape(manifest, l, totalSamples);
    return autoSegments(rowSlots(l) / spec.samples, shape, overlapTokens(shape, spec.segmentOverlap));
  });
  return { segments, overlap: spec.segmentOverlap };
}

/** No worker could ever run the job: FAILED_PRECONDITION, nothing is queued. */
export class NoWorkersError extends Error {
  override name = 'NoWorkersError';
}

/** Minimum time between two WatchJob messages for one watcher, except for the final state. */
const WATCH_INTERVAL_MS = 100;

export class Coordinator {
  readonly metrics = new CoordinatorMetrics();
  readonly workers: WorkerDirectory;
  readonly store: JobStore;
  private readonly limits: AdmissionLimits;
  private readonly dispatcher: Dispatcher;
  private readonly models = new Map<string, ModelFolder>();
  private grpc?: GrpcServerHandle;
  private metricsServer?: MetricsServer;
  private closing?: Promise<void>;
  private readonly decodeChunkTokens: number;

  private constructor(private readonly options: CoordinatorOptions) {
    this.store = options.store ?? new MemoryJobStore();
    this.workers = new WorkerDirectory(options.connectWorker ?? ((a) => new GrpcWorkerConnection(a)), options.dispatch?.clock);
    this.limits = { maxPendingJobs: options.limits?.maxPendingJobs ?? 64, maxPendingRows: options.limits?.maxPendingRows ?? 256 };
    this.dispatcher = new Dispatcher(this.store, this.workers, this.metrics, options.dispatch);
    this.dispatcher.setMaxListeners(0);
    this.decodeChunkTokens = options.decodeChunkTokens ?? 16384;
  }

  static async start(options: CoordinatorOptions): Promise<Coordinator> {
    const c = new Coordinator(options);
    for (const dir of options.modelDirs) {
      const m = await readModelFolder(dir);
      c.models.set(m.manifest.modelId, m);
    }
    for (const w of options.workers) c.workers.add(w);
    await c.workers.describeAll();
    const { server, health } = createGrpcServer(COORDINATOR_SERVICE);
    server.addService(jukeboxProto().Coordinator.service, c.handlers());
    const host = options.host ?? '127.0.0.1';
    c.grpc = await listen(server, health, COORDINATOR_SERVICE, host, options.port ?? 0);
    if ((options.metricsPort ?? -1) >= 0) c.metricsServer = await serveMetrics(c.metrics.registry, host, options.metricsPort!);
    log('coordinator', 'listening', { address: c.grpc.address, models: [...c.models.keys()].join(','), workers: options.workers.length });
    return c;
  }

  get address(): string {
    return this.grpc!.address;
  }

  get metricsPort(): number | undefined {
    return this.metricsServer?.port;
  }

  /** Validates and plans a job, then hands it to the dispatcher. Throws InvalidArgumentError on bad input. */
  submit(req: JobRequest, wavFormat: string): JobRecord {
    // An empty model means the one model this coordinator serves, when it serves exactly one.
    const model = req.model === '' && this.models.size === 1 ? [...this.models.values()][0] : this.models.get(req.model);
    if (!model) {
      throw new InvalidArgumentError('model', `model: unknown model "${req.model}"; this coordinator serves ${[...this.models.keys()].join(', ')}`);
    }
    if (wavFormat !== '' && wavFormat !== 'pcm16' && wavFormat !== 'float32') {
      throw new InvalidArgumentError('wav_format', `wav_format: must be "pcm16" or "float32", got "${wavFormat}"`);
    }
    const { manifest } = model;
    const spec = validateJobRequest({ ...req, model: manifest.modelId }, manifest);
    const missing = this.workers.missingFor(model.hash, manifest.levels.map((l) => l.level));
    if (missing.length > 0) {
      const what = missing.map((m) => (m === 'decode' ? 'VQ-VAE decoding' : `level ${m}`)).join(', ');
      throw new NoWorkersError(`no worker of this coordinator serves ${what} of model ${manifest.modelId} (hash ${model.hash.slice(0, 12)}); start workers with --model for it`);
    }
    const tooWide = this.workers.missingFor(model.hash, manifest.levels.map((l) => l.level), spec.samples).filter((m) => m !== 'decode');
    if (tooWide.length > 0) {
      throw new NoWorkersError(`samples: ${spec.samples} rows do not fit the batches of any worker serving level ${tooWide.join(', ')} (see jukebox worker --max-batch-rows)`);
    }
    const pending = this.dispatcher.pending();
    const refusal = admissionRefusal(pending.jobs, pending.rows, spec.samples, this.limits);
    if (refusal) throw new ResourceExhaustedError(refusal);
    const layout = resolveLayout(spec, manifest, songSamples(manifest, spec.durationSeconds), (l) => this.workers.rowSlots(model.hash, l));
    const plan = planSong(manifest, spec.durationSeconds, layout);
    const job = createJob({
      id: `job-${randomUUID()}`,
      spec,
      modelHash: model.hash,
      wavFormat: wavFormat === 'float32' ? 'float32' : 'pcm16',
      plan,
      manifest,
      decodeChunkTokens: this.decodeChunkTokens,
      stepCost: this.options.stepCost,
    });
    this.dispatcher.add(job, { manifest, labels: resolveLabels(spec, manifest) });
    log('coordinator', 'job submitted', {
      job: job.id,
      model: req.model,
      seconds: spec.durationSeconds,
      samples: spec.samples,
      mode: spec.mode,
      segments: plan.levels.map((lp) => lp.segments.length).join(','),
      priority: spec.priority,
    });
    return job;
  }

  toProto(job: JobRecord): Job {
    const now = this.dispatcher.clock.now();
    let partial = job.plan.levels.map(() => 0);
    for (const p of job.partial.values()) partial[p.level] += p.tokens;
    if (TERMINAL_STATES.has(job.state)) partial = partial.map(() => 0);
    const eta = this.dispatcher.etaSeconds(job);
    return {
      jobId: job.id,
      state: `JOB_STATE_${job.state}`,
      model: job.spec.model,
      durationSeconds: job.spec.durationSeconds,
      samples: job.spec.samples,
      seed: job.spec.seed.toString(),
      sampleRate: job.plan.sampleRate,
      totalSamples: job.plan.totalSamples,
      levels: job.plan.levels.map((lp, l) => {
        const t = job.timing[l];
        const done = windowsDone(job.levels[l]);
        const tokensDone = t.newTokensDone + partial[l];
        const elapsed = t.firstStartMs === undefined ? 0 : ((done >= lp.windows.length ? t.lastEndMs! : now) - t.firstStartMs) / 1000;
        return {
          level: l,
          windowsDone: done,
          windowsTotal: lp.windows.length,
          tokensDone,
          // What the level's windows sample: the level once in exact mode, plus the warm-ups in sharded mode.
          tokensTotal: lp.windows.reduce((n, w) => n + w.newTokens, 0),
          tokensPerSecond: elapsed > 0 ? tokensDone / elapsed : 0,
        };
      }),
      error: job.error ?? '',
      createdAtMs: job.createdAtMs,
      finishedAtMs: job.finishedAtMs ?? 0,
      decodeChunksDone: job.decode.done.filter(Boolean).length,
      decodeChunksTotal: job.decodeChunks.length,
      mode: job.spec.mode === 'sharded' ? 'JOB_MODE_SHARDED' : 'JOB_MODE_EXACT',
      segments: job.plan.levels.map((lp) => lp.segments.length),
      segmentOverlap: job.spec.mode === 'sharded' ? job.spec.segmentOverlap : 0,
      priority: job.spec.priority,
      queuePosition: this.dispatcher.queuePosition(job),
      ...(eta !== undefined ? { etaSeconds: eta } : {}),
    };
  }

  private findJob(id: string): JobRecord | grpc.ServiceError {
    if (!id) return statusError(grpc.status.INVALID_ARGUMENT, 'job_id: required');
    return this.store.get(id) ?? statusError(grpc.status.NOT_FOUND, `job_id: no job "${id}"`);
  }

  private handlers(): CoordinatorHandlers {
    return {
      SubmitJob: (call: grpc.ServerUnaryCall<SubmitJobRequest__Output, Job>, callback) => {
        const r = call.request;
        try {
          const job = this.submit(
            {
              model: r.model,
              artist: r.artist,
              genres: r.genres,
              lyrics: r.lyrics,
              durationSeconds: r.durationSeconds,
              samples: r.samples,
              seed: r.seed,
              sampling: r.sampling.map((s) => ({ level: s.level, temperature: s.temperature, topK: s.topK, topP: s.topP })),
              mode: r.mode === 'JOB_MODE_SHARDED' ? 'sharded' : r.mode === 'JOB_MODE_EXACT' || r.mode === 'JOB_MODE_UNSPECIFIED' ? 'exact' : String(r.mode),
              segments: r.segments,
              segmentOverlap: r.segmentOverlap,
              priority: r.priority,
            },
            r.wavFormat,
          );
          callback(null, this.toProto(job));
        } catch (err) {
          if (err instanceof InvalidArgumentError) callback(statusError(grpc.status.INVALID_ARGUMENT, err.message));
          else if (err instanceof NoWorkersError) callback(statusError(grpc.status.FAILED_PRECONDITION, err.message));
          else if (err instanceof ResourceExhaustedError) callback(statusError(grpc.status.RESOURCE_EXHAUSTED, err.message));
          else callback(statusError(grpc.status.INTERNAL, (err as Error).message));
        }
      },

      GetJob: (call, callback) => {
        const job = this.findJob(call.request.jobId);
        if (job instanceof Error) return callback(job);
        callback(null, this.toProto(job));
      },

      ListJobs: (_call, callback) => {
        callback(null, { jobs: this.store.list().map((j) => this.toProto(j)) });
      },

      CancelJob: (call, callback) => {
        const job = this.findJob(call.request.jobId);
        if (job instanceof Error) return callback(job);
        this.dispatcher.cancel(job);
        callback(null, this.toProto(job));
      },

      WatchJob: (call: grpc.ServerWritableStream<WatchJobRequest__Output, JobEvent>) => {
        const job = this.findJob(call.request.jobId);
        if (job instanceof Error) {
          call.emit('error', job);
          return;
        }
        let last = 0;
        let timer: NodeJS.Timeout | undefined;
        const send = (): void => {
          timer = undefined;
          last = performance.now();
          call.write({ job: this.toProto(job) });
          if (TERMINAL_STATES.has(job.state)) {
            stop();
            call.end();
          }
        };
        const onUpdate = (j: JobRecord): void => {
          if (j !== job || timer) return;
          const wait = TERMINAL_STATES.has(job.state) ? 0 : Math.max(0, WATCH_INTERVAL_MS - (performance.now() - last));
          timer = setTimeout(send, wait);
        };
        const stop = (): void => {
          if (timer) clearTimeout(timer);
          this.dispatcher.off('update', onUpdate);
        };
        call.on('cancelled', stop);
        this.dispatcher.on('update', onUpdate);
        send();
      },

      FetchAudio: (call: grpc.ServerWritableStream<FetchAudioRequest__Output, AudioChunk>) => {
        const job = this.findJob(call.request.jobId);
        if (job instanceof Error) {
          call.emit('error', job);
          return;
        }
        if (job.state !== 'SUCCEEDED') {
          call.emit('error', statusError(grpc.status.FAILED_PRECONDITION, `job ${job.id} is ${job.state}; audio exists once it has SUCCEEDED`));
          return;
        }
        const sample = call.request.sample;
        if (!Number.isInteger(sample) || sample < 0 || sample >= job.audio.length) {
          call.emit('error', statusError(grpc.status.INVALID_ARGUMENT, `sample: must be 0..${job.audio.length - 1}, got ${sample}`));
          return;
        }
        void streamBytes(call, job.audio[sample], Math.min(AUDIO_CHUNK_BYTES, this.options.audioChunkBytes ?? AUDIO_CHUNK_BYTES));
      },

      FetchTokens: (call: grpc.ServerWritableStream<FetchTokensRequest__Output, TokenChunk>) => {
        const job = this.findJob(call.request.jobId);
        if (job instanceof Error) {
          call.emit('error', job);
          return;
        }
        void streamTokens(call, job, Math.min(TOKEN_CHUNK, this.options.tokenChunkTokens ?? TOKEN_CHUNK));
      },
    };
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.dispatcher.close();
      try {
        await this.grpc?.close();
      } catch (err) {
        log('coordinator', 'grpc shutdown failed', { error: (err as Error).message });
      }
      try {
        await this.metricsServer?.close();
      } catch (err) {
        log('coordinator', 'metrics shutdown failed', { error: (err as Error).message });
      }
      this.workers.close();
    })();
    return this.closing;
  }
}

/** Largest TokenChunk, in tokens (about 1 MiB as varints). */
export const TOKEN_CHUNK = 262_144;

/** Streams every level's tokens, row by row, in pieces of `chunk` tokens, with backpressure. */
async function streamTokens(call: grpc.ServerWritableStream<FetchTokensRequest__Output, TokenChunk>, job: JobRecord, chunk: number): Promise<void> {
  let cancelled = false;
  call.on('cancelled', () => (cancelled = true));
  for (let level = 0; level < job.tokens.length && !cancelled; level++) {
    const store = job.tokens[level];
    // The level's tokens that exist from the start without a gap (segments fill in side by side).
    const rows = store.range(0, store.length);
    for (let row = 0; row < rows.length && !cancelled; row++) {
      for (let offset = 0; offset < store.length || offset === 0; offset += chunk) {
        const tokens = Array.from(rows[row].subarray(offset, offset + chunk));
        if (!call.write({ level, row, offset, tokens, totalTokens: store.length })) await drainedOrGone(call);
        if (cancelled || store.length === 0) break;
      }
    }
  }
  if (!cancelled) call.end();
}

/** Writes bytes in chunks of at most chunkBytes, waiting on 'drain' and giving up if the client goes. */
async function streamBytes(call: grpc.ServerWritableStream<FetchAudioRequest__Output, AudioChunk>, bytes: Uint8Array, chunkBytes: number): Promise<void> {
  let cancelled = false;
  call.on('cancelled', () => (cancelled = true));
  for (let offset = 0; offset < bytes.length && !cancelled; offset += chunkBytes) {
    const data = Buffer.from(bytes.buffer, bytes.byteOffset + offset, Math.min(chunkBytes, bytes.length - offset));
    if (!call.write({ data, offset, totalBytes: bytes.length })) await drainedOrGone(call);
  }
  if (!cancelled) call.end();
}

/** Resolves on 'drain', or when the call is cancelled or fails; removes the listener that did not fire. */
function drainedOrGone(call: grpc.ServerWritableStream<unknown, unknown>): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      call.off('drain', done);
      call.off('cancelled', done);
      call.off('error', done);
      resolve();
    };
    call.on('drain', done);
    call.on('cancelled', done);
    call.on('error', done);
  });
}
