// Barrel for the pure, shared part of jukebox-dist: planning, labels, sampling, RNG, token store, WAV.
export { InvalidArgumentError, ManifestError } from './errors.js';
export { CONTRACT_VERSION, parseManifest, levelRatio } from './manifest.js';
export {
  MAX_TOTAL_SAMPLES,
  getStarts,
  levelHop,
  songSamples,
  minimumTotalSamples,
  minimumDurationSeconds,
  formatSecondsUp,
  planSong,
  planWork,
} from './plan.js';
export { philox4x32, splitSeed, uniform } from './rng.js';
export { DEFAULT_SAMPLING, TokenSampler, validateSamplingParams, expNonPositive } from './sampler.js';
export { normaliseArtist, normaliseGenres, cleanLyrics, lyricWindow, labelVector, windowLabels } from './labels.js';
export { MAX_SAMPLES, parseSeed, validateJobRequest, resolveLabels, resolveRowLabels, sameRowLabels } from './job-spec.js';
export { planDecodeChunks, stitchDecodedChunks } from './decode-plan.js';
export { LevelTokens } from './stitch.js';
export { encodeWav, decodeWav } from './wav.js';

export type { LevelWork } from './plan.js';
export type { LabelInputs, ResolvedLabels } from './labels.js';
export type { DecodeChunk } from './decode-plan.js';
export type { WavFormat, DecodedWav } from './wav.js';
export type {
  LyricsKind,
  GraphFile,
  LevelConditioning,
  LevelManifest,
  DecoderManifest,
  LabelsManifest,
  LyricsManifest,
  Manifest,
  SamplingParams,
  WindowPlan,
  LevelPlan,
  SongPlan,
  RowLabels,
  JobSpec,
  LevelSamplingRequest,
  JobRequest,
} from './types.js';
