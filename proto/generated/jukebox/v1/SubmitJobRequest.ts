// Original file: proto/jukebox/v1/coordinator.proto

import type { LevelSampling as _jukebox_v1_LevelSampling, LevelSampling__Output as _jukebox_v1_LevelSampling__Output } from '../../jukebox/v1/LevelSampling';
import type { JobMode as _jukebox_v1_JobMode, JobMode__Output as _jukebox_v1_JobMode__Output } from '../../jukebox/v1/JobMode';
import type { RowLabels as _jukebox_v1_RowLabels, RowLabels__Output as _jukebox_v1_RowLabels__Output } from '../../jukebox/v1/RowLabels';
import type { Prompt as _jukebox_v1_Prompt, Prompt__Output as _jukebox_v1_Prompt__Output } from '../../jukebox/v1/Prompt';
import type { GivenTokens as _jukebox_v1_GivenTokens, GivenTokens__Output as _jukebox_v1_GivenTokens__Output } from '../../jukebox/v1/GivenTokens';

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
  'prompt'?: (_jukebox_v1_Prompt | null);
  'continueFrom'?: (_jukebox_v1_GivenTokens | null);
  'upsample'?: (_jukebox_v1_GivenTokens | null);
  '_segmentOverlap'?: "segmentOverlap";
  'start'?: "prompt"|"continueFrom"|"upsample";
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
  'prompt'?: (_jukebox_v1_Prompt__Output | null);
  'continueFrom'?: (_jukebox_v1_GivenTokens__Output | null);
  'upsample'?: (_jukebox_v1_GivenTokens__Output | null);
  '_segmentOverlap'?: "segmentOverlap";
  'start'?: "prompt"|"continueFrom"|"upsample";
}
