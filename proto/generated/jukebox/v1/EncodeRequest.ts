// Original file: proto/jukebox/v1/worker.proto


export interface EncodeRequest {
  'modelHash'?: (string);
  'level'?: (number);
  'audio'?: (Buffer | Uint8Array | string)[];
}

export interface EncodeRequest__Output {
  'modelHash': (string);
  'level': (number);
  'audio': (Buffer)[];
}
