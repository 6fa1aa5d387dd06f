// The tokens of one level of one job. Jukebox "stitches" windows by concatenation: each window appends its new
// tokens right where the level's tokens end (zs[level] = cat(zs[level], z_new)), so an append anywhere else
// means a window ran with the wrong context, and is refused.

/** Tokens per row held in one block: memory grows as a level is sampled and is freed block by block. */
const BLOCK = 16384;

export class LevelTokens {
  readonly rows: number;
  readonly totalTokens: number;
  /** [row][block]; a block is allocated when the first token lands in it, dropped by discardBefore. */
  private readonly blocks: (Int32Array | undefined)[][];
  private done = 0;
  /** Tokens before this were discarded (a multiple of BLOCK, or 0). */
  private freedBefore = 0;

  constructor(rows: number, totalTokens: number) {
    if (!Number.isSafeInteger(rows) || rows < 1) throw new RangeError(`rows must be a positive integer, got ${rows}`);
    if (!Number.isSafeInteger(totalTokens) || totalTokens < 1) throw new RangeError(`totalTokens must be a positive integer, got ${totalTokens}`);
    this.rows = rows;
    this.totalTokens = totalTokens;
    this.blocks = Array.from({ length: rows }, () => []);
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
    if (start < this.freedBefore && start < end) throw new RangeError(`${what} [${start}, ${end}) was discarded from memory (tokens before ${this.freedBefore} are in the store only)`);
    return this.blocks.map((blocks) => {
      const out = new Int32Array(end - start);
      for (let at = start; at < end; ) {
        const b = Math.floor(at / BLOCK);
        const from = at - b * BLOCK;
        const n = Math.min(end - at, BLOCK - from);
        out.set(blocks[b]!.subarray(from, from + n), at - start);
        at += n;
      }
      return out;
    });
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
    rows.forEach((r, i) => {
      const blocks = this.blocks[i];
      for (let k = 0; k < n; ) {
        const at = this.done + k;
        const b = Math.floor(at / BLOCK);
        const from = at - b * BLOCK;
        const m = Math.min(n - k, BLOCK - from);
        const block = (blocks[b] ??= new Int32Array(Math.min(BLOCK, this.totalTokens - b * BLOCK)));
        for (let j = 0; j < m; j++) block[from + j] = r[k + j];
        k += m;
      }
    });
    this.done += n;
  }

  /** Frees the memory of tokens before `pos` (whole blocks only): nothing will read them from here again. */
  discardBefore(pos: number): void {
    const upto = Math.floor(Math.min(pos, this.done) / BLOCK);
    for (const blocks of this.blocks) for (let b = this.freedBefore / BLOCK; b < upto; b++) blocks[b] = undefined;
    this.freedBefore = Math.max(this.freedBefore, upto * BLOCK);
  }

  /** Row r's sampled tokens (a copy). */
  row(r: number): Int32Array {
    if (!Number.isInteger(r) || r < 0 || r >= this.rows) throw new RangeError(`row ${r} is not in 0..${this.rows - 1}`);
    return this.slice(0, this.done, 'row')[r];
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

  /** Frees the memory of the level's tokens before `pos` in every segment (see LevelTokens.discardBefore). */
  discardBefore(pos: number): void {
    for (const { span, tokens } of this.segments) tokens.discardBefore(pos - span.start);
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
