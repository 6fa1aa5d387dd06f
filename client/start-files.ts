// What the CLI reads for a job that does not start from nothing: a tokens file (--continue, --upsample), as
// `--tokens-out` writes it ({"levels": {"0": [[...row 0...], ...], "1": ..., "2": ...}}), and a prompt WAV (--prompt),
// sent as it is (the coordinator reads and resamples it).
import { readFileSync } from 'node:fs';
import type { GivenTokens } from '../proto/generated/jukebox/v1/GivenTokens.js';

/** Index = level; undefined where the file has no such level. */
export type TokenLevels = (number[][] | undefined)[];

/** Reads a tokens file; throws an Error naming the file and the first thing wrong with it. */
export function readTokensFile(path: string): TokenLevels {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path}: not a readable JSON tokens file (${(err as Error).message.slice(0, 120)})`);
  }
  const levels = (json as { levels?: unknown } | null)?.levels;
  if (typeof levels !== 'object' || levels === null || Array.isArray(levels)) {
    throw new Error(`${path}: expected {"levels": {"0": [[tokens of row 0], ...], ...}}, as --tokens-out writes it`);
  }
  const out: TokenLevels = [];
  for (const [key, rows] of Object.entries(levels)) {
    const level = Number(key);
    if (!/^[0-9]+$/.test(key) || level > 15) throw new Error(`${path}: levels["${key.slice(0, 20)}"] is not a level number`);
    if (!Array.isArray(rows) || rows.some((r) => !Array.isArray(r) || r.some((t) => typeof t !== 'number'))) {
      throw new Error(`${path}: levels["${key}"] must be an array of rows, each an array of token numbers`);
    }
    out[level] = rows as number[][];
  }
  return out;
}

/** The levels of a tokens file as the proto's GivenTokens; `only` keeps one level (upsample-only: the top). */
export function givenTokens(levels: TokenLevels, only?: number): GivenTokens {
  const entries = levels.flatMap((rows, level) => (rows && (only === undefined || level === only) ? [{ level, rows: rows.map((tokens) => ({ tokens })) }] : []));
  return { levels: entries };
}

/** Rows of the top level of a tokens file (its sample count), or undefined when it has none. */
export function tokenRows(levels: TokenLevels): number | undefined {
  return levels[levels.length - 1]?.length;
}
