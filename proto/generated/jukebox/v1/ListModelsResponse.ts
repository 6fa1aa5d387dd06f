// Original file: proto/jukebox/v1/coordinator.proto

import type { ModelInfo as _jukebox_v1_ModelInfo, ModelInfo__Output as _jukebox_v1_ModelInfo__Output } from '../../jukebox/v1/ModelInfo';

export interface ListModelsResponse {
  'models'?: (_jukebox_v1_ModelInfo)[];
}

export interface ListModelsResponse__Output {
  'models': (_jukebox_v1_ModelInfo__Output)[];
}
