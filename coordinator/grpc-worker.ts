// The real WorkerConnection: the Worker gRPC service. Wire types stop here.
import * as grpc from '@grpc/grpc-js';
import { TRACEPARENT_METADATA } from '../server/tracing.js';
import { CHANNEL_OPTIONS, jukeboxProto } from '../proto/index.js';
import { bearerInterceptor, clientCredentials, type ClientTlsFiles } from '../server/security.js';
import type { WorkerClient } from '../proto/generated/jukebox/v1/Worker.js';
import type { SampleWindowResponse__Output } from '../proto/generated/jukebox/v1/SampleWindowResponse.js';
import type { TaskFailure, FailureKind } from './retry.js';
import type { BatchHandlers, DecodeJob, EncodeJob, RemoteCall, WindowBatch, WorkerConnection, WorkerInfo } from './worker-connection.js';

function kindOf(code: grpc.status): FailureKind {
  switch (code) {
    case grpc.status.INVALID_ARGUMENT:
      return 'invalid';
    case grpc.status.FAILED_PRECONDITION:
      return 'precondition';
    case grpc.status.DEADLINE_EXCEEDED:
      return 'timeout';
    case grpc.status.UNAVAILABLE:
    case grpc.status.CANCELLED:
    // A batch over the worker's limits: another worker (or a smaller batch) may take it.
    case grpc.status.RESOURCE_EXHAUSTED:
      return 'unavailable';
    default:
      return 'internal';
  }
}

function failureOf(err: grpc.ServiceError): TaskFailure {
  return { kind: kindOf(err.code), message: `${grpc.status[err.code]}: ${err.details}` };
}

const rows = (r: Int32Array[]): { tokens: number[] }[] => r.map((x) => ({ tokens: Array.from(x) }));

/** How the coordinator reaches its workers: TLS (mTLS with a client certificate) and the workers' shared secret. */
export interface WorkerChannelSecurity {
  tls?: ClientTlsFiles;
  /** Sent as `authorization: Bearer <token>` on every call. */
  token?: string;
}

/** Channel credentials and options for workers, the files read once; plaintext without security. */
export function workerChannel(security: WorkerChannelSecurity = {}): { credentials: grpc.ChannelCredentials; options: grpc.ClientOptions } {
  const { credentials, options } = clientCredentials(security.tls);
  return { credentials, options: { ...CHANNEL_OPTIONS, ...options, ...(security.token ? { interceptors: [bearerInterceptor(security.token)] } : {}) } };
}

export class GrpcWorkerConnection implements WorkerConnection {
  private readonly client: WorkerClient;

  constructor(
    readonly address: string,
    channel: { credentials: grpc.ChannelCredentials; options: grpc.ClientOptions } = { credentials: grpc.credentials.createInsecure(), options: CHANNEL_OPTIONS },
  ) {
    const Client = jukeboxProto().Worker;
    this.client = new Client(address, channel.credentials, channel.options);
  }

  describe(timeoutMs: number): Promise<WorkerInfo> {
    return new Promise((resolve, reject) => {
      this.client.Describe({}, { deadline: Date.now() + timeoutMs }, (err, res) => {
        if (err || !res) return reject(err ?? new Error('no answer'));
        // Workers from before batched SampleWindow answer 0 and cannot read today's requests.
        if (!(res.maxBatchRows > 0)) return reject(new Error(`worker ${res.workerId} predates batched SampleWindow (no max_batch_rows); upgrade it`));
        resolve({
          workerId: res.workerId,
          modelId: res.modelId,
          modelHash: res.modelHash,
          levels: res.levels,
          capacity: res.capacity,
          maxBatchRows: res.maxBatchRows,
          executionProvider: res.executionProvider,
          batchBucket: res.batchBucket,
          precision: res.precision || 'fp32',
          decodes: res.decodes,
          encodes: res.encodes,
        });
      });
    });
  }

  sampleBatch(batch: WindowBatch, handlers: BatchHandlers): RemoteCall {
    const call = this.client.SampleWindow({
      modelHash: batch.modelHash,
      level: batch.level,
      newTokens: batch.newTokens,
      windows: batch.items.map((it) => ({
        jobId: it.jobId,
        windowIndex: it.windowIndex,
        start: it.start,
        context: rows(it.context),
        upper: rows(it.upper),
        labels: rows(it.labels),
        seed: it.seed.toString(),
        temperature: it.sampling.temperature,
        topK: it.sampling.topK,
        topP: it.sampling.topP,
        sampleIds: it.sampleIds,
      })),
    }, traceMetadata(batch.items.map((it) => it.traceparent ?? '')));
    let result: Int32Array[] | undefined;
    let settled = false;
    const settle = (f: () => void): void => {
      if (settled) return;
      settled = true;
      f();
    };
    call.on('data', (msg: SampleWindowResponse__Output) => {
      if (msg.progress) handlers.progress(msg.progress.tokensDone);
      else if (msg.result) result = msg.result.rows.map((r) => Int32Array.from(r.tokens));
    });
    call.on('error', (err: grpc.ServiceError) => settle(() => handlers.failed(failureOf(err))));
    call.on('end', () =>
      settle(() => (result ? handlers.done(result) : handlers.failed({ kind: 'bad-reply', message: 'the worker ended the stream without a result' }))),
    );
    return { cancel: () => call.cancel() };
  }

  decode(job: DecodeJob, timeoutMs: number, done: (failure: TaskFailure | null, audio?: Float32Array[]) => void): RemoteCall {
    const call = this.client.Decode(
      { modelHash: job.modelHash, level: job.level, rows: rows(job.rows), trimStartTokens: job.trimStart, trimEndTokens: job.trimEnd },
      traceMetadata([job.traceparent ?? '']),
      { deadline: Date.now() + timeoutMs },
      (err, res) => {
        if (err || !res) return done(err ? failureOf(err) : { kind: 'bad-reply', message: 'no reply' });
        if (res.audio.some((b) => b.byteLength % 4 !== 0)) return done({ kind: 'bad-reply', message: 'audio that is not whole float32 samples' });
        // Copy: the reply's buffer may not be 4-byte aligned.
        done(null, res.audio.map((b) => new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength))));
      },
    );
    return { cancel: () => call.cancel() };
  }

  encode(job: EncodeJob, timeoutMs: number): Promise<Int32Array[]> {
    return new Promise((resolve, reject) => {
      this.client.Encode(
        { modelHash: job.modelHash, level: job.level, audio: job.rows.map((r) => Buffer.from(r.buffer, r.byteOffset, r.byteLength)) },
        { deadline: Date.now() + timeoutMs },
        (err, res) => {
          if (err || !res) return reject(err ?? new Error('no reply'));
          resolve(res.rows.map((r) => Int32Array.from(r.tokens)));
        },
      );
    });
  }

  close(): void {
    this.client.close();
  }
}

/** Each item's trace context, in item order (absent when none is traced). */
function traceMetadata(traceparents: string[]): grpc.Metadata {
  const md = new grpc.Metadata();
  if (traceparents.some((t) => t !== '')) for (const t of traceparents) md.add(TRACEPARENT_METADATA, t);
  return md;
}
