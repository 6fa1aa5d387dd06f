// Original file: proto/jukebox/v1/coordinator.proto

import type { Long } from '@grpc/proto-loader';

export interface WatchJobRequest {
  'jobId'?: (string);
  'afterSequence'?: (number | string | Long);
}

export interface WatchJobRequest__Output {
  'jobId': (string);
  'afterSequence': (number);
}
