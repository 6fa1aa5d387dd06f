// What the CLI reads for a job that does not start from nothing: a tokens file (--continue, --upsample), as
// `--tokens-out` writes it ({"levels": {"0": [[...row 0...], ...], "1": ..., "2": ...}}), and a prompt WAV (--prompt),
// sent as it is (the coordinator reads and resamples it).
import { readFile } from 'node:fs/promises';

/** Index = level; undefined where the file has no such level. */
export type TokenLevels = (number[][] | undefined)[];

/** Reads a tokens file; throws an Error naming the file and the first thing wrong with it. */
export async function readTokensFile(path: string): Promise<TokenLevels> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
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
    if (!Number.isInteger(level) || level < 0 || level > 15) throw new Error(`${path}: levels["${key.slice(0, 20)}"] is not a level number`);
    if (!Array.isArray(rows) || rows.some((r) => !Array.isArray(r) || r.some((t) => typeof t !== 'number'))) {
      throw new Error(`${path}: levels["${key}"] must be an array of rows, each an array of token numbers`);
    }
    out[level] = rows as number[][];
  }
  return out;
}
