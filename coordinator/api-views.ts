// What the Coordinator service shows beyond a job's raw progress: the request echoed with its defaults, overall
// progress, a machine-readable failure, ListJobs pages, ListModels entries, and the preview of a job's audio
// streamed as it is decoded.
import * as grpc from '@grpc/grpc-js';
import type { Job } from '../proto/generated/jukebox/v1/Job.js';
import type { SubmitJobRequest } from '../proto/generated/jukebox/v1/SubmitJobRequest.js';
import type { ListJobsRequest__Output } from '../proto/generated/jukebox/v1/ListJobsRequest.js';
import type { ModelInfo } from '../proto/generated/jukebox/v1/ModelInfo.js';
import type { AudioChunk } from '../proto/generated/jukebox/v1/AudioChunk.js';
import type { ModelFolder } from '../models/model-folder.js';
import { InvalidArgumentError } from '../shared/errors.js';
import { normV2 } from '../shared/labels.js';
import { sameRowLabels } from '../shared/job-spec.js';
import { minimumDurationSeconds } from '../shared/plan.js';
import { wavHeader, wavSamples } from '../shared/wav.js';
import type { DurableStore } from './durable/store.js';
import { TERMINAL_STATES, type JobRecord } from './job.js';
import { windowsDone } from './scheduler.js';
import { drainedOrGone, statusError } from '../server/grpc-server.js';

/** Share of a job's overall progress given to decoding; sampling (windows weighted by cost) has the rest. */
export const DECODE_PROGRESS_SHARE = 0.05;

const START_MODES = { primed: 'START_MODE_PRIMED', continue: 'START_MODE_CONTINUE', upsample: 'START_MODE_UPSAMPLE' } as const;

/** Job fields computed from the record: see Job in coordinator.proto. */
export function jobExtras(job: JobRecord): Pick<Job, 'startedAtMs' | 'request' | 'progress' | 'failure' | 'decodedSeconds' | 'start'> {
  const start = job.spec.start;
  return {
    startedAtMs: job.startedAtMs ?? 0,
    request: echoedRequest(job),
    progress: overallProgress(job),
    failure: job.state === 'FAILED' ? { code: job.errorCode ? `JOB_ERROR_CODE_${job.errorCode}` : 'JOB_ERROR_CODE_UNSPECIFIED', message: job.error ?? '', task: job.errorTask ?? '' } : null,
    decodedSeconds: decodedSamples(job) / job.plan.sampleRate,
    start: start
      ? { mode: START_MODES[start.mode], givenSeconds: start.givenSeconds, givenTokens: start.givenTokens }
      : { mode: 'START_MODE_ANCESTRAL', givenSeconds: 0, givenTokens: job.plan.levels.map(() => 0) },
  };
}

/** Stored windows over windows, per level (0..1, never going back). */
export function levelProgress(job: JobRecord, level: number): number {
  const total = job.plan.levels[level].windows.length;
  return total > 0 ? Math.min(1, windowsDone(job.levels[level]) / total) : 1;
}

/** Sampling (windows weighted by their modelled cost, as the ETA) then decoding (DECODE_PROGRESS_SHARE); 1 once SUCCEEDED. */
export function overallProgress(job: JobRecord): number {
  if (job.state === 'SUCCEEDED') return 1;
  const sampling = job.analysis.work > 0 ? Math.min(1, job.costDone / job.analysis.work) : 0;
  const chunks = job.decode.done.length;
  const decoding = chunks > 0 ? job.decode.done.filter(Boolean).length / chunks : 0;
  // Not 1 before the WAV files are written.
  return Math.min(0.999, (1 - DECODE_PROGRESS_SHARE) * sampling + DECODE_PROGRESS_SHARE * decoding);
}

/** Samples (per row) from the start of the song that are decoded and stored. */
export function decodedSamples(job: JobRecord): number {
  if (job.state === 'SUCCEEDED') return job.plan.totalSamples;
  const hop = job.plan.levels[0].hopLength;
  let tokens = 0;
  for (let c = 0; c < job.decodeChunks.length && job.decode.done[c]; c++) tokens += job.decodeChunks[c].end - job.decodeChunks[c].start;
  return tokens * hop;
}

/**
 * The request as the coordinator took it, defaults filled in. Labels as a request would give them: job-wide when
 * every row has the same, else one entry of `rows` per row (a valid request either way).
 */
export function echoedRequest(job: JobRecord): SubmitJobRequest {
  const { spec } = job;
  const first = spec.rows[0];
  const uniform = spec.rows.every((r) => sameRowLabels(r, first));
  return {
    model: spec.model,
    artist: uniform ? first.artist : '',
    genres: uniform ? [...first.genres] : [],
    lyrics: uniform ? first.lyrics : '',
    rows: uniform ? [] : spec.rows.map((r) => ({ artist: r.artist, genres: [...r.genres], lyrics: r.lyrics })),
    durationSeconds: spec.durationSeconds,
    samples: spec.samples,
    seed: spec.seed.toString(),
    sampling: spec.sampling.map((p, level) => ({ level, temperature: p.temperature, topK: p.topK, topP: p.topP })),
    wavFormat: job.wavFormat,
    mode: spec.mode === 'sharded' ? 'JOB_MODE_SHARDED' : 'JOB_MODE_EXACT',
    segments: job.plan.levels.map((lp) => lp.segments.length),
    ...(spec.mode === 'sharded' ? { segmentOverlap: spec.segmentOverlap } : {}),
    priority: spec.priority,
  };
}

// --- ListJobs ---

export const MAX_PAGE_SIZE = 1000;
const STATES = new Set(['JOB_STATE_QUEUED', 'JOB_STATE_RUNNING', 'JOB_STATE_DECODING', 'JOB_STATE_SUCCEEDED', 'JOB_STATE_FAILED', 'JOB_STATE_CANCELLED']);

/** Order of ListJobs: submission time, then id. */
function pageKey(job: Pick<JobRecord, 'createdAtMs' | 'id'>): [number, string] {
  return [job.createdAtMs, job.id];
}

function after(a: [number, string], b: [number, string]): boolean {
  return a[0] !== b[0] ? a[0] > b[0] : a[1] > b[1];
}

function encodeToken(key: [number, string]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

function decodeToken(token: string): [number, string] {
  try {
    const key = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(key) && key.length === 2 && Number.isFinite(key[0]) && typeof key[1] === 'string') return key as [number, string];
  } catch {
    // Falls through to the refusal.
  }
  throw new InvalidArgumentError('page_token', `page_token: not a token this service gave (${JSON.stringify(token.slice(0, 40))}); pass ListJobsResponse.next_page_token, or "" for the first page`);
}

/** One page of `jobs` (those the caller may see) for a ListJobs request. Throws InvalidArgumentError. */
export function listJobsPage(jobs: JobRecord[], req: Pick<ListJobsRequest__Output, 'pageSize' | 'pageToken' | 'states'>): { jobs: JobRecord[]; nextPageToken: string; totalSize: number } {
  const size = req.pageSize ?? 0;
  if (!Number.isInteger(size) || size < 0) throw new InvalidArgumentError('page_size', `page_size must be 0 (= ${MAX_PAGE_SIZE}) or more, got ${size}`);
  const pageSize = size === 0 ? MAX_PAGE_SIZE : Math.min(size, MAX_PAGE_SIZE);
  const states = new Set<string>();
  for (const s of req.states ?? []) {
    if (typeof s !== 'string' || !STATES.has(s)) throw new InvalidArgumentError('states', `states: ${JSON.stringify(s)} is not a job state to filter by (JOB_STATE_QUEUED ... JOB_STATE_CANCELLED)`);
    states.add(s);
  }
  const matching = jobs
    .filter((j) => states.size === 0 || states.has(`JOB_STATE_${j.state}`))
    .sort((a, b) => (after(pageKey(a), pageKey(b)) ? 1 : after(pageKey(b), pageKey(a)) ? -1 : 0));
  const from = req.pageToken ? decodeToken(req.pageToken) : undefined;
  const rest = from ? matching.filter((j) => after(pageKey(j), from)) : matching;
  const page = rest.slice(0, pageSize);
  return { jobs: page, nextPageToken: rest.length > pageSize ? encodeToken(pageKey(page[page.length - 1])) : '', totalSize: matching.length };
}

// --- ListModels ---

/** What a served model accepts; artists and genres filtered by `search` (case-insensitive, also normalised). */
export function modelInfo(folder: ModelFolder, search: string, ready: boolean): ModelInfo {
  const m = folder.manifest;
  const { labels } = m;
  const needle = search.toLowerCase();
  const normalised = labels.version === 'v2' ? normV2(search) : needle;
  const names = (ids: Record<string, number>): string[] =>
    Object.keys(ids)
      .filter((n) => n.trim() !== '')
      .sort();
  const matches = (n: string): boolean => needle === '' || n.includes(needle) || (normalised !== '' && n.includes(normalised));
  const artists = names(labels.artists);
  const genres = names(labels.genres);
  return {
    model: m.modelId,
    hash: folder.hash,
    sampleRate: m.sampleRate,
    labelsVersion: labels.version,
    artists: artists.filter(matches),
    genres: genres.filter(matches),
    artistsTotal: artists.length,
    genresTotal: genres.length,
    maxGenreWords: labels.maxGenreWords,
    lyrics: m.lyrics !== undefined,
    lyricsMaxChars: m.lyrics?.maxChars ?? 0,
    minDurationSeconds: minimumDurationSeconds(m),
    maxDurationSeconds: labels.maxDurationSeconds,
    levels: m.levels.map((l) => ({
      level: l.level,
      hopLength: l.hopLength,
      nCtx: l.nCtx,
      windowSeconds: (l.nCtx * l.hopLength) / m.sampleRate,
      lyrics: l.conditioning.lyrics !== 'none',
    })),
    modes: ['JOB_MODE_EXACT', 'JOB_MODE_SHARDED'],
    ready,
  };
}

// --- FetchAudio preview ---

export interface PreviewSource {
  durable: DurableStore;
  /** The job's record as the coordinator holds it now (undefined once it left this coordinator). */
  current(): JobRecord | undefined;
  /** Calls `fn` at every change of the job; returns the unsubscription. */
  onChange(fn: () => void): () => void;
}

/**
 * Streams row `row` of a job's WAV file while the job runs: the final header (the total length is known from the
 * plan), then each decode chunk's samples in song order as soon as the chunk is stored, until the last. The bytes
 * are those of the file the job writes when it SUCCEEDS (job-persistence writeWavs: the same chunks, in order).
 */
export async function streamPreview(call: grpc.ServerWritableStream<unknown, AudioChunk>, job: JobRecord, row: number, source: PreviewSource, chunkBytes: number): Promise<void> {
  let cancelled = false;
  let wake: (() => void) | undefined;
  call.on('cancelled', () => {
    cancelled = true;
    wake?.();
  });
  const unsubscribe = source.onChange(() => wake?.());
  const hop = job.plan.levels[0].hopLength;
  const total = job.decodeChunks.reduce((n, c) => n + (c.end - c.start), 0) * hop;
  const header = wavHeader(total, job.plan.sampleRate, job.wavFormat);
  const totalBytes = header.length + total * (job.wavFormat === 'pcm16' ? 2 : 4);
  let offset = 0;
  const send = async (bytes: Uint8Array): Promise<void> => {
    for (let at = 0; at < bytes.length && !cancelled; at += chunkBytes) {
      const n = Math.min(chunkBytes, bytes.length - at);
      if (!call.write({ data: Buffer.from(bytes.buffer, bytes.byteOffset + at, n), offset, totalBytes })) await drainedOrGone(call);
      offset += n;
    }
  };
  try {
    await send(header);
    for (let c = 0; c < job.decodeChunks.length && !cancelled; c++) {
      for (;;) {
        const now = source.current();
        if (now !== job) {
          call.emit('error', statusError(grpc.status.UNAVAILABLE, `job ${job.id} is no longer driven by this coordinator; fetch its audio again`));
          return;
        }
        if (job.decode.done[c] || job.state === 'SUCCEEDED') break;
        if (TERMINAL_STATES.has(job.state)) {
          call.emit('error', statusError(grpc.status.ABORTED, `job ${job.id} is ${job.state}${job.error ? `: ${job.error}` : ''}; its audio will not be finished`));
          return;
        }
        // Wait for the next change, or look again in a second.
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 1000);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = undefined;
        if (cancelled) return;
      }
      const rows = await source.durable.getDecoded(job.id, c);
      if (!rows || !rows[row]) {
        call.emit('error', statusError(grpc.status.DATA_LOSS, `job ${job.id}: decode chunk ${c} is not in the store`));
        return;
      }
      await send(wavSamples(rows[row], job.wavFormat));
    }
    if (!cancelled) call.end();
  } catch (err) {
    call.emit('error', statusError(grpc.status.UNAVAILABLE, `reading the decoded audio from the store failed: ${(err as Error).message}`));
  } finally {
    unsubscribe();
  }
}
