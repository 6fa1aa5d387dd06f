// Original file: proto/jukebox/v1/coordinator.proto

import type { Job as _jukebox_v1_Job, Job__Output as _jukebox_v1_Job__Output } from '../../jukebox/v1/Job';

export interface JobEvent {
  'job'?: (_jukebox_v1_Job | null);
}

export interface JobEvent__Output {
  'job': (_jukebox_v1_Job__Output | null);
}
