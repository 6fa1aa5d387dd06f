// Original file: proto/jukebox/v1/coordinator.proto


export interface ListModelsRequest {
  'model'?: (string);
  'search'?: (string);
}

export interface ListModelsRequest__Output {
  'model': (string);
  'search': (string);
}
