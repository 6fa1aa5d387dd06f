// A promise-based client for the coordinator service.
import * as grpc from '@grpc/grpc-js';
import { CHANNEL_OPTIONS, jukeboxProto } from '../proto/index.js';
import type { CoordinatorClient as GeneratedClient } from '../proto/generated/jukebox/v1/Coordinator.js';
import type { Job__Output } from '../proto/generated/jukebox/v1/Job.js';
import type { SubmitJobRequest } from '../proto/generated/jukebox/v1/SubmitJobRequest.js';
import type { ListJobsResponse__Output } from '../proto/generated/jukebox/v1/ListJobsResponse.js';
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

export class CoordinatorClient {
  private readonly client: GeneratedClient;

  constructor(address: string) {
    const Client = jukeboxProto().Coordinator;
    this.client = new Client(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
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

  async list(): Promise<JobView[]> {
    const res = await this.unary<object, ListJobsResponse__Output>(this.client.ListJobs, {});
    return res.jobs;
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
  async *watchChanges(jobId: string, opts: { afterSequence?: number; reconnectForMs?: number } = {}): AsyncGenerator<JobUpdate> {
    let after = opts.afterSequence ?? 0;
    const reconnectForMs = opts.reconnectForMs ?? 60_000;
    let downSince: number | undefined;
    for (;;) {
      const call = this.client.WatchJob({ jobId, afterSequence: after });
      let ended = false;
      try {
        for await (const ev of call as AsyncIterable<JobEvent__Output>) {
          downSince = undefined;
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
        if (code !== grpc.status.UNAVAILABLE && code !== grpc.status.NOT_FOUND && code !== grpc.status.CANCELLED) throw err;
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
  async fetchAudio(jobId: string, sample: number): Promise<Buffer> {
    const call = this.client.FetchAudio({ jobId, sample });
    const parts: Buffer[] = [];
    for await (const chunk of call as AsyncIterable<{ data: Buffer }>) parts.push(chunk.data);
    return Buffer.concat(parts);
  }

  close(): void {
    this.client.close();
  }
}

export function isTerminal(state: string): boolean {
  return state === 'JOB_STATE_SUCCEEDED' || state === 'JOB_STATE_FAILED' || state === 'JOB_STATE_CANCELLED';
}
