// One factory for every gRPC server here: keepalive, message limits, health and reflection.
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { ReflectionService } from '@grpc/reflection';
import { CHANNEL_OPTIONS, loadPackageDefinition } from '../proto/index.js';

export interface GrpcServerHandle {
  server: grpc.Server;
  health: HealthImplementation;
  port: number;
  address: string;
  close(graceMs?: number): Promise<void>;
}

export function createGrpcServer(serviceName: string): { server: grpc.Server; health: HealthImplementation } {
  const server = new grpc.Server({
    ...CHANNEL_OPTIONS,
    // A client that stops answering pings is dropped after 10 s (set in CHANNEL_OPTIONS).
  });
  const health = new HealthImplementation({ '': 'NOT_SERVING', [serviceName]: 'NOT_SERVING' });
  health.addToServer(server);
  new ReflectionService(loadPackageDefinition()).addToServer(server);
  return { server, health };
}

/** Binds host:port (port 0 = any free port), marks the service SERVING, returns a handle whose close() drains. */
export async function listen(
  server: grpc.Server,
  health: HealthImplementation,
  serviceName: string,
  host: string,
  port: number,
): Promise<GrpcServerHandle> {
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  health.setStatus('', 'SERVING');
  health.setStatus(serviceName, 'SERVING');
  let closing: Promise<void> | undefined;
  return {
    server,
    health,
    port: bound,
    address: `${host.includes(':') ? `[${host}]` : host}:${bound}`,
    close(graceMs = 5000) {
      closing ??= new Promise<void>((resolve) => {
        health.setStatus('', 'NOT_SERVING');
        health.setStatus(serviceName, 'NOT_SERVING');
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      return closing;
    },
  };
}

/** A status error for callbacks and call.emit('error'). */
export function statusError(code: grpc.status, details: string): grpc.ServiceError {
  return Object.assign(new Error(details), { code, details, metadata: new grpc.Metadata() });
}
