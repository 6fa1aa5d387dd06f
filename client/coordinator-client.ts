// A promise-based client for the coordinator service.
import * as grpc from '@grpc/grpc-js';
import { CHANNEL_OPTIONS, jukeboxProto } from '../proto/index.js';
import { bearerInterceptor, clientCredentials, type ClientTlsFiles } from '../server/security.js';
import type { CoordinatorClient as GeneratedClient } from '../proto/generated/jukebox/v1/Coordinator.js';
import type { Job__Output } from '../proto/generated/jukebox/v1/Job.js';
import type { SubmitJobRequest } from '../proto/generated/jukebox/v1/SubmitJobRequest.js';
import type { ListJobsResponse__Output } from '../proto/generated/jukebox/v1/ListJobsResponse.js';
import type { ListJobsRequest } from '../proto/generated/jukebox/v1/ListJobsRequest.js';
import type { ListModelsRequest } from '../proto/generated/jukebox/v1/ListModelsRequest.js';
import type { ListModelsResponse__Output } from '../proto/generated/jukebox/v1/ListModelsResponse.js';
import type { ModelInfo__Output } from '../proto/generated/jukebox/v1/ModelInfo.js';
import type { AudioChunk__Output } from '../proto/generated/jukebox/v1/AudioChunk.js';
import type { JobState } from '../proto/generated/jukebox/v1/JobState.js';
import type { TokenChunk__Output } from '../proto/generated/jukebox/v1/TokenChunk.js';
import type { JobEvent__Output } from '../proto/generated/jukebox/v1/JobEvent.js';
import type { JobChange__Output } from '../proto/generated/jukebox/v1/JobChange.js';

export type JobView = Job__Output;
export type JobChangeView = JobChange__Output;

/** One WatchJob message: the job now, and the changes since the previous message. */
export interface JobUpdate {
  job: JobView;
  /** The last change seen so far: resume after it. */
  sequence: number;
  changes: JobChangeView[];
}
export type SubmitRequest = SubmitJobRequest;

/** Deadline of unary calls. */
const UNARY_DEADLINE_MS = 30_000;

/** How to reach a secured coordinator. */
export interface CoordinatorClientOptions {
  /** TLS: the CA that signed the coordinator's certificate (default: the system's roots), and for mTLS a client certificate and key. @default plaintext */
  tls?: ClientTlsFiles;
  /** Bearer token sent on every call. */
  token?: string;
}

export class CoordinatorClient {
  private readonly client: GeneratedClient;

  constructor(address: string, opts: CoordinatorClientOptions = {}) {
    const Client = jukeboxProto().Coordinator;
    const { credentials, options } = clientCredentials(opts.tls);
    this.client = new Client(address, credentials, { ...CHANNEL_OPTIONS, ...options, ...(opts.token ? { interceptors: [bearerInterceptor(opts.token)] } : {}) });
  }

  private unary<Req, Res>(
    method: (req: Req, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: Res) => void) => grpc.ClientUnaryCall,
    req: Req,
  ): Promise<Res> {
    return new Promise((resolve, reject) => {
      method.call(this.client, req, { deadline: Date.now() + UNARY_DEADLINE_MS }, (err, res) => (err ? reject(err) : resolve(res as Res)));
    });
  }

  submit(req: SubmitRequest): Promise<JobView> {
    return this.unary(this.client.SubmitJob, req);
  }

  get(jobId: string): Promise<JobView> {
    return this.unary(this.client.GetJob, { jobId });
  }

  /** Every job (in the given states), page after page. */
  async list(filter: { states?: JobState[] } = {}): Promise<JobView[]> {
    const jobs: JobView[] = [];
    let pageToken = '';
    do {
      const page = await this.listPage({ pageToken, states: filter.states ?? [] });
      jobs.push(...page.jobs);
      pageToken = page.nextPageToken;
    } while (pageToken !== '');
    return jobs;
  }

  /** One page of ListJobs. */
  listPage(req: ListJobsRequest): Promise<ListJobsResponse__Output> {
    return this.unary<ListJobsRequest, ListJobsResponse__Output>(this.client.ListJobs, req);
  }

  /** What each served model accepts (artists and genres filtered by `search`). */
  async listModels(req: ListModelsRequest = {}): Promise<ModelInfo__Output[]> {
    return (await this.unary<ListModelsRequest, ListModelsResponse__Output>(this.client.ListModels, req)).models;
  }

  cancel(jobId: string): Promise<JobView> {
    return this.unary(this.client.CancelJob, { jobId });
  }

  /** Every level's tokens so far: [level][row][token]. */
  async fetchTokens(jobId: string): Promise<number[][][]> {
    const levels: number[][][] = [];
    for await (const c of this.client.FetchTokens({ jobId }) as AsyncIterable<TokenChunk__Output>) {
      const rows = (levels[c.level] ??= []);
      const row = (rows[c.row] ??= []);
      if (row.length !== c.offset) throw new Error(`FetchTokens: level ${c.level} row ${c.row} chunk at ${c.offset}, expected ${row.length}`);
      for (const t of c.tokens) row.push(t);
    }
    return levels;
  }

  /**
   * Yields the job's updates (a snapshot and the changes since the previous one) until it ends. After a
   * disconnect (the coordinator restarted, a standby took over) it reconnects and resumes after the last change
   * it saw, for up to `reconnectForMs` without an answer: no change is lost or repeated.
   */
  async *watchChanges(jobId: string, opts: { afterSequence?: number; reconnectForMs?: number; waitForJob?: boolean } = {}): AsyncGenerator<JobUpdate> {
    let after = opts.afterSequence ?? 0;
    const reconnectForMs = opts.reconnectForMs ?? 60_000;
    let downSince: number | undefined;
    // NOT_FOUND is worth waiting out only for a job known to exist: one seen here, resumed from a sequence, or
    // one another coordinator is about to take over (waitForJob). A mistyped id fails at once.
    let known = after > 0 || (opts.waitForJob ?? false);
    for (;;) {
      const call = this.client.WatchJob({ jobId, afterSequence: after });
      let ended = false;
      try {
        for await (const ev of call as AsyncIterable<JobEvent__Output>) {
          downSince = undefined;
          known = true;
          if (ev.changes.length > 0) after = ev.changes[ev.changes.length - 1].sequence;
          if (ev.job) {
            yield { job: ev.job, sequence: after, changes: ev.changes };
            if (ev.changes.some((c) => c.kind === 'state' && isTerminal(c.state))) ended = true;
          }
        }
        if (ended) return;
      } catch (err) {
        const code = (err as grpc.ServiceError).code;
        // Only a coordinator that is away is worth waiting for; a refused request is final.
        if (code !== grpc.status.UNAVAILABLE && code !== grpc.status.CANCELLED && !(code === grpc.status.NOT_FOUND && known)) throw err;
        downSince ??= Date.now();
        if (Date.now() - downSince > reconnectForMs) throw err;
        // NOT_FOUND right after a restart: the job may be resumed by the new coordinator in a moment.
      } finally {
        call.cancel();
      }
      if (ended) return;
      downSince ??= Date.now();
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** Yields the job's state now and at every change until it ends, reconnecting after a disconnect. */
  async *watch(jobId: string): AsyncGenerator<JobView> {
    for await (const u of this.watchChanges(jobId)) yield u.job;
  }

  /** The WAV file of one sample row. */
  async fetchAudio(jobId: string, sample: number, opts: { preview?: boolean } = {}): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const chunk of this.audioChunks(jobId, sample, opts)) parts.push(chunk.data);
    return Buffer.concat(parts);
  }

  /**
   * The WAV file of one sample row as it arrives. With `preview`, a job that has not ended streams its audio as it is
   * decoded: the header (with the final length) at once, then each decode chunk's samples once it is stored.
   */
  async *audioChunks(jobId: string, sample: number, opts: { preview?: boolean } = {}): AsyncGenerator<AudioChunk__Output> {
    const call = this.client.FetchAudio({ jobId, sample, preview: opts.preview ?? false });
    try {
      for await (const chunk of call as AsyncIterable<AudioChunk__Output>) yield chunk;
    } finally {
      call.cancel();
    }
  }

  close(): void {
    this.client.close();
  }
}

export function isTerminal(state: string): boolean {
  return state === 'JOB_STATE_SUCCEEDED' || state === 'JOB_STATE_FAILED' || state === 'JOB_STATE_CANCELLED';
}
