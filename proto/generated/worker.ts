import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { DecodeRequest as _jukebox_v1_DecodeRequest, DecodeRequest__Output as _jukebox_v1_DecodeRequest__Output } from './jukebox/v1/DecodeRequest';
import type { DecodeResponse as _jukebox_v1_DecodeResponse, DecodeResponse__Output as _jukebox_v1_DecodeResponse__Output } from './jukebox/v1/DecodeResponse';
import type { DescribeRequest as _jukebox_v1_DescribeRequest, DescribeRequest__Output as _jukebox_v1_DescribeRequest__Output } from './jukebox/v1/DescribeRequest';
import type { DescribeResponse as _jukebox_v1_DescribeResponse, DescribeResponse__Output as _jukebox_v1_DescribeResponse__Output } from './jukebox/v1/DescribeResponse';
import type { EncodeRequest as _jukebox_v1_EncodeRequest, EncodeRequest__Output as _jukebox_v1_EncodeRequest__Output } from './jukebox/v1/EncodeRequest';
import type { EncodeResponse as _jukebox_v1_EncodeResponse, EncodeResponse__Output as _jukebox_v1_EncodeResponse__Output } from './jukebox/v1/EncodeResponse';
import type { LevelSampling as _jukebox_v1_LevelSampling, LevelSampling__Output as _jukebox_v1_LevelSampling__Output } from './jukebox/v1/LevelSampling';
import type { SampleWindowRequest as _jukebox_v1_SampleWindowRequest, SampleWindowRequest__Output as _jukebox_v1_SampleWindowRequest__Output } from './jukebox/v1/SampleWindowRequest';
import type { SampleWindowResponse as _jukebox_v1_SampleWindowResponse, SampleWindowResponse__Output as _jukebox_v1_SampleWindowResponse__Output } from './jukebox/v1/SampleWindowResponse';
import type { TokenProgress as _jukebox_v1_TokenProgress, TokenProgress__Output as _jukebox_v1_TokenProgress__Output } from './jukebox/v1/TokenProgress';
import type { TokenRow as _jukebox_v1_TokenRow, TokenRow__Output as _jukebox_v1_TokenRow__Output } from './jukebox/v1/TokenRow';
import type { WindowItem as _jukebox_v1_WindowItem, WindowItem__Output as _jukebox_v1_WindowItem__Output } from './jukebox/v1/WindowItem';
import type { WindowResult as _jukebox_v1_WindowResult, WindowResult__Output as _jukebox_v1_WindowResult__Output } from './jukebox/v1/WindowResult';
import type { WorkerClient as _jukebox_v1_WorkerClient, WorkerDefinition as _jukebox_v1_WorkerDefinition } from './jukebox/v1/Worker';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  jukebox: {
    v1: {
      DecodeRequest: MessageTypeDefinition<_jukebox_v1_DecodeRequest, _jukebox_v1_DecodeRequest__Output>
      DecodeResponse: MessageTypeDefinition<_jukebox_v1_DecodeResponse, _jukebox_v1_DecodeResponse__Output>
      DescribeRequest: MessageTypeDefinition<_jukebox_v1_DescribeRequest, _jukebox_v1_DescribeRequest__Output>
      DescribeResponse: MessageTypeDefinition<_jukebox_v1_DescribeResponse, _jukebox_v1_DescribeResponse__Output>
      EncodeRequest: MessageTypeDefinition<_jukebox_v1_EncodeRequest, _jukebox_v1_EncodeRequest__Output>
      EncodeResponse: MessageTypeDefinition<_jukebox_v1_EncodeResponse, _jukebox_v1_EncodeResponse__Output>
      LevelSampling: MessageTypeDefinition<_jukebox_v1_LevelSampling, _jukebox_v1_LevelSampling__Output>
      SampleWindowRequest: MessageTypeDefinition<_jukebox_v1_SampleWindowRequest, _jukebox_v1_SampleWindowRequest__Output>
      SampleWindowResponse: MessageTypeDefinition<_jukebox_v1_SampleWindowResponse, _jukebox_v1_SampleWindowResponse__Output>
      TokenProgress: MessageTypeDefinition<_jukebox_v1_TokenProgress, _jukebox_v1_TokenProgress__Output>
      TokenRow: MessageTypeDefinition<_jukebox_v1_TokenRow, _jukebox_v1_TokenRow__Output>
      WindowItem: MessageTypeDefinition<_jukebox_v1_WindowItem, _jukebox_v1_WindowItem__Output>
      WindowResult: MessageTypeDefinition<_jukebox_v1_WindowResult, _jukebox_v1_WindowResult__Output>
      Worker: SubtypeConstructor<typeof grpc.Client, _jukebox_v1_WorkerClient> & { service: _jukebox_v1_WorkerDefinition }
    }
  }
}

