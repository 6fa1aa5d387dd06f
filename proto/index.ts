// Loads the jukebox.v1 protos at run time; the generated folder holds only types.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../server/package-root.js';
import type { ProtoGrpcType as CoordinatorProto } from './generated/coordinator.js';
import type { ProtoGrpcType as WorkerProto } from './generated/worker.js';

/** The .proto files are read at run time from the package root, by the sources and by the compiled build in dist/ alike. */
export const PROTO_DIR = join(PACKAGE_ROOT, 'proto');
export const PROTO_FILES = ['jukebox/v1/coordinator.proto', 'jukebox/v1/worker.proto'];

const LOADER_OPTIONS: protoLoader.Options = {
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_DIR],
};

let cached: (CoordinatorProto & WorkerProto) | undefined;

export function loadPackageDefinition(): protoLoader.PackageDefinition {
  return protoLoader.loadSync(PROTO_FILES, LOADER_OPTIONS);
}

export function jukeboxProto(): CoordinatorProto['jukebox']['v1'] & WorkerProto['jukebox']['v1'] {
  cached ??= grpc.loadPackageDefinition(loadPackageDefinition()) as unknown as CoordinatorProto & WorkerProto;
  return cached.jukebox.v1;
}

/** gRPC messages may be up to 64 MiB: token arrays of long songs are large. */
export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

export const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
  'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
  // Keep idle worker streams alive through load balancers and conntrack.
  'grpc.keepalive_time_ms': 30_000,
  // A peer that does not answer a ping within 10 s is gone.
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.keepalive_permit_without_calls': 1,
};

export type * from './generated/jukebox/v1/Job.js';
