// Original file: proto/jukebox/v1/worker.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { DecodeRequest as _jukebox_v1_DecodeRequest, DecodeRequest__Output as _jukebox_v1_DecodeRequest__Output } from '../../jukebox/v1/DecodeRequest';
import type { DecodeResponse as _jukebox_v1_DecodeResponse, DecodeResponse__Output as _jukebox_v1_DecodeResponse__Output } from '../../jukebox/v1/DecodeResponse';
import type { DescribeRequest as _jukebox_v1_DescribeRequest, DescribeRequest__Output as _jukebox_v1_DescribeRequest__Output } from '../../jukebox/v1/DescribeRequest';
import type { DescribeResponse as _jukebox_v1_DescribeResponse, DescribeResponse__Output as _jukebox_v1_DescribeResponse__Output } from '../../jukebox/v1/DescribeResponse';
import type { EncodeRequest as _jukebox_v1_EncodeRequest, EncodeRequest__Output as _jukebox_v1_EncodeRequest__Output } from '../../jukebox/v1/EncodeRequest';
import type { EncodeResponse as _jukebox_v1_EncodeResponse, EncodeResponse__Output as _jukebox_v1_EncodeResponse__Output } from '../../jukebox/v1/EncodeResponse';
import type { SampleWindowRequest as _jukebox_v1_SampleWindowRequest, SampleWindowRequest__Output as _jukebox_v1_SampleWindowRequest__Output } from '../../jukebox/v1/SampleWindowRequest';
import type { SampleWindowResponse as _jukebox_v1_SampleWindowResponse, SampleWindowResponse__Output as _jukebox_v1_SampleWindowResponse__Output } from '../../jukebox/v1/SampleWindowResponse';

export interface WorkerClient extends grpc.Client {
  Decode(argument: _jukebox_v1_DecodeRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_jukebox_v1_DecodeResponse__Output>): grpc.ClientUnaryCall;
  Decode(argument: _jukebox_v1_DecodeRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_jukebox_v1_DecodeResponse__Output>): grpc.ClientUnaryCall;
  Decode(argument: _jukebox_v1_DecodeRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_jukebox_v1_DecodeResponse__Output>): grpc.ClientUnaryCall;
  Decode(argument: _jukebox_v1_DecodeRequest, callback: grpc.requestCallback<_jukebox_v1_DecodeResponse__Output>): grpc.ClientUnaryCall;
  decode(argument: _jukebox_v1_DecodeRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_jukebox_v1_DecodeResponse__Output>): grpc.ClientUnaryCall;
  decode(argument: _jukebox_v1_DecodeRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_jukebox_v1_DecodeResponse__Output>): grpc.ClientUnaryCall;
  decode(argument: _jukebox_v1_DecodeRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_jukebox_v1_DecodeResponse__Output>): grpc.ClientUnaryCall;
  decode(argument: _jukebox_v1_DecodeRequest, callback: grpc.requestCallback<_jukebox_v1_DecodeResponse__Output>): grpc.ClientUnaryCall;
  
  Describe(argument: _jukebox_v1_DescribeRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_jukebox_v1_DescribeResponse__Output>): grpc.ClientUnaryCall;
  Describe(argument: _jukebox_v1_DescribeRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_jukebox_v1_DescribeResponse__Output>): grpc.ClientUnaryCall;
  Describe(argument: _jukebox_v1_DescribeRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_jukebox_v1_DescribeResponse__Output>): grpc.ClientUnaryCall;
  Describe(argument: _jukebox_v1_DescribeRequest, callback: grpc.requestCallback<_jukebox_v1_DescribeResponse__Output>): grpc.ClientUnaryCall;
  describe(argument: _jukebox_v1_DescribeRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_jukebox_v1_DescribeResponse__Output>): grpc.ClientUnaryCall;
  describe(argument: _jukebox_v1_DescribeRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_jukebox_v1_DescribeResponse__Output>): grpc.ClientUnaryCall;
  describe(argument: _jukebox_v1_DescribeRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_jukebox_v1_DescribeResponse__Output>): grpc.ClientUnaryCall;
  describe(argument: _jukebox_v1_DescribeRequest, callback: grpc.requestCallback<_jukebox_v1_DescribeResponse__Output>): grpc.ClientUnaryCall;
  
  Encode(argument: _jukebox_v1_EncodeRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_jukebox_v1_EncodeResponse__Output>): grpc.ClientUnaryCall;
  Encode(argument: _jukebox_v1_EncodeRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_jukebox_v1_EncodeResponse__Output>): grpc.ClientUnaryCall;
  Encode(argument: _jukebox_v1_EncodeRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_jukebox_v1_EncodeResponse__Output>): grpc.ClientUnaryCall;
  Encode(argument: _jukebox_v1_EncodeRequest, callback: grpc.requestCallback<_jukebox_v1_EncodeResponse__Output>): grpc.ClientUnaryCall;
  encode(argument: _jukebox_v1_EncodeRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_jukebox_v1_EncodeResponse__Output>): grpc.ClientUnaryCall;
  encode(argument: _jukebox_v1_EncodeRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_jukebox_v1_EncodeResponse__Output>): grpc.ClientUnaryCall;
  encode(argument: _jukebox_v1_EncodeRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_jukebox_v1_EncodeResponse__Output>): grpc.ClientUnaryCall;
  encode(argument: _jukebox_v1_EncodeRequest, callback: grpc.requestCallback<_jukebox_v1_EncodeResponse__Output>): grpc.ClientUnaryCall;
  
  SampleWindow(argument: _jukebox_v1_SampleWindowRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_jukebox_v1_SampleWindowResponse__Output>;
  SampleWindow(argument: _jukebox_v1_SampleWindowRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_jukebox_v1_SampleWindowResponse__Output>;
  sampleWindow(argument: _jukebox_v1_SampleWindowRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_jukebox_v1_SampleWindowResponse__Output>;
  sampleWindow(argument: _jukebox_v1_SampleWindowRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_jukebox_v1_SampleWindowResponse__Output>;
  
}

export interface WorkerHandlers extends grpc.UntypedServiceImplementation {
  Decode: grpc.handleUnaryCall<_jukebox_v1_DecodeRequest__Output, _jukebox_v1_DecodeResponse>;
  
  Describe: grpc.handleUnaryCall<_jukebox_v1_DescribeRequest__Output, _jukebox_v1_DescribeResponse>;
  
  Encode: grpc.handleUnaryCall<_jukebox_v1_EncodeRequest__Output, _jukebox_v1_EncodeResponse>;
  
  SampleWindow: grpc.handleServerStreamingCall<_jukebox_v1_SampleWindowRequest__Output, _jukebox_v1_SampleWindowResponse>;
  
}

export interface WorkerDefinition extends grpc.ServiceDefinition {
  Decode: MethodDefinition<_jukebox_v1_DecodeRequest, _jukebox_v1_DecodeResponse, _jukebox_v1_DecodeRequest__Output, _jukebox_v1_DecodeResponse__Output>
  Describe: MethodDefinition<_jukebox_v1_DescribeRequest, _jukebox_v1_DescribeResponse, _jukebox_v1_DescribeRequest__Output, _jukebox_v1_DescribeResponse__Output>
  Encode: MethodDefinition<_jukebox_v1_EncodeRequest, _jukebox_v1_EncodeResponse, _jukebox_v1_EncodeRequest__Output, _jukebox_v1_EncodeResponse__Output>
  SampleWindow: MethodDefinition<_jukebox_v1_SampleWindowRequest, _jukebox_v1_SampleWindowResponse, _jukebox_v1_SampleWindowRequest__Output, _jukebox_v1_SampleWindowResponse__Output>
}
