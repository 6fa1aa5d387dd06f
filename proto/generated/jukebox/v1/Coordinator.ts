// Original file: proto/jukebox/v1/coordinator.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { AudioChunk as _jukebox_v1_AudioChunk, AudioChunk__Output as _jukebox_v1_AudioChunk__Output } from '../../jukebox/v1/AudioChunk';
import type { CancelJobRequest as _jukebox_v1_CancelJobRequest, CancelJobRequest__Output as _jukebox_v1_CancelJobRequest__Output } from '../../jukebox/v1/CancelJobRequest';
import type { FetchAudioRequest as _jukebox_v1_FetchAudioRequest, FetchAudioRequest__Output as _jukebox_v1_FetchAudioRequest__Output } from '../../jukebox/v1/FetchAudioRequest';
import type { FetchTokensRequest as _jukebox_v1_FetchTokensRequest, FetchTokensRequest__Output as _jukebox_v1_FetchTokensRequest__Output } from '../../jukebox/v1/FetchTokensRequest';
import type { GetJobRequest as _jukebox_v1_GetJobRequest, GetJobRequest__Output as _jukebox_v1_GetJobRequest__Output } from '../../jukebox/v1/GetJobRequest';
import type { Job as _jukebox_v1_Job, Job__Output as _jukebox_v1_Job__Output } from '../../jukebox/v1/Job';
import type { JobEvent as _jukebox_v1_JobEvent, JobEvent__Output as _jukebox_v1_JobEvent__Output } from '../../jukebox/v1/JobEvent';
import type { ListJobsRequest as _jukebox_v1_ListJobsRequest, ListJobsRequest__Output as _jukebox_v1_ListJobsRequest__Output } from '../../jukebox/v1/ListJobsRequest';
import type { ListJobsResponse as _jukebox_v1_ListJobsResponse, ListJobsResponse__Output as _jukebox_v1_ListJobsResponse__Output } from '../../jukebox/v1/ListJobsResponse';
import type { ListModelsRequest as _jukebox_v1_ListModelsRequest, ListModelsRequest__Output as _jukebox_v1_ListModelsRequest__Output } from '../../jukebox/v1/ListModelsRequest';
import type { ListModelsResponse as _jukebox_v1_ListModelsResponse, ListModelsResponse__Output as _jukebox_v1_ListModelsResponse__Output } from '../../jukebox/v1/ListModelsResponse';
import type { SubmitJobRequest as _jukebox_v1_SubmitJobRequest, SubmitJobRequest__Output as _jukebox_v1_SubmitJobRequest__Output } from '../../jukebox/v1/SubmitJobRequest';
import type { TokenChunk as _jukebox_v1_TokenChunk, TokenChunk__Output as _jukebox_v1_TokenChunk__Output } from '../../jukebox/v1/TokenChunk';
import type { WatchJobRequest as _jukebox_v1_WatchJobRequest, WatchJobRequest__Output as _jukebox_v1_WatchJobRequest__Output } from '../../jukebox/v1/WatchJobRequest';

export interface CoordinatorClient extends grpc.Client {
  CancelJob(argument: _jukebox_v1_CancelJobRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_jukebox_v1_Job__Output>): grpc.ClientUnaryCall;
  CancelJob(argument: _jukebox_v1_CancelJobRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_jukebox_v1_Job__Output>): grpc.ClientUnaryCall;
  CancelJob(argument: _jukebox_v1_CancelJobRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_jukebox_v1_Job__Output>): grpc.ClientUnaryCall;
  CancelJob(argument: _jukebox_v1_CancelJobRequest, callback: grpc.requestCallback<_jukebox_v1_Job__Output>): grpc.ClientUnaryCall;
  cancelJob(argument: _jukebox_v1_CancelJobRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_jukebox_v1_Job__Output>): grpc.ClientUnaryCall;
  cancelJob(argument: _jukebox_v1_CancelJobRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_jukebox_v1_Job__Output>): grpc.ClientUnaryCall;
  cancelJob(argument: _jukebox_v1_CancelJobRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_jukebox_v1_Job__Output>): grpc.ClientUnaryCall;
  cancelJob(argument: _jukebox_v1_CancelJobRequest, callback: grpc.requestCallback<_jukebox_v1_Job__Output>): grpc.ClientUnaryCall;
  
  FetchAudio(argument: _jukebox_v1_FetchAudioRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_jukebox_v1_AudioChunk__Output>;
  FetchAudio(argument: _jukebox_v1_FetchAudioRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_jukebox_v1_AudioChunk__Output>;
  fetchAudio(argument: _jukebox_v1_FetchAudioRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_jukebox_v1_AudioChunk__Output>;
  fetchAudio(argument: _jukebox_v1_FetchAudioRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_jukebox_v1_AudioChunk__Output>;
  
  FetchTokens(argument: _jukebox_v1_FetchTokensRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_jukebox_v1_TokenChunk__Output>;
  FetchTokens(argument: _jukebox_v1_FetchTokensRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_jukebox_v1_TokenChunk__Output>;
  fetchTokens(argument: _jukebox_v1_FetchTokensRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_jukebox_v1_TokenChunk__Output>;
  fetchTokens(argument: _jukebox_v1_FetchTokensRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_jukebox_v1_TokenChunk__Output>;
  
  GetJob(argument: _jukebox_v1_GetJobRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_jukebox_v1_Job__Output>): grpc.ClientUnaryCall;
  GetJob(argument: _jukebox_v1_GetJobRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_jukebox_v1_Job__Output>): grpc.ClientUnaryCall;
  GetJob(argument: _jukebox_v1_GetJobRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_jukebox_v1_Job__Output>): grpc.ClientUnaryCall;
  GetJob(argument: _jukebox_v1_GetJobRequest, callback: grpc.requestCallback<_jukebox_v1_Job__Output>): grpc.ClientUnaryCall;
  getJob(argument: _jukebox_v1_GetJobRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_jukebox_v1_Job__Output>): grpc.ClientUnaryCall;
  getJob(argument: _jukebox_v1_GetJobRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_jukebox_v1_Job__Output>): grpc.ClientUnaryCall;
  getJob(argument: _jukebox_v1_GetJobRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_jukebox_v1_Job__Output>): grpc.ClientUnaryCall;
  getJob(argument: _jukebox_v1_GetJobRequest, callback: grpc.requestCallback<_jukebox_v1_Job__Output>): grpc.ClientUnaryCall;
  
  ListJobs(argument: _jukebox_v1_ListJobsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_jukebox_v1_ListJobsResponse__Output>): grpc.ClientUnaryCall;
  ListJobs(argument: _jukebox_v1_ListJobsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_jukebox_v1_ListJobsResponse__Output>): grpc.ClientUnaryCall;
  ListJobs(argument: _jukebox_v1_ListJobsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_jukebox_v1_ListJobsResponse__Output>): grpc.ClientUnaryCall;
  ListJobs(argument: _jukebox_v1_ListJobsRequest, callback: grpc.requestCallback<_jukebox_v1_ListJobsResponse__Output>): grpc.ClientUnaryCall;
  listJobs(argument: _jukebox_v1_ListJobsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_jukebox_v1_ListJobsResponse__Output>): grpc.ClientUnaryCall;
  listJobs(argument: _jukebox_v1_ListJobsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_jukebox_v1_ListJobsResponse__Output>): grpc.ClientUnaryCall;
  listJobs(argument: _jukebox_v1_ListJobsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_jukebox_v1_ListJobsResponse__Output>): grpc.ClientUnaryCall;
  listJobs(argument: _jukebox_v1_ListJobsRequest, callback: grpc.requestCallback<_jukebox_v1_ListJobsResponse__Output>): grpc.ClientUnaryCall;
  
  ListModels(argument: _jukebox_v1_ListModelsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_jukebox_v1_ListModelsResponse__Output>): grpc.ClientUnaryCall;
  ListModels(argument: _jukebox_v1_ListModelsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_jukebox_v1_ListModelsResponse__Output>): grpc.ClientUnaryCall;
  ListModels(argument: _jukebox_v1_ListModelsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_jukebox_v1_ListModelsResponse__Output>): grpc.ClientUnaryCall;
  ListModels(argument: _jukebox_v1_ListModelsRequest, callback: grpc.requestCallback<_jukebox_v1_ListModelsResponse__Output>): grpc.ClientUnaryCall;
  listModels(argument: _jukebox_v1_ListModelsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_jukebox_v1_ListModelsResponse__Output>): grpc.ClientUnaryCall;
  listModels(argument: _jukebox_v1_ListModelsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_jukebox_v1_ListModelsResponse__Output>): grpc.ClientUnaryCall;
  listModels(argument: _jukebox_v1_ListModelsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_jukebox_v1_ListModelsResponse__Output>): grpc.ClientUnaryCall;
  listModels(argument: _jukebox_v1_ListModelsRequest, callback: grpc.requestCallback<_jukebox_v1_ListModelsResponse__Output>): grpc.ClientUnaryCall;
  
  SubmitJob(argument: _jukebox_v1_SubmitJobRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_jukebox_v1_Job__Output>): grpc.ClientUnaryCall;
  SubmitJob(argument: _jukebox_v1_SubmitJobRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_jukebox_v1_Job__Output>): grpc.ClientUnaryCall;
  SubmitJob(argument: _jukebox_v1_SubmitJobRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_jukebox_v1_Job__Output>): grpc.ClientUnaryCall;
  SubmitJob(argument: _jukebox_v1_SubmitJobRequest, callback: grpc.requestCallback<_jukebox_v1_Job__Output>): grpc.ClientUnaryCall;
  submitJob(argument: _jukebox_v1_SubmitJobRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_jukebox_v1_Job__Output>): grpc.ClientUnaryCall;
  submitJob(argument: _jukebox_v1_SubmitJobRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_jukebox_v1_Job__Output>): grpc.ClientUnaryCall;
  submitJob(argument: _jukebox_v1_SubmitJobRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_jukebox_v1_Job__Output>): grpc.ClientUnaryCall;
  submitJob(argument: _jukebox_v1_SubmitJobRequest, callback: grpc.requestCallback<_jukebox_v1_Job__Output>): grpc.ClientUnaryCall;
  
  WatchJob(argument: _jukebox_v1_WatchJobRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_jukebox_v1_JobEvent__Output>;
  WatchJob(argument: _jukebox_v1_WatchJobRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_jukebox_v1_JobEvent__Output>;
  watchJob(argument: _jukebox_v1_WatchJobRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_jukebox_v1_JobEvent__Output>;
  watchJob(argument: _jukebox_v1_WatchJobRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_jukebox_v1_JobEvent__Output>;
  
}

export interface CoordinatorHandlers extends grpc.UntypedServiceImplementation {
  CancelJob: grpc.handleUnaryCall<_jukebox_v1_CancelJobRequest__Output, _jukebox_v1_Job>;
  
  FetchAudio: grpc.handleServerStreamingCall<_jukebox_v1_FetchAudioRequest__Output, _jukebox_v1_AudioChunk>;
  
  FetchTokens: grpc.handleServerStreamingCall<_jukebox_v1_FetchTokensRequest__Output, _jukebox_v1_TokenChunk>;
  
  GetJob: grpc.handleUnaryCall<_jukebox_v1_GetJobRequest__Output, _jukebox_v1_Job>;
  
  ListJobs: grpc.handleUnaryCall<_jukebox_v1_ListJobsRequest__Output, _jukebox_v1_ListJobsResponse>;
  
  ListModels: grpc.handleUnaryCall<_jukebox_v1_ListModelsRequest__Output, _jukebox_v1_ListModelsResponse>;
  
  SubmitJob: grpc.handleUnaryCall<_jukebox_v1_SubmitJobRequest__Output, _jukebox_v1_Job>;
  
  WatchJob: grpc.handleServerStreamingCall<_jukebox_v1_WatchJobRequest__Output, _jukebox_v1_JobEvent>;
  
}

export interface CoordinatorDefinition extends grpc.ServiceDefinition {
  CancelJob: MethodDefinition<_jukebox_v1_CancelJobRequest, _jukebox_v1_Job, _jukebox_v1_CancelJobRequest__Output, _jukebox_v1_Job__Output>
  FetchAudio: MethodDefinition<_jukebox_v1_FetchAudioRequest, _jukebox_v1_AudioChunk, _jukebox_v1_FetchAudioRequest__Output, _jukebox_v1_AudioChunk__Output>
  FetchTokens: MethodDefinition<_jukebox_v1_FetchTokensRequest, _jukebox_v1_TokenChunk, _jukebox_v1_FetchTokensRequest__Output, _jukebox_v1_TokenChunk__Output>
  GetJob: MethodDefinition<_jukebox_v1_GetJobRequest, _jukebox_v1_Job, _jukebox_v1_GetJobRequest__Output, _jukebox_v1_Job__Output>
  ListJobs: MethodDefinition<_jukebox_v1_ListJobsRequest, _jukebox_v1_ListJobsResponse, _jukebox_v1_ListJobsRequest__Output, _jukebox_v1_ListJobsResponse__Output>
  ListModels: MethodDefinition<_jukebox_v1_ListModelsRequest, _jukebox_v1_ListModelsResponse, _jukebox_v1_ListModelsRequest__Output, _jukebox_v1_ListModelsResponse__Output>
  SubmitJob: MethodDefinition<_jukebox_v1_SubmitJobRequest, _jukebox_v1_Job, _jukebox_v1_SubmitJobRequest__Output, _jukebox_v1_Job__Output>
  WatchJob: MethodDefinition<_jukebox_v1_WatchJobRequest, _jukebox_v1_JobEvent, _jukebox_v1_WatchJobRequest__Output, _jukebox_v1_JobEvent__Output>
}
