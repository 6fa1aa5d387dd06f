// Original file: proto/jukebox/v1/worker.proto

import type { TokenRow as _jukebox_v1_TokenRow, TokenRow__Output as _jukebox_v1_TokenRow__Output } from '../../jukebox/v1/TokenRow';

export interface TokenProgress {
  'tokensDone'?: (number);
  'rows'?: (_jukebox_v1_TokenRow)[];
}

export interface TokenProgress__Output {
  'tokensDone': (number);
  'rows': (_jukebox_v1_TokenRow__Output)[];
}
