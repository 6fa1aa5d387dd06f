// Original file: proto/jukebox/v1/coordinator.proto

import type { TokenRow as _jukebox_v1_TokenRow, TokenRow__Output as _jukebox_v1_TokenRow__Output } from '../../jukebox/v1/TokenRow';

export interface LevelTokens {
  'level'?: (number);
  'rows'?: (_jukebox_v1_TokenRow)[];
}

export interface LevelTokens__Output {
  'level': (number);
  'rows': (_jukebox_v1_TokenRow__Output)[];
}
