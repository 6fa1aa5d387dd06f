// The GPU check: one real-width layer stack (tools/gpu_stack.py) on an execution provider. What it measures:
//   prefill   a window primed to mid-context (nCtx/2 random known tokens) through the step graph in prefillChunk
//             chunks (contract v1) and through the loop graph (n_steps 0, contract v2), timed separately;
//   sampling  per-token time from that primed window at batch 1 and 4: (a) v1, the step graph with the host sampler,
//             one session.run per token; (b) v2, the loop graph with LOOP_CHUNK tokens per run. ROUNDS interleaved
//             rounds after a warm-up one; median with the spread ((max - min) / median);
//   memcpy    the loop graph opened once more with ORT's profiler: the Memcpy nodes (host <-> device copies ORT
//             inserts) counted per run and per Loop iteration (two runs of different chunk lengths), and the
//             nodes each provider ran (CPU nodes in a CUDA session are what the Memcpys feed);
//   agreement the same primed window and uniforms sampled with the loop graph on the CPU and on the provider
//             (skipped for --provider cpu): first flip per row, as tests/helpers/fused-agreement.ts counts them;
//             and, on the provider, step graph + host sampler against the loop graph over the v1 tokens;
//   memory    where nvidia-smi exists: device memory used (whole device), polled, peak per phase.
// Writes one JSON object to --out and prints a summary.
//   npx tsx bench/gpu-check.ts DIR [--provider cuda|cpu] [--out FILE]
// DIR: OUT/<config> of tools/gpu_stack.py (level.json, stack.json and the graphs). Env: GPU_CHECK_ROUNDS (3),
// GPU_CHECK_THREADS (ORT intra-op threads of the measured sessions, 1), GPU_CHECK_KEEP_PROFILE (0: delete the
// profile after parsing it), GPU_CHECK_CPU_AGREEMENT (1: the CPU comparison with --provider cpu too, CPU vs CPU).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { LOOP_GRAPH_OPTIMIZATION, LevelGraphs, openSession, type ExecutionProvider, type KvCache, type RowSampling, type WindowConditioning } from '../worker/onnx-runtime.js';
import { splitSeed, uniform } from '../shared/rng.js';
import { DEFAULT_SAMPLING, TokenSampler } from '../shared/sampler.js';
import type { LevelManifest, SamplingParams } from '../shared/types.js';
import { SAMPLING_CASES, agreement, type Agreement } from '../tests/helpers/fused-agreement.js';
import { RESULTS_DIR, machine, spreadStat, type SpreadStat } from './common.js';
import { mulberry32 } from './seams-dsp.js';

const ROUNDS = Number(process.env.GPU_CHECK_ROUNDS ?? 3);
const THREADS = Number(process.env.GPU_CHECK_THREADS ?? 1);
const KEEP_PROFILE = process.env.GPU_CHECK_KEEP_PROFILE === '1';
/** Runs the CPU-vs-provider comparison with --provider cpu too (CPU against CPU: a test of the comparison itself). */
const CPU_AGREEMENT = process.env.GPU_CHECK_CPU_AGREEMENT === '1';
const BATCHES = [1, 4];
/** Tokens per window of the v1 measurement (one session.run each). */
const V1_TOKENS = 32;
/** Tokens per run of the loop graph, and tokens per window of the v2 measurement (capped by the window's end). */
const LOOP_CHUNK = 64;
const V2_TOKENS = 128;
/** The two chunk lengths the profiler runs: Memcpy nodes per iteration = the difference / (long - short). */
const PROFILE_SHORT = 8;
const SEED = 0x5eed_1234n;
/** Upper-level tokens per level token: Jukebox's hop ratio between levels. */
const UPPER_RATIO = 4;
/** Exit status when CUDA was asked for and the session came back on the CPU. */
const EXIT_NO_CUDA = 2;

interface Args {
  dir: string;
  provider: ExecutionProvider;
  out: string;
}

function parseArgs(argv: string[]): Args {
  let dir: string | undefined;
  let provider: ExecutionProvider = 'cuda';
  let out = join(RESULTS_DIR, 'gpu-check.json');
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--provider') {
      const p = argv[++i];
      if (p !== 'cuda' && p !== 'cpu') usage(`--provider must be cuda or cpu, got ${p}`);
      provider = p;
    } else if (a === '--out') out = argv[++i] ?? usage('--out needs a file');
    else if (a.startsWith('--')) usage(`unknown option ${a}`);
    else if (dir === undefined) dir = a;
    else usage(`unexpected argument ${a}`);
  }
  if (!dir) usage('DIR is required');
  return { dir: resolve(dir), provider, out: resolve(out) };
}

function usage(message: string): never {
  console.error(`${message}\nusage: npx tsx bench/gpu-check.ts DIR [--provider cuda|cpu] [--out FILE]`);
  process.exit(1);
}

// ---------------------------------------------------------------------------------------------------------------
// Small helpers

const stat = (xs: number[], digits = 2): SpreadStat => spreadStat(xs, digits);

function now(): number {
  return performance.now();
}

function gpuName(): string | null {
  const r = spawnSync('nvidia-smi', ['--query-gpu=name,memory.total', '--format=csv,noheader'], { encoding: 'utf8' });
  if (r.status !== 0 || !r.stdout) return null;
  return r.stdout.trim().split('\n').join('; ');
}

/** Polls nvidia-smi's memory.used (MiB, the whole device: other processes count too); peaks per named phase. */
class GpuMemory {
  private readonly samples: { t: number; mib: number }[] = [];
  private readonly phases: { name: string; from: number; to: number }[] = [];
  private child: ChildProcess | null = null;

  start(): boolean {
    const device = /^\d+$/.test(process.env.CUDA_VISIBLE_DEVICES ?? '') ? process.env.CUDA_VISIBLE_DEVICES! : '0';
    const probe = spawnSync('nvidia-smi', ['-i', device, '--query-gpu=memory.used', '--format=csv,noheader,nounits'], { encoding: 'utf8' });
    if (probe.status !== 0) return false;
    this.child = spawn('nvidia-smi', ['-i', device, '--query-gpu=memory.used', '--format=csv,noheader,nounits', '-lms', '100'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let buf = '';
    this.child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const mib = Number(buf.slice(0, nl).trim());
        buf = buf.slice(nl + 1);
        if (Number.isFinite(mib)) this.samples.push({ t: now(), mib });
      }
    });
    this.child.unref();
    process.on('exit', () => this.child?.kill());
    return true;
  }

  async phase<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const from = now();
    try {
      return await fn();
    } finally {
      // let the poller see the phase's end
      if (this.child) await new Promise((r) => setTimeout(r, 150));
      this.phases.push({ name, from, to: now() });
    }
  }

  stop(): Record<string, number | null> | null {
    if (!this.child) return null;
    this.child.kill();
    const peak = (from: number, to: number): number | null => {
      const xs = this.samples.filter((s) => s.t >= from && s.t <= to).map((s) => s.mib);
      return xs.length ? Math.max(...xs) : null;
    };
    const out: Record<string, number | null> = { firstSampleMiB: this.samples[0]?.mib ?? null, peakMiB: peak(-Infinity, Infinity) };
    for (const p of this.phases) out[`${p.name}PeakMiB`] = peak(p.from, p.to);
    return out;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Sessions

const warnings: string[] = [];
process.on('warning', (w) => warnings.push(w.message));

async function openOn(path: string, provider: ExecutionProvider, threads: number, loopGraph = false): Promise<ort.InferenceSession> {
  const opened = await openSession(path, { provider, intraOpThreads: threads, loopGraph });
  if (opened.provider !== provider) {
    await new Promise((r) => setImmediate(r)); // process.emitWarning dispatches on a later tick
    console.error(
      `gpu-check: asked for the ${provider} execution provider, but ${basename(path)} came back on ${opened.provider}.\n` +
        `onnxruntime-node's CUDA execution provider is missing or cannot load (it needs ` +
        `node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so, installed by ` +
        `(cd node_modules/onnxruntime-node && ONNXRUNTIME_NODE_INSTALL=cuda12 node script/install.js); this repository's .npmrc ` +
        `skips it), plus the CUDA 12 and cuDNN 9 libraries on LD_LIBRARY_PATH.\n` +
        `ORT said: ${warnings.join(' | ') || '(nothing)'}`,
    );
    process.exit(EXIT_NO_CUDA);
  }
  return opened.session;
}

// ---------------------------------------------------------------------------------------------------------------
// The window

interface Stack {
  config?: string;
  preset?: string;
  small?: boolean;
  parameters?: number;
  fp16Weights?: boolean;
  labels?: number[][];
  files?: Record<string, number>;
}

function labelRows(lm: LevelManifest, stack: Stack, rows: number): Int32Array[] {
  return Array.from({ length: rows }, (_, r) => {
    const given = stack.labels?.[r % stack.labels.length];
    if (given) return Int32Array.from(given);
    // Without stack.json: a 3-minute song at 44.1 kHz (timing bins clamp), artist r, no genres.
    const l = new Int32Array(lm.labelLength).fill(-1);
    l.set([44100 * 180, 0, lm.nCtx * lm.hopLength, r]);
    return l;
  });
}

interface Primed {
  rows: number;
  cond: WindowConditioning;
  /** The known tokens [row][P0]; position P0 is the first sampled one. */
  known: Int32Array[];
  p0: number;
  cache: KvCache;
  conditionMs: number;
  prefillStepMs: number;
  prefillLoopMs: number;
  /** max |step prefill cache - loop prefill cache| / max |step prefill cache| over every layer. */
  prefillCacheRelDiff: number;
}

function prefillTokens(known: Int32Array[], pos: number, t: number): BigInt64Array {
  const rows = known.length;
  const tokens = new BigInt64Array(rows * t);
  for (let r = 0; r < rows; r++) for (let i = 0; i < t; i++) tokens[r * t + i] = pos + i === 0 ? 0n : BigInt(known[r][pos + i - 1]);
  return tokens;
}

async function prime(g: LevelGraphs, lm: LevelManifest, stack: Stack, rows: number): Promise<Primed> {
  const random = mulberry32(1000 + rows); // reproducible known tokens and upper tokens
  const labels = labelRows(lm, stack, rows);
  const upper = lm.conditioning.upper
    ? Array.from({ length: rows }, () => Int32Array.from({ length: lm.nCtx / UPPER_RATIO }, () => Math.floor(random() * lm.codebookSize)))
    : null;
  const p0 = Math.floor(g.sequenceLength / 2);
  const known = Array.from({ length: rows }, () => Int32Array.from({ length: p0 }, () => Math.floor(random() * lm.codebookSize) + lm.vocabOffset));
  const t0 = now();
  const cond = await g.condition(labels, upper);
  const t1 = now();
  let cache = g.emptyCache(rows);
  for (let pos = 0; pos < p0; pos += lm.prefillChunk) {
    const t = Math.min(lm.prefillChunk, p0 - pos);
    cache = (await g.run(cond, prefillTokens(known, pos, t), t, pos, cache)).cache;
  }
  const t2 = now();
  let loopCache = g.emptyCache(rows);
  for (let pos = 0; pos < p0; pos += lm.prefillChunk) {
    const t = Math.min(lm.prefillChunk, p0 - pos);
    loopCache = await g.prefill(cond, prefillTokens(known, pos, t), t, pos, loopCache);
  }
  const t3 = now();
  let diff = 0;
  let scale = 0;
  cache.forEach((c, i) => {
    const a = c.data as Float32Array;
    const b = loopCache[i].data as Float32Array;
    if (a.length !== b.length) throw new Error(`prefill caches differ in shape at ${i}: ${c.dims} vs ${loopCache[i].dims}`);
    for (let j = 0; j < a.length; j++) {
      diff = Math.max(diff, Math.abs(a[j] - b[j]));
      scale = Math.max(scale, Math.abs(a[j]));
    }
  });
  return {
    rows,
    cond,
    known,
    p0,
    cache,
    conditionMs: t1 - t0,
    prefillStepMs: t2 - t1,
    prefillLoopMs: t3 - t2,
    prefillCacheRelDiff: scale > 0 ? diff / scale : 0,
  };
}

function uniforms(rows: number, level: number, from: number, n: number): Float64Array {
  const { hi, lo } = splitSeed(SEED);
  const u = new Float64Array(rows * n);
  for (let r = 0; r < rows; r++) for (let j = 0; j < n; j++) u[r * n + j] = uniform(hi, lo, r, level, from + j);
  return u;
}

function rowSampling(params: SamplingParams[]): RowSampling {
  return {
    temperature: Float64Array.from(params, (s) => s.temperature),
    topK: BigInt64Array.from(params, (s) => BigInt(s.topK)),
    topP: Float64Array.from(params, (s) => s.topP),
  };
}

function lastKnown(w: Primed): BigInt64Array {
  return BigInt64Array.from(w.known, (k) => BigInt(k[w.p0 - 1]));
}

/** v1: one step-graph run per token, host sampler. Returns the milliseconds and the tokens [row][n]. */
async function sampleV1(g: LevelGraphs, lm: LevelManifest, w: Primed, n: number, params: SamplingParams[]): Promise<{ ms: number; rows: Int32Array[] }> {
  const vocab = lm.codebookSize + lm.vocabOffset;
  const sampler = new TokenSampler(vocab);
  const out = Array.from({ length: w.rows }, () => new Int32Array(n));
  const u = uniforms(w.rows, lm.level, w.p0, n);
  const input = lastKnown(w);
  let cache = w.cache;
  const t0 = now();
  for (let i = 0; i < n; i++) {
    const step = await g.run(w.cond, input, 1, w.p0 + i, cache);
    cache = step.cache;
    for (let r = 0; r < w.rows; r++) {
      const token = sampler.sample(step.logits, r * vocab, params[r], u[r * n + i]);
      input[r] = BigInt(token);
      out[r][i] = token;
    }
  }
  return { ms: now() - t0, rows: out };
}

/** v2: the loop graph, `chunk` tokens per run. */
async function sampleV2(g: LevelGraphs, lm: LevelManifest, w: Primed, n: number, chunk: number, params: SamplingParams[]): Promise<{ ms: number; rows: Int32Array[] }> {
  const out = Array.from({ length: w.rows }, () => new Int32Array(n));
  const sampling = rowSampling(params);
  const input = lastKnown(w);
  let cache = w.cache;
  const t0 = now();
  for (let i = 0; i < n; i += chunk) {
    const m = Math.min(chunk, n - i);
    const u = uniforms(w.rows, lm.level, w.p0 + i, m);
    const res = await g.sampleChunk(w.cond, input, w.p0 + i, m, cache, u, sampling);
    cache = res.cache;
    for (let r = 0; r < w.rows; r++) {
      for (let j = 0; j < m; j++) out[r][i + j] = Number(res.tokens[r * m + j]);
      input[r] = res.tokens[r * m + m - 1];
    }
  }
  return { ms: now() - t0, rows: out };
}

// ---------------------------------------------------------------------------------------------------------------
// The profile

interface ProfileEvent {
  cat: string;
  name: string;
  ts: number;
  dur: number;
  args?: { op_name?: string; provider?: string };
}

interface RunProfile {
  nSteps: number;
  nodeEvents: number;
  memcpyEvents: number;
  memcpyMicros: number;
  memcpyNames: Record<string, number>;
  nodesByProvider: Record<string, number>;
  /** Op types that ran on the CPU provider in a non-CPU session (what the Memcpys feed). */
  cpuOpsInProviderSession: Record<string, number>;
}

function parseProfile(path: string, runs: number[], provider: ExecutionProvider): RunProfile[] {
  const events = JSON.parse(readFileSync(path, 'utf8')) as ProfileEvent[];
  const modelRuns = events.filter((e) => e.cat === 'Session' && e.name === 'model_run').sort((a, b) => a.ts - b.ts);
  if (modelRuns.length !== runs.length) throw new Error(`profile ${path}: ${modelRuns.length} model_run events, expected ${runs.length}`);
  // One event per node execution: ORT writes <node>_fence_before / _kernel_time / _fence_after; count the kernel.
  const nodes = events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time'));
  return modelRuns.map((run, k) => {
    const inRun = nodes.filter((e) => e.ts >= run.ts && e.ts <= run.ts + run.dur);
    const p: RunProfile = { nSteps: runs[k], nodeEvents: inRun.length, memcpyEvents: 0, memcpyMicros: 0, memcpyNames: {}, nodesByProvider: {}, cpuOpsInProviderSession: {} };
    for (const e of inRun) {
      const op = e.args?.op_name ?? '?';
      const prov = e.args?.provider ?? '?';
      p.nodesByProvider[prov] = (p.nodesByProvider[prov] ?? 0) + 1;
      if (provider !== 'cpu' && prov === 'CPUExecutionProvider') p.cpuOpsInProviderSession[op] = (p.cpuOpsInProviderSession[op] ?? 0) + 1;
      if (op.startsWith('Memcpy')) {
        p.memcpyEvents++;
        p.memcpyMicros += e.dur;
        const name = e.name.slice(0, -'_kernel_time'.length);
        p.memcpyNames[name] = (p.memcpyNames[name] ?? 0) + 1;
      }
    }
    return p;
  });
}

async function profileLoop(lm: LevelManifest, dir: string, provider: ExecutionProvider, cond: ort.InferenceSession, w: Primed, prefix: string): Promise<Record<string, unknown>> {
  const session = await ort.InferenceSession.create(join(dir, lm.graphs.loop!.file), {
    intraOpNumThreads: THREADS,
    interOpNumThreads: 1,
    graphOptimizationLevel: LOOP_GRAPH_OPTIMIZATION,
    executionProviders: [provider],
    enableProfiling: true,
    profileFilePrefix: prefix,
  });
  const g = new LevelGraphs(lm, cond, undefined, session);
  const long = Math.min(LOOP_CHUNK, g.sequenceLength - w.p0);
  const short = Math.min(PROFILE_SHORT, long - 1);
  const runs = [short, long];
  const sampling = rowSampling(Array.from({ length: w.rows }, () => DEFAULT_SAMPLING));
  for (const n of runs) await g.sampleChunk(w.cond, lastKnown(w), w.p0, n, w.cache, uniforms(w.rows, lm.level, w.p0, n), sampling);
  session.endProfiling();
  await session.release();
  const dirOf = dirname(prefix);
  const files = readdirSync(dirOf)
    .filter((f) => f.startsWith(basename(prefix)) && f.endsWith('.json'))
    .map((f) => join(dirOf, f));
  if (files.length === 0) throw new Error(`no profile file ${prefix}*.json after endProfiling()`);
  const path = files.sort().at(-1)!;
  const [a, b] = parseProfile(path, runs, provider);
  const perIter = (x: number, y: number): number => Number(((y - x) / (long - short)).toFixed(3));
  const result = {
    batch: w.rows,
    runs: [a, b],
    memcpyPerIteration: perIter(a.memcpyEvents, b.memcpyEvents),
    memcpyPerRun: Number((a.memcpyEvents - short * perIter(a.memcpyEvents, b.memcpyEvents)).toFixed(3)),
    memcpyMicrosPerIteration: perIter(a.memcpyMicros, b.memcpyMicros),
    // > 0 shows that the profiler sees the Loop body's nodes (else per-iteration counts would read 0 regardless)
    nodeEventsPerIteration: perIter(a.nodeEvents, b.nodeEvents),
    profile: KEEP_PROFILE ? path : null,
  };
  if (!KEEP_PROFILE) for (const f of files) rmSync(f);
  return result;
}

// ---------------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const lm = JSON.parse(readFileSync(join(args.dir, 'level.json'), 'utf8')) as LevelManifest;
  const stackPath = join(args.dir, 'stack.json');
  const stack: Stack = existsSync(stackPath) ? (JSON.parse(readFileSync(stackPath, 'utf8')) as Stack) : {};
  if (!lm.graphs.loop) throw new Error(`${args.dir}: level.json has no loop graph (export with loop=True)`);
  const gpu = gpuName();
  const mem = new GpuMemory();
  const polling = mem.start();
  const label = stack.config ?? basename(args.dir);
  console.log(
    `gpu-check ${label}: width ${lm.width}, nCtx ${lm.nCtx}, heads ${lm.heads}, layers ${lm.kvCache?.layers.join('/') ?? lm.layers}; ` +
      `provider ${args.provider}${gpu ? ` (${gpu})` : ''}, ${THREADS} intra-op thread(s), ${ROUNDS} rounds`,
  );

  const file = (f: string): string => join(args.dir, f);
  const tLoad = now();
  const { cond, step, loop } = await mem.phase('load', async () => ({
    cond: await openOn(file(lm.graphs.conditioner.file), args.provider, THREADS),
    step: await openOn(file(lm.graphs.step.file), args.provider, THREADS),
    loop: await openOn(file(lm.graphs.loop!.file), args.provider, THREADS, true),
  }));
  const loadSeconds = (now() - tLoad) / 1000;
  const g = new LevelGraphs(lm, cond, step, loop);
  const p0 = Math.floor(g.sequenceLength / 2);
  const v1n = Math.min(V1_TOKENS, g.sequenceLength - p0);
  const v2n = Math.min(V2_TOKENS, g.sequenceLength - p0);

  // Warm-up: the first runs allocate, pick kernels and (CUDA) create handles.
  {
    const w = await prime(g, lm, stack, 1);
    await sampleV1(g, lm, w, 2, [DEFAULT_SAMPLING]);
    await sampleV2(g, lm, w, 2, LOOP_CHUNK, [DEFAULT_SAMPLING]);
  }

  const results: Record<string, unknown>[] = [];
  const primed = new Map<number, Primed>();
  const v1v2: Agreement[] = [];
  for (const rows of BATCHES) {
    const w = await mem.phase(`prime${rows}`, () => prime(g, lm, stack, rows));
    primed.set(rows, w);
    const params = Array.from({ length: rows }, () => DEFAULT_SAMPLING);
    const v1: number[] = [];
    const v2: number[] = [];
    const ratio: number[] = [];
    await mem.phase(`sample${rows}`, async () => {
      for (let k = 0; k <= ROUNDS; k++) {
        const a = await sampleV1(g, lm, w, v1n, params);
        const b = await sampleV2(g, lm, w, v2n, LOOP_CHUNK, params);
        if (k === 0) {
          // the warm-up round (discarded from the timings): step + host sampler vs the loop graph, same provider
          v1v2.push(agreement(a.rows, b.rows.map((r) => r.subarray(0, v1n)), `batch ${rows}`));
          continue;
        }
        v1.push(a.ms / v1n);
        v2.push(b.ms / v2n);
        ratio.push(a.ms / v1n / (b.ms / v2n));
      }
    });
    const tps = (msPerStep: number[]): SpreadStat => stat(msPerStep.map((ms) => (1000 * rows) / ms), 1);
    results.push({
      batch: rows,
      position: w.p0,
      conditionMs: Number(w.conditionMs.toFixed(1)),
      prefill: {
        positions: w.p0,
        chunk: lm.prefillChunk,
        stepGraphMs: Number(w.prefillStepMs.toFixed(1)),
        loopGraphMs: Number(w.prefillLoopMs.toFixed(1)),
        stepGraphMsPerPosition: Number((w.prefillStepMs / w.p0).toFixed(3)),
        loopGraphMsPerPosition: Number((w.prefillLoopMs / w.p0).toFixed(3)),
        cacheRelDiffStepVsLoop: Number(w.prefillCacheRelDiff.toExponential(2)),
      },
      v1: { tokens: v1n, msPerStep: stat(v1, 3), tokensPerSecond: tps(v1) },
      v2: { tokens: v2n, chunk: LOOP_CHUNK, msPerStep: stat(v2, 3), tokensPerSecond: tps(v2) },
      v2SpeedupOverV1: stat(ratio, 2),
    });
  }

  // (c) Memcpy nodes of the loop graph, batch 1.
  const prefix = join(dirname(args.out), `${basename(args.out, '.json')}.profile`);
  await mkdir(dirname(args.out), { recursive: true });
  const memcpy = await mem.phase('profile', () => profileLoop(lm, args.dir, args.provider, cond, primed.get(1)!, prefix));

  // (d) The provider against the CPU: the same primed window (the provider's prefill) and uniforms, loop graph.
  let cpuAgreement: Record<string, unknown>;
  if (args.provider === 'cpu' && !CPU_AGREEMENT) {
    cpuAgreement = { skipped: 'provider is cpu: nothing to compare against' };
  } else {
    const w = primed.get(4)!;
    const cpuThreads = cpus().length;
    const cpuLoop = (await openSession(file(lm.graphs.loop.file), { provider: 'cpu', intraOpThreads: cpuThreads, loopGraph: true })).session;
    const ref = new LevelGraphs(lm, cond, undefined, cpuLoop);
    const params = Array.from({ length: w.rows }, (_, r) => SAMPLING_CASES[r % SAMPLING_CASES.length]);
    const t0 = now();
    const onCpu = await sampleV2(ref, lm, w, v2n, LOOP_CHUNK, params);
    const cpuMs = now() - t0;
    const onProvider = await sampleV2(g, lm, w, v2n, LOOP_CHUNK, params);
    await cpuLoop.release();
    cpuAgreement = {
      batch: w.rows,
      tokensPerRow: v2n,
      sampling: params,
      cpuThreads,
      cpuMsPerStep: Number((cpuMs / v2n).toFixed(2)),
      ...agreement(onCpu.rows, onProvider.rows, 'cpu vs provider'),
    };
  }

  const memory = polling ? mem.stop() : null;
  const sum = (xs: Agreement[]): Agreement => ({ compared: xs.reduce((s, a) => s + a.compared, 0), flips: xs.reduce((s, a) => s + a.flips, 0), where: xs.flatMap((a) => a.where) });
  const body = {
    bench: 'gpu-check',
    at: new Date().toISOString(),
    machine: { ...machine(), provider: args.provider, gpu, onnxruntimeNode: ort.env.versions.node ?? null, intraOpThreads: THREADS },
    note:
      `real-width layer stack (tools/gpu_stack.py); window primed to position nCtx/2 with random known tokens; ` +
      `v1 = step graph + host sampler (one session.run per token, ${v1n} tokens), v2 = loop graph (${LOOP_CHUNK} tokens per run, ${v2n} tokens); ` +
      `msPerStep = one token position for all rows of the batch; median of ${ROUNDS} interleaved rounds after a warm-up round, spread = (max - min) / median; ` +
      `sampling: temperature ${DEFAULT_SAMPLING.temperature}, no filters (the agreement with the CPU: the four SAMPLING_CASES of tests/helpers/fused-agreement.ts)`,
    stack: { dir: args.dir, ...stack, labels: undefined, level: { ...lm, graphs: undefined } },
    loadSeconds: Number(loadSeconds.toFixed(1)),
    results,
    memcpy,
    agreement: { stepVsLoopOnProvider: sum(v1v2), cpuVsProvider: cpuAgreement },
    gpuMemory: memory,
    warnings,
  };
  await writeFile(args.out, `${JSON.stringify(body, null, 2)}\n`);

  for (const r of results as any[]) {
    console.log(
      `batch ${r.batch} at position ${r.position}: prefill step ${r.prefill.stepGraphMs} ms / loop ${r.prefill.loopGraphMs} ms; ` +
        `v1 ${r.v1.msPerStep.median} ms/token (${r.v1.tokensPerSecond.median} tok/s, spread ${r.v1.msPerStep.spreadPct} %), ` +
        `v2 ${r.v2.msPerStep.median} ms/token (${r.v2.tokensPerSecond.median} tok/s, spread ${r.v2.msPerStep.spreadPct} %), v2/v1 speed ${r.v2SpeedupOverV1.median}x`,
    );
  }
  console.log(
    `memcpy nodes (loop graph, batch 1): ${memcpy.memcpyPerRun} per run + ${memcpy.memcpyPerIteration} per iteration ` +
      `(node events per iteration ${memcpy.nodeEventsPerIteration}); nodes by provider ${JSON.stringify((memcpy.runs as RunProfile[])[1].nodesByProvider)}`,
  );
  const s = sum(v1v2);
  console.log(`step vs loop on ${args.provider}: ${s.flips} flips in ${s.compared} tokens`);
  const c = cpuAgreement as { skipped?: string; flips?: number; compared?: number };
  console.log(c.skipped ? `cpu vs provider: skipped (${c.skipped})` : `cpu vs provider: ${c.flips} flips in ${c.compared} tokens`);
  if (memory) console.log(`gpu memory used (whole device): peak ${memory.peakMiB} MiB`);
  console.log(`wrote ${args.out}`);
}

await main();
