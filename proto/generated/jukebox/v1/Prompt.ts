// Original file: proto/jukebox/v1/coordinator.proto


export interface Prompt {
  'wav'?: (Buffer | Uint8Array | string);
  'seconds'?: (number | string);
}

export interface Prompt__Output {
  'wav': (Buffer);
  'seconds': (number);
}
