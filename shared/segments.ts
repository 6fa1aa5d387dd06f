// Sharded mode's segment layout: a level below the top is split into segments that are sampled in parallel, each
// as its own chain of Jukebox windows. Every segment after the first starts `overlap` tokens before the tokens it
// keeps (its warm-up), so that its own tokens have context; the seam is a token splice where its own part starts.
// The tokens of the overlap are drawn with the same uniforms in both segments (the RNG is keyed by absolute
// position), which makes the two agree wherever their distributions agree.
import { InvalidArgumentError } from './errors.js';

/** Default warm-up of a segment as a fraction of n_ctx; see bench/seams.ts and the README for the measurement. */
export const DEFAULT_SEGMENT_OVERLAP = 0.5;

/** Most segments per level a job may ask for. */
export const MAX_SEGMENTS = 1024;

export interface SegmentSpan {
  /** Tokens sampled: [start, end). */
  start: number;
  end: number;
  /** Tokens kept: [ownStart, ownEnd); ownStart - start is the warm-up. */
  ownStart: number;
  ownEnd: number;
}

export interface LevelShape {
  totalTokens: number;
  nCtx: number;
  /** Window hop, floor(hopFraction · nCtx). */
  hop: number;
  /** Upper-level hop length over this level's: window starts and ends must be multiples of it. */
  ratio: number;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** Boundaries (where kept parts meet) are multiples of this: whole hops, so windows line up as in exact mode. */
function unitOf(shape: Pick<LevelShape, 'hop' | 'ratio'>): number {
  return (shape.hop / gcd(shape.hop, shape.ratio)) * shape.ratio;
}

/**
 * Overlap in tokens for a fraction of n_ctx: the nearest whole number of window hops below n_ctx. Whole hops keep
 * every window of every segment on exact mode's grid, so that past its warm-up a segment mostly samples exact
 * mode's very tokens (the same uniforms at the same positions); bench/seams measured the cost of leaving the grid.
 */
export function overlapTokens(shape: Pick<LevelShape, 'nCtx' | 'ratio' | 'hop'>, fraction: number): number {
  const unit = unitOf(shape);
  const n = Math.round((fraction * shape.nCtx) / unit);
  return Math.max(0, Math.min(n, Math.floor((shape.nCtx - 1) / unit)) * unit);
}

/** Most segments the level allows: each needs one full window, and every kept part at least one unit. */
export function maxSegments(shape: LevelShape, overlap: number): number {
  const unit = unitOf(shape);
  if (shape.totalTokens < shape.nCtx) return 1;
  const minOwn = Math.ceil(Math.max(unit, shape.nCtx - overlap) / unit) * unit;
  const firstOwn = Math.ceil(shape.nCtx / unit) * unit;
  if (shape.totalTokens - firstOwn < minOwn) return 1;
  return Math.min(MAX_SEGMENTS, 1 + Math.floor((shape.totalTokens - firstOwn) / minOwn));
}

/**
 * How far the last segment is shortened from the average towards one window (bench/schedule: 0.75 beat equal
 * segments and full taper on V100 and H100 costs alike).
 */
export const TAPER = 0.75;

/**
 * Sampled lengths of n segments that together cover T tokens with `overlap` between neighbours. Tapered: the last
 * segment shortest and each earlier one longer by the same step, because a segment's inputs (the upper level's
 * tokens) arrive later the later it starts in the song; equal lengths otherwise.
 */
function segmentLengths(T: number, n: number, overlap: number, nCtx: number, taper: boolean): number[] {
  const total = T + (n - 1) * overlap;
  const avg = total / n;
  const last = Math.max(nCtx, avg - TAPER * (avg - nCtx));
  const step = taper ? (total - n * last) / ((n * (n - 1)) / 2) : 0;
  if (step <= 0) return Array.from({ length: n }, () => avg);
  return Array.from({ length: n }, (_, k) => last + (n - 1 - k) * step);
}

/**
 * Splits a level into up to `count` segments (fewer when the level is too short for that many): segment 0
 * samples [0, b1), segment k samples [b_k - overlap, b_k+1); boundaries are whole units (hops), so windows line
 * up with exact mode's.
 */
export function planSegmentSpans(shape: LevelShape, count: number, overlap: number, taper = true): SegmentSpan[] {
  const { totalTokens: T, nCtx } = shape;
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`segment count must be a positive integer, got ${count}`);
  const unit = unitOf(shape);
  if (!Number.isInteger(overlap) || overlap < 0 || overlap >= nCtx || overlap % unit !== 0) {
    throw new RangeError(`overlap ${overlap} must be a whole number of window hops (${unit}) in [0, ${nCtx})`);
  }
  for (let n = Math.min(count, maxSegments(shape, overlap)); n > 1; n--) {
    const lengths = segmentLengths(T, n, overlap, nCtx, taper);
    const bounds = [0];
    let edge = 0;
    for (let k = 0; k < n - 1; k++) {
      edge += lengths[k] - (k === 0 ? 0 : overlap);
      // Rounded down: the last segment, the shortest, never comes out below its one window.
      bounds.push(Math.floor(edge / unit) * unit);
    }
    bounds.push(T);
    const spans = bounds.slice(0, -1).map((b, k) => ({ start: k === 0 ? 0 : b - overlap, end: bounds[k + 1], ownStart: b, ownEnd: bounds[k + 1] }));
    if (spans.every((sp) => sp.end - sp.start >= nCtx && sp.ownEnd > sp.ownStart && sp.start >= 0)) return spans;
  }
  return [{ start: 0, end: T, ownStart: 0, ownEnd: T }];
}

/** Segments per row slot in the automatic layout (bench/schedule: more chains than slots shorten the tail). */
export const AUTO_SEGMENTS_PER_SLOT = 1.5;

/**
 * The automatic segment count of a level: one and a half chains per row slot the workers serving it offer (their batches
 * hold that many windows at once), at most what the level allows. 1 when no worker is known.
 */
export function autoSegments(slots: number, shape: LevelShape, overlap: number): number {
  if (slots <= 1) return 1; // one chain at a time: splitting would only add warm-ups
  return Math.max(1, Math.min(Math.floor(slots * AUTO_SEGMENTS_PER_SLOT), maxSegments(shape, overlap)));
}

/** Validates requested segment counts (index = level; 0 = automatic). */
export function validateSegments(segments: unknown, levels: number): number[] {
  if (segments === undefined) return new Array<number>(levels).fill(0);
  if (!Array.isArray(segments) || segments.length > levels) {
    throw new InvalidArgumentError('segments', `segments: give at most ${levels} counts (one per level, level 0 first)`);
  }
  const out = new Array<number>(levels).fill(0);
  segments.forEach((v: unknown, l: number) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_SEGMENTS) {
      throw new InvalidArgumentError('segments', `segments[${l}] must be an integer in 0..${MAX_SEGMENTS} (0 = automatic), got ${String(v).slice(0, 40)}`);
    }
    if (l === levels - 1 && v > 1) throw new InvalidArgumentError('segments', `segments[${l}]: the top level is never split, got ${v}`);
    out[l] = v;
  });
  return out;
}
