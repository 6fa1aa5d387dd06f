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

/** Where one segment of a level samples and what it keeps (see shared/segments.ts). */
export interface StreamSegment {
  start: number;
  end: number;
  ownStart: number;
  ownEnd: number;
}

/**
 * A level's tokens when it is sampled as segments: each segment appends to its own buffer (its windows' context,
 * warm-up included); the level's tokens are, position by position, those of the segment that owns the position.
 * With one segment owning the whole level this is exactly LevelTokens.
 */
export class LevelStream {
  readonly rows: number;
  readonly totalTokens: number;
  private readonly segments: { span: StreamSegment; tokens: LevelTokens }[];

  constructor(rows: number, totalTokens: number, spans: readonly StreamSegment[] = [{ start: 0, end: totalTokens, ownStart: 0, ownEnd: totalTokens }]) {
    let next = 0;
    for (const s of spans) {
      if (s.ownStart !== next || s.start > s.ownStart || s.ownEnd > s.end || s.ownEnd <= s.ownStart) {
        throw new RangeError(`segments must own consecutive, non-empty parts of the level: [${s.ownStart}, ${s.ownEnd}) after ${next}`);
      }
      next = s.ownEnd;
    }
    if (next !== totalTokens) throw new RangeError(`segments own ${next} of ${totalTokens} tokens`);
    this.rows = rows;
    this.totalTokens = totalTokens;
    this.segments = spans.map((span) => ({ span, tokens: new LevelTokens(rows, span.end - span.start) }));
  }

  private seg(segment: number): { span: StreamSegment; tokens: LevelTokens } {
    const s = this.segments[segment];
    if (!s) throw new RangeError(`no segment ${segment} (the level has ${this.segments.length})`);
    return s;
  }

  /** One past the last token segment `segment` has sampled, in level positions. */
  sampledEnd(segment: number): number {
    const s = this.seg(segment);
    return s.span.start + s.tokens.length;
  }

  /** A window's priming context from its own segment: tokens [start, end) as that segment sampled them. */
  context(segment: number, start: number, end: number): Int32Array[] {
    const s = this.seg(segment);
    return s.tokens.window(start - s.span.start, end - s.span.start);
  }

  /** Appends a window's new tokens to its segment; `start` must be where the segment's tokens end. */
  append(segment: number, start: number, rows: readonly ArrayLike<number>[]): void {
    const s = this.seg(segment);
    s.tokens.append(start - s.span.start, rows);
  }

  /** The owners of [start, end), with the part each owns. */
  private owners(start: number, end: number): { s: { span: StreamSegment; tokens: LevelTokens }; from: number; to: number }[] {
    const out = [];
    for (const s of this.segments) {
      const from = Math.max(start, s.span.ownStart);
      const to = Math.min(end, s.span.ownEnd);
      if (from < to) out.push({ s, from, to });
    }
    return out;
  }

  /** True when the level's tokens [start, end) all exist. */
  has(start: number, end: number): boolean {
    return this.owners(start, end).every(({ s, to }) => s.span.start + s.tokens.length >= to);
  }

  /** Copies of the level's tokens [start, end) of every row; all of them must exist. */
  range(start: number, end: number): Int32Array[] {
    if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start <= end && end <= this.totalTokens)) {
      throw new RangeError(`[${start}, ${end}) is not a token range of the level's ${this.totalTokens}`);
    }
    if (!this.has(start, end)) throw new RangeError(`tokens [${start}, ${end}) of the level do not all exist yet`);
    const out = Array.from({ length: this.rows }, () => new Int32Array(end - start));
    for (const { s, from, to } of this.owners(start, end)) {
      const part = s.tokens.window(from - s.span.start, to - s.span.start);
      part.forEach((row, r) => out[r].set(row, from - start));
    }
    return out;
  }

  /** Length of the level's tokens that exist from position 0 on, without a gap. */
  get length(): number {
    for (const { span, tokens } of this.segments) {
      const sampled = span.start + tokens.length;
      if (sampled < span.ownEnd) return Math.max(span.ownStart, sampled);
    }
    return this.totalTokens;
  }

  get complete(): boolean {
    return this.length === this.totalTokens;
  }
}
