// A request body that is not a message of the method's type is the caller's fault: INVALID_ARGUMENT. grpc-js
// answers INTERNAL for any error thrown while it decodes a request, before a handler sees it; so the decoder of
// every method with a single request (unary, server streaming) hands the handler a marker instead of throwing,
// and the handler answers the marker with INVALID_ARGUMENT.
import * as grpc from '@grpc/grpc-js';
import { cut } from '../shared/errors.js';

/** What an undecodable request body turns into. */
class MalformedRequest {
  constructor(readonly reason: string) {}
}

function refusal(path: string, bad: MalformedRequest): Partial<grpc.StatusObject> {
  const method = path.split('/').pop() ?? path;
  return { code: grpc.status.INVALID_ARGUMENT, details: `${method}: the request body is not a valid protobuf message of the method's request type (${cut(bad.reason, 120)})`, metadata: new grpc.Metadata() };
}

type Handler = (...args: unknown[]) => unknown;

/** The service with decoders that never throw, and the implementation with handlers that refuse what they could not decode. */
export function checkedService(service: grpc.ServiceDefinition, implementation: grpc.UntypedServiceImplementation): [grpc.ServiceDefinition, grpc.UntypedServiceImplementation] {
  const defs: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  const impl: Record<string, Handler> = {};
  for (const [name, def] of Object.entries(service as Record<string, grpc.MethodDefinition<unknown, unknown>>)) {
    const original = (implementation[name] ?? (typeof def.originalName === 'string' ? implementation[def.originalName] : undefined)) as Handler | undefined;
    if (def.requestStream || original === undefined) {
      // Streamed requests are left to grpc-js (none of ours); a method without a handler stays UNIMPLEMENTED.
      defs[name] = def;
      if (original !== undefined) impl[name] = original.bind(implementation);
      continue;
    }
    const decode = def.requestDeserialize;
    defs[name] = {
      ...def,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return decode(bytes);
        } catch (err) {
          return new MalformedRequest((err as Error).message);
        }
      },
    };
    const handler = original.bind(implementation);
    impl[name] = def.responseStream
      ? (call: unknown) => {
          const c = call as grpc.ServerWritableStream<unknown, unknown>;
          if (c.request instanceof MalformedRequest) c.emit('error', refusal(def.path, c.request));
          else handler(call);
        }
      : (call: unknown, callback: unknown) => {
          const c = call as grpc.ServerUnaryCall<unknown, unknown>;
          if (c.request instanceof MalformedRequest) (callback as grpc.sendUnaryData<unknown>)(refusal(def.path, c.request));
          else handler(call, callback);
        };
  }
  return [defs as grpc.ServiceDefinition, impl as grpc.UntypedServiceImplementation];
}

/** A grpc.Server whose services refuse undecodable requests with INVALID_ARGUMENT (see checkedService). */
export class CheckedServer extends grpc.Server {
  override addService(service: grpc.ServiceDefinition, implementation: grpc.UntypedServiceImplementation): void {
    super.addService(...checkedService(service, implementation));
  }
}
