// The only module that imports onnxruntime-node: creates sessions, runs graphs, owns the KV cache layout.
import * as ort from 'onnxruntime-node';
import type { LevelManifest } from '../shared/types.js';

export type ExecutionProvider = 'cpu' | 'cuda';

export interface SessionOptions {
  provider: ExecutionProvider;
  /** ORT intra-op threads per session; 1 keeps several workers on few cores from fighting. */
  intraOpThreads: number;
}

export interface OpenedSession {
  session: ort.InferenceSession;
  provider: ExecutionProvider;
}

/** Creates a session, falling back to CPU explicitly: ORT throws rather than falling back when CUDA is missing. */
export async function openSession(path: string, options: SessionOptions): Promise<OpenedSession> {
  const base: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: options.intraOpThreads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  };
  if (options.provider === 'cuda') {
    try {
      const session = await ort.InferenceSession.create(path, { ...base, executionProviders: ['cuda'] });
      return { session, provider: 'cuda' };
    } catch (err) {
      process.emitWarning(`CUDA execution provider unavailable, using CPU: ${(err as Error).message}`);
    }
  }
  const session = await ort.InferenceSession.create(path, { ...base, executionProviders: ['cpu'] });
  return { session, provider: 'cpu' };
}

function requireInputs(session: ort.InferenceSession, names: string[], graph: string): void {
  const missing = names.filter((n) => !session.inputNames.includes(n));
  if (missing.length > 0) throw new Error(`${graph} lacks inputs required by the model contract: ${missing.join(', ')}`);
}

function int64Tensor(values: ArrayLike<number>, dims: number[]): ort.Tensor {
  const data = new BigInt64Array(values.length);
  for (let i = 0; i < values.length; i++) data[i] = BigInt(values[i]);
  return new ort.Tensor('int64', data, dims);
}

export interface WindowConditioning {
  rows: number;
  yCond: ort.Tensor;
  /** [rows, nCtx, width], sliced per step. */
  xCond: Float32Array;
  /** Conditioner outputs the step graph takes by the same name (encoder_kv, or per-layer projected lyric keys). */
  passThrough: Record<string, ort.Tensor>;
}

/** Step inputs the host builds itself; any other step input must come from the conditioner. */
const HOST_STEP_INPUTS = new Set(['tokens', 'position', 'x_cond', 'y_cond']);

/** A level's conditioner and step graphs with the contract's feeds. */
export class LevelGraphs {
  private readonly kvNames: string[];
  private readonly presentNames: string[];
  private readonly headDim: number;
  private readonly passThroughNames: string[];

  constructor(
    readonly level: LevelManifest,
    private readonly conditioner: ort.InferenceSession,
    private readonly step: ort.InferenceSession,
  ) {
    const condInputs = ['labels', ...(level.conditioning.upper ? ['upper_tokens'] : [])];
    requireInputs(conditioner, condInputs, `level ${level.level} conditioner`);
    this.kvNames = [];
    this.presentNames = [];
    for (let i = 0; i < level.layers; i++) {
      this.kvNames.push(`past_key_${i}`, `past_value_${i}`);
      this.presentNames.push(`present_key_${i}`, `present_value_${i}`);
    }
    // Lyric-encoder models take encoder_kv or per-layer projected keys: both arrive as pass-through inputs.
    requireInputs(step, ['tokens', 'position', 'x_cond', 'y_cond', ...this.kvNames], `level ${level.level} step`);
    const kv = new Set(this.kvNames);
    this.passThroughNames = step.inputNames.filter((n) => !HOST_STEP_INPUTS.has(n) && !kv.has(n));
    const unmet = this.passThroughNames.filter((n) => !conditioner.outputNames.includes(n));
    if (unmet.length > 0) throw new Error(`level ${level.level} step takes ${unmet.join(', ')}, which its conditioner does not produce`);
    this.headDim = level.headDim;
  }

  /** Positions of a window's sequence: the music tokens, plus the lyric prefix of "prefix" models. */
  get sequenceLength(): number {
    return this.level.nCtx + (this.level.conditioning.lyrics === 'prefix' ? this.level.conditioning.lyricTokens : 0);
  }

  async condition(labels: ArrayLike<number>[], upper: ArrayLike<number>[] | null): Promise<WindowConditioning> {
    const rows = labels.length;
    const feeds: Record<string, ort.Tensor> = {
      labels: int64Tensor(flatten(labels), [rows, this.level.labelLength]),
    };
    if (this.level.conditioning.upper) {
      if (!upper || upper.length !== rows) throw new Error(`level ${this.level.level} needs upper-level tokens for every row`);
      feeds.upper_tokens = int64Tensor(flatten(upper), [rows, upper[0].length]);
    }
    const out = await this.conditioner.run(feeds);
    const passThrough: Record<string, ort.Tensor> = {};
    for (const n of this.passThroughNames) passThrough[n] = out[n];
    return { rows, yCond: out.y_cond, xCond: out.x_cond.data as Float32Array, passThrough };
  }

  emptyCache(rows: number): KvCache {
    const dims = [rows, this.level.heads, 0, this.headDim];
    return this.kvNames.map(() => new ort.Tensor('float32', new Float32Array(0), dims));
  }

  /**
   * Runs T positions starting at window position `position`; `tokens` is [rows * T] (the token before each position).
   * Returns the logits [rows, V] of the last position and the grown cache.
   */
  async run(cond: WindowConditioning, tokens: BigInt64Array, t: number, position: number, cache: KvCache): Promise<StepOutput> {
    const { rows } = cond;
    const w = this.level.width;
    const seq = this.sequenceLength;
    // x_cond rows for these positions: a contiguous slice per row.
    const xCond = new Float32Array(rows * t * w);
    for (let r = 0; r < rows; r++) {
      const from = (r * seq + position) * w;
      xCond.set(cond.xCond.subarray(from, from + t * w), r * t * w);
    }
    const feeds: Record<string, ort.Tensor> = {
      tokens: new ort.Tensor('int64', tokens, [rows, t]),
      position: new ort.Tensor('int64', BigInt64Array.of(BigInt(position)), [1]),
      x_cond: new ort.Tensor('float32', xCond, [rows, t, w]),
      y_cond: cond.yCond,
      ...cond.passThrough,
    };
    for (let i = 0; i < this.kvNames.length; i++) feeds[this.kvNames[i]] = cache[i];
    const out = await this.step.run(feeds);
    return {
      logits: out.logits.data as Float32Array,
      cache: this.presentNames.map((n) => out[n]),
    };
  }

  /** A bare step for benchmarks: same feeds as `run`, nothing sampled. */
  get stepSession(): ort.InferenceSession {
    return this.step;
  }
}

export type KvCache = ort.Tensor[];

export interface StepOutput {
  logits: Float32Array;
  cache: KvCache;
}

export class DecoderGraph {
  constructor(
    readonly hopLength: number,
    private readonly session: ort.InferenceSession,
  ) {
    requireInputs(session, ['tokens'], 'VQ-VAE decoder');
  }

  /** Decodes rows of equal length; returns [rows][T * hopLength] samples. */
  async decode(rows: ArrayLike<number>[]): Promise<Float32Array[]> {
    const t = rows[0].length;
    const out = await this.session.run({ tokens: int64Tensor(flatten(rows), [rows.length, t]) });
    const audio = out.audio.data as Float32Array;
    const n = t * this.hopLength;
    return rows.map((_, r) => audio.slice(r * n, (r + 1) * n));
  }
}

function flatten(rows: ArrayLike<number>[]): number[] {
  const out: number[] = [];
  for (const row of rows) for (let i = 0; i < row.length; i++) out.push(row[i]);
  return out;
}
