// How a job's song starts, Jukebox's sample.py modes besides ancestral sampling: primed (an audio prompt encoded at
// every level), continue (an earlier job's tokens at every level, to a longer song) and upsample-only (the top
// level's tokens given, the levels below sampled). Pure: checks what a request gives and says how many tokens each
// level starts with; planSong then skips the windows those tokens cover (shared/plan.ts).
import { InvalidArgumentError } from './errors.js';
import { songSamples } from './plan.js';
import type { JobStart, Manifest } from './types.js';

/**
 * Longest prompt in samples: float32 inside a worker's 8 MiB request limit (Encode), about 125 s at 16 kHz and
 * 45 s at 44.1 kHz.
 */
export const MAX_PROMPT_SAMPLES = 2_000_000;

/** What a request gives a job to start from, before it is checked. */
export type StartRequest =
  | { mode: 'primed'; wav: Uint8Array; seconds: number }
  | { mode: 'continue'; levels: GivenLevels }
  | { mode: 'upsample'; levels: GivenLevels };

/** Tokens per level and row as a request gives them: levels[level] = rows, or undefined for a level not given. */
export type GivenLevels = readonly (readonly ArrayLike<number>[] | undefined)[];

type StartManifest = Pick<Manifest, 'sampleRate' | 'levels'>;

/** The durable-store key of a level's given tokens (beside the windows' task keys). */
export function givenTokensKey(level: number): string {
  return `given:${level}`;
}

function fail(field: string, message: string): never {
  throw new InvalidArgumentError(field, `${field}: ${message}`);
}

/** Checks one level's rows: `samples` of them, `length` tokens each, inside the codebook. */
function checkRows(rows: readonly ArrayLike<number>[], field: string, samples: number, length: number, codebook: number): Int32Array[] {
  if (rows.length !== samples) fail(field, `${rows.length} rows given, the job has ${samples} sample rows`);
  return rows.map((row, r) => {
    if (row.length !== length) fail(`${field}[${r}]`, `${row.length} tokens, expected ${length}`);
    const out = Int32Array.from(row);
    const bad = out.findIndex((t, i) => t !== row[i] || t < 0 || t >= codebook);
    if (bad >= 0) fail(`${field}[${r}]`, `token ${bad} is ${String(row[bad]).slice(0, 24)}, outside the codebook 0..${codebook - 1}`);
    return out;
  });
}

/**
 * continue: every level's tokens of an earlier song, each level covering the same samples, shorter than this song.
 * Returns the tokens (index = level) and the start record.
 */
export function continueStart(manifest: StartManifest, levels: GivenLevels, samples: number, durationSeconds: number): { start: JobStart; tokens: Int32Array[][] } {
  const field = 'continue_from.levels';
  if (levels.length !== manifest.levels.length || levels.some((l) => l === undefined || l.length === 0)) {
    fail(field, `must give every level's tokens (${manifest.levels.length} levels), as --tokens-out writes them`);
  }
  const first = levels[0]![0].length;
  const covered = first * manifest.levels[0].hopLength;
  const topHop = manifest.levels[manifest.levels.length - 1].hopLength;
  if (covered === 0 || covered % topHop !== 0) fail(`${field}[0]`, `${first} tokens do not cover whole top-level tokens (${topHop / manifest.levels[0].hopLength} each)`);
  const tokens = manifest.levels.map((lm, l) => checkRows(levels[l]!, `${field}[${l}].rows`, samples, covered / lm.hopLength, lm.codebookSize));
  const total = songSamples(manifest, durationSeconds);
  if (covered >= total) {
    fail('duration_seconds', `must be longer than the continued song's ${covered / manifest.sampleRate} s, got ${durationSeconds}`);
  }
  return { start: { mode: 'continue', givenTokens: tokens.map((t) => t[0].length), givenSeconds: covered / manifest.sampleRate }, tokens };
}

/** upsample: the top level's tokens for the whole song; the levels below start empty. */
export function upsampleStart(manifest: StartManifest, levels: GivenLevels, samples: number, durationSeconds: number): { start: JobStart; tokens: Int32Array[][] } {
  const field = 'upsample.levels';
  const top = manifest.levels.length - 1;
  const extra = levels.findIndex((l, i) => i !== top && l !== undefined && l.length > 0);
  if (extra >= 0) fail(`${field}[${extra}]`, `only the top level (${top}) is given in upsample-only mode; the levels below are sampled`);
  const given = levels[top];
  if (given === undefined || given.length === 0) fail(`${field}[${top}]`, 'the top level\'s tokens are required');
  const lm = manifest.levels[top];
  const length = songSamples(manifest, durationSeconds) / lm.hopLength;
  const rows = checkRows(given, `${field}[${top}].rows`, samples, length, lm.codebookSize);
  const tokens = manifest.levels.map((_, l) => (l === top ? rows : []));
  return { start: { mode: 'upsample', givenTokens: tokens.map((t) => t[0]?.length ?? 0), givenSeconds: (length * lm.hopLength) / manifest.sampleRate }, tokens };
}

/** The song length of an upsample-only job whose duration is not given: its top-level tokens. */
export function upsampleSeconds(manifest: StartManifest, topTokens: number): number {
  return (topTokens * manifest.levels[manifest.levels.length - 1].hopLength) / manifest.sampleRate;
}

/**
 * primed: the prompt's samples at the model's rate, rounded down to whole top-level tokens as Jukebox does
 * (prompt_length_in_seconds · sr // top hop · top hop); shorter than the song and than the audio given.
 */
export function promptSamples(manifest: StartManifest, promptSeconds: number, audioSamples: number, durationSeconds: number, maxSamples: number): number {
  if (!(Number.isFinite(promptSeconds) && promptSeconds > 0)) fail('prompt.seconds', `must be a number of seconds > 0, got ${promptSeconds}`);
  const topHop = manifest.levels[manifest.levels.length - 1].hopLength;
  const n = Math.floor(Math.floor(promptSeconds * manifest.sampleRate) / topHop) * topHop;
  if (n === 0) fail('prompt.seconds', `${promptSeconds} s is shorter than one top-level token (${topHop / manifest.sampleRate} s)`);
  if (n > audioSamples) fail('prompt.seconds', `${promptSeconds} s is longer than the prompt audio (${(audioSamples / manifest.sampleRate).toFixed(3)} s at ${manifest.sampleRate} Hz)`);
  if (n > maxSamples) fail('prompt.seconds', `${promptSeconds} s is longer than a prompt may be (${Math.floor(maxSamples / manifest.sampleRate)} s at ${manifest.sampleRate} Hz)`);
  if (n >= songSamples(manifest, durationSeconds)) fail('duration_seconds', `must be longer than the prompt's ${n / manifest.sampleRate} s, got ${durationSeconds}`);
  return n;
}

/** The start record of a primed job from its prompt's tokens (index = level, the same for every row). */
export function primedStart(manifest: StartManifest, tokens: readonly Int32Array[], samples: number): { start: JobStart; tokens: Int32Array[][] } {
  const rows = tokens.map((t) => Array.from({ length: samples }, () => t.slice()));
  return {
    start: { mode: 'primed', givenTokens: tokens.map((t) => t.length), givenSeconds: (tokens[0].length * manifest.levels[0].hopLength) / manifest.sampleRate },
    tokens: rows,
  };
}
