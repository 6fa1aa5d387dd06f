// The tokens of one level of one job. Jukebox "stitches" windows by concatenation: each window appends its new
// tokens right where the level's tokens end (zs[level] = cat(zs[level], z_new)), so an append anywhere else
// means a window ran with the wrong context, and is refused.

export class LevelTokens {
  readonly rows: number;
  readonly totalTokens: number;
  private readonly data: Int32Array[];
  private done = 0;

  constructor(rows: number, totalTokens: number) {
    if (!Number.isSafeInteger(rows) || rows < 1) throw new RangeError(`rows must be a positive integer, got ${rows}`);
    if (!Number.isSafeInteger(totalTokens) || totalTokens < 1) throw new RangeError(`totalTokens must be a positive integer, got ${totalTokens}`);
    this.rows = rows;
    this.totalTokens = totalTokens;
    this.data = Array.from({ length: rows }, () => new Int32Array(totalTokens));
  }

  /** Tokens sampled so far (per row; all rows advance together). */
  get length(): number {
    return this.done;
  }

  /** True once every token of the level exists. */
  get complete(): boolean {
    return this.done === this.totalTokens;
  }

  private slice(start: number, end: number, what: string): Int32Array[] {
    if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start <= end)) {
      throw new RangeError(`${what} [${start}, ${end}) is not a token range`);
    }
    if (end > this.done) throw new RangeError(`${what} [${start}, ${end}) reaches past the ${this.done} tokens sampled so far`);
    return this.data.map((row) => row.slice(start, end));
  }

  /** Copies of tokens [start, end) of every row: a window's priming context. All of them must exist. */
  window(start: number, end: number): Int32Array[] {
    return this.slice(start, end, 'context');
  }

  /** Copies of tokens [start, end) of every row, for conditioning the level below. All of them must exist. */
  upper(start: number, end: number): Int32Array[] {
    return this.slice(start, end, 'upper-level span');
  }

  /**
   * Appends one window's new tokens, one array per row, all the same length. `start` is where they go, the
   * window's start + contextTokens, and must be exactly where the level's tokens end.
   */
  append(start: number, rows: readonly ArrayLike<number>[]): void {
    if (start !== this.done) {
      throw new RangeError(`window tokens start at ${start}, but this level's tokens end at ${this.done}: the window ran with the wrong context`);
    }
    if (rows.length !== this.rows) throw new RangeError(`got ${rows.length} rows of tokens, the job has ${this.rows}`);
    const n = rows[0].length;
    if (rows.some((r) => r.length !== n)) throw new RangeError('rows of a window must all have the same number of tokens');
    if (this.done + n > this.totalTokens) {
      throw new RangeError(`${n} tokens at ${start} run past the level's ${this.totalTokens} tokens`);
    }
    rows.forEach((r, i) => this.data[i].set(r, this.done));
    this.done += n;
  }

  /** Row r's sampled tokens as a view (no copy): read it, do not write it. */
  row(r: number): Int32Array {
    if (!Number.isInteger(r) || r < 0 || r >= this.rows) throw new RangeError(`row ${r} is not in 0..${this.rows - 1}`);
    return this.data[r].subarray(0, this.done);
  }
}
