// Original file: proto/jukebox/v1/coordinator.proto

import type { JobState as _jukebox_v1_JobState, JobState__Output as _jukebox_v1_JobState__Output } from '../../jukebox/v1/JobState';

export interface ListJobsRequest {
  'pageSize'?: (number);
  'pageToken'?: (string);
  'states'?: (_jukebox_v1_JobState)[];
}

export interface ListJobsRequest__Output {
  'pageSize': (number);
  'pageToken': (string);
  'states': (_jukebox_v1_JobState__Output)[];
}
