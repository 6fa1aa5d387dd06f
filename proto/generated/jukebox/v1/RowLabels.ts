// Original file: proto/jukebox/v1/coordinator.proto


export interface RowLabels {
  'artist'?: (string);
  'genres'?: (string)[];
  'lyrics'?: (string);
}

export interface RowLabels__Output {
  'artist': (string);
  'genres': (string)[];
  'lyrics': (string);
}
