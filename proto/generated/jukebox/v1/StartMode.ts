// Original file: proto/jukebox/v1/coordinator.proto

export const StartMode = {
  START_MODE_UNSPECIFIED: 'START_MODE_UNSPECIFIED',
  START_MODE_ANCESTRAL: 'START_MODE_ANCESTRAL',
  START_MODE_PRIMED: 'START_MODE_PRIMED',
  START_MODE_CONTINUE: 'START_MODE_CONTINUE',
  START_MODE_UPSAMPLE: 'START_MODE_UPSAMPLE',
} as const;

export type StartMode =
  | 'START_MODE_UNSPECIFIED'
  | 0
  | 'START_MODE_ANCESTRAL'
  | 1
  | 'START_MODE_PRIMED'
  | 2
  | 'START_MODE_CONTINUE'
  | 3
  | 'START_MODE_UPSAMPLE'
  | 4

export type StartMode__Output = typeof StartMode[keyof typeof StartMode]
