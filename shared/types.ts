// Types shared by coordinator, worker and client. Pure data: no I/O here.

export type LyricsKind = 'none' | 'encoder' | 'prefix';

export interface ModelFile {
  file: string;
  sha256: string;
}

export interface GraphFile extends ModelFile {
  /** Weight files of a graph over 2 GB (ONNX external data), next to it in the model folder. */
  externalData?: ModelFile[];
}

/** A level's graphs of one precision. */
export interface LevelGraphFiles {
  conditioner: GraphFile;
  step: GraphFile;
  /** Contract version 2: the fused graph that samples `samplingChunk` tokens per session.run. */
  loop?: GraphFile;
}

/** Which of a level's graph sets a worker runs: the float32 graphs or their float16 versions (`graphs.fp16`). */
export type Precision = 'fp32' | 'fp16';

export interface LevelConditioning {
  labels: boolean;
  timing: boolean;
  lyrics: LyricsKind;
  /** Lyric characters per window in the label vector (0 when lyrics is 'none'). */
  lyricTokens: number;
  upper: boolean;
}

export interface LevelManifest {
  level: number;
  hopLength: number;
  nCtx: number;
  hopFraction: number;
  codebookSize: number;
  width: number;
  layers: number;
  heads: number;
  /** Size of one attention head: the KV cache is [B, heads, P, headDim] (Jukebox: width * m_attn / heads). */
  headDim: number;
  prefillChunk: number;
  conditioning: LevelConditioning;
  labelLength: number;
  vocabOffset: number;
  /**
   * The float32 graphs, and optionally `fp16`: the same graphs converted to float16 (cache, x_cond, y_cond and
   * lyric keys float16, logits float32), for CUDA workers; its loop only where the float32 set has one.
   */
  graphs: LevelGraphFiles & { fp16?: LevelGraphFiles };
  /** Tokens per run of the loop graph (a worker flag may override it; tokens do not depend on it). */
  samplingChunk?: number;
  /** What each layer's KV cache holds (absent: every position so far, as early version-1 exports). */
  kvCache?: KvCacheLayout;
  /** This level's own label set, where it differs from the manifest's (the top prior's): 1b_lyrics's v2 upsamplers. */
  labels?: LabelsManifest;
}

export type AttentionKind = 'dense' | 'row' | 'column' | 'previous-row' | 'cross' | 'prime';

/** docs/model-contract.md, "KV cache layout". */
export interface KvCacheLayout {
  dtype: 'float32' | 'float16';
  /** nCtx / blocks (positions of the step graph's sequence, the lyric prefix counted); null without sparse kinds. */
  blockCtx: number | null;
  /** One kind per layer. */
  layers: AttentionKind[];
  /** Keys a prime-attention layer keeps (only with such layers). */
  primeKeys?: number;
}

export interface DecoderManifest extends GraphFile {
  level: number;
  marginTokens: number;
}

/** A VQ-VAE encoder: audio [B, T] (T a multiple of hopLength) -> tokens [B, T / hopLength]. */
export interface EncoderManifest extends GraphFile {
  level: number;
  hopLength: number;
}

export interface LabelsManifest {
  version: 'v2' | 'v3';
  artists: Record<string, number>;
  genres: Record<string, number>;
  maxGenreWords: number;
  minDurationSeconds: number;
  maxDurationSeconds: number;
}

export interface LyricsManifest {
  vocab: string;
  maxChars: number;
}

export interface Manifest {
  contractVersion: number;
  modelId: string;
  sampleRate: number;
  labels: LabelsManifest;
  lyrics?: LyricsManifest;
  /** Index = level, 0 = bottom. */
  levels: LevelManifest[];
  /** encoders: optional (contract v2 exporters write them); primed jobs need them. */
  vqvae: { decoders: DecoderManifest[]; encoders?: EncoderManifest[] };
}

/** Sampling filters for one level. topK 0 and topP 1 mean "off". */
export interface SamplingParams {
  temperature: number;
  topK: number;
  topP: number;
}

export interface WindowPlan {
  /** Segment of the level the window belongs to (always 0 in exact mode). */
  segment: number;
  /** Index of the window within its segment (in exact mode: within its level). */
  index: number;
  /** First token of the window, in level tokens. */
  start: number;
  /** One past the last token of the window. */
  end: number;
  /** Tokens already sampled that prime the window (end - start - newTokens). */
  contextTokens: number;
  /** Tokens this window adds. */
  newTokens: number;
  /** Upper-level span [upperStart, upperEnd) that conditions it (lower levels only; else 0,0). */
  upperStart: number;
  upperEnd: number;
}

/**
 * A stretch of a level sampled as its own chain of windows (Jukebox's semantics inside it). It samples
 * [start, end) and contributes [ownStart, ownEnd) to the level's tokens: the tokens before ownStart are its
 * warm-up, sampled again where the previous segment already owns them, so that its own first tokens have context.
 */
export interface SegmentPlan {
  index: number;
  start: number;
  end: number;
  ownStart: number;
  ownEnd: number;
  windows: WindowPlan[];
}

export interface LevelPlan {
  level: number;
  hopLength: number;
  nCtx: number;
  /** floor(hopFraction * nCtx). */
  hop: number;
  totalTokens: number;
  /** Every window of the level, segment after segment. */
  windows: WindowPlan[];
  /** One segment [0, totalTokens) in exact mode and at the top; several in sharded mode below it. */
  segments: SegmentPlan[];
  /** Warm-up tokens of every segment after the first (0 with one segment). */
  overlap: number;
}

export type JobMode = 'exact' | 'sharded';

export interface SongPlan {
  mode: JobMode;
  sampleRate: number;
  /** Song length in samples: requested length rounded down to a multiple of the top hop. */
  totalSamples: number;
  /** Index = level, 0 = bottom. */
  levels: LevelPlan[];
}

/** One sample row's labels (a row of Jukebox's `metas`). */
export interface RowLabels {
  artist: string;
  genres: string[];
  lyrics: string;
}

/** What a user asks for; validated by shared/job-spec.ts. */
/** How a job's song starts: Jukebox's sample.py modes (shared/job-start.ts). */
export type StartMode = 'ancestral' | 'primed' | 'continue' | 'upsample';

/** What a job's record keeps of its start (the given tokens themselves are stored beside it). */
export interface JobStart {
  mode: Exclude<StartMode, 'ancestral'>;
  /** Tokens each level starts with, index = level. */
  givenTokens: number[];
  /** Seconds of the song the given tokens cover (primed: the prompt, rounded down to whole top-level tokens). */
  givenSeconds: number;
}

export interface JobSpec {
  model: string;
  /** Each sample row's labels, `samples` of them (all equal when the request gave job-wide labels). */
  rows: RowLabels[];
  durationSeconds: number;
  samples: number;
  seed: bigint;
  /** Index = level; missing levels take the defaults. */
  sampling: SamplingParams[];
  mode: JobMode;
  /** Requested segments per level (index = level), 0 = automatic; all 1 in exact mode. */
  segments: number[];
  /** Sharded mode: warm-up of each segment as a fraction of the level's n_ctx. */
  segmentOverlap: number;
  /** 1..10: share of the workers against other jobs. */
  priority: number;
  /** Absent: ancestral (every token sampled). */
  start?: JobStart;
}

/** Sampling overrides for one level as a request gives them; unset fields take the defaults. */
export interface LevelSamplingRequest {
  level: number;
  temperature?: number;
  topK?: number;
  topP?: number;
}

/** A job as a client submits it (SubmitJobRequest), before validation. */
export interface JobRequest extends Omit<JobSpec, 'rows' | 'seed' | 'samples' | 'sampling' | 'mode' | 'segments' | 'segmentOverlap' | 'priority' | 'start'>, RowLabels {
  /** Per-row labels; given (non-empty), artist, genres and lyrics must be empty. Unset or [] = every row takes those. */
  rows?: RowLabels[];
  /** Decimal string, or a number/bigint; must be an integer in 0..2^64-1. Unset or "" = 0. */
  seed?: string | number | bigint;
  /** Sample rows, 1..MAX_SAMPLES. Unset or 0 = 1 (with rows: their number). */
  samples?: number;
  sampling: LevelSamplingRequest[];
  /** Default 'exact'. */
  mode?: string;
  segments?: number[];
  segmentOverlap?: number;
  /** 0 or unset = the default. */
  priority?: number;
}
