// Original file: proto/jukebox/v1/worker.proto


export interface DecodeResponse {
  'audio'?: (Buffer | Uint8Array | string)[];
  'seconds'?: (number | string);
}

export interface DecodeResponse__Output {
  'audio': (Buffer)[];
  'seconds': (number);
}
