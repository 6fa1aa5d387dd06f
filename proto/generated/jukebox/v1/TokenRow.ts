// Original file: proto/jukebox/v1/common.proto


export interface TokenRow {
  'tokens'?: (number)[];
}

export interface TokenRow__Output {
  'tokens': (number)[];
}
