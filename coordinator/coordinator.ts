// The coordinator: the client-facing gRPC service, job planning, and the dispatcher that drives workers.
import * as grpc from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { jukeboxProto } from '../proto/index.js';
import type { CoordinatorHandlers } from '../proto/generated/jukebox/v1/Coordinator.js';
import type { Job } from '../proto/generated/jukebox/v1/Job.js';
import type { SubmitJobRequest__Output } from '../proto/generated/jukebox/v1/SubmitJobRequest.js';
import type { AudioChunk } from '../proto/generated/jukebox/v1/AudioChunk.js';
import type { TokenChunk } from '../proto/generated/jukebox/v1/TokenChunk.js';
import type { FetchTokensRequest__Output } from '../proto/generated/jukebox/v1/FetchTokensRequest.js';
import type { FetchAudioRequest__Output } from '../proto/generated/jukebox/v1/FetchAudioRequest.js';
import type { JobEvent } from '../proto/generated/jukebox/v1/JobEvent.js';
import type { JobChange } from '../proto/generated/jukebox/v1/JobChange.js';
import type { WatchJobRequest__Output } from '../proto/generated/jukebox/v1/WatchJobRequest.js';
import { createGrpcServer, drainedOrGone, listen, statusError, type GrpcServerHandle } from '../server/grpc-server.js';
import { serveMetrics, type MetricsServer } from '../server/metrics-http.js';
import { log } from '../server/log.js';
import { readModelFolder, type ModelFolder } from '../models/model-folder.js';
import { InvalidArgumentError, cut } from '../shared/errors.js';
import { validateJobRequest, resolveLabels } from '../shared/job-spec.js';
import { levelShape, planSong, songSamples, type SegmentLayout } from '../shared/plan.js';
import { autoSegments, overlapTokens } from '../shared/segments.js';
import type { JobRequest, JobSpec, JobStart, Manifest } from '../shared/types.js';
import { MAX_PROMPT_SAMPLES, continueStart, givenTokensKey, primedStart, promptSamples, upsampleSeconds, upsampleStart, type StartRequest } from '../shared/job-start.js';
import { readPromptWav, resample } from '../shared/prompt-audio.js';
import { Dispatcher, type DispatcherOptions } from './dispatcher.js';
import { MemoryJobStore, TERMINAL_STATES, type JobRecord, type JobStore } from './job.js';
import { createJob } from './job-factory.js';
import { CoordinatorMetrics } from './metrics.js';
import { WorkerDirectory } from './worker-directory.js';
import { GrpcWorkerConnection, workerChannel, type WorkerChannelSecurity } from './grpc-worker.js';
import { isLoopback, principalOf, type ServerSecurity } from '../server/security.js';
import { windowsDone } from './scheduler.js';
import { admissionRefusal, type AdmissionLimits } from './schedule-order.js';
import type { ConnectWorker } from './worker-connection.js';
import type { LevelStream } from '../shared/stitch.js';
import type { DurableStore, JobEventRecord } from './durable/store.js';
import { MemoryStore } from './durable/memory-store.js';
import { JetStreamStore, type JetStreamStoreOptions } from './durable/jetstream-store.js';
import { NatsDiscovery, directoryTarget } from './nats-discovery.js';
import { connectNats } from '../server/nats.js';
import { startTracing, type Tracing, type TracingOptions } from '../server/tracing.js';
import { OtelJobTracer } from './job-tracing.js';
import type { NatsConnection } from '@nats-io/transport-node';
import { JobPersistence } from './job-persistence.js';
import { finishedJob, plannedJob, replayDecoded, replayWindows } from './job-restore.js';
import { jobExtras, levelProgress, listJobsPage, modelInfo, streamPreview } from './api-views.js';

export const COORDINATOR_SERVICE = 'jukebox.v1.Coordinator';

/** Largest AudioChunk: keeps every message well under gRPC's 4 MiB default receive limit. */
export const AUDIO_CHUNK_BYTES = 1024 * 1024;
/** Workers tried for a primed job's prompt, and how long one encoding may take. */
const ENCODE_ATTEMPTS = 3;
const ENCODE_TIMEOUT_MS = 120_000;

export interface CoordinatorOptions {
  /** Model folders this coordinator accepts jobs for, by their manifest's modelId. */
  modelDirs: string[];
  /** Worker addresses (host:port), always used; with `nats`, workers that announce themselves join them. */
  workers: string[];
  /**
   * NATS server URL(s): discover workers by their heartbeats, and (unless `durable` is given) keep job state in
   * JetStream so that jobs survive a restart of this coordinator.
   */
  nats?: string;
  /** With `nats` and no `durable`: the JetStream store's retention, size limits and replicas. */
  natsStore?: Omit<JetStreamStoreOptions, 'servers'>;
  /** With `nats`: how long start() waits for heartbeats before it resumes jobs. @default 1500 */
  discoveryWaitMs?: number;
  /** OpenTelemetry traces: one trace per job, a span per window and decode chunk. @default off */
  tracing?: TracingOptions;
  /** @default '127.0.0.1' */
  host?: string;
  /** 0 picks a free port. @default 0 */
  port?: number;
  /** Port for /metrics; -1 disables it. @default -1 */
  metricsPort?: number;
  /** Address /metrics binds. @default host */
  metricsHost?: string;
  /**
   * TLS (mTLS) for the gRPC service, and bearer tokens: with tokens every call but health checks needs one, a
   * submitter sees and cancels only its own jobs, an admin all. @default plaintext, no authentication
   */
  security?: ServerSecurity;
  /** Also serve gRPC health alone, in plaintext, on this port (for probes that cannot do TLS). @default none */
  healthPort?: number;
  /** How to reach the workers: TLS (mTLS) and their shared secret. @default plaintext, no secret */
  workerSecurity?: WorkerChannelSecurity;
  /** Bottom-level tokens per decode chunk (margins come on top). @default 16384 */
  decodeChunkTokens?: number;
  store?: JobStore;
  /** Where job state, tokens and audio are kept durable. @default an in-memory store (nothing survives the process) */
  durable?: DurableStore;
  /** This coordinator's name on job leases; a restart under the same name takes its jobs back at once. @default host:port */
  coordinatorId?: string;
  /** A job's lease lasts this long without renewal; a standby takes over a job after it. @default 10000 */
  leaseTtlMs?: number;
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

/** The durable store could not take the job: UNAVAILABLE, the client may try again. */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';
}

export class Coordinator {
  readonly metrics = new CoordinatorMetrics();
  readonly workers: WorkerDirectory;
  readonly store: JobStore;
  readonly durable: DurableStore;
  readonly owner: string;
  private readonly persistence: JobPersistence;
  private readonly leaseTtlMs: number;
  private leaseTimer?: NodeJS.Timeout;
  private tending?: Promise<void>;
  private readonly limits: AdmissionLimits;
  private readonly dispatcher: Dispatcher;
  private readonly models = new Map<string, ModelFolder>();
  private grpc?: GrpcServerHandle;
  private metricsServer?: MetricsServer;
  private closing?: Promise<void>;
  private readonly decodeChunkTokens: number;

  private nc?: NatsConnection;
  private discovery?: NatsDiscovery;
  private readonly tracing?: Tracing;
  /** Whether close() closes the durable store (made here, not handed in). */
  private ownsDurable = false;

  private constructor(
    private readonly options: CoordinatorOptions,
    durable?: DurableStore,
  ) {
    this.durable = durable ?? options.durable ?? new MemoryStore();
    // Finished jobs dropped from memory are dropped from the durable store too: one retention rule.
    this.store = options.store ?? new MemoryJobStore(undefined, (job) => void this.durable.deleteJob(job.id).catch(() => undefined));
    this.persistence = new JobPersistence(this.durable);
    this.owner = options.coordinatorId ?? (options.port ? `${hostname()}:${options.port}` : `coordinator-${randomUUID()}`);
    this.leaseTtlMs = options.leaseTtlMs ?? 10_000;
    const channel = options.connectWorker ? undefined : workerChannel(options.workerSecurity);
    this.workers = new WorkerDirectory(options.connectWorker ?? ((a) => new GrpcWorkerConnection(a, channel)), options.dispatch?.clock);
    this.limits = { maxPendingJobs: options.limits?.maxPendingJobs ?? 64, maxPendingRows: options.limits?.maxPendingRows ?? 256 };
    this.tracing = startTracing('jukebox-coordinator', options.tracing ?? {});
    this.dispatcher = new Dispatcher(this.store, this.workers, this.metrics, this.persistence, {
      ...options.dispatch,
      ...(this.tracing ? { tracing: new OtelJobTracer(this.tracing) } : {}),
    });
    this.dispatcher.setMaxListeners(0);
    this.decodeChunkTokens = options.decodeChunkTokens ?? 16384;
  }

  static async start(options: CoordinatorOptions): Promise<Coordinator> {
    let nc: NatsConnection | undefined;
    let durable = options.durable;
    if (options.nats) {
      nc = await connectNats(options.nats, 'jukebox-coordinator');
      durable ??= await JetStreamStore.open({ clientName: 'jukebox-coordinator-store', ...options.natsStore, servers: options.nats });
    }
    const c = new Coordinator(options, durable);
    c.nc = nc;
    c.ownsDurable = durable !== undefined && durable !== options.durable;
    for (const dir of options.modelDirs) {
      const m = await readModelFolder(dir);
      c.models.set(m.manifest.modelId, m);
    }
    for (const w of options.workers) c.workers.add(w);
    await c.workers.describeAll();
    if (nc) {
      const target = directoryTarget(c.workers, { pinned: options.workers, onChange: () => c.dispatcher.pump() });
      c.discovery = await NatsDiscovery.start(nc, {
        add: (address) => target.add(address),
        remove: (address, reason) => {
          target.remove(address, reason);
          // Its windows and decode chunks in flight go elsewhere now, not when the transport notices.
          if (!options.workers.includes(address)) c.dispatcher.workerLost(address, reason);
        },
      });
      // Heartbeats come every second: wait for the workers that are up before jobs resume on them.
      await new Promise((r) => setTimeout(r, options.discoveryWaitMs ?? 1500));
    }
    // Jobs left unfinished by an earlier run (ours, or one whose lease ran out) go on where they were.
    await c.tendLeases();
    c.leaseTimer = setInterval(() => void c.tendLeases(), Math.max(100, Math.floor(c.leaseTtlMs / 3)));
    c.leaseTimer.unref();
    c.dispatcher.on('update', (job) => {
      if (TERMINAL_STATES.has(job.state)) void c.persistence.settled(job.id).then(() => c.durable.releaseLease(job.id, c.owner)).catch(() => undefined);
    });
    const { server, health } = createGrpcServer(COORDINATOR_SERVICE, options.security);
    server.addService(jukeboxProto().Coordinator.service, c.handlers());
    const host = options.host ?? '127.0.0.1';
    c.grpc = await listen(server, health, COORDINATOR_SERVICE, host, options.port ?? 0, { tls: options.security?.tls, healthPort: options.healthPort });
    if ((options.metricsPort ?? -1) >= 0) c.metricsServer = await serveMetrics(c.metrics.registry, options.metricsHost ?? host, options.metricsPort!);
    log('coordinator', 'listening', {
      address: c.grpc.address,
      models: [...c.models.keys()].join(','),
      workers: options.workers.length,
      tls: options.security?.tls ? (options.security.tls.clientCa ? 'mutual' : 'on') : 'off',
      tokens: options.security?.tokens?.size ?? 0,
    });
    if (!isLoopback(host) && !options.security?.tokens) log('coordinator', 'WARNING: no --tokens-file: anyone who reaches this address can list, cancel and fetch every job', { host });
    if (!isLoopback(host) && !options.security?.tls) log('coordinator', 'WARNING: no TLS: calls, tokens and audio cross the network in plaintext', { host });
    return c;
  }

  get address(): string {
    return this.grpc!.address;
  }

  get metricsPort(): number | undefined {
    return this.metricsServer?.port;
  }

  /** The plaintext health-only port (CoordinatorOptions.healthPort), when there is one. */
  get healthPort(): number | undefined {
    return this.grpc?.healthPort;
  }

  /**
   * Renews the leases of the jobs this coordinator drives (dropping any another coordinator took), then takes on
   * unfinished jobs whose lease is free or expired, and learns the finished jobs it does not know yet.
   */
  tendLeases(): Promise<void> {
    this.tending ??= (async () => {
      try {
        for (const job of this.store.list()) {
          if (!this.dispatcher.drives(job.id) || TERMINAL_STATES.has(job.state)) continue;
          if (!(await this.durable.acquireLease(job.id, this.owner, this.leaseTtlMs))) {
            log('coordinator', 'lease lost: another coordinator drives the job', { job: job.id });
            this.dispatcher.release(job);
            this.store.delete(job.id);
          }
        }
        const stored = await this.durable.listJobs();
        stored.sort((a, b) => a.fixed.seq - b.fixed.seq);
        for (const sj of stored) {
          if (this.store.get(sj.fixed.id) || this.closing) continue;
          const model = this.modelByHash(sj.fixed.modelHash);
          if (!model) continue;
          if (TERMINAL_STATES.has(sj.progress.state)) {
            this.store.put(finishedJob(sj, model.manifest));
            continue;
          }
          // A job created less than a lease ago may not hold its creator's lease yet: leave it to its creator.
          if (Date.now() - sj.fixed.createdAtMs < this.leaseTtlMs) continue;
          if (!(await this.durable.acquireLease(sj.fixed.id, this.owner, this.leaseTtlMs))) continue;
          await this.resume(sj, model.manifest);
        }
      } catch (err) {
        log('coordinator', 'tending job leases failed', { error: (err as Error).message });
      } finally {
        this.tending = undefined;
      }
    })();
    return this.tending;
  }

  /** The tokens a primed, continued or upsample-only job starts with; throws InvalidArgumentError on bad input. */
  private async startOf(req: StartRequest, model: ModelFolder, spec: JobSpec): Promise<{ start: JobStart; tokens: Int32Array[][] }> {
    const { manifest } = model;
    if (req.mode === 'continue') return continueStart(manifest, req.levels, spec.samples, spec.durationSeconds);
    if (req.mode === 'upsample') return upsampleStart(manifest, req.levels, spec.samples, spec.durationSeconds);
    if (!manifest.vqvae.encoders?.length) {
      throw new InvalidArgumentError('prompt', `prompt: model ${manifest.modelId} has no VQ-VAE encoders (its manifest lists none); re-export it to prime from audio`);
    }
    const audio = readPromptWav(req.wav, 'prompt.wav');
    const samples = resample(audio.samples, audio.sampleRate, manifest.sampleRate);
    const n = promptSamples(manifest, req.seconds, samples.length, spec.durationSeconds, MAX_PROMPT_SAMPLES);
    const tokens = await this.encodePrompt(model, samples.subarray(0, n));
    return primedStart(manifest, tokens, spec.samples);
  }

  /** A prompt through every level's encoder on one worker that encodes (a retry takes another). */
  private async encodePrompt(model: ModelFolder, audio: Float32Array): Promise<Int32Array[]> {
    let lastError = '';
    let avoid: string | undefined;
    for (let attempt = 0; attempt < ENCODE_ATTEMPTS; attempt++) {
      const entry = this.workers.acquire({ modelHash: model.hash, level: 'encode', ...(avoid ? { avoid } : {}) });
      if (!entry || !entry.conn.encode) {
        if (entry) this.workers.release(entry);
        throw new NoWorkersError(`no worker of this coordinator encodes prompts for model ${model.manifest.modelId} (workers that decode do, with a model whose manifest lists VQ-VAE encoders)${lastError ? `; last error: ${lastError}` : ''}`);
      }
      try {
        const encode = entry.conn.encode.bind(entry.conn);
        return await Promise.all(model.manifest.levels.map((lm) => encode({ modelHash: model.hash, level: lm.level, rows: [audio] }, ENCODE_TIMEOUT_MS).then((rows) => rows[0])));
      } catch (err) {
        lastError = cut((err as Error).message, 200);
        avoid = entry.address;
        log('coordinator', 'prompt encoding failed', { worker: entry.address, error: lastError });
      } finally {
        this.workers.release(entry);
      }
    }
    throw new NoWorkersError(`the prompt could not be encoded after ${ENCODE_ATTEMPTS} attempts: ${lastError}`);
  }

  /** Rebuilds an unfinished job from the store and drives it on from its stored windows and decode chunks. */
  private async resume(sj: Parameters<typeof plannedJob>[0], manifest: Manifest): Promise<void> {
    const id = sj.fixed.id;
    try {
      const job = plannedJob(sj, manifest, this.options.stepCost);
      const windows = await this.durable.windows(id);
      const replayed = replayWindows(job, windows);
      const decoded = await this.durable.decodedChunks(id);
      replayDecoded(job, decoded);
      // Windows stored just before a crash may lack their event: add it, so that watchers lose nothing.
      const events = await this.durable.events(id, 0);
      job.lastEventSeq = events.length > 0 ? events[events.length - 1].seq : 0;
      const told = new Set(events.flatMap((e) => (e.task ? [e.task] : [])));
      for (const key of [...[...windows.keys()].filter((k) => !k.startsWith('given:')), ...decoded.map((c) => `decode:${c}`)]) {
        if (!told.has(key)) job.lastEventSeq = await this.durable.appendEvent(id, { atMs: Date.now(), kind: key.startsWith('decode') ? 'decode' : 'window', task: key });
      }
      this.dispatcher.add(job, { manifest, labels: resolveLabels(job.spec, manifest) }, true);
      log('coordinator', 'job resumed', { job: id, state: job.state, windows: replayed, decodeChunks: decoded.length });
      this.dispatcher.afterProgress(job);
    } catch (err) {
      log('coordinator', 'resuming a job failed', { job: id, error: (err as Error).stack ?? String(err) });
      await this.durable.releaseLease(id, this.owner).catch(() => undefined);
    }
  }

  /** Validates and plans a job, then hands it to the dispatcher once it is durable. Throws InvalidArgumentError on bad input. */
  async submit(req: JobRequest, wavFormat: string, owner?: string, startRequest?: StartRequest): Promise<JobRecord> {
    // An empty model means the one model this coordinator serves, when it serves exactly one.
    const model = req.model === '' && this.models.size === 1 ? [...this.models.values()][0] : this.models.get(req.model);
    if (!model) {
      throw new InvalidArgumentError('model', `model: unknown model ${JSON.stringify(cut(req.model))}; this coordinator serves ${[...this.models.keys()].join(', ')}`);
    }
    if (wavFormat !== '' && wavFormat !== 'pcm16' && wavFormat !== 'float32') {
      throw new InvalidArgumentError('wav_format', `wav_format: must be "pcm16" or "float32", got ${JSON.stringify(cut(wavFormat))}`);
    }
    const { manifest } = model;
    // Upsample-only without a duration: the song is as long as the given top-level tokens.
    const topGiven = startRequest?.mode === 'upsample' ? startRequest.levels[manifest.levels.length - 1]?.[0]?.length : undefined;
    const durationSeconds = !req.durationSeconds && topGiven ? upsampleSeconds(manifest, topGiven) : req.durationSeconds;
    const spec = validateJobRequest({ ...req, durationSeconds, model: manifest.modelId }, manifest);
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
    const given = startRequest ? await this.startOf(startRequest, model, spec) : undefined;
    if (given) spec.start = given.start;
    const plan = planSong(manifest, spec.durationSeconds, layout, spec.start?.givenTokens);
    const id = `job-${randomUUID()}`;
    const job = createJob({
      id,
      ...(given ? { given: given.tokens } : {}),
      spec,
      modelHash: model.hash,
      wavFormat: wavFormat === 'float32' ? 'float32' : 'pcm16',
      plan,
      layout,
      manifest,
      decodeChunkTokens: this.decodeChunkTokens,
      stepCost: this.options.stepCost,
      ...(owner !== undefined ? { owner } : {}),
    });
    this.dispatcher.add(job, { manifest, labels: resolveLabels(spec, manifest) });
    // Given tokens are stored right after the job's record, before anything it samples (the job's writes are
    // serialised): a restart replays them first (job-restore).
    const givenWrites = (given?.tokens ?? []).flatMap((rows, level) =>
      rows.length > 0 ? [this.persistence.enqueue(job.id, () => this.durable.putWindow(id, givenTokensKey(level), rows))] : [],
    );
    const givenFailure = (await Promise.allSettled(givenWrites)).find((r) => r.status === 'rejected');
    if (givenFailure) log('coordinator', 'storing given tokens failed', { job: id, error: String((givenFailure as PromiseRejectedResult).reason) });
    // The job is accepted once it is durable and this coordinator holds its lease.
    await this.persistence.settled(job.id);
    if (givenFailure) {
      this.dispatcher.cancel(job);
      throw new StoreUnavailableError('job_store: the given tokens could not be stored');
    }
    if (job.state === 'FAILED') throw new StoreUnavailableError(`job_store: ${job.error ?? 'the job could not be stored'}`);
    await this.persistence.enqueue(job.id, () => this.durable.acquireLease(job.id, this.owner, this.leaseTtlMs)).catch(() => undefined);
    log('coordinator', 'job submitted', {
      job: job.id,
      model: req.model,
      seconds: spec.durationSeconds,
      samples: spec.samples,
      mode: spec.mode,
      segments: plan.levels.map((lp) => lp.segments.length).join(','),
      priority: spec.priority,
      ...(owner !== undefined ? { owner } : {}),
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
          progress: levelProgress(job, l),
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
      ...jobExtras(job),
    };
  }

  /** The job, or the status that refuses it: with tokens, a submitter reaches only the jobs it submitted. */
  private findJob(id: string, call: { metadata: grpc.Metadata }): JobRecord | grpc.ServiceError {
    if (!id) return statusError(grpc.status.INVALID_ARGUMENT, 'job_id: required');
    const job = this.store.get(id);
    // The id as sent may be anything, of any length: a short piece of it goes back (gRPC metadata is small).
    if (!job) return statusError(grpc.status.NOT_FOUND, `job_id: no job "${id.length > 64 ? `${id.slice(0, 61)}...` : id}"`);
    if (!mayReach(call, job)) return statusError(grpc.status.PERMISSION_DENIED, `job_id: job "${id}" is not yours (submitters reach only their own jobs)`);
    return job;
  }

  /** The jobs a caller may see: all without tokens or for an admin, its own for a submitter. */
  private visibleJobs(call: { metadata: grpc.Metadata }): JobRecord[] {
    return this.store.list().filter((j) => mayReach(call, j));
  }

  private handlers(): CoordinatorHandlers {
    return {
      SubmitJob: (call: grpc.ServerUnaryCall<SubmitJobRequest__Output, Job>, callback) => {
        const r = call.request;
        void (async () => {
        try {
          const job = await this.submit(
            {
              model: r.model,
              artist: r.artist,
              genres: r.genres,
              lyrics: r.lyrics,
              rows: r.rows.map((row) => ({ artist: row.artist, genres: row.genres, lyrics: row.lyrics })),
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
            principalOf(call)?.name,
            startRequestOf(r),
          );
          callback(null, this.toProto(job));
        } catch (err) {
          if (err instanceof InvalidArgumentError) callback(statusError(grpc.status.INVALID_ARGUMENT, err.message));
          else if (err instanceof NoWorkersError) callback(statusError(grpc.status.FAILED_PRECONDITION, err.message));
          else if (err instanceof ResourceExhaustedError) callback(statusError(grpc.status.RESOURCE_EXHAUSTED, err.message));
          else if (err instanceof StoreUnavailableError) callback(statusError(grpc.status.UNAVAILABLE, err.message));
          else callback(statusError(grpc.status.INTERNAL, (err as Error).message));
        }
        })();
      },

      GetJob: (call, callback) => {
        const job = this.findJob(call.request.jobId, call);
        if (job instanceof Error) return callback(job);
        callback(null, this.toProto(job));
      },

      ListJobs: (call, callback) => {
        try {
          const page = listJobsPage(this.visibleJobs(call), call.request);
          callback(null, { jobs: page.jobs.map((j) => this.toProto(j)), nextPageToken: page.nextPageToken, totalSize: page.totalSize });
        } catch (err) {
          callback(statusError(err instanceof InvalidArgumentError ? grpc.status.INVALID_ARGUMENT : grpc.status.INTERNAL, (err as Error).message));
        }
      },

      ListModels: (call, callback) => {
        const { model, search } = call.request;
        const folders = [...this.models.values()].filter((m) => model === '' || m.manifest.modelId === model);
        if (folders.length === 0) {
          const shown = model.length > 64 ? `${model.slice(0, 61)}...` : model;
          return callback(statusError(grpc.status.NOT_FOUND, `model: no model "${shown}"; this coordinator serves ${[...this.models.keys()].join(', ')}`));
        }
        const ready = (m: ModelFolder): boolean => this.workers.missingFor(m.hash, m.manifest.levels.map((l) => l.level)).length === 0;
        callback(null, { models: folders.map((m) => modelInfo(m, search.slice(0, 200), ready(m))) });
      },

      CancelJob: (call, callback) => {
        const job = this.findJob(call.request.jobId, call);
        if (job instanceof Error) return callback(job);
        this.dispatcher.cancel(job);
        callback(null, this.toProto(job));
      },

      WatchJob: (call: grpc.ServerWritableStream<WatchJobRequest__Output, JobEvent>) => {
        const job = this.findJob(call.request.jobId, call);
        if (job instanceof Error) {
          call.emit('error', job);
          return;
        }
        const after = Number(call.request.afterSequence ?? 0);
        if (!Number.isSafeInteger(after) || after < 0) {
          call.emit('error', statusError(grpc.status.INVALID_ARGUMENT, `after_sequence: must be a non-negative integer, got ${String(call.request.afterSequence).slice(0, 32)}`));
          return;
        }
        this.watch(call, job, after);
      },

      FetchAudio: (call: grpc.ServerWritableStream<FetchAudioRequest__Output, AudioChunk>) => {
        const job = this.findJob(call.request.jobId, call);
        if (job instanceof Error) {
          call.emit('error', job);
          return;
        }
        if (call.request.preview && !TERMINAL_STATES.has(job.state)) {
          // The audio decoded so far, then the rest as it is decoded (api-views streamPreview).
          const row = call.request.sample;
          if (!Number.isInteger(row) || row < 0 || row >= job.spec.samples) {
            call.emit('error', statusError(grpc.status.INVALID_ARGUMENT, `sample: must be 0..${job.spec.samples - 1}, got ${row}`));
            return;
          }
          const source = {
            durable: this.durable,
            current: () => this.store.get(job.id),
            onChange: (fn: () => void) => {
              const h = (j: JobRecord): void => {
                if (j.id === job.id) fn();
              };
              this.dispatcher.on('update', h);
              return () => void this.dispatcher.off('update', h);
            },
          };
          void streamPreview(call, job, row, source, Math.min(AUDIO_CHUNK_BYTES, this.options.audioChunkBytes ?? AUDIO_CHUNK_BYTES));
          return;
        }
        if (job.state !== 'SUCCEEDED') {
          call.emit('error', statusError(grpc.status.FAILED_PRECONDITION, `job ${job.id} is ${job.state}; audio exists once it has SUCCEEDED (or ask for a preview while it runs)`));
          return;
        }
        const sample = call.request.sample;
        if (!Number.isInteger(sample) || sample < 0 || sample >= job.audioBytes.length) {
          call.emit('error', statusError(grpc.status.INVALID_ARGUMENT, `sample: must be 0..${job.audioBytes.length - 1}, got ${sample}`));
          return;
        }
        void (async () => {
          try {
            const pieces = await this.durable.readAudio(job.id, sample);
            if (!pieces) {
              call.emit('error', statusError(grpc.status.DATA_LOSS, `job ${job.id}: the audio of sample ${sample} is no longer in the store`));
              return;
            }
            await streamPieces(call, pieces, job.audioBytes[sample], Math.min(AUDIO_CHUNK_BYTES, this.options.audioChunkBytes ?? AUDIO_CHUNK_BYTES));
          } catch (err) {
            call.emit('error', statusError(grpc.status.UNAVAILABLE, `reading the audio from the store failed: ${(err as Error).message}`));
          }
        })();
      },

      FetchTokens: (call: grpc.ServerWritableStream<FetchTokensRequest__Output, TokenChunk>) => {
        const job = this.findJob(call.request.jobId, call);
        if (job instanceof Error) {
          call.emit('error', job);
          return;
        }
        void (async () => {
          let tokens: LevelStream[];
          try {
            // Wait for writes in flight, so that a finished job's tokens are all there.
            await this.persistence.settled(job.id);
            tokens = await this.storedTokens(job);
          } catch (err) {
            call.emit('error', statusError(grpc.status.UNAVAILABLE, `reading the tokens from the store failed: ${(err as Error).message}`));
            return;
          }
          await streamTokens(call, tokens, Math.min(TOKEN_CHUNK, this.options.tokenChunkTokens ?? TOKEN_CHUNK));
        })();
      },
    };
  }

  /** The served model folder with this hash (jobs name their model by hash in the store). */
  private modelByHash(hash: string): ModelFolder | undefined {
    for (const m of this.models.values()) if (m.hash === hash) return m;
    return undefined;
  }

  /**
   * A job's tokens so far, rebuilt from its stored windows: memory keeps only what pending work reads, and a job
   * restored after a restart keeps its tokens in the store until someone asks for them.
   */
  private async storedTokens(job: JobRecord): Promise<LevelStream[]> {
    const model = this.modelByHash(job.modelHash);
    if (!model) throw new Error(`model ${job.modelHash.slice(0, 12)} is not served here`);
    const stored = await this.durable.getJob(job.id);
    if (!stored) throw new Error(`job ${job.id} is no longer in the store`);
    const fresh = plannedJob(stored, model.manifest);
    replayWindows(fresh, await this.durable.windows(job.id));
    return fresh.tokens;
  }

  /**
   * Streams a job's changes after `after` with a snapshot of the job, at most every WATCH_INTERVAL_MS, until the
   * change that ends it. Changes come from the durable store, so a watcher that reconnects (to this coordinator
   * or the one that took over) with the last sequence it saw misses nothing and sees nothing twice.
   */
  private watch(call: grpc.ServerWritableStream<WatchJobRequest__Output, JobEvent>, job: JobRecord, after: number): void {
    let cursor = after;
    let last = 0;
    let timer: NodeJS.Timeout | undefined;
    let sending = false;
    let again = false;
    let ended = false;
    const stop = (): void => {
      ended = true;
      if (timer) clearTimeout(timer);
      this.dispatcher.off('update', onUpdate);
      this.persistence.off('event', onEvent);
    };
    const send = async (): Promise<void> => {
      timer = undefined;
      if (ended) return;
      if (sending) {
        again = true;
        return;
      }
      sending = true;
      try {
        const records = await this.durable.events(job.id, cursor);
        if (ended) return;
        const changes = records.map(toChange);
        if (changes.length > 0) cursor = records[records.length - 1].seq;
        last = performance.now();
        call.write({ job: this.toProto(job), sequence: cursor, changes });
        if (records.some((r) => r.kind === 'state' && r.state !== undefined && TERMINAL_STATES.has(r.state))) {
          stop();
          call.end();
        }
      } catch (err) {
        stop();
        call.emit('error', statusError(grpc.status.UNAVAILABLE, `reading the job's changes failed: ${(err as Error).message}`));
      } finally {
        sending = false;
        if (again && !ended) {
          again = false;
          schedule();
        }
      }
    };
    const schedule = (): void => {
      if (timer || ended) return;
      const wait = TERMINAL_STATES.has(job.state) ? 0 : Math.max(0, WATCH_INTERVAL_MS - (performance.now() - last));
      timer = setTimeout(() => void send(), wait);
    };
    const onUpdate = (j: JobRecord): void => {
      if (j.id === job.id) schedule();
    };
    const onEvent = (id: string): void => {
      if (id === job.id) schedule();
    };
    call.on('cancelled', stop);
    this.dispatcher.on('update', onUpdate);
    this.persistence.on('event', onEvent);
    void send();
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.leaseTimer) clearInterval(this.leaseTimer);
      await this.tending;
      this.dispatcher.close();
      // Hand the leases back so that a standby takes the unfinished jobs at once.
      for (const job of this.store.list()) {
        if (TERMINAL_STATES.has(job.state)) continue;
        await this.persistence.settled(job.id);
        await this.durable.releaseLease(job.id, this.owner).catch(() => undefined);
      }
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
      this.discovery?.close();
      this.workers.close();
      if (this.ownsDurable) await this.durable.close().catch(() => undefined);
      await this.tracing?.shutdown().catch((err: Error) => log('coordinator', 'trace export failed', { error: err.message }));
      await this.nc?.close().catch(() => undefined);
    })();
    return this.closing;
  }
}

/** The oneof `start` of a SubmitJobRequest in domain terms (levels listed by number; a level given twice is refused). */
function startRequestOf(r: SubmitJobRequest__Output): StartRequest | undefined {
  if (r.start === 'prompt' && r.prompt) return { mode: 'primed', wav: r.prompt.wav, seconds: r.prompt.seconds };
  const given = r.start === 'continueFrom' ? r.continueFrom : r.start === 'upsample' ? r.upsample : null;
  if (!given) return undefined;
  const field = r.start === 'continueFrom' ? 'continue_from' : 'upsample';
  const levels: (Int32Array[] | undefined)[] = [];
  given.levels.forEach((l, i) => {
    if (!(l.level >= 0 && l.level < 16)) throw new InvalidArgumentError(field, `${field}.levels[${i}].level: ${l.level} is not a level of any model`);
    if (levels[l.level]) throw new InvalidArgumentError(field, `${field}.levels[${i}].level: level ${l.level} is given twice`);
    levels[l.level] = l.rows.map((row) => Int32Array.from(row.tokens));
  });
  return r.start === 'continueFrom' ? { mode: 'continue', levels } : { mode: 'upsample', levels };
}

/** Whether the caller may see and act on a job: anyone without tokens, an admin always, a submitter its own jobs. */
function mayReach(call: { metadata: grpc.Metadata }, job: JobRecord): boolean {
  const who = principalOf(call);
  return who === undefined || who.role === 'admin' || (job.owner !== undefined && job.owner === who.name);
}

/** Largest TokenChunk, in tokens (about 1 MiB as varints). */
export const TOKEN_CHUNK = 262_144;

/** Streams every level's tokens, row by row, in pieces of `chunk` tokens, with backpressure. */
async function streamTokens(call: grpc.ServerWritableStream<FetchTokensRequest__Output, TokenChunk>, levels: LevelStream[], chunk: number): Promise<void> {
  let cancelled = false;
  call.on('cancelled', () => (cancelled = true));
  for (let level = 0; level < levels.length && !cancelled; level++) {
    const store = levels[level];
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

/** A stored change as the wire carries it. */
function toChange(r: JobEventRecord): JobChange {
  return {
    sequence: r.seq,
    atMs: r.atMs,
    kind: r.kind,
    state: r.state ? `JOB_STATE_${r.state}` : 'JOB_STATE_UNSPECIFIED',
    task: r.task ?? '',
    error: r.error ?? '',
  };
}

/** Writes the store's pieces re-cut to at most chunkBytes, waiting on 'drain' and giving up if the client goes. */
async function streamPieces(call: grpc.ServerWritableStream<FetchAudioRequest__Output, AudioChunk>, pieces: AsyncIterable<Uint8Array>, totalBytes: number, chunkBytes: number): Promise<void> {
  let cancelled = false;
  call.on('cancelled', () => (cancelled = true));
  let offset = 0;
  for await (const piece of pieces) {
    for (let at = 0; at < piece.length && !cancelled; at += chunkBytes) {
      const n = Math.min(chunkBytes, piece.length - at);
      const data = Buffer.from(piece.buffer, piece.byteOffset + at, n);
      if (!call.write({ data, offset, totalBytes })) await drainedOrGone(call);
      offset += n;
    }
    if (cancelled) return;
  }
  call.end();
}
