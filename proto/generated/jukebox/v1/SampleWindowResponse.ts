// Original file: proto/jukebox/v1/worker.proto

import type { TokenProgress as _jukebox_v1_TokenProgress, TokenProgress__Output as _jukebox_v1_TokenProgress__Output } from '../../jukebox/v1/TokenProgress';
import type { WindowResult as _jukebox_v1_WindowResult, WindowResult__Output as _jukebox_v1_WindowResult__Output } from '../../jukebox/v1/WindowResult';

export interface SampleWindowResponse {
  'progress'?: (_jukebox_v1_TokenProgress | null);
  'result'?: (_jukebox_v1_WindowResult | null);
  'kind'?: "progress"|"result";
}

export interface SampleWindowResponse__Output {
  'progress'?: (_jukebox_v1_TokenProgress__Output | null);
  'result'?: (_jukebox_v1_WindowResult__Output | null);
  'kind'?: "progress"|"result";
}
