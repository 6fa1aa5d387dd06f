// Original file: proto/jukebox/v1/coordinator.proto

import type { Long } from '@grpc/proto-loader';

export interface AudioChunk {
  'data'?: (Buffer | Uint8Array | string);
  'offset'?: (number | string | Long);
  'totalBytes'?: (number | string | Long);
}

export interface AudioChunk__Output {
  'data': (Buffer);
  'offset': (number);
  'totalBytes': (number);
}
