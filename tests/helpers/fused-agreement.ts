// Token agreement between the step graph (host sampler) and the fused loop graph (sampler in the graph) on the
// same windows. A "flip" is a row's first differing token: a uniform that lands within rounding of a CDF step,
// after which the row's later tokens legitimately diverge, so comparison of that row stops there.
import type { LevelManifest, SamplingParams } from '../../shared/types.js';
import type { LevelGraphs } from '../../worker/onnx-runtime.js';
import { sampleBatch, type WindowBatch, type WindowItemTask } from '../../worker/window-sampler.js';

export interface Agreement {
  /** Tokens compared (up to and including each row's first flip). */
  compared: number;
  flips: number;
  /** Where each flip happened: "row r token i". */
  where: string[];
}

export function addAgreement(a: Agreement, b: Agreement): Agreement {
  return { compared: a.compared + b.compared, flips: a.flips + b.flips, where: [...a.where, ...b.where] };
}

export const NO_AGREEMENT: Agreement = { compared: 0, flips: 0, where: [] };

/** Rows of one batch compared token by token. */
export function agreement(reference: Int32Array[], fused: Int32Array[], label: string): Agreement {
  let compared = 0;
  let flips = 0;
  const where: string[] = [];
  reference.forEach((row, r) => {
    for (let i = 0; i < row.length; i++) {
      compared++;
      if (row[i] !== fused[r][i]) {
        flips++;
        where.push(`${label} row ${r} token ${i}`);
        break;
      }
    }
  });
  return { compared, flips, where };
}

/** Filters off, top-k, top-p, both: every branch of the in-graph sampler. */
export const SAMPLING_CASES: SamplingParams[] = [
  { temperature: 0.99, topK: 0, topP: 1 },
  { temperature: 0.9, topK: 20, topP: 1 },
  { temperature: 0.8, topK: 0, topP: 0.9 },
  { temperature: 1.1, topK: 60, topP: 0.8 },
];

/** Samples the batch with the step graph and with the loop graph (chunk tokens per run). */
export async function sampleBothWays(graphs: LevelGraphs, batch: WindowBatch, chunk: number): Promise<{ step: Int32Array[]; fused: Int32Array[] }> {
  const step = (await sampleBatch(graphs, batch, { samplingChunk: 0 })).rows;
  const fused = (await sampleBatch(graphs, batch, { samplingChunk: chunk })).rows;
  return { step, fused };
}

/** A one-row window of a job on level `lm`: its own seed, start, labels, upper tokens and sampling. */
export function windowItem(lm: LevelManifest, seed: bigint, start: number, context: Int32Array | null, sampling: SamplingParams, sampleId = 0): WindowItemTask {
  const labels = new Int32Array(lm.labelLength).fill(-1);
  labels.set([16000 * 45, start * lm.hopLength, lm.nCtx * lm.hopLength, 1 + Number(seed % 4n), 2, 5]);
  for (let i = 9; i < lm.labelLength; i++) labels[i] = 1 + ((i * 7 + Number(seed)) % 60);
  const upper = lm.conditioning.upper ? [Int32Array.from({ length: lm.nCtx / 4 }, (_, i) => (i * 11 + start + Number(seed) * 3) % lm.codebookSize)] : null;
  return { start, context: context ? [context] : [], upper, labels: [labels], seed, sampling, sampleIds: [sampleId] };
}

/** A primed window's context on level `lm` (nCtx - hop tokens). */
export function windowContext(lm: LevelManifest, seed: number): Int32Array {
  const hop = Math.floor(lm.hopFraction * lm.nCtx);
  return Int32Array.from({ length: lm.nCtx - hop }, (_, i) => (i * 37 + seed * 101) % lm.codebookSize);
}
