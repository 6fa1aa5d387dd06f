// Host token sampler speed: ns per sample() call for V = 256 and 2048, filters off and on, and expNonPositive
// against Math.exp. Each figure is the median of ROUNDS runs, with the fastest and slowest run and the spread
// ((max - min) / median). The configurations are interleaved round by round so that drift hits them alike.
// Moved out of tests/unit/sampler.test.ts: a timing is a measurement, not a pass/fail check.
import { TokenSampler, expNonPositive } from '../shared/sampler.js';
import type { SamplingParams } from '../shared/types.js';
import { median, saveResult } from './common.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const ROWS = 16;
const CALLS: Record<number, number> = { 256: 40000, 2048: 8000 };
const EXP_POINTS = 200000;

const CONFIGS: [string, SamplingParams][] = [
  ['off', { temperature: 0.99, topK: 0, topP: 1 }],
  ['top-k 200', { temperature: 0.9, topK: 200, topP: 1 }],
  ['top-p 0.9', { temperature: 0.9, topK: 0, topP: 0.9 }],
  ['top-k 200 + top-p 0.9', { temperature: 0.9, topK: 200, topP: 0.9 }],
];

/** Deterministic normal-ish logits (the unit test's generator). */
function randomLogits(n: number, seed: number, scale = 1.7): Float32Array {
  let x = seed >>> 0 || 1;
  const next = (): number => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return (x + 0.5) / 2 ** 32;
  };
  return Float32Array.from({ length: n }, () => scale * Math.sqrt(-2 * Math.log(next())) * Math.cos(2 * Math.PI * next()));
}

function summary(xs: number[]): { median: number; min: number; max: number; spreadPct: number; runs: number[] } {
  const m = median(xs);
  const min = Math.min(...xs);
  const max = Math.max(...xs);
  return { median: Math.round(m), min: Math.round(min), max: Math.round(max), spreadPct: Number((((max - min) / m) * 100).toFixed(1)), runs: xs.map(Math.round) };
}

let sink = 0;

interface Case {
  vocab: number;
  filters: string;
  params: SamplingParams;
  sampler: TokenSampler;
  logits: Float32Array;
  calls: number;
  ns: number[];
}

function timeCase(c: Case, calls: number): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) sink += c.sampler.sample(c.logits, (i % ROWS) * c.vocab, c.params, (i * 0.6180339887) % 1);
  return Number(process.hrtime.bigint() - t0) / calls;
}

function timeExp(f: (x: number) => number): number {
  let acc = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < EXP_POINTS; i++) acc += f(-(i / EXP_POINTS) * 700);
  const ns = Number(process.hrtime.bigint() - t0) / EXP_POINTS;
  sink += acc;
  return ns;
}

async function main(): Promise<void> {
  const cases: Case[] = [];
  for (const vocab of [256, 2048]) {
    const logits = randomLogits(vocab * ROWS, vocab);
    const sampler = new TokenSampler(vocab);
    for (const [filters, params] of CONFIGS) cases.push({ vocab, filters, params, sampler, logits, calls: CALLS[vocab], ns: [] });
  }
  for (const c of cases) timeCase(c, c.calls / 4); // warm-up: let the JIT settle
  const mathExp: number[] = [];
  const fastExp: number[] = [];
  timeExp(Math.exp);
  timeExp(expNonPositive);
  for (let r = 0; r < ROUNDS; r++) {
    for (const c of cases) c.ns.push(timeCase(c, c.calls));
    mathExp.push(timeExp(Math.exp));
    fastExp.push(timeExp(expNonPositive));
  }
  if (!Number.isFinite(sink)) throw new Error('unreachable: keeps the work observable');
  const sample = cases.map((c) => ({ vocab: c.vocab, filters: c.filters, params: c.params, calls: c.calls, nsPerCall: summary(c.ns) }));
  const exp = {
    points: EXP_POINTS,
    mathExpNs: Number(median(mathExp).toFixed(2)),
    expNonPositiveNs: Number(median(fastExp).toFixed(2)),
    speedup: Number((median(mathExp) / median(fastExp)).toFixed(2)),
  };
  await saveResult('sampler-speed', { rounds: ROUNDS, rowsInLogits: ROWS, note: 'nsPerCall: median, min and max over rounds; spreadPct = (max - min) / median', sample, exp });
}

await main();
