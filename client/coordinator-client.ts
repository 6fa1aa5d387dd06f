// A promise-based client for the coordinator service.
import * as grpc from '@grpc/grpc-js';
import { CHANNEL_OPTIONS, jukeboxProto } from '../proto/index.js';
import type { CoordinatorClient as GeneratedClient } from '../proto/generated/jukebox/v1/Coordinator.js';
import type { Job__Output } from '../proto/generated/jukebox/v1/Job.js';
import type { SubmitJobRequest } from '../proto/generated/jukebox/v1/SubmitJobRequest.js';
import type { ListJobsResponse__Output } from '../proto/generated/jukebox/v1/ListJobsResponse.js';
import type { TokenChunk__Output } from '../proto/generated/jukebox/v1/TokenChunk.js';

export type JobView = Job__Output;
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

  /** Yields the job's state now and at every change until it ends. */
  async *watch(jobId: string): AsyncGenerator<JobView> {
    const call = this.client.WatchJob({ jobId });
    try {
      for await (const ev of call as AsyncIterable<{ job: JobView | null }>) {
        if (ev.job) yield ev.job;
      }
    } finally {
      call.cancel();
    }
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
