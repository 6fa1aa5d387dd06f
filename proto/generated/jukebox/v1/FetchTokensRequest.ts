// Original file: proto/jukebox/v1/coordinator.proto


export interface FetchTokensRequest {
  'jobId'?: (string);
}

export interface FetchTokensRequest__Output {
  'jobId': (string);
}
