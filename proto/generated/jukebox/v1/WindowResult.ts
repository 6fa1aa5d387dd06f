// Original file: proto/jukebox/v1/worker.proto

import type { TokenRow as _jukebox_v1_TokenRow, TokenRow__Output as _jukebox_v1_TokenRow__Output } from '../../jukebox/v1/TokenRow';

export interface WindowResult {
  'rows'?: (_jukebox_v1_TokenRow)[];
  'seconds'?: (number | string);
  'prefillSeconds'?: (number | string);
}

export interface WindowResult__Output {
  'rows': (_jukebox_v1_TokenRow__Output)[];
  'seconds': (number);
  'prefillSeconds': (number);
}
