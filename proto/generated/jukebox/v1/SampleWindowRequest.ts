// Original file: proto/jukebox/v1/worker.proto

import type { WindowItem as _jukebox_v1_WindowItem, WindowItem__Output as _jukebox_v1_WindowItem__Output } from '../../jukebox/v1/WindowItem';

export interface SampleWindowRequest {
  'modelHash'?: (string);
  'level'?: (number);
  'newTokens'?: (number);
  'windows'?: (_jukebox_v1_WindowItem)[];
}

export interface SampleWindowRequest__Output {
  'modelHash': (string);
  'level': (number);
  'newTokens': (number);
  'windows': (_jukebox_v1_WindowItem__Output)[];
}
