// Rebuilds a job's live record from its durable records after a restart: the same plan (the stored layout),
// the stored windows' tokens replayed in each segment's order, the stored decode chunks marked done.
import { planSong } from '../shared/plan.js';
import { givenTokensKey } from '../shared/job-start.js';
import type { JobSpec, Manifest, RowLabels } from '../shared/types.js';
import { createJob } from './job-factory.js';
import { TERMINAL_STATES, type JobErrorCode, type JobRecord } from './job.js';
import { taskKey } from './scheduler.js';
import type { JobFixedRecord, StoredJob, StoredSpec } from './durable/store.js';

/** A spec stored before labels were kept per row: one artist, genres and lyrics for every row, no `rows`. */
type LegacyStoredSpec = Omit<StoredSpec, 'rows'> & Partial<RowLabels> & { rows?: RowLabels[] };

export function specOf(fixed: JobFixedRecord): JobSpec {
  const { artist, genres, lyrics, rows, seed, ...rest } = fixed.spec as LegacyStoredSpec;
  const legacyRow = (): RowLabels => ({ artist: artist ?? '', genres: [...(genres ?? [])], lyrics: lyrics ?? '' });
  return { ...rest, rows: rows ?? Array.from({ length: rest.samples }, legacyRow), seed: BigInt(seed) };
}

/** A job record planned from its fixed part, in its stored state, with nothing done yet. */
export function plannedJob(stored: StoredJob, manifest: Manifest, stepCost?: number[]): JobRecord {
  const { fixed, progress } = stored;
  const spec = specOf(fixed);
  const job = createJob({
    id: fixed.id,
    spec,
    modelHash: fixed.modelHash,
    wavFormat: fixed.wavFormat,
    plan: planSong(manifest, spec.durationSeconds, fixed.layout, spec.start?.givenTokens),
    layout: fixed.layout,
    createdAtMs: fixed.createdAtMs,
    ...(fixed.owner !== undefined ? { owner: fixed.owner } : {}),
    manifest,
    decodeChunkTokens: fixed.decodeChunkTokens,
    stepCost,
  });
  job.seq = fixed.seq;
  job.state = progress.state;
  if (progress.error !== undefined) job.error = progress.error;
  if (progress.errorCode !== undefined) job.errorCode = progress.errorCode as JobErrorCode;
  if (progress.errorTask !== undefined) job.errorTask = progress.errorTask;
  if (progress.startedAtMs !== undefined) job.startedAtMs = progress.startedAtMs;
  if (progress.finishedAtMs !== undefined) job.finishedAtMs = progress.finishedAtMs;
  job.audioBytes = progress.audioBytes ?? [];
  return job;
}

/**
 * Replays stored windows into the job: each segment's windows in order while their tokens are stored (a later
 * one without its predecessor is ignored; it will be sampled again, identically). Returns the windows replayed.
 */
export function replayWindows(job: JobRecord, windows: ReadonlyMap<string, Int32Array[]>): number {
  let replayed = 0;
  // The tokens the job was given come first (stored before the job was accepted).
  job.spec.start?.givenTokens.forEach((n, level) => {
    if (n === 0) return;
    const rows = windows.get(givenTokensKey(level));
    if (!rows) throw new Error(`job ${job.id}: the given tokens of level ${level} are missing from the store`);
    job.tokens[level].append(0, 0, rows);
  });
  job.plan.levels.forEach((lp, level) => {
    let offset = 0;
    lp.segments.forEach((seg, s) => {
      const state = job.levels[level].segments[s];
      for (const window of seg.windows) {
        const flat = offset + window.index;
        const rows = windows.get(taskKey({ kind: 'window', level, window, flat }));
        if (!rows) break;
        job.tokens[level].append(s, window.start + window.contextTokens, rows);
        state.windowsDone++;
        job.timing[level].newTokensDone += window.newTokens;
        job.costDone += job.analysis.nodes[job.analysis.levelOffset[level] + flat].cost;
        replayed++;
      }
      offset += seg.windows.length;
    });
  });
  return replayed;
}

/** Marks the stored decode chunks done. */
export function replayDecoded(job: JobRecord, chunks: readonly number[]): void {
  for (const c of chunks) if (c >= 0 && c < job.decode.done.length) job.decode.done[c] = true;
}

/** A finished job as a restart shows it: every window and chunk done, its tokens left in the store until asked for. */
export function finishedJob(stored: StoredJob, manifest: Manifest): JobRecord {
  const job = plannedJob(stored, manifest);
  if (!TERMINAL_STATES.has(job.state)) throw new RangeError(`job ${job.id} is ${job.state}, not finished`);
  if (job.state === 'SUCCEEDED') {
    job.levels.forEach((level, l) => level.segments.forEach((seg, s) => (seg.windowsDone = job.plan.levels[l].segments[s].windows.length)));
    job.decode.done.fill(true);
  }
  return job;
}
