// Original file: proto/jukebox/v1/coordinator.proto

import type { Long } from '@grpc/proto-loader';

export interface LevelProgress {
  'level'?: (number);
  'windowsDone'?: (number);
  'windowsTotal'?: (number);
  'tokensDone'?: (number | string | Long);
  'tokensTotal'?: (number | string | Long);
  'tokensPerSecond'?: (number | string);
  'progress'?: (number | string);
}

export interface LevelProgress__Output {
  'level': (number);
  'windowsDone': (number);
  'windowsTotal': (number);
  'tokensDone': (number);
  'tokensTotal': (number);
  'tokensPerSecond': (number);
  'progress': (number);
}
