// Original file: proto/jukebox/v1/coordinator.proto


export interface ModelLevel {
  'level'?: (number);
  'hopLength'?: (number);
  'nCtx'?: (number);
  'windowSeconds'?: (number | string);
  'lyrics'?: (boolean);
}

export interface ModelLevel__Output {
  'level': (number);
  'hopLength': (number);
  'nCtx': (number);
  'windowSeconds': (number);
  'lyrics': (boolean);
}
