// Original file: proto/jukebox/v1/worker.proto

import type { TokenRow as _jukebox_v1_TokenRow, TokenRow__Output as _jukebox_v1_TokenRow__Output } from '../../jukebox/v1/TokenRow';

export interface DecodeRequest {
  'modelHash'?: (string);
  'level'?: (number);
  'rows'?: (_jukebox_v1_TokenRow)[];
  'trimStartTokens'?: (number);
  'trimEndTokens'?: (number);
}

export interface DecodeRequest__Output {
  'modelHash': (string);
  'level': (number);
  'rows': (_jukebox_v1_TokenRow__Output)[];
  'trimStartTokens': (number);
  'trimEndTokens': (number);
}
