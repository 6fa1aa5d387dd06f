// Original file: proto/jukebox/v1/coordinator.proto


export interface CancelJobRequest {
  'jobId'?: (string);
}

export interface CancelJobRequest__Output {
  'jobId': (string);
}
