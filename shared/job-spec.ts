// Validates what a client submits against the model it asks for. Every rejection is an InvalidArgumentError
// naming the request field, the value and what would be accepted, so the CLI can print it as is.
import { InvalidArgumentError } from './errors.js';
import { cleanLyrics, normaliseArtist, normaliseGenres, officialArtistId, officialGenreIds, type ResolvedLabels } from './labels.js';
import { formatSecondsUp, minimumDurationSeconds, minimumTotalSamples, songSamples } from './plan.js';
import { DEFAULT_SAMPLING, validateSamplingParams } from './sampler.js';
import { DEFAULT_SEGMENT_OVERLAP, validateSegments } from './segments.js';
import type { JobMode, JobRequest, JobSpec, Manifest, RowLabels, SamplingParams } from './types.js';

/** Most sample rows one job renders (Jukebox's n_samples; the README's largest batch). */
export const MAX_SAMPLES = 16;
const MAX_SEED = (1n << 64n) - 1n;

function quote(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value) : String(value);
}

function examples(ids: Record<string, number>): string {
  const names = Object.keys(ids).sort();
  const shown = names.slice(0, 8).map((n) => JSON.stringify(n)).join(', ');
  return names.length > 8 ? `${shown}, … (${names.length} in all)` : shown;
}

/** The job seed: a decimal string, a safe integer or a bigint in 0..2^64-1. */
export function parseSeed(seed: unknown): bigint {
  const range = `an integer in 0..${MAX_SEED}`;
  let value: bigint;
  if (typeof seed === 'bigint') {
    value = seed;
  } else if (typeof seed === 'number') {
    if (!Number.isSafeInteger(seed)) {
      throw new InvalidArgumentError('seed', `seed ${seed} must be ${range}; pass large seeds as a decimal string`);
    }
    value = BigInt(seed);
  } else if (typeof seed === 'string' && /^[0-9]{1,20}$/.test(seed)) {
    value = BigInt(seed);
  } else {
    throw new InvalidArgumentError('seed', `seed ${quote(seed)} must be ${range}, written in decimal digits`);
  }
  if (value < 0n || value > MAX_SEED) throw new InvalidArgumentError('seed', `seed ${value} must be ${range}`);
  return value;
}

function validateDuration(seconds: unknown, manifest: Manifest): number {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds <= 0) {
    throw new InvalidArgumentError('duration_seconds', `duration_seconds must be a finite number of seconds > 0, got ${quote(seconds)}`);
  }
  const { maxDurationSeconds } = manifest.labels;
  const samples = songSamples(manifest, seconds);
  // Jukebox's timing conditioner asserts total_length in [min_duration·sr, max_duration·sr): the upper end is open.
  // total_length is the intended length (not rounded to the top hop), so that is what must stay below it.
  if (seconds > maxDurationSeconds || Math.floor(seconds * manifest.sampleRate) >= maxDurationSeconds * manifest.sampleRate) {
    throw new InvalidArgumentError(
      'duration_seconds',
      `duration_seconds ${seconds} is too long: model ${manifest.modelId} renders songs shorter than ${maxDurationSeconds} s`,
    );
  }
  if (samples < minimumTotalSamples(manifest)) {
    throw new InvalidArgumentError(
      'duration_seconds',
      `duration_seconds ${seconds} is too short: model ${manifest.modelId} needs at least ` +
        `${formatSecondsUp(minimumDurationSeconds(manifest))} (every level below the top needs one full window, ` +
        `and the timing conditioner starts at ${manifest.labels.minDurationSeconds} s)`,
    );
  }
  return seconds;
}

/**
 * Protobuf decoders turn bytes that are not UTF-8 into U+FFFD: a text holding it was not valid UTF-8 (or names the
 * replacement character itself, which no label vocabulary or lyrics alphabet holds either).
 */
function requireUtf8(field: string, text: string): void {
  const at = text.indexOf('\uFFFD');
  if (at >= 0) {
    throw new InvalidArgumentError(field, `${field} must be valid UTF-8 text; it holds U+FFFD (bytes that are not UTF-8) at character ${at}`);
  }
}

/** Samples: unset or 0 is 1 (proto3 cannot tell an omitted field from 0). */
export function resolveSamples(samples: unknown): number {
  if (samples === undefined || samples === null || samples === 0) return 1;
  if (typeof samples !== 'number' || !Number.isInteger(samples) || samples < 1 || samples > MAX_SAMPLES) {
    throw new InvalidArgumentError('samples', `samples must be an integer in 1..${MAX_SAMPLES} (0 or omitted = 1), got ${quote(samples)}`);
  }
  return samples;
}

function artistId(artist: unknown, manifest: Manifest): number {
  if (typeof artist !== 'string') throw new InvalidArgumentError('artist', `artist must be a string, got ${quote(artist)}`);
  requireUtf8('artist', artist);
  const { artists, version } = manifest.labels;
  const key = normaliseArtist(artist, version);
  if (!Object.hasOwn(artists, key)) {
    throw new InvalidArgumentError(
      'artist',
      `artist ${quote(artist)} (looked up as ${quote(key)}) is not known to model ${manifest.modelId}; known artists: ${examples(artists)}`,
    );
  }
  return artists[key];
}

function genreIds(genres: unknown, manifest: Manifest): number[] {
  if (!Array.isArray(genres) || genres.some((g) => typeof g !== 'string')) {
    throw new InvalidArgumentError('genres', `genres must be a list of strings, got ${quote(genres)}`);
  }
  for (const g of genres as string[]) requireUtf8('genres', g);
  const { genres: known, version, maxGenreWords } = manifest.labels;
  // A genre with nothing left after normalising ("", "  ", "!!!") is the model's "unknown", as a blank artist is
  // (and as Jukebox's id files map "" to 0).
  const words = normaliseGenres(genres as string[], version).map((w) => (w.trim() === '' ? 'unknown' : w));
  for (const word of words) {
    if (!Object.hasOwn(known, word)) {
      const what = version === 'v2' ? `genre word ${quote(word)} (from ${quote(genres.join(', '))})` : `genre ${quote(word)}`;
      throw new InvalidArgumentError('genres', `${what} is not known to model ${manifest.modelId}; known genres: ${examples(known)}`);
    }
  }
  if (words.length > maxGenreWords) {
    throw new InvalidArgumentError(
      'genres',
      `genres give ${words.length} genre words (${quote(words.join(', '))}); model ${manifest.modelId} takes at most ${maxGenreWords}`,
    );
  }
  return words.map((w) => known[w]);
}

function validateLyrics(lyrics: unknown, manifest: Manifest): string {
  if (typeof lyrics !== 'string') throw new InvalidArgumentError('lyrics', `lyrics must be a string, got ${quote(lyrics)}`);
  requireUtf8('lyrics', lyrics);
  // A model without lyrics ignores them.
  if (manifest.lyrics !== undefined) {
    let chars = 0;
    for (const _ of lyrics) chars++;
    if (chars > manifest.lyrics.maxChars) {
      throw new InvalidArgumentError('lyrics', `lyrics have ${chars} characters; model ${manifest.modelId} takes at most ${manifest.lyrics.maxChars}`);
    }
  }
  return lyrics;
}

function validateSampling(entries: unknown, manifest: Manifest): SamplingParams[] {
  const n = manifest.levels.length;
  const out: (SamplingParams | undefined)[] = new Array(n).fill(undefined);
  if (entries === undefined || entries === null) entries = [];
  if (!Array.isArray(entries)) throw new InvalidArgumentError('sampling', `sampling must be a list of per-level settings, got ${quote(entries)}`);
  for (const entry of entries as unknown[]) {
    if (entry === null || typeof entry !== 'object') throw new InvalidArgumentError('sampling', `sampling entries must be objects, got ${quote(entry)}`);
    const e = entry as Record<string, unknown>;
    const level = e.level;
    if (typeof level !== 'number' || !Number.isInteger(level) || level < 0 || level >= n) {
      throw new InvalidArgumentError('sampling.level', `sampling.level must be an integer in 0..${n - 1} (model ${manifest.modelId} has ${n} levels), got ${quote(level)}`);
    }
    if (out[level] !== undefined) throw new InvalidArgumentError('sampling.level', `sampling.level ${level} is given more than once`);
    const params: SamplingParams = {
      temperature: e.temperature ?? DEFAULT_SAMPLING.temperature,
      topK: e.topK ?? DEFAULT_SAMPLING.topK,
      topP: e.topP ?? DEFAULT_SAMPLING.topP,
    } as SamplingParams;
    const lm = manifest.levels[level];
    validateSamplingParams(params, lm.codebookSize + lm.vocabOffset, level);
    out[level] = params;
  }
  return out.map((p) => p ?? { ...DEFAULT_SAMPLING });
}

/** One set of labels, checked as the job-wide fields are: known artist and genre words, lyrics within the limit. */
function validateRowLabels(row: RowLabels, manifest: Manifest): RowLabels {
  artistId(row.artist, manifest);
  genreIds(row.genres, manifest);
  const lyrics = validateLyrics(row.lyrics, manifest);
  // Levels with their own label set may take fewer genre words: refused here, not when the job runs.
  resolveRowLabels(row, manifest);
  return { artist: row.artist, genres: [...row.genres], lyrics };
}

/** Runs `check` on rows[i], its InvalidArgumentError renamed to the row's field ("rows[2].artist: ..."). */
function inRow<T>(i: number, check: () => T): T {
  try {
    return check();
  } catch (e) {
    if (!(e instanceof InvalidArgumentError)) throw e;
    const field = `rows[${i}].${e.field}`;
    throw new InvalidArgumentError(field, `${field}: ${e.message}`, { cause: e });
  }
}

/**
 * The labels of each row, and so the number of rows: `rows` when given (non-empty), with samples 0 or equal to
 * their number and no job-wide labels beside them; else the job-wide artist, genres and lyrics for every row.
 */
function validateLabels(req: JobRequest, manifest: Manifest): { rows: RowLabels[]; samples: number } {
  const given: unknown = req.rows;
  if (given === undefined || given === null || (Array.isArray(given) && given.length === 0)) {
    const row = validateRowLabels({ artist: req.artist, genres: req.genres, lyrics: req.lyrics }, manifest);
    const samples = resolveSamples(req.samples);
    return { rows: Array.from({ length: samples }, () => ({ ...row, genres: [...row.genres] })), samples };
  }
  if (!Array.isArray(given)) throw new InvalidArgumentError('rows', `rows must be a list of per-row labels, got ${quote(given)}`);
  if (given.length > MAX_SAMPLES) {
    throw new InvalidArgumentError('rows', `rows: at most ${MAX_SAMPLES} rows (one per sample row), got ${given.length}`);
  }
  // Two sources for the same labels would leave one of them silently unused.
  const both = 'give either job-wide labels (artist, genres, lyrics) or rows, not both';
  if (req.artist !== '' && req.artist !== undefined) throw new InvalidArgumentError('artist', `artist: ${both}; put the artist in each row`);
  if (Array.isArray(req.genres) ? req.genres.length > 0 : req.genres !== undefined) {
    throw new InvalidArgumentError('genres', `genres: ${both}; put the genres in each row`);
  }
  if (req.lyrics !== '' && req.lyrics !== undefined) throw new InvalidArgumentError('lyrics', `lyrics: ${both}; put the lyrics in each row`);
  if (req.samples !== undefined && req.samples !== null && req.samples !== 0 && req.samples !== given.length) {
    throw new InvalidArgumentError(
      'samples',
      `samples ${quote(req.samples)} disagrees with the ${given.length} rows given: omit samples (0) or set it to ${given.length}`,
    );
  }
  const rows = (given as unknown[]).map((row, i) => {
    if (row === null || typeof row !== 'object' || Array.isArray(row)) {
      throw new InvalidArgumentError(`rows[${i}]`, `rows[${i}] must be an object with artist, genres and lyrics, got ${quote(row)}`);
    }
    return inRow(i, () => validateRowLabels(row as RowLabels, manifest));
  });
  return { rows, samples: rows.length };
}

/** Whether two rows have the same labels (and so the same label vectors). */
export function sameRowLabels(a: RowLabels, b: RowLabels): boolean {
  return a.artist === b.artist && a.lyrics === b.lyrics && a.genres.length === b.genres.length && a.genres.every((g, i) => g === b.genres[i]);
}

/** Checks a request against `manifest` and fills in the defaults. Throws InvalidArgumentError naming the field. */
export function validateJobRequest(req: JobRequest, manifest: Manifest): JobSpec {
  // An empty model means "the one this coordinator serves".
  if (typeof req.model !== 'string' || (req.model !== '' && req.model !== manifest.modelId)) {
    throw new InvalidArgumentError('model', `model ${quote(req.model)} is not served here; this manifest is model ${quote(manifest.modelId)}`);
  }
  const durationSeconds = validateDuration(req.durationSeconds, manifest);
  const { rows, samples } = validateLabels(req, manifest);
  // An omitted seed is 0, as the CLI's default.
  const seed = parseSeed(req.seed === undefined || req.seed === null || req.seed === '' ? 0n : req.seed);
  const sampling = validateSampling(req.sampling, manifest);
  const mode = validateMode(req.mode);
  const segments = mode === 'sharded' ? validateSegments(req.segments, manifest.levels.length) : manifest.levels.map(() => 1);
  if (mode === 'exact' && (req.segments ?? []).some((n) => n !== 0 && n !== 1)) {
    throw new InvalidArgumentError('segments', 'segments: only a sharded job is split into segments; set mode to sharded');
  }
  const segmentOverlap = req.segmentOverlap ?? DEFAULT_SEGMENT_OVERLAP;
  if (typeof segmentOverlap !== 'number' || !(segmentOverlap >= 0 && segmentOverlap <= 1)) {
    throw new InvalidArgumentError('segment_overlap', `segment_overlap must be a fraction of n_ctx in [0, 1], got ${quote(segmentOverlap)}`);
  }
  return {
    model: manifest.modelId,
    rows,
    durationSeconds,
    samples,
    seed,
    sampling,
    mode,
    segments,
    segmentOverlap,
    priority: validatePriority(req.priority),
  };
}

/** Priorities 1..10; 0 or unset is the default. */
export const DEFAULT_PRIORITY = 5;
export const MAX_PRIORITY = 10;

function validatePriority(p: unknown): number {
  if (p === undefined || p === 0) return DEFAULT_PRIORITY;
  if (typeof p !== 'number' || !Number.isInteger(p) || p < 1 || p > MAX_PRIORITY) {
    throw new InvalidArgumentError('priority', `priority must be an integer in 1..${MAX_PRIORITY} (0 = the default ${DEFAULT_PRIORITY}), got ${quote(p)}`);
  }
  return p;
}

function validateMode(mode: unknown): JobMode {
  if (mode === undefined || mode === '' || mode === 'exact') return 'exact';
  if (mode === 'sharded') return 'sharded';
  throw new InvalidArgumentError('mode', `mode must be "exact" or "sharded", got ${quote(mode)}`);
}

/**
 * The ids one row's label vectors carry, per level (index = level). Names were validated against the manifest's
 * (top prior's) labels; a level with its own label set looks them up as Jukebox does (unknown -> 0).
 */
export function resolveRowLabels(row: RowLabels, manifest: Manifest): ResolvedLabels[] {
  const lyricIds = manifest.lyrics === undefined ? [] : cleanLyrics(row.lyrics, manifest.lyrics.vocab);
  const song = { artistId: artistId(row.artist, manifest), genreIds: genreIds(row.genres, manifest), lyricIds };
  return manifest.levels.map((lm) => {
    const own = lm.labels;
    if (!own) return song;
    // As Jukebox: no genre is "unknown", names a level's own set lacks are 0.
    const names = row.genres.length > 0 ? row.genres : ['unknown'];
    const genreIds = names.flatMap((g) => officialGenreIds(g, own.version, own.genres));
    if (genreIds.length > own.maxGenreWords) {
      throw new InvalidArgumentError('genres', `genres give ${genreIds.length} genre words for level ${lm.level}, which takes at most ${own.maxGenreWords}`);
    }
    return { artistId: officialArtistId(row.artist, own.version, own.artists), genreIds, lyricIds };
  });
}

/**
 * The ids a validated spec's label vectors carry: one entry per sample row, each per level (index = row, then
 * level), as Jukebox's sampler builds one label row per meta. Rows with the same labels share one entry.
 */
export function resolveLabels(spec: Pick<JobSpec, 'rows'>, manifest: Manifest): ResolvedLabels[][] {
  const resolved: { row: RowLabels; labels: ResolvedLabels[] }[] = [];
  return spec.rows.map((row) => {
    let hit = resolved.find((r) => sameRowLabels(r.row, row));
    if (!hit) resolved.push((hit = { row, labels: resolveRowLabels(row, manifest) }));
    return hit.labels;
  });
}
