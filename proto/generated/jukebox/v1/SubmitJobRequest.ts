// Original file: proto/jukebox/v1/coordinator.proto

import type { LevelSampling as _jukebox_v1_LevelSampling, LevelSampling__Output as _jukebox_v1_LevelSampling__Output } from '../../jukebox/v1/LevelSampling';

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
}
