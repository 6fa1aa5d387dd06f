// Original file: proto/jukebox/v1/coordinator.proto

import type { JobErrorCode as _jukebox_v1_JobErrorCode, JobErrorCode__Output as _jukebox_v1_JobErrorCode__Output } from '../../jukebox/v1/JobErrorCode';

export interface JobError {
  'code'?: (_jukebox_v1_JobErrorCode);
  'message'?: (string);
  'task'?: (string);
}

export interface JobError__Output {
  'code': (_jukebox_v1_JobErrorCode__Output);
  'message': (string);
  'task': (string);
}
