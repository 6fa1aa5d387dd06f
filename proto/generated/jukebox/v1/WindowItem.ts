// Original file: proto/jukebox/v1/worker.proto

import type { TokenRow as _jukebox_v1_TokenRow, TokenRow__Output as _jukebox_v1_TokenRow__Output } from '../../jukebox/v1/TokenRow';

export interface WindowItem {
  'jobId'?: (string);
  'windowIndex'?: (number);
  'start'?: (number);
  'context'?: (_jukebox_v1_TokenRow)[];
  'upper'?: (_jukebox_v1_TokenRow)[];
  'labels'?: (_jukebox_v1_TokenRow)[];
  'seed'?: (string);
  'temperature'?: (number | string);
  'topK'?: (number);
  'topP'?: (number | string);
  'sampleIds'?: (number)[];
}

export interface WindowItem__Output {
  'jobId': (string);
  'windowIndex': (number);
  'start': (number);
  'context': (_jukebox_v1_TokenRow__Output)[];
  'upper': (_jukebox_v1_TokenRow__Output)[];
  'labels': (_jukebox_v1_TokenRow__Output)[];
  'seed': (string);
  'temperature': (number);
  'topK': (number);
  'topP': (number);
  'sampleIds': (number)[];
}
