// Original file: proto/jukebox/v1/coordinator.proto

import type { LevelTokens as _jukebox_v1_LevelTokens, LevelTokens__Output as _jukebox_v1_LevelTokens__Output } from '../../jukebox/v1/LevelTokens';

export interface GivenTokens {
  'levels'?: (_jukebox_v1_LevelTokens)[];
}

export interface GivenTokens__Output {
  'levels': (_jukebox_v1_LevelTokens__Output)[];
}
