// The only module that imports onnxruntime-node: creates sessions, runs graphs, owns the KV cache layout.
import * as ort from 'onnxruntime-node';
import type { LevelManifest, Precision } from '../shared/types.js';

export type ExecutionProvider = 'cpu' | 'cuda';
export type { Precision };
/** Element type of the cache, x_cond and y_cond: float32, or float16 in the fp16 graph set (logits stay float32). */
export type FloatType = 'float32' | 'float16';
/** float16 tensors come as Uint16Array (the raw half bits) where the runtime has no Float16Array. */
type FloatData = Float32Array | Uint16Array;

export interface SessionOptions {
  provider: ExecutionProvider;
  /** ORT intra-op threads per session; 1 keeps several workers on few cores from fighting. */
  intraOpThreads: number;
  /** A fused loop graph (contract v2): optimised at LOOP_GRAPH_OPTIMIZATION. */
  loopGraph?: boolean;
}

/**
 * ONNX Runtime's "extended" optimisations (fusions) made the loop body's numbers depend on the batch: measured, a
 * row alone gave logits 3e-6 away from the same row in a batch of 2 and from the step graph, enough to flip a token
 * at a CDF boundary, so a job's tokens depended on the other jobs riding with it. At "basic" (constant folding,
 * redundant node removal) the loop gives the step graph's numbers bit for bit, at about the same speed.
 */
export const LOOP_GRAPH_OPTIMIZATION = 'basic' as const;

export interface OpenedSession {
  session: ort.InferenceSession;
  provider: ExecutionProvider;
}

/** Creates a session, falling back to CPU explicitly: ORT throws rather than falling back when CUDA is missing. */
export async function openSession(path: string, options: SessionOptions): Promise<OpenedSession> {
  const base: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: options.intraOpThreads,
    interOpNumThreads: 1,
    graphOptimizationLevel: options.loopGraph ? LOOP_GRAPH_OPTIMIZATION : 'all',
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

function requireOutputs(session: ort.InferenceSession, names: string[], graph: string): void {
  const missing = names.filter((n) => !session.outputNames.includes(n));
  if (missing.length > 0) throw new Error(`${graph} lacks outputs required by the model contract: ${missing.join(', ')}`);
}

/** A tensor input's element type as the graph declares it (undefined: no such input, or not a tensor). */
function inputType(session: ort.InferenceSession, name: string): string | undefined {
  const m = session.inputMetadata.find((x) => x.name === name);
  return m?.isTensor ? m.type : undefined;
}

function outputType(session: ort.InferenceSession, name: string): string | undefined {
  const m = session.outputMetadata.find((x) => x.name === name);
  return m?.isTensor ? m.type : undefined;
}

function int64Tensor(values: ArrayLike<number>, dims: number[]): ort.Tensor {
  const data = new BigInt64Array(values.length);
  for (let i = 0; i < values.length; i++) data[i] = BigInt(values[i]);
  return new ort.Tensor('int64', data, dims);
}

export interface WindowConditioning {
  rows: number;
  yCond: ort.Tensor;
  /** [rows, nCtx, width], sliced per step; the conditioner's element type (float16: the raw half bits). */
  xCond: FloatData;
  /** Conditioner outputs the step graph takes by the same name (encoder_kv, or per-layer projected lyric keys). */
  passThrough: Record<string, ort.Tensor>;
  /** The whole x_cond as the conditioner output it, fed unchanged to the loop graph. */
  xCondTensor: ort.Tensor;
}

/** Per-row sampling settings as the loop graph takes them (topK 0 and topP 1 mean off). */
export interface RowSampling {
  temperature: Float64Array;
  topK: BigInt64Array;
  topP: Float64Array;
}

export interface ChunkOutput {
  /** [rows * n]: the sampled ids in the graph's vocabulary. */
  tokens: BigInt64Array;
  cache: KvCache;
}

/** Step inputs the host builds itself; any other step input must come from the conditioner. */
const HOST_STEP_INPUTS = new Set(['tokens', 'position', 'x_cond', 'y_cond']);

/** Loop graph inputs the host builds itself (the rest: the cache and conditioner pass-through outputs). */
const HOST_LOOP_INPUTS = new Set(['tokens', 'position', 'x_cond', 'y_cond', 'n_steps', 'uniforms', 'temperature', 'top_k', 'top_p']);

/** A level's conditioner and step graphs (and its fused loop graph, contract v2) with the contract's feeds. */
export class LevelGraphs {
  private readonly kvNames: string[];
  private readonly presentNames: string[];
  private readonly headDim: number;
  private readonly passThroughNames: string[] = [];
  private readonly loopPassThrough: string[] = [];
  /** Read from the graphs, so a level cannot mix graph sets: the cache and x_cond are fed in the type they declare. */
  readonly floatType: FloatType;

  /** At least one of `step` and `loop`: with a loop graph the step graph is only needed to compare (tests, benches). */
  constructor(
    readonly level: LevelManifest,
    private readonly conditioner: ort.InferenceSession,
    private readonly step: ort.InferenceSession | undefined,
    private readonly loop?: ort.InferenceSession,
  ) {
    const condInputs = ['labels', ...(level.conditioning.upper ? ['upper_tokens'] : [])];
    requireInputs(conditioner, condInputs, `level ${level.level} conditioner`);
    if (!step && !loop) throw new Error(`level ${level.level}: a step or a loop graph is needed`);
    this.kvNames = [];
    this.presentNames = [];
    for (let i = 0; i < level.layers; i++) {
      this.kvNames.push(`past_key_${i}`, `past_value_${i}`);
      this.presentNames.push(`present_key_${i}`, `present_value_${i}`);
    }
    const kv = new Set(this.kvNames);
    // Lyric-encoder models take encoder_kv or per-layer projected keys: both arrive as pass-through inputs.
    const passThrough = (session: ort.InferenceSession, host: Set<string>, graph: string): string[] => {
      const names = session.inputNames.filter((n) => !host.has(n) && !kv.has(n));
      const unmet = names.filter((n) => !conditioner.outputNames.includes(n));
      if (unmet.length > 0) throw new Error(`level ${level.level} ${graph} takes ${unmet.join(', ')}, which its conditioner does not produce`);
      return names;
    };
    if (step) {
      requireInputs(step, ['tokens', 'position', 'x_cond', 'y_cond', ...this.kvNames], `level ${level.level} step`);
      this.passThroughNames = passThrough(step, HOST_STEP_INPUTS, 'step');
    }
    if (loop) {
      requireInputs(loop, [...HOST_LOOP_INPUTS, ...this.kvNames], `level ${level.level} loop`);
      requireOutputs(loop, ['tokens_out', ...this.presentNames], `level ${level.level} loop`);
      this.loopPassThrough = passThrough(loop, HOST_LOOP_INPUTS, 'loop');
    }
    this.headDim = level.headDim;
    // The graphs declare their element types: float16 cache and x_cond in the fp16 set, float32 logits in both.
    const floatType = outputType(conditioner, 'x_cond');
    if (floatType !== 'float32' && floatType !== 'float16') throw new Error(`level ${level.level} conditioner: x_cond is ${floatType}, expected float32 or float16`);
    for (const [name, s] of [['step', step], ['loop', loop]] as const) {
      if (!s) continue;
      for (const input of ['x_cond', 'past_key_0']) {
        const type = inputType(s, input);
        if (type !== floatType) throw new Error(`level ${level.level} ${name}: ${input} is ${type}, but the conditioner's x_cond is ${floatType} (a level's graphs must be of one precision)`);
      }
    }
    if (step && outputType(step, 'logits') !== 'float32') throw new Error(`level ${level.level} step: logits must be float32, got ${outputType(step, 'logits')}`);
    this.floatType = floatType;
  }

  /** fp16 when the level runs its float16 graph set. */
  get precision(): Precision {
    return this.floatType === 'float16' ? 'fp16' : 'fp32';
  }

  /**
   * Prefills T known positions from `position` (`tokens` [rows * T], the token before each position) and returns the
   * cache after them: with the loop graph where there is one (n_steps 0), else the step graph.
   */
  async prefill(cond: WindowConditioning, tokens: BigInt64Array, t: number, position: number, cache: KvCache): Promise<KvCache> {
    if (!this.loop) return (await this.run(cond, tokens, t, position, cache)).cache;
    const { rows } = cond;
    const none: RowSampling = { temperature: new Float64Array(rows).fill(1), topK: new BigInt64Array(rows), topP: new Float64Array(rows).fill(1) };
    return (await this.runLoop(cond, tokens, t, position, 0, cache, new Float64Array(0), none)).cache;
  }

  /** Whether this level samples with the fused loop graph. */
  get fused(): boolean {
    return this.loop !== undefined;
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
    for (const n of [...this.passThroughNames, ...this.loopPassThrough]) passThrough[n] = out[n];
    return { rows, yCond: out.y_cond, xCond: out.x_cond.data as FloatData, xCondTensor: out.x_cond, passThrough };
  }

  emptyCache(rows: number): KvCache {
    const dims = [rows, this.level.heads, 0, this.headDim];
    return this.kvNames.map(() => (this.floatType === 'float16' ? new ort.Tensor('float16', new Uint16Array(0), dims) : new ort.Tensor('float32', new Float32Array(0), dims)));
  }

  /**
   * Runs T positions starting at window position `position`; `tokens` is [rows * T] (the token before each position).
   * Returns the logits [rows, V] of the last position and the grown cache.
   */
  async run(cond: WindowConditioning, tokens: BigInt64Array, t: number, position: number, cache: KvCache): Promise<StepOutput> {
    if (!this.step) throw new Error(`level ${this.level.level}: no step graph loaded`);
    const { rows } = cond;
    const w = this.level.width;
    const seq = this.sequenceLength;
    // x_cond rows for these positions: a contiguous slice per row, in the conditioner's element type.
    const xCond = new (cond.xCond.constructor as new (n: number) => FloatData)(rows * t * w);
    for (let r = 0; r < rows; r++) {
      const from = (r * seq + position) * w;
      xCond.set(cond.xCond.subarray(from, from + t * w), r * t * w);
    }
    const feeds: Record<string, ort.Tensor> = {
      tokens: new ort.Tensor('int64', tokens, [rows, t]),
      position: new ort.Tensor('int64', BigInt64Array.of(BigInt(position)), [1]),
      x_cond: new ort.Tensor(this.floatType, xCond, [rows, t, w]),
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

  /**
   * Samples n tokens in one run of the loop graph from window position `position`: `prev` [rows] is the token
   * before it, `uniforms` [rows * n] the counter RNG's draws for these positions. Returns the tokens and the cache
   * after them.
   */
  async sampleChunk(
    cond: WindowConditioning,
    prev: BigInt64Array,
    position: number,
    n: number,
    cache: KvCache,
    uniforms: Float64Array,
    sampling: RowSampling,
  ): Promise<ChunkOutput> {
    return this.runLoop(cond, prev, 1, position, n, cache, uniforms, sampling);
  }

  private async runLoop(
    cond: WindowConditioning,
    tokens: BigInt64Array,
    t: number,
    position: number,
    n: number,
    cache: KvCache,
    uniforms: Float64Array,
    sampling: RowSampling,
  ): Promise<ChunkOutput> {
    if (!this.loop) throw new Error(`level ${this.level.level} has no loop graph`);
    const { rows } = cond;
    const feeds: Record<string, ort.Tensor> = {
      tokens: new ort.Tensor('int64', tokens, [rows, t]),
      position: new ort.Tensor('int64', BigInt64Array.of(BigInt(position)), [1]),
      x_cond: cond.xCondTensor,
      y_cond: cond.yCond,
      n_steps: new ort.Tensor('int64', BigInt64Array.of(BigInt(n)), []),
      uniforms: new ort.Tensor('float64', uniforms, [rows, n]),
      temperature: new ort.Tensor('float64', sampling.temperature, [rows]),
      top_k: new ort.Tensor('int64', sampling.topK, [rows]),
      top_p: new ort.Tensor('float64', sampling.topP, [rows]),
    };
    for (const name of this.loopPassThrough) feeds[name] = cond.passThrough[name];
    for (let i = 0; i < this.kvNames.length; i++) feeds[this.kvNames[i]] = cache[i];
    const out = await this.loop.run(feeds);
    return { tokens: out.tokens_out.data as BigInt64Array, cache: this.presentNames.map((name) => out[name]) };
  }

  /** A bare step for benchmarks: same feeds as `run`, nothing sampled. */
  get stepSession(): ort.InferenceSession {
    if (!this.step) throw new Error(`level ${this.level.level}: no step graph loaded`);
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

/** A VQ-VAE encoder graph (manifest vqvae.encoders): audio rows -> that level's tokens. */
export class EncoderGraph {
  constructor(
    readonly hopLength: number,
    private readonly session: ort.InferenceSession,
  ) {
    requireInputs(session, ['audio'], 'VQ-VAE encoder');
  }

  /** Encodes rows of equal length (a multiple of hopLength); returns [rows][T / hopLength] tokens. */
  async encode(rows: Float32Array[]): Promise<Int32Array[]> {
    const t = rows[0].length;
    const flat = new Float32Array(rows.length * t);
    rows.forEach((r, i) => flat.set(r, i * t));
    const out = await this.session.run({ audio: new ort.Tensor('float32', flat, [rows.length, t]) });
    const tokens = out.tokens.data as BigInt64Array;
    const n = t / this.hopLength;
    return rows.map((_, r) => Int32Array.from(tokens.subarray(r * n, (r + 1) * n), (v) => Number(v)));
  }
}

function flatten(rows: ArrayLike<number>[]): number[] {
  const out: number[] = [];
  for (const row of rows) for (let i = 0; i < row.length; i++) out.push(row[i]);
  return out;
}
