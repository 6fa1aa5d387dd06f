// One factory for every gRPC server here: keepalive, message limits, health and reflection.
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { CHANNEL_OPTIONS } from '../proto/index.js';
import { addReflection } from './reflection.js';
import { CheckedServer } from './request-decoding.js';
import { authInterceptor, serverCredentials, type ServerSecurity } from './security.js';

export interface GrpcServerHandle {
  server: grpc.Server;
  health: HealthImplementation;
  port: number;
  address: string;
  /** The plaintext health-only port, when one was asked for. */
  healthPort?: number;
  close(graceMs?: number): Promise<void>;
}

/** With security.tokens, every call but health checks (reflection included) needs a bearer token. */
/**
 * Largest request each server takes. Far below the 64 MiB the clients accept: a body of many empty repeated
 * entries decodes to ~130 times its size in heap, so the limit bounds what one request can cost. A worker's largest
 * real request (16 rows × 8192 context tokens, or a 16-row decode chunk) is under 1 MiB; a coordinator's largest is a
 * primed job's prompt WAV or a continued job's tokens (8 MiB: about 45 s of 44.1 kHz stereo PCM16).
 */
export const MAX_REQUEST_BYTES = { 'jukebox.v1.Coordinator': 8 * 1024 * 1024, 'jukebox.v1.Worker': 8 * 1024 * 1024 } as const;

export function createGrpcServer(serviceName: string, security: ServerSecurity = {}): { server: grpc.Server; health: HealthImplementation } {
  // Undecodable request bodies are INVALID_ARGUMENT, not INTERNAL (server/request-decoding.ts).
  const server = new CheckedServer({
    ...CHANNEL_OPTIONS,
    'grpc.max_receive_message_length': MAX_REQUEST_BYTES[serviceName as keyof typeof MAX_REQUEST_BYTES] ?? CHANNEL_OPTIONS['grpc.max_receive_message_length'],
    // A client that stops answering pings is dropped after 10 s (set in CHANNEL_OPTIONS).
    ...(security.tokens ? { interceptors: [authInterceptor(security.tokens)] } : {}),
  });
  const health = new HealthImplementation({ '': 'NOT_SERVING', [serviceName]: 'NOT_SERVING' });
  health.addToServer(server);
  // The real .proto files, describing this server's own service, health and reflection only.
  addReflection(server, [serviceName]);
  return { server, health };
}

export interface ListenOptions {
  /** TLS or mTLS (files read now). @default plaintext */
  tls?: ServerSecurity['tls'];
  /**
   * Also serve grpc.health.v1 alone, in plaintext, on this port of the same host (0 = any free port): for probes
   * that cannot do TLS (kubelet's gRPC probes). @default none
   */
  healthPort?: number;
}

function bind(server: grpc.Server, host: string, port: number, credentials: grpc.ServerCredentials): Promise<number> {
  const at = host.includes(':') ? `[${host}]` : host;
  return new Promise<number>((resolve, reject) => server.bindAsync(`${at}:${port}`, credentials, (err, p) => (err ? reject(err) : resolve(p))));
}

/** Binds host:port (port 0 = any free port), marks the service SERVING, returns a handle whose close() drains. */
export async function listen(
  server: grpc.Server,
  health: HealthImplementation,
  serviceName: string,
  host: string,
  port: number,
  opts: ListenOptions = {},
): Promise<GrpcServerHandle> {
  const bound = await bind(server, host, port, serverCredentials(opts.tls));
  let healthServer: grpc.Server | undefined;
  let healthPort: number | undefined;
  if (opts.healthPort !== undefined && opts.healthPort >= 0) {
    healthServer = new grpc.Server(CHANNEL_OPTIONS);
    health.addToServer(healthServer);
    try {
      healthPort = await bind(healthServer, host, opts.healthPort, grpc.ServerCredentials.createInsecure());
    } catch (err) {
      server.forceShutdown();
      throw err;
    }
  }
  health.setStatus('', 'SERVING');
  health.setStatus(serviceName, 'SERVING');
  let closing: Promise<void> | undefined;
  return {
    server,
    health,
    port: bound,
    address: `${host.includes(':') ? `[${host}]` : host}:${bound}`,
    ...(healthPort !== undefined ? { healthPort } : {}),
    close(graceMs = 5000) {
      closing ??= new Promise<void>((resolve) => {
        health.setStatus('', 'NOT_SERVING');
        health.setStatus(serviceName, 'NOT_SERVING');
        const timer = setTimeout(() => {
          server.forceShutdown();
          healthServer?.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          healthServer?.forceShutdown();
          resolve();
        });
      });
      return closing;
    },
  };
}

/** Longest status message sent: a longer one (an echoed input, say) would overflow the client's metadata limit. */
export const MAX_STATUS_DETAILS = 1000;

/** A status error for callbacks and call.emit('error'); the message is cut to MAX_STATUS_DETAILS characters. */
export function statusError(code: grpc.status, details: string): grpc.ServiceError {
  const cut = details.length > MAX_STATUS_DETAILS ? `${details.slice(0, MAX_STATUS_DETAILS - 3)}...` : details;
  return Object.assign(new Error(cut), { code, details: cut, metadata: new grpc.Metadata() });
}

/** Resolves on 'drain', or when the call is cancelled or fails; removes the listeners that did not fire. */
export function drainedOrGone(call: grpc.ServerWritableStream<unknown, unknown>): Promise<void> {
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
