// The window plan of a song: exactly Jukebox's sample.py (get_starts, sample_level, sample_single_window,
// sample_partial_window, get_z_conds), computed up front so a scheduler can hand windows to workers.
import { InvalidArgumentError } from './errors.js';
import { overlapTokens, planSegmentSpans, type LevelShape, type SegmentSpan } from './segments.js';
import type { LevelManifest, LevelPlan, Manifest, SegmentPlan, SongPlan, WindowPlan } from './types.js';

type PlanManifest = Pick<Manifest, 'sampleRate' | 'levels'>;

/** Longest song planSong accepts, in samples (int32 label fields). */
export const MAX_TOTAL_SAMPLES = 2 ** 31 - 1;

/**
 * Jukebox's get_starts: 0, hop, 2·hop, … while start < total - nCtx + hop; a start whose window reaches the end is
 * moved back to total - nCtx so the last window keeps a full context. A level shorter than nCtx gets the single
 * start 0 (Jukebox's sample_partial_window, only legal at the top).
 */
export function getStarts(totalTokens: number, nCtx: number, hop: number): number[] {
  for (const [name, v] of [['totalTokens', totalTokens], ['nCtx', nCtx], ['hop', hop]] as const) {
    if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`getStarts: ${name} must be a positive integer, got ${v}`);
  }
  if (totalTokens < nCtx) return [0];
  const starts: number[] = [];
  for (let start = 0; start < totalTokens - nCtx + hop; start += hop) {
    starts.push(start + nCtx >= totalTokens ? totalTokens - nCtx : start);
  }
  return starts;
}

/** floor(hopFraction · nCtx), as Jukebox's int(hop_fraction[level] · n_ctx). */
export function levelHop(level: Pick<LevelManifest, 'hopFraction' | 'nCtx'>): number {
  return Math.floor(level.hopFraction * level.nCtx);
}

function topHopLength(manifest: PlanManifest): number {
  return manifest.levels[manifest.levels.length - 1].hopLength;
}

/** The requested length in samples, rounded down to whole top-level tokens (Jukebox rounds to 128). */
export function songSamples(manifest: PlanManifest, seconds: number): number {
  const topHop = topHopLength(manifest);
  return Math.floor(Math.floor(seconds * manifest.sampleRate) / topHop) * topHop;
}

/**
 * Shortest song in samples: every level below the top needs one full window (Jukebox asserts this before
 * upsampling), the top needs one token, and the timing conditioner needs total_length >= minDurationSeconds · sr.
 */
export function minimumTotalSamples(manifest: PlanManifest & { labels?: Pick<Manifest['labels'], 'minDurationSeconds'> }): number {
  const topHop = topHopLength(manifest);
  let need = topHop;
  for (const l of manifest.levels.slice(0, -1)) need = Math.max(need, l.nCtx * l.hopLength);
  let samples = Math.ceil(need / topHop) * topHop;
  if (manifest.labels !== undefined) {
    // Compare as Jukebox does (int samples against the float min_duration · sr), stepping whole top tokens.
    const floor = manifest.labels.minDurationSeconds * manifest.sampleRate;
    while (samples < floor) samples += Math.max(topHop, Math.floor((floor - samples) / topHop) * topHop);
  }
  return samples;
}

function nextDouble(x: number, up: boolean): number {
  const f = new Float64Array([x]);
  const b = new BigInt64Array(f.buffer);
  b[0] += up ? 1n : -1n; // x > 0: neighbouring bit patterns are the neighbouring doubles
  return f[0];
}

/** The smallest duration_seconds that plans: floor(seconds · sampleRate) reaches minimumTotalSamples. */
export function minimumDurationSeconds(manifest: PlanManifest & { labels?: Pick<Manifest['labels'], 'minDurationSeconds'> }): number {
  const samples = minimumTotalSamples(manifest);
  const sr = manifest.sampleRate;
  let s = samples / sr;
  while (Math.floor(s * sr) < samples) s = nextDouble(s, true);
  while (Math.floor(nextDouble(s, false) * sr) >= samples) s = nextDouble(s, false);
  return s;
}

/** A duration for messages, rounded up to the millisecond so that typing it back in is accepted. */
export function formatSecondsUp(seconds: number): string {
  let ms = Math.ceil(seconds * 1000);
  if ((ms - 1) / 1000 >= seconds) ms -= 1; // seconds · 1000 rounded up past a whole millisecond
  return `${ms / 1000} s`;
}

/**
 * Windows of one segment [span.start, span.end): Jukebox's get_starts and priming inside it, absolute positions.
 * `given`: tokens [0, given) of the level exist before sampling (a prompt's or an earlier job's); as in Jukebox's
 * sample_single_window, a window inside them samples nothing and the window that reaches past them is primed with them.
 */
function planSegmentWindows(manifest: PlanManifest, index: number, totalSamples: number, span: SegmentSpan, segment: number, given = 0): WindowPlan[] {
  const lm = manifest.levels[index];
  const top = index === manifest.levels.length - 1;
  const hop = levelHop(lm);
  const r = top ? 0 : manifest.levels[index + 1].hopLength / lm.hopLength;
  const windows: WindowPlan[] = [];
  let covered = Math.max(span.start, given); // tokens that exist before the window: [span.start, covered)
  for (const rel of getStarts(span.end - span.start, lm.nCtx, hop)) {
    const start = span.start + rel;
    const end = Math.min(start + lm.nCtx, span.end);
    const contextTokens = Math.max(0, Math.min(covered, end) - start);
    const newTokens = end - start - contextTokens;
    if (newTokens <= 0) continue; // sample_single_window returns early: nothing new to sample
    let upperStart = 0;
    let upperEnd = 0;
    if (!top) {
      // get_z_conds: the upper tokens [start/r, (start+nCtx)/r) must be whole tokens and exist.
      if (start % r !== 0 || (start + lm.nCtx) % r !== 0) {
        throw new Error(`level ${index} window [${start}, ${start + lm.nCtx}) does not align with the hop ratio ${r}`);
      }
      upperStart = start / r;
      upperEnd = (start + lm.nCtx) / r;
      if (upperEnd > totalSamples / manifest.levels[index + 1].hopLength) {
        throw new Error(`level ${index} window [${start}, ${end}) needs upper tokens past the song's end`);
      }
    }
    windows.push({ segment, index: windows.length, start, end, contextTokens, newTokens, upperStart, upperEnd });
    covered = Math.max(covered, end);
  }
  return windows;
}

/** The shape segment planning needs of a level. */
export function levelShape(manifest: PlanManifest, index: number, totalSamples: number): LevelShape {
  const lm = manifest.levels[index];
  const top = index === manifest.levels.length - 1;
  return {
    totalTokens: totalSamples / lm.hopLength,
    nCtx: lm.nCtx,
    hop: levelHop(lm),
    ratio: top ? 1 : manifest.levels[index + 1].hopLength / lm.hopLength,
  };
}

function planLevel(manifest: PlanManifest, index: number, totalSamples: number, segments: number, overlapFraction: number, given: number): LevelPlan {
  const lm = manifest.levels[index];
  const top = index === manifest.levels.length - 1;
  const totalTokens = totalSamples / lm.hopLength;
  const hop = levelHop(lm);
  if (!top && totalTokens < lm.nCtx) {
    throw new InvalidArgumentError(
      'duration_seconds',
      `duration_seconds gives ${totalSamples / manifest.sampleRate} s, too short for level ${index}, which needs one full ` +
        `window of ${lm.nCtx} tokens: use at least ${formatSecondsUp(minimumDurationSeconds(manifest))}`,
    );
  }
  const shape = levelShape(manifest, index, totalSamples);
  const overlap = top || segments <= 1 ? 0 : overlapTokens(shape, overlapFraction);
  const spans = top || segments <= 1 ? [{ start: 0, end: totalTokens, ownStart: 0, ownEnd: totalTokens }] : planSegmentSpans(shape, segments, overlap);
  if (given > 0 && spans.length > 1) {
    throw new InvalidArgumentError('mode', `mode: level ${index} starts from given tokens, which sharded segments do not support; use exact mode`);
  }
  const segmentPlans: SegmentPlan[] = spans.map((span, k) => ({ index: k, ...span, windows: planSegmentWindows(manifest, index, totalSamples, span, k, given) }));
  return {
    level: index,
    hopLength: lm.hopLength,
    nCtx: lm.nCtx,
    hop,
    totalTokens,
    windows: segmentPlans.flatMap((sp) => sp.windows),
    segments: segmentPlans,
    overlap: segmentPlans.length > 1 ? overlap : 0,
  };
}

/** How a sharded job splits its levels; exact mode (one segment per level) when omitted. */
export interface SegmentLayout {
  /** Segments per level (index = level; the top is never split). */
  segments: number[];
  /** Warm-up of each segment after the first, as a fraction of n_ctx. */
  overlap: number;
}

/**
 * Plans every level of a song of `seconds` seconds. Throws InvalidArgumentError("duration_seconds") when it cannot.
 * `given[level]`: tokens the level starts with (primed, continued or upsample-only jobs); none when omitted.
 */
export function planSong(manifest: PlanManifest, seconds: number, layout?: SegmentLayout, given: readonly number[] = []): SongPlan {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds <= 0) {
    throw new InvalidArgumentError('duration_seconds', `duration_seconds must be a finite number of seconds > 0, got ${seconds}`);
  }
  const totalSamples = songSamples(manifest, seconds);
  // Label vectors carry total_length and offsets as int32 on the wire (TokenRow): about 13.5 h at 44.1 kHz.
  if (totalSamples > MAX_TOTAL_SAMPLES) {
    throw new InvalidArgumentError(
      'duration_seconds',
      `duration_seconds ${seconds} is too long to plan: at most ${Math.floor(MAX_TOTAL_SAMPLES / manifest.sampleRate)} s at ${manifest.sampleRate} Hz`,
    );
  }
  if (totalSamples <= 0) {
    throw new InvalidArgumentError(
      'duration_seconds',
      `duration_seconds ${seconds} is shorter than one top-level token; use at least ${formatSecondsUp(minimumDurationSeconds(manifest))}`,
    );
  }
  manifest.levels.forEach((lm, i) => {
    const g = given[i] ?? 0;
    if (!Number.isSafeInteger(g) || g < 0 || g > totalSamples / lm.hopLength) {
      throw new RangeError(`level ${i}: ${g} given tokens do not fit the song's ${totalSamples / lm.hopLength}`);
    }
  });
  const levels = manifest.levels.map((_, i) => planLevel(manifest, i, totalSamples, layout?.segments[i] ?? 1, layout?.overlap ?? 0, given[i] ?? 0));
  return { mode: layout ? 'sharded' : 'exact', sampleRate: manifest.sampleRate, totalSamples, levels };
}

export interface LevelWork {
  level: number;
  windows: number;
  segments: number;
  /** Tokens sampled one step at a time (sum of newTokens; in sharded mode the warm-ups too). */
  newTokens: number;
  /** Tokens pushed through prefill to prime windows (sum of contextTokens). */
  prefillTokens: number;
}

/** Work per level, index = level: what a progress bar or an ETA needs. */
export function planWork(plan: SongPlan): LevelWork[] {
  return plan.levels.map((lp) => ({
    level: lp.level,
    windows: lp.windows.length,
    segments: lp.segments.length,
    newTokens: lp.windows.reduce((n, w) => n + w.newTokens, 0),
    prefillTokens: lp.windows.reduce((n, w) => n + w.contextTokens, 0),
  }));
}
