// Original file: proto/jukebox/v1/coordinator.proto


export interface WatchJobRequest {
  'jobId'?: (string);
}

export interface WatchJobRequest__Output {
  'jobId': (string);
}
