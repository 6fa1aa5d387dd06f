// Original file: proto/jukebox/v1/coordinator.proto

import type { LevelSampling as _jukebox_v1_LevelSampling, LevelSampling__Output as _jukebox_v1_LevelSampling__Output } from '../../jukebox/v1/LevelSampling';
import type { JobMode as _jukebox_v1_JobMode, JobMode__Output as _jukebox_v1_JobMode__Output } from '../../jukebox/v1/JobMode';
import type { RowLabels as _jukebox_v1_RowLabels, RowLabels__Output as _jukebox_v1_RowLabels__Output } from '../../jukebox/v1/RowLabels';

export interface SubmitJobRequest {
  'model'?: (string);
  'artist'?: (string);
  'genres'?: (string)[];
  'lyrics'?: (string);
  'durationSeconds'?: (number | string);
  'samples'?: (number);
  'seed'?: (string);
  'sampling'?: (_jukebox_v1_LevelSampling)[];
  'wavFormat'?: (string);
  'mode'?: (_jukebox_v1_JobMode);
  'segments'?: (number)[];
  'segmentOverlap'?: (number | string);
  'priority'?: (number);
  'rows'?: (_jukebox_v1_RowLabels)[];
  '_segmentOverlap'?: "segmentOverlap";
}

export interface SubmitJobRequest__Output {
  'model': (string);
  'artist': (string);
  'genres': (string)[];
  'lyrics': (string);
  'durationSeconds': (number);
  'samples': (number);
  'seed': (string);
  'sampling': (_jukebox_v1_LevelSampling__Output)[];
  'wavFormat': (string);
  'mode': (_jukebox_v1_JobMode__Output);
  'segments': (number)[];
  'segmentOverlap'?: (number);
  'priority': (number);
  'rows': (_jukebox_v1_RowLabels__Output)[];
  '_segmentOverlap'?: "segmentOverlap";
}
