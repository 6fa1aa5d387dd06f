// Per-row labels on the command line: `--row 'artist=NAME;genres=A,B;lyrics=TEXT'` (once per row) or `--metas
// FILE.json`. The coordinator validates the names; this only turns the flags into SubmitJobRequest.rows.
import { readFileSync } from 'node:fs';
import type { RowLabels } from '../shared/types.js';

const KEYS = ['artist', 'genres', 'lyrics'] as const;
type Key = (typeof KEYS)[number];

/** What --row and --metas say in --help. */
export const ROW_SYNTAX =
  "one row's labels, \"artist=NAME;genres=A,B;lyrics=TEXT\"; repeat once per row (row 0 first). Fields are split on " +
  '";" (so lyrics holding ";" must come from a file: lyrics=@FILE), each field at most once and any left out is the ' +
  "model's unknown / none; genres are split on \",\"";

export const METAS_SYNTAX =
  'per-row labels from a JSON file: an array with one {"artist": "...", "genres": ["..."], "lyrics": "..."} per row ' +
  '(row 0 first; any key may be left out; lyrics as text, not @FILE)';

/** A file's text, for lyrics=@FILE. */
export type ReadText = (path: string) => string;
const readText: ReadText = (path) => readFileSync(path, 'utf8');

/**
 * One --row value. Throws an Error saying what is wrong. `artist=` and `lyrics=` take the text after "=" as it
 * is; `genres=` is a comma list (blanks around commas dropped; empty = no genres).
 */
export function parseRowFlag(value: string, read: ReadText = readText): RowLabels {
  const row: RowLabels = { artist: '', genres: [], lyrics: '' };
  const seen = new Set<Key>();
  for (const field of value.split(';')) {
    if (field.trim() === '') continue; // "artist=a;" and '' (a row of the model's unknowns) are fine
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).trim();
    if (eq < 0 || !(KEYS as readonly string[]).includes(key)) {
      throw new Error(
        `"${cut(field)}" is not artist=..., genres=... or lyrics=... (fields are split on ";": lyrics holding ";" must come from a file, lyrics=@FILE)`,
      );
    }
    const k = key as Key;
    if (seen.has(k)) throw new Error(`${k}= is given twice in one row`);
    seen.add(k);
    const text = field.slice(eq + 1);
    if (k === 'artist') row.artist = text;
    else if (k === 'lyrics') row.lyrics = text.startsWith('@') ? readLyricsFile(text.slice(1), read) : text;
    else row.genres = text.trim() === '' ? [] : text.split(',').map((g) => g.trim());
    if (k === 'genres' && row.genres.some((g) => g === '')) throw new Error(`genres=${cut(text)} has an empty genre between commas`);
  }
  return row;
}

function readLyricsFile(path: string, read: ReadText): string {
  try {
    return read(path);
  } catch (err) {
    throw new Error(`lyrics=@${path}: ${(err as Error).message}`);
  }
}

/** The rows of a --metas file's JSON text. Throws an Error naming the entry and key that are wrong. */
export function parseMetas(text: string): RowLabels[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new Error(`not JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(data) || data.length === 0) throw new Error('must hold a JSON array with one object per row');
  return data.map((entry: unknown, i) => {
    const where = `entry ${i}`;
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) throw new Error(`${where} must be an object with artist, genres and lyrics`);
    const e = entry as Record<string, unknown>;
    const unknown = Object.keys(e).filter((k) => !(KEYS as readonly string[]).includes(k));
    if (unknown.length > 0) throw new Error(`${where}: ${unknown.map((k) => JSON.stringify(k)).join(', ')} is not a label (give artist, genres, lyrics)`);
    const str = (k: 'artist' | 'lyrics'): string => {
      if (e[k] === undefined) return '';
      if (typeof e[k] !== 'string') throw new Error(`${where}: ${k} must be a string`);
      return e[k];
    };
    const genres = e.genres ?? [];
    if (!Array.isArray(genres) || genres.some((g) => typeof g !== 'string')) throw new Error(`${where}: genres must be an array of strings`);
    return { artist: str('artist'), genres: [...(genres as string[])], lyrics: str('lyrics') };
  });
}

/** --metas FILE. */
export function readMetasFile(path: string, read: ReadText = readText): RowLabels[] {
  return parseMetas(read(path));
}

/**
 * The request's sample count with per-row labels: their number, or --samples when it agrees. Throws when
 * --samples says otherwise (the coordinator would refuse it too; this says which flag).
 */
export function rowsSamples(rows: readonly RowLabels[], samples: number | undefined, from: '--row' | '--metas'): number {
  if (samples !== undefined && samples !== rows.length) {
    const what = from === '--row' ? `${rows.length} --row flags` : `${rows.length} rows in --metas`;
    throw new Error(`--samples ${samples} disagrees with the ${what}: leave --samples out or give ${rows.length}`);
  }
  return rows.length;
}

function cut(s: string): string {
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}
