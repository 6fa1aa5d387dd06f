// Original file: proto/jukebox/v1/coordinator.proto

import type { Job as _jukebox_v1_Job, Job__Output as _jukebox_v1_Job__Output } from '../../jukebox/v1/Job';
import type { JobChange as _jukebox_v1_JobChange, JobChange__Output as _jukebox_v1_JobChange__Output } from '../../jukebox/v1/JobChange';
import type { Long } from '@grpc/proto-loader';

export interface JobEvent {
  'job'?: (_jukebox_v1_Job | null);
  'sequence'?: (number | string | Long);
  'changes'?: (_jukebox_v1_JobChange)[];
}

export interface JobEvent__Output {
  'job': (_jukebox_v1_Job__Output | null);
  'sequence': (number);
  'changes': (_jukebox_v1_JobChange__Output)[];
}
