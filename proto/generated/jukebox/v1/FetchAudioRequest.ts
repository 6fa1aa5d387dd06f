// Original file: proto/jukebox/v1/coordinator.proto


export interface FetchAudioRequest {
  'jobId'?: (string);
  'sample'?: (number);
  'preview'?: (boolean);
}

export interface FetchAudioRequest__Output {
  'jobId': (string);
  'sample': (number);
  'preview': (boolean);
}
