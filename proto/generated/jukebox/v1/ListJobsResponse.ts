// Original file: proto/jukebox/v1/coordinator.proto

import type { Job as _jukebox_v1_Job, Job__Output as _jukebox_v1_Job__Output } from '../../jukebox/v1/Job';

export interface ListJobsResponse {
  'jobs'?: (_jukebox_v1_Job)[];
  'nextPageToken'?: (string);
  'totalSize'?: (number);
}

export interface ListJobsResponse__Output {
  'jobs': (_jukebox_v1_Job__Output)[];
  'nextPageToken': (string);
  'totalSize': (number);
}
