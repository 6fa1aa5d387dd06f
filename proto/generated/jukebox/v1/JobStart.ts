// Original file: proto/jukebox/v1/coordinator.proto

import type { StartMode as _jukebox_v1_StartMode, StartMode__Output as _jukebox_v1_StartMode__Output } from '../../jukebox/v1/StartMode';

export interface JobStart {
  'mode'?: (_jukebox_v1_StartMode);
  'givenSeconds'?: (number | string);
  'givenTokens'?: (number)[];
}

export interface JobStart__Output {
  'mode': (_jukebox_v1_StartMode__Output);
  'givenSeconds': (number);
  'givenTokens': (number)[];
}
