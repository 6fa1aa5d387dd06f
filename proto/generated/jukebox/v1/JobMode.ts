// Original file: proto/jukebox/v1/coordinator.proto

export const JobMode = {
  JOB_MODE_UNSPECIFIED: 'JOB_MODE_UNSPECIFIED',
  JOB_MODE_EXACT: 'JOB_MODE_EXACT',
  JOB_MODE_SHARDED: 'JOB_MODE_SHARDED',
} as const;

export type JobMode =
  | 'JOB_MODE_UNSPECIFIED'
  | 0
  | 'JOB_MODE_EXACT'
  | 1
  | 'JOB_MODE_SHARDED'
  | 2

export type JobMode__Output = typeof JobMode[keyof typeof JobMode]
