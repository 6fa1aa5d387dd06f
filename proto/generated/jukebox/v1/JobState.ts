// Original file: proto/jukebox/v1/coordinator.proto

export const JobState = {
  JOB_STATE_UNSPECIFIED: 'JOB_STATE_UNSPECIFIED',
  JOB_STATE_QUEUED: 'JOB_STATE_QUEUED',
  JOB_STATE_RUNNING: 'JOB_STATE_RUNNING',
  JOB_STATE_DECODING: 'JOB_STATE_DECODING',
  JOB_STATE_SUCCEEDED: 'JOB_STATE_SUCCEEDED',
  JOB_STATE_FAILED: 'JOB_STATE_FAILED',
  JOB_STATE_CANCELLED: 'JOB_STATE_CANCELLED',
} as const;

export type JobState =
  | 'JOB_STATE_UNSPECIFIED'
  | 0
  | 'JOB_STATE_QUEUED'
  | 1
  | 'JOB_STATE_RUNNING'
  | 2
  | 'JOB_STATE_DECODING'
  | 3
  | 'JOB_STATE_SUCCEEDED'
  | 4
  | 'JOB_STATE_FAILED'
  | 5
  | 'JOB_STATE_CANCELLED'
  | 6

export type JobState__Output = typeof JobState[keyof typeof JobState]
