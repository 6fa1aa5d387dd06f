// Original file: proto/jukebox/v1/worker.proto


export interface DescribeResponse {
  'workerId'?: (string);
  'modelId'?: (string);
  'modelHash'?: (string);
  'levels'?: (number)[];
  'capacity'?: (number);
  'executionProvider'?: (string);
  'decodes'?: (boolean);
  'maxBatchRows'?: (number);
  'batchBucket'?: (number);
  'precision'?: (string);
  'encodes'?: (boolean);
}

export interface DescribeResponse__Output {
  'workerId': (string);
  'modelId': (string);
  'modelHash': (string);
  'levels': (number)[];
  'capacity': (number);
  'executionProvider': (string);
  'decodes': (boolean);
  'maxBatchRows': (number);
  'batchBucket': (number);
  'precision': (string);
  'encodes': (boolean);
}
