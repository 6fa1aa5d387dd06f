// Original file: proto/jukebox/v1/coordinator.proto

import type { ModelLevel as _jukebox_v1_ModelLevel, ModelLevel__Output as _jukebox_v1_ModelLevel__Output } from '../../jukebox/v1/ModelLevel';
import type { JobMode as _jukebox_v1_JobMode, JobMode__Output as _jukebox_v1_JobMode__Output } from '../../jukebox/v1/JobMode';

export interface ModelInfo {
  'model'?: (string);
  'hash'?: (string);
  'sampleRate'?: (number);
  'labelsVersion'?: (string);
  'artists'?: (string)[];
  'genres'?: (string)[];
  'artistsTotal'?: (number);
  'genresTotal'?: (number);
  'maxGenreWords'?: (number);
  'lyrics'?: (boolean);
  'lyricsMaxChars'?: (number);
  'minDurationSeconds'?: (number | string);
  'maxDurationSeconds'?: (number | string);
  'levels'?: (_jukebox_v1_ModelLevel)[];
  'modes'?: (_jukebox_v1_JobMode)[];
  'ready'?: (boolean);
}

export interface ModelInfo__Output {
  'model': (string);
  'hash': (string);
  'sampleRate': (number);
  'labelsVersion': (string);
  'artists': (string)[];
  'genres': (string)[];
  'artistsTotal': (number);
  'genresTotal': (number);
  'maxGenreWords': (number);
  'lyrics': (boolean);
  'lyricsMaxChars': (number);
  'minDurationSeconds': (number);
  'maxDurationSeconds': (number);
  'levels': (_jukebox_v1_ModelLevel__Output)[];
  'modes': (_jukebox_v1_JobMode__Output)[];
  'ready': (boolean);
}
