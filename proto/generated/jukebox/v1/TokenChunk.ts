// Original file: proto/jukebox/v1/coordinator.proto

import type { Long } from '@grpc/proto-loader';

export interface TokenChunk {
  'level'?: (number);
  'row'?: (number);
  'offset'?: (number | string | Long);
  'tokens'?: (number)[];
  'totalTokens'?: (number | string | Long);
}

export interface TokenChunk__Output {
  'level': (number);
  'row': (number);
  'offset': (number);
  'tokens': (number)[];
  'totalTokens': (number);
}
