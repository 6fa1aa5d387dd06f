// Original file: proto/jukebox/v1/worker.proto

import type { TokenRow as _jukebox_v1_TokenRow, TokenRow__Output as _jukebox_v1_TokenRow__Output } from '../../jukebox/v1/TokenRow';

export interface EncodeResponse {
  'rows'?: (_jukebox_v1_TokenRow)[];
  'seconds'?: (number | string);
}

export interface EncodeResponse__Output {
  'rows': (_jukebox_v1_TokenRow__Output)[];
  'seconds': (number);
}
