// Sizing of the released Jukebox priors under contract v1 (one session.run per token, full float32 KV cache in and
// out of every run) and v2 (a fused Loop samples N tokens per run; cache trimmed per attention kind, fp16): per
// sampled token and row, the bytes that cross session.run (inputs and outputs; on CUDA onnxruntime-node copies every
// input host->device and every output device->host), at the start, middle and end of a primed window; the resident KV
// cache per row; the weight bytes in memory; and how many rows fit on 24/40/80/141 GB GPUs. Shapes and exact parameter
// counts come from tools/size_presets.py (the project's SimplePrior at the official presets). Pure arithmetic: nothing
// is timed or measured, so one run suffices and there are no medians.
//
//   npx tsx bench/sizing.ts            (JUKEBOX_PYTHON overrides /usr/bin/python3, which needs PyTorch)
import { execFileSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { saveResult } from './common.js';
import { cacheLength } from '../shared/kv-cache.js';
import type { AttentionKind } from '../shared/types.js';

export const DENSE = 0;
export const ROW = 1;
export const COLUMN = 2;
export const PREV_ROW = 3;
export const CROSS = 6;
export const PRIME = 7;
const KIND_NAMES: Record<number, string> = { 0: 'dense', 1: 'row', 2: 'column', 3: 'prevRow', 6: 'cross', 7: 'prime' };
/** tools/jukebox_model's attn_func numbers to the manifest's kvCache kind names. */
const ATTENTION_KINDS: Record<number, AttentionKind> = { 0: 'dense', 1: 'row', 2: 'column', 3: 'previous-row', 6: 'cross', 7: 'prime' };

/** One prior level, as tools/size_presets.py prints it. */
export interface PriorShape {
  name: string;
  level: number;
  hopFraction: number;
  /** New tokens per primed window: floor(hopFraction · nCtx). */
  hop: number;
  nCtx: number;
  /** Positions of a window's sequence: nCtx, plus the lyric prefix of 1b_lyrics. */
  seqLen: number;
  width: number;
  heads: number;
  headDim: number;
  layers: number;
  /** Attention kind per layer (0 dense, 1 row, 2 column, 3 previous row, 6 cross, 7 prime). */
  kinds: number[];
  /** seqLen / blocks; null when no layer is blocked. */
  blockCtx: number | null;
  /** (prime_len // blocks + 1) · blocks for prime-attention layers, else null. */
  primeKeys: number | null;
  /** Lyric characters per window (the encoder's keys for cross-attention layers). */
  nTokens: number;
  lyrics: 'none' | 'encoder' | 'prefix';
  /** Logits width (codebook + vocabOffset). */
  vocab: number;
  params: { step: number; conditioner: number; trainingOnly: number; inference: number; total: number };
}

const F32 = 4;
const F16 = 2;
const I64 = 8;
const F64 = 8;

/** Key (or value) width of one layer: heads · head_dim = width · m_attn. */
export const kvWidth = (s: PriorShape): number => s.heads * s.headDim;

/**
 * Positions a layer of kind `kind` keeps in the trimmed (v2, official) cache after P positions of the window:
 * dense and column all P; row the current block; previous row the previous and current block; cross nothing
 * (the encoder keys are a separate, fixed input); prime at most primeKeys.
 */
export function keptPositions(kind: number, p: number, s: Pick<PriorShape, 'blockCtx' | 'primeKeys'>): number {
  const name = ATTENTION_KINDS[kind];
  if (!name) throw new Error(`unknown attention kind ${kind}`);
  // The worker's own rule (the manifest's kvCache layout), for a one-layer layout of this kind.
  return cacheLength({ dtype: 'float32', blockCtx: s.blockCtx, layers: [name], ...(s.primeKeys !== null ? { primeKeys: s.primeKeys } : {}) }, 0, p);
}

/** Cached positions summed over layers after P positions: trimmed per kind (v2), or P in every layer (v1). */
export function cachePositions(s: PriorShape, p: number, trimmed: boolean): number {
  if (!trimmed) return s.layers * p;
  let n = 0;
  for (const k of s.kinds) n += keptPositions(k, p, s);
  return n;
}

/** KV cache bytes of one row after P positions (keys and values). */
export function cacheBytes(s: PriorShape, p: number, trimmed: boolean, bytes: number): number {
  return cachePositions(s, p, trimmed) * 2 * kvWidth(s) * bytes;
}

/** Largest trimmed cache of a row over a window (P = 0 … seqLen), in bytes, and the P where it peaks. */
export function maxTrimmedCache(s: PriorShape, bytes: number): { bytes: number; atP: number } {
  let best = { positions: -1, atP: 0 };
  for (let p = 0; p <= s.seqLen; p++) {
    const n = cachePositions(s, p, true);
    if (n > best.positions) best = { positions: n, atP: p };
  }
  return { bytes: best.positions * 2 * kvWidth(s) * bytes, atP: best.atP };
}

/** Projected lyric keys and values of the cross-attention layers, [B, H, nTokens, Dh] each, per row. */
export function encoderKvBytes(s: PriorShape, bytes: number): number {
  const cross = s.kinds.filter((k) => k === CROSS).length;
  return cross * 2 * s.nTokens * kvWidth(s) * bytes;
}

export interface Crossing {
  in: number;
  out: number;
  total: number;
}

const crossing = (i: number, o: number): Crossing => ({ in: i, out: o, total: i + o });

/**
 * v1: one step at position P (cache length P) for `rows` rows. In: tokens [B,1] int64, position [1] int64, x_cond
 * [B,1,W] and y_cond [B,W] float32, the projected lyric keys/values (encoder_kv itself is declared but unused, so not
 * counted), past_* [B,H,P,Dh] of every layer. Out: logits [B,V], present_* [B,H,P+1,Dh].
 */
export function v1StepBytes(s: PriorShape, p: number, rows = 1): Crossing {
  const inRow = I64 + 2 * s.width * F32 + encoderKvBytes(s, F32) + cacheBytes(s, p, false, F32);
  const outRow = s.vocab * F32 + cacheBytes(s, p + 1, false, F32);
  return crossing(rows * inRow + I64, rows * outRow);
}

/**
 * v2: one fused run sampling `n` tokens from position p0 for `rows` rows, floats in `bytes` (2 fp16, 4 fp32). In:
 * tokens [B,1] int64, position [1] and n_steps int64, x_cond [B,S,W] (the whole window), y_cond [B,W], the projected
 * lyric keys/values, uniforms [B,n] float64, temperature/top_p float64 and top_k int64 [B], the trimmed cache at p0.
 * Out: tokens_out [B,n] int64 and the trimmed cache at p0 + n.
 */
export function v2ChunkBytes(s: PriorShape, p0: number, n: number, bytes: number, rows = 1): Crossing {
  const inRow =
    I64 + s.seqLen * s.width * bytes + s.width * bytes + encoderKvBytes(s, bytes) + n * F64 + 3 * 8 + cacheBytes(s, p0, true, bytes);
  const outRow = n * I64 + cacheBytes(s, p0 + n, true, bytes);
  return crossing(rows * inRow + 2 * I64, rows * outRow);
}

/** Window positions of the first new token (primed with seqLen - hop known positions), the middle one and the last. */
export function windowPoints(s: PriorShape): { start: number; mid: number; end: number } {
  const start = s.seqLen - s.hop;
  return { start, mid: start + Math.floor(s.hop / 2), end: s.seqLen - 1 };
}

/** The v2 chunk that samples position p: chunks of N laid from the window's first new position, the last one short. */
export function chunkAt(s: PriorShape, p: number, chunk: number): { p0: number; n: number } {
  const first = windowPoints(s).start;
  const p0 = first + Math.floor((p - first) / chunk) * chunk;
  return { p0, n: Math.min(chunk, s.seqLen - p0) };
}

const perToken = (c: Crossing, n: number, rows: number): Crossing => crossing(c.in / n / rows, c.out / n / rows);

/** Bytes per sampled token and row crossing session.run when sampling position p. */
export function v1PerToken(s: PriorShape, p: number, rows = 1): Crossing {
  return perToken(v1StepBytes(s, p, rows), 1, rows);
}

export function v2PerToken(s: PriorShape, p: number, chunk: number, bytes: number, rows = 1): Crossing {
  const { p0, n } = chunkAt(s, p, chunk);
  return perToken(v2ChunkBytes(s, p0, n, bytes, rows), n, rows);
}

/** Average per token and row over a primed window's hop new tokens (chunk 0 = v1, one run per token). */
export function windowAverage(s: PriorShape, chunk: number, bytes: number, rows = 1): Crossing {
  const { start } = windowPoints(s);
  let i = 0;
  let o = 0;
  for (let p0 = start; p0 < s.seqLen; p0 += chunk || 1) {
    const c = chunk ? v2ChunkBytes(s, p0, Math.min(chunk, s.seqLen - p0), bytes, rows) : v1StepBytes(s, p0, rows);
    i += c.in;
    o += c.out;
  }
  return perToken(crossing(i, o), s.hop, rows);
}

export interface FitAssumptions {
  /** Fraction of the GPU kept free for the CUDA context, ORT's arena, activations and workspace. */
  allowance: number;
  /** Copies of the KV cache alive on the device at the peak of a run (see docs/gpu.md). */
  cacheCopies: number;
}

/** Device bytes per row: KV cache (× copies) plus what else a run feeds per row. */
export function rowBytes(s: PriorShape, version: 1 | 2, cacheCopies: number): number {
  if (version === 1) return cacheCopies * cacheBytes(s, s.seqLen, false, F32) + encoderKvBytes(s, F32);
  return cacheCopies * maxTrimmedCache(s, F16).bytes + s.seqLen * s.width * F16 + encoderKvBytes(s, F16);
}

export function weightBytes(s: PriorShape, version: 1 | 2): number {
  return s.params.inference * (version === 1 ? F32 : F16);
}

/** Rows one worker holding this level can run at once on a GPU of `capacity` bytes (0 when the weights do not fit). */
export function rowsThatFit(capacity: number, weights: number, perRow: number, allowance: number): number {
  return Math.max(0, Math.floor((capacity * (1 - allowance) - weights) / perRow));
}

// ---------------------------------------------------------------------------------------------------------------

const GiB = 2 ** 30;
/** GPUs by their marketed size; the memory they report is about that many GiB (H200: 140.4 GiB as "141 GB"). */
const GPUS: Record<string, number> = { '24GB': 24 * GiB, '40GB': 40 * GiB, '80GB': 80 * GiB, '141GB': 140.4 * GiB };
const CHUNKS = [64, 256];
const ALLOWANCE = 0.1;
/** Ideal: one cache copy. Conservative: v1 past + present; v2 the run's input copy + a Loop iteration's past + present. */
const COPIES = { ideal: { v1: 1, v2: 1 }, conservative: { v1: 2, v2: 3 } };

const round = (x: number, d = 3): number => Number(x.toFixed(d));
const mb = (x: number): number => round(x / 1e6, 3);
const gib = (x: number): number => round(x / GiB, 3);
const mbCrossing = (c: Crossing) => ({ inMB: mb(c.in), outMB: mb(c.out), totalMB: mb(c.total) });

export function loadShapes(python = process.env.JUKEBOX_PYTHON ?? '/usr/bin/python3'): PriorShape[] {
  const script = fileURLToPath(new URL('../tools/size_presets.py', import.meta.url));
  const out = execFileSync(python, [script], { encoding: 'utf8', maxBuffer: 1 << 24, stdio: ['ignore', 'pipe', 'inherit'] });
  return (JSON.parse(out) as { configs: PriorShape[] }).configs;
}

function sizeOne(s: PriorShape) {
  const pts = windowPoints(s);
  const at = (p: number) => ({
    p,
    v1: mbCrossing(v1PerToken(s, p)),
    v2: Object.fromEntries(
      CHUNKS.flatMap((n) => [
        [`fp16_N${n}`, mbCrossing(v2PerToken(s, p, n, F16))],
        [`fp32_N${n}`, mbCrossing(v2PerToken(s, p, n, F32))],
      ]),
    ),
  });
  const kinds: Record<string, number> = {};
  for (const k of s.kinds) kinds[KIND_NAMES[k]] = (kinds[KIND_NAMES[k]] ?? 0) + 1;
  const v2Max = maxTrimmedCache(s, F16);
  const midV1 = v1PerToken(s, pts.mid).total;
  const fit = (copies: { v1: number; v2: number }) =>
    Object.fromEntries(
      Object.entries(GPUS).map(([gpu, cap]) => [
        gpu,
        {
          v2: rowsThatFit(cap, weightBytes(s, 2), rowBytes(s, 2, copies.v2), ALLOWANCE),
          v1: rowsThatFit(cap, weightBytes(s, 1), rowBytes(s, 1, copies.v1), ALLOWANCE),
        },
      ]),
    );
  return {
    name: s.name,
    level: s.level,
    shape: {
      nCtx: s.nCtx, seqLen: s.seqLen, hop: s.hop, hopFraction: s.hopFraction, width: s.width, layers: s.layers, kinds,
      heads: s.heads, headDim: s.headDim, kvWidth: kvWidth(s), blockCtx: s.blockCtx, primeKeys: s.primeKeys,
      nTokens: s.nTokens, lyrics: s.lyrics, vocab: s.vocab,
    },
    params: s.params,
    weightsGB: { v1Fp32: round(weightBytes(s, 1) / 1e9), v2Fp16: round(weightBytes(s, 2) / 1e9) },
    residentKvPerRowGiB: {
      v1Fp32Full: gib(cacheBytes(s, s.seqLen, false, F32)),
      v2Fp16TrimmedMax: gib(v2Max.bytes),
      v2MaxAtP: v2Max.atP,
      v2Fp32TrimmedMax: gib(maxTrimmedCache(s, F32).bytes),
    },
    perRowOtherMB: { xCondFp16: mb(s.seqLen * s.width * F16), encoderKvFp16: mb(encoderKvBytes(s, F16)), encoderKvFp32: mb(encoderKvBytes(s, F32)) },
    perTokenMB: { start: at(pts.start), mid: at(pts.mid), end: at(pts.end) },
    windowAverageMB: {
      v1: mbCrossing(windowAverage(s, 0, F32)),
      ...Object.fromEntries(CHUNKS.flatMap((n) => [
        [`v2_fp16_N${n}`, mbCrossing(windowAverage(s, n, F16))],
        [`v2_fp32_N${n}`, mbCrossing(windowAverage(s, n, F32))],
      ])),
    },
    ratioV1OverV2Mid: Object.fromEntries(
      CHUNKS.flatMap((n) => [
        [`fp16_N${n}`, round(midV1 / v2PerToken(s, pts.mid, n, F16).total, 1)],
        [`fp32_N${n}`, round(midV1 / v2PerToken(s, pts.mid, n, F32).total, 1)],
      ]),
    ),
    rowsThatFit: { ideal: fit(COPIES.ideal), conservative: fit(COPIES.conservative) },
  };
}

async function main(): Promise<void> {
  const shapes = loadShapes();
  const configs = shapes.map(sizeOne);
  const pad = (x: unknown, n: number) => String(x).padStart(n);
  process.stderr.write(
    `${'config'.padEnd(18)} ${pad('params', 7)} ${pad('W v1/v2 GB', 13)} ${pad('KV v1/v2 GiB', 13)} ` +
      `${pad('mid MB/tok v1', 14)} ${pad('v2 N64', 8)} ${pad('v2 N256', 8)} ${pad('v1/v2 N64', 10)} ${pad('N256', 7)}   rows 24/40/80/141 GB v2 (v1)\n`,
  );
  for (const c of configs) {
    const mid = c.perTokenMB.mid;
    const rows = Object.values(c.rowsThatFit.ideal).map((r) => `${r.v2} (${r.v1})`).join(', ');
    process.stderr.write(
      `${c.name.padEnd(18)} ${pad(`${round(c.params.inference / 1e9, 2)}B`, 7)} ` +
        `${pad(`${c.weightsGB.v1Fp32.toFixed(1)}/${c.weightsGB.v2Fp16.toFixed(1)}`, 13)} ` +
        `${pad(`${c.residentKvPerRowGiB.v1Fp32Full.toFixed(2)}/${c.residentKvPerRowGiB.v2Fp16TrimmedMax.toFixed(2)}`, 13)} ` +
        `${pad(mid.v1.totalMB.toFixed(0), 14)} ${pad(mid.v2.fp16_N64.totalMB.toFixed(1), 8)} ${pad(mid.v2.fp16_N256.totalMB.toFixed(1), 8)} ` +
        `${pad(c.ratioV1OverV2Mid.fp16_N64, 10)} ${pad(c.ratioV1OverV2Mid.fp16_N256, 7)}   ${rows}\n`,
    );
  }
  await saveResult('sizing', {
    note:
      'arithmetic, not measured: bytes crossing session.run per sampled token and row (B = 1; per-run scalars counted once), ' +
      'MB = 1e6 B, GB = 1e9 B, GiB = 2^30 B',
    windowPoints:
      'primed window (hop-fraction priming): start = first new token, P = seqLen - hop; mid = start + floor(hop/2); end = seqLen - 1. ' +
      'v2 per token = the bytes of the chunk that samples P (chunks of N laid from the first new token) / its length',
    v1: 'contract v1 step graph: float32 inputs/outputs; full-length cache in every layer (cross layers carry zeros); weights float32 in memory',
    v2:
      'contract v2 loop graph: cache trimmed per attention kind (dense/column P, row P mod blockCtx, previous row min(P, blockCtx + P mod blockCtx), ' +
      'cross 0, prime min(P, primeKeys)); x_cond [B, seqLen, W], y_cond and lyric keys in the graph dtype, uniforms/temperature/top_p float64; ' +
      'fp16 weights on CUDA',
    fit: {
      gpusGiB: Object.fromEntries(Object.entries(GPUS).map(([k, v]) => [k, round(v / GiB, 1)])),
      allowance: ALLOWANCE,
      copies: COPIES,
      perRow:
        'v2: cache copies × fp16 trimmed cache at its maximum + x_cond fp16 + lyric keys fp16; v1: copies × fp32 full cache at seqLen + lyric keys fp32; ' +
        'weights: all inference parameters (step + conditioner graphs); rows = floor((GPU × (1 - allowance) - weights) / per row)',
    },
    configs,
  });
}

// Run only as a script: the unit test imports the arithmetic above.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
