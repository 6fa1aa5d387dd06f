import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { AudioChunk as _jukebox_v1_AudioChunk, AudioChunk__Output as _jukebox_v1_AudioChunk__Output } from './jukebox/v1/AudioChunk';
import type { CancelJobRequest as _jukebox_v1_CancelJobRequest, CancelJobRequest__Output as _jukebox_v1_CancelJobRequest__Output } from './jukebox/v1/CancelJobRequest';
import type { CoordinatorClient as _jukebox_v1_CoordinatorClient, CoordinatorDefinition as _jukebox_v1_CoordinatorDefinition } from './jukebox/v1/Coordinator';
import type { FetchAudioRequest as _jukebox_v1_FetchAudioRequest, FetchAudioRequest__Output as _jukebox_v1_FetchAudioRequest__Output } from './jukebox/v1/FetchAudioRequest';
import type { FetchTokensRequest as _jukebox_v1_FetchTokensRequest, FetchTokensRequest__Output as _jukebox_v1_FetchTokensRequest__Output } from './jukebox/v1/FetchTokensRequest';
import type { GetJobRequest as _jukebox_v1_GetJobRequest, GetJobRequest__Output as _jukebox_v1_GetJobRequest__Output } from './jukebox/v1/GetJobRequest';
import type { GivenTokens as _jukebox_v1_GivenTokens, GivenTokens__Output as _jukebox_v1_GivenTokens__Output } from './jukebox/v1/GivenTokens';
import type { Job as _jukebox_v1_Job, Job__Output as _jukebox_v1_Job__Output } from './jukebox/v1/Job';
import type { JobChange as _jukebox_v1_JobChange, JobChange__Output as _jukebox_v1_JobChange__Output } from './jukebox/v1/JobChange';
import type { JobError as _jukebox_v1_JobError, JobError__Output as _jukebox_v1_JobError__Output } from './jukebox/v1/JobError';
import type { JobEvent as _jukebox_v1_JobEvent, JobEvent__Output as _jukebox_v1_JobEvent__Output } from './jukebox/v1/JobEvent';
import type { JobStart as _jukebox_v1_JobStart, JobStart__Output as _jukebox_v1_JobStart__Output } from './jukebox/v1/JobStart';
import type { LevelProgress as _jukebox_v1_LevelProgress, LevelProgress__Output as _jukebox_v1_LevelProgress__Output } from './jukebox/v1/LevelProgress';
import type { LevelSampling as _jukebox_v1_LevelSampling, LevelSampling__Output as _jukebox_v1_LevelSampling__Output } from './jukebox/v1/LevelSampling';
import type { LevelTokens as _jukebox_v1_LevelTokens, LevelTokens__Output as _jukebox_v1_LevelTokens__Output } from './jukebox/v1/LevelTokens';
import type { ListJobsRequest as _jukebox_v1_ListJobsRequest, ListJobsRequest__Output as _jukebox_v1_ListJobsRequest__Output } from './jukebox/v1/ListJobsRequest';
import type { ListJobsResponse as _jukebox_v1_ListJobsResponse, ListJobsResponse__Output as _jukebox_v1_ListJobsResponse__Output } from './jukebox/v1/ListJobsResponse';
import type { ListModelsRequest as _jukebox_v1_ListModelsRequest, ListModelsRequest__Output as _jukebox_v1_ListModelsRequest__Output } from './jukebox/v1/ListModelsRequest';
import type { ListModelsResponse as _jukebox_v1_ListModelsResponse, ListModelsResponse__Output as _jukebox_v1_ListModelsResponse__Output } from './jukebox/v1/ListModelsResponse';
import type { ModelInfo as _jukebox_v1_ModelInfo, ModelInfo__Output as _jukebox_v1_ModelInfo__Output } from './jukebox/v1/ModelInfo';
import type { ModelLevel as _jukebox_v1_ModelLevel, ModelLevel__Output as _jukebox_v1_ModelLevel__Output } from './jukebox/v1/ModelLevel';
import type { Prompt as _jukebox_v1_Prompt, Prompt__Output as _jukebox_v1_Prompt__Output } from './jukebox/v1/Prompt';
import type { RowLabels as _jukebox_v1_RowLabels, RowLabels__Output as _jukebox_v1_RowLabels__Output } from './jukebox/v1/RowLabels';
import type { SubmitJobRequest as _jukebox_v1_SubmitJobRequest, SubmitJobRequest__Output as _jukebox_v1_SubmitJobRequest__Output } from './jukebox/v1/SubmitJobRequest';
import type { TokenChunk as _jukebox_v1_TokenChunk, TokenChunk__Output as _jukebox_v1_TokenChunk__Output } from './jukebox/v1/TokenChunk';
import type { TokenRow as _jukebox_v1_TokenRow, TokenRow__Output as _jukebox_v1_TokenRow__Output } from './jukebox/v1/TokenRow';
import type { WatchJobRequest as _jukebox_v1_WatchJobRequest, WatchJobRequest__Output as _jukebox_v1_WatchJobRequest__Output } from './jukebox/v1/WatchJobRequest';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  jukebox: {
    v1: {
      AudioChunk: MessageTypeDefinition<_jukebox_v1_AudioChunk, _jukebox_v1_AudioChunk__Output>
      CancelJobRequest: MessageTypeDefinition<_jukebox_v1_CancelJobRequest, _jukebox_v1_CancelJobRequest__Output>
      Coordinator: SubtypeConstructor<typeof grpc.Client, _jukebox_v1_CoordinatorClient> & { service: _jukebox_v1_CoordinatorDefinition }
      FetchAudioRequest: MessageTypeDefinition<_jukebox_v1_FetchAudioRequest, _jukebox_v1_FetchAudioRequest__Output>
      FetchTokensRequest: MessageTypeDefinition<_jukebox_v1_FetchTokensRequest, _jukebox_v1_FetchTokensRequest__Output>
      GetJobRequest: MessageTypeDefinition<_jukebox_v1_GetJobRequest, _jukebox_v1_GetJobRequest__Output>
      GivenTokens: MessageTypeDefinition<_jukebox_v1_GivenTokens, _jukebox_v1_GivenTokens__Output>
      Job: MessageTypeDefinition<_jukebox_v1_Job, _jukebox_v1_Job__Output>
      JobChange: MessageTypeDefinition<_jukebox_v1_JobChange, _jukebox_v1_JobChange__Output>
      JobError: MessageTypeDefinition<_jukebox_v1_JobError, _jukebox_v1_JobError__Output>
      JobErrorCode: EnumTypeDefinition
      JobEvent: MessageTypeDefinition<_jukebox_v1_JobEvent, _jukebox_v1_JobEvent__Output>
      JobMode: EnumTypeDefinition
      JobStart: MessageTypeDefinition<_jukebox_v1_JobStart, _jukebox_v1_JobStart__Output>
      JobState: EnumTypeDefinition
      LevelProgress: MessageTypeDefinition<_jukebox_v1_LevelProgress, _jukebox_v1_LevelProgress__Output>
      LevelSampling: MessageTypeDefinition<_jukebox_v1_LevelSampling, _jukebox_v1_LevelSampling__Output>
      LevelTokens: MessageTypeDefinition<_jukebox_v1_LevelTokens, _jukebox_v1_LevelTokens__Output>
      ListJobsRequest: MessageTypeDefinition<_jukebox_v1_ListJobsRequest, _jukebox_v1_ListJobsRequest__Output>
      ListJobsResponse: MessageTypeDefinition<_jukebox_v1_ListJobsResponse, _jukebox_v1_ListJobsResponse__Output>
      ListModelsRequest: MessageTypeDefinition<_jukebox_v1_ListModelsRequest, _jukebox_v1_ListModelsRequest__Output>
      ListModelsResponse: MessageTypeDefinition<_jukebox_v1_ListModelsResponse, _jukebox_v1_ListModelsResponse__Output>
      ModelInfo: MessageTypeDefinition<_jukebox_v1_ModelInfo, _jukebox_v1_ModelInfo__Output>
      ModelLevel: MessageTypeDefinition<_jukebox_v1_ModelLevel, _jukebox_v1_ModelLevel__Output>
      Prompt: MessageTypeDefinition<_jukebox_v1_Prompt, _jukebox_v1_Prompt__Output>
      RowLabels: MessageTypeDefinition<_jukebox_v1_RowLabels, _jukebox_v1_RowLabels__Output>
      StartMode: EnumTypeDefinition
      SubmitJobRequest: MessageTypeDefinition<_jukebox_v1_SubmitJobRequest, _jukebox_v1_SubmitJobRequest__Output>
      TokenChunk: MessageTypeDefinition<_jukebox_v1_TokenChunk, _jukebox_v1_TokenChunk__Output>
      TokenRow: MessageTypeDefinition<_jukebox_v1_TokenRow, _jukebox_v1_TokenRow__Output>
      WatchJobRequest: MessageTypeDefinition<_jukebox_v1_WatchJobRequest, _jukebox_v1_WatchJobRequest__Output>
    }
  }
}

