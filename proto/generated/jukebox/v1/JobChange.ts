// Original file: proto/jukebox/v1/coordinator.proto

import type { JobState as _jukebox_v1_JobState, JobState__Output as _jukebox_v1_JobState__Output } from '../../jukebox/v1/JobState';
import type { Long } from '@grpc/proto-loader';

export interface JobChange {
  'sequence'?: (number | string | Long);
  'atMs'?: (number | string | Long);
  'kind'?: (string);
  'state'?: (_jukebox_v1_JobState);
  'task'?: (string);
  'error'?: (string);
}

export interface JobChange__Output {
  'sequence': (number);
  'atMs': (number);
  'kind': (string);
  'state': (_jukebox_v1_JobState__Output);
  'task': (string);
  'error': (string);
}
