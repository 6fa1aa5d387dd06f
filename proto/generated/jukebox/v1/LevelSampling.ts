// Original file: proto/jukebox/v1/common.proto


export interface LevelSampling {
  'level'?: (number);
  'temperature'?: (number | string);
  'topK'?: (number);
  'topP'?: (number | string);
  '_temperature'?: "temperature";
  '_topK'?: "topK";
  '_topP'?: "topP";
}

export interface LevelSampling__Output {
  'level': (number);
  'temperature'?: (number);
  'topK'?: (number);
  'topP'?: (number);
  '_temperature'?: "temperature";
  '_topK'?: "topK";
  '_topP'?: "topP";
}
