// What a worker accepts, field by field: the same bounds a coordinator's requests always keep (shared/job-spec.ts,
// shared/labels.ts, coordinator/dispatcher.ts windowItem), so that a caller who skips the coordinator cannot make a
// graph index out of its tables, run work no job would ask for, or read internal names out of an error.
// Pure: no I/O. Every message names the field as the request spells it (windows[0].labels[1][4]).
import { levelLabels } from '../shared/labels.js';
import { MAX_SAMPLES } from '../shared/job-spec.js';
import { MAX_PROMPT_SAMPLES } from '../shared/job-start.js';
import type { Manifest } from '../shared/types.js';
import { cut } from '../shared/errors.js';

/** Rows of one window: a job's sample rows (the coordinator never sends more). */
export const MAX_WINDOW_ROWS = MAX_SAMPLES;
/** Rows of one Decode call: a job's sample rows. */
export const MAX_DECODE_ROWS = MAX_SAMPLES;
/** Samples per row one Encode may carry: a primed job's longest prompt. */
export const MAX_ENCODE_SAMPLES = MAX_PROMPT_SAMPLES;
/** The coordinator's default bottom-level tokens per decode chunk (CoordinatorOptions.decodeChunkTokens). */
export const DEFAULT_DECODE_CHUNK_TOKENS = 16384;
/** Longest seed string: 2^64 - 1 has 20 digits (leading zeros beyond that are refused too). */
const MAX_SEED_CHARS = 20;

/**
 * Tokens per row one Decode may carry by default: the coordinator's default chunk with the decoder's margins on
 * both sides (the largest margin of the model's decoders). A coordinator run with a larger --decode-chunk needs
 * workers with a larger maxDecodeTokens.
 */
export function defaultMaxDecodeTokens(manifest: Pick<Manifest, 'vqvae'>): number {
  const margin = Math.max(0, ...manifest.vqvae.decoders.map((d) => d.marginTokens));
  return DEFAULT_DECODE_CHUNK_TOKENS + 2 * margin;
}

/** The ranges of one level's label vector: [total_length, offset, sample_length, artist, genres..., lyrics...]. */
export interface LabelRanges {
  length: number;
  /** total_length in [minTotal, maxTotal). */
  minTotal: number;
  maxTotal: number;
  hopLength: number;
  sampleLength: number;
  maxArtist: number;
  maxGenre: number;
  genreSlots: number;
  lyricTokens: number;
  /** Lyric ids 0..maxLyric (0 = padding). */
  maxLyric: number;
}

export function labelRanges(manifest: Pick<Manifest, 'labels' | 'levels' | 'lyrics' | 'sampleRate'>, level: number): LabelRanges {
  const lm = manifest.levels[level];
  const set = levelLabels(manifest, level);
  // total_length is validated against the manifest's (top prior's) durations by the coordinator
  // (shared/job-spec.ts validateDuration): [minDurationSeconds · sr, maxDurationSeconds · sr).
  const top = manifest.labels;
  return {
    length: lm.labelLength,
    minTotal: top.minDurationSeconds * manifest.sampleRate,
    maxTotal: top.maxDurationSeconds * manifest.sampleRate,
    hopLength: lm.hopLength,
    sampleLength: lm.nCtx * lm.hopLength,
    maxArtist: Math.max(...Object.values(set.artists)),
    maxGenre: Math.max(...Object.values(set.genres)),
    genreSlots: set.maxGenreWords,
    lyricTokens: lm.conditioning.lyricTokens,
    maxLyric: Array.from(manifest.lyrics?.vocab ?? '').length,
  };
}

/**
 * One label vector of a window starting at token `start`; null when fine, else "[i]: what is wrong" (the caller
 * prefixes the row's field name). The vector's length is checked by the caller.
 */
export function checkLabelVector(v: readonly number[], r: LabelRanges, start: number): string | null {
  const [total, offset, sampleLength, artist] = v;
  if (!(total >= r.minTotal && total < r.maxTotal)) {
    return `[0]: total_length ${total} is not in [${Math.ceil(r.minTotal)}, ${Math.ceil(r.maxTotal)}) samples (the model's song durations)`;
  }
  if (!(offset >= 0 && offset < total)) return `[1]: offset ${offset} is not in 0..${total - 1} (before total_length)`;
  if (offset !== start * r.hopLength) return `[1]: offset ${offset} is not the window's start ${start} × hop_length ${r.hopLength} = ${start * r.hopLength}`;
  if (sampleLength !== r.sampleLength) return `[2]: sample_length ${sampleLength} is not n_ctx × hop_length = ${r.sampleLength}`;
  if (!(artist >= 0 && artist <= r.maxArtist)) return `[3]: artist id ${artist} is not in 0..${r.maxArtist}`;
  for (let g = 0; g < r.genreSlots; g++) {
    const id = v[4 + g];
    if (id !== -1 && !(id >= 0 && id <= r.maxGenre)) return `[${4 + g}]: genre id ${id} is not in 0..${r.maxGenre} or -1 (padding)`;
  }
  const from = 4 + r.genreSlots;
  for (let i = 0; i < r.lyricTokens; i++) {
    const id = v[from + i];
    if (!(id >= 0 && id <= r.maxLyric)) return `[${from + i}]: lyric token ${id} is not in 0..${r.maxLyric} (0 = padding)`;
  }
  return null;
}

/** The job seed as a decimal uint64 string; null when fine. */
export function checkSeed(seed: string): string | null {
  if (seed.length > MAX_SEED_CHARS || !/^\d+$/.test(seed) || BigInt(seed) >= 2n ** 64n) return `"${cut(seed)}" is not an unsigned 64-bit integer in decimal`;
  return null;
}

/** Sample ids: the rows' RNG streams, non-negative and distinct within a window (the coordinator sends 0..samples-1). */
export function checkSampleIds(ids: readonly number[]): string | null {
  const seen = new Set<number>();
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (!(Number.isInteger(id) && id >= 0)) return `[${i}]: ${id} is not a non-negative integer`;
    if (seen.has(id)) return `[${i}]: ${id} is given twice (each row needs its own RNG stream)`;
    seen.add(id);
  }
  return null;
}
