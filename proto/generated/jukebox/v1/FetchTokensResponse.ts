// Original file: proto/jukebox/v1/coordinator.proto

import type { LevelTokens as _jukebox_v1_LevelTokens, LevelTokens__Output as _jukebox_v1_LevelTokens__Output } from '../../jukebox/v1/LevelTokens';

export interface FetchTokensResponse {
  'levels'?: (_jukebox_v1_LevelTokens)[];
}

export interface FetchTokensResponse__Output {
  'levels': (_jukebox_v1_LevelTokens__Output)[];
}
