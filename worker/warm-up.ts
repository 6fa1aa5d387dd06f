// A worker's warm-up before it reports ready: one token sampled at every level it hosts and a few tokens decoded,
// through the same pool as real work. It proves the graphs load and run (a deep readiness check for Kubernetes'
// probes) and pays the first run's one-off costs (kernel selection, allocations) before a job waits on them.
import { windowLabels } from '../shared/labels.js';
import type { Manifest } from '../shared/types.js';
import type { InferencePool } from './inference-pool.js';
import type { WindowBatch } from './window-sampler.js';

/** A one-row, one-token window at the start of a song, with neutral labels and silent upper-level tokens. */
export function warmUpBatch(manifest: Manifest, level: number): WindowBatch {
  const lm = manifest.levels[level];
  const totalSamples = Math.max(lm.nCtx * lm.hopLength, Math.ceil(manifest.labels.minDurationSeconds * manifest.sampleRate));
  const labels = Int32Array.from(windowLabels(manifest, level, 0, totalSamples, { artistId: 0, genreIds: [], lyricIds: [] }));
  const upper = lm.conditioning.upper ? [new Int32Array(lm.nCtx / (manifest.levels[level + 1].hopLength / lm.hopLength))] : null;
  return {
    level,
    newTokens: 1,
    padToRows: 0,
    items: [{ start: 0, context: [], upper, labels: [labels], seed: 0n, sampling: { temperature: 1, topK: 0, topP: 1 }, sampleIds: [0] }],
  };
}

/** Runs the warm-up; throws (with the level or decoder in the message) when a graph cannot run. */
export async function warmUp(pool: InferencePool, manifest: Manifest, levels: readonly number[], decodes: boolean): Promise<number> {
  const t0 = performance.now();
  for (const level of levels) {
    try {
      await pool.sample(warmUpBatch(manifest, level), () => undefined).result;
    } catch (err) {
      throw new Error(`warm-up of level ${level} failed: ${(err as Error).message}`);
    }
  }
  if (decodes) {
    try {
      await pool.decode(0, [new Int32Array(8)], 0, 0).result;
    } catch (err) {
      throw new Error(`warm-up of the VQ-VAE decoder failed: ${(err as Error).message}`);
    }
  }
  return (performance.now() - t0) / 1000;
}
