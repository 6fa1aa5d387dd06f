// Original file: proto/jukebox/v1/coordinator.proto

import type { JobState as _jukebox_v1_JobState, JobState__Output as _jukebox_v1_JobState__Output } from '../../jukebox/v1/JobState';
import type { LevelProgress as _jukebox_v1_LevelProgress, LevelProgress__Output as _jukebox_v1_LevelProgress__Output } from '../../jukebox/v1/LevelProgress';
import type { JobMode as _jukebox_v1_JobMode, JobMode__Output as _jukebox_v1_JobMode__Output } from '../../jukebox/v1/JobMode';
import type { SubmitJobRequest as _jukebox_v1_SubmitJobRequest, SubmitJobRequest__Output as _jukebox_v1_SubmitJobRequest__Output } from '../../jukebox/v1/SubmitJobRequest';
import type { JobError as _jukebox_v1_JobError, JobError__Output as _jukebox_v1_JobError__Output } from '../../jukebox/v1/JobError';
import type { JobStart as _jukebox_v1_JobStart, JobStart__Output as _jukebox_v1_JobStart__Output } from '../../jukebox/v1/JobStart';
import type { Long } from '@grpc/proto-loader';

export interface Job {
  'jobId'?: (string);
  'state'?: (_jukebox_v1_JobState);
  'model'?: (string);
  'durationSeconds'?: (number | string);
  'samples'?: (number);
  'seed'?: (string);
  'sampleRate'?: (number);
  'totalSamples'?: (number | string | Long);
  'levels'?: (_jukebox_v1_LevelProgress)[];
  'error'?: (string);
  'createdAtMs'?: (number | string | Long);
  'finishedAtMs'?: (number | string | Long);
  'decodeChunksDone'?: (number);
  'decodeChunksTotal'?: (number);
  'mode'?: (_jukebox_v1_JobMode);
  'segments'?: (number)[];
  'segmentOverlap'?: (number | string);
  'priority'?: (number);
  'queuePosition'?: (number);
  'etaSeconds'?: (number | string);
  'startedAtMs'?: (number | string | Long);
  'request'?: (_jukebox_v1_SubmitJobRequest | null);
  'progress'?: (number | string);
  'failure'?: (_jukebox_v1_JobError | null);
  'decodedSeconds'?: (number | string);
  'start'?: (_jukebox_v1_JobStart | null);
  '_etaSeconds'?: "etaSeconds";
}

export interface Job__Output {
  'jobId': (string);
  'state': (_jukebox_v1_JobState__Output);
  'model': (string);
  'durationSeconds': (number);
  'samples': (number);
  'seed': (string);
  'sampleRate': (number);
  'totalSamples': (number);
  'levels': (_jukebox_v1_LevelProgress__Output)[];
  'error': (string);
  'createdAtMs': (number);
  'finishedAtMs': (number);
  'decodeChunksDone': (number);
  'decodeChunksTotal': (number);
  'mode': (_jukebox_v1_JobMode__Output);
  'segments': (number)[];
  'segmentOverlap': (number);
  'priority': (number);
  'queuePosition': (number);
  'etaSeconds'?: (number);
  'startedAtMs': (number);
  'request': (_jukebox_v1_SubmitJobRequest__Output | null);
  'progress': (number);
  'failure': (_jukebox_v1_JobError__Output | null);
  'decodedSeconds': (number);
  'start': (_jukebox_v1_JobStart__Output | null);
  '_etaSeconds'?: "etaSeconds";
}
