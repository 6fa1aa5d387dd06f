// Messages between the worker's main thread and its inference threads (structured-clone safe).
import type { WindowBatch, WindowTiming } from './window-sampler.js';
import type { ExecutionProvider, Precision } from './onnx-runtime.js';

export interface ThreadInit {
  modelDir: string;
  levels: number[];
  decode: boolean;
  provider: ExecutionProvider;
  intraOpThreads: number;
  /** Tokens per run of the fused loop graph: -1 the manifest's, 0 the step graph (one run per token). */
  samplingChunk: number;
  /** Graph set: auto (default) = fp16 where the model has it and the sessions run on CUDA, else fp32. */
  precision?: Precision | 'auto';
  /** Int32Array[1]: the id of the task to cancel. */
  cancel: SharedArrayBuffer;
}

export type ToThread =
  | { type: 'sample'; id: number; batch: WindowBatch }
  | { type: 'decode'; id: number; level: number; rows: Int32Array[]; trimStart: number; trimEnd: number }
  | { type: 'encode'; id: number; level: number; rows: Float32Array[] };

export type FromThread =
  | { type: 'ready'; provider: ExecutionProvider; precision: Precision }
  | { type: 'init-error'; message: string }
  | { type: 'tokens'; id: number; fresh: Int32Array[]; tokensDone: number }
  | { type: 'sampled'; id: number; rows: Int32Array[]; timing: WindowTiming }
  | { type: 'decoded'; id: number; audio: Float32Array[]; seconds: number }
  | { type: 'encoded'; id: number; tokens: Int32Array[]; seconds: number }
  | { type: 'error'; id: number; name: string; message: string };
