// A new job's record from its validated spec and plan: the one place that knows every field's starting value.
import { planDecodeChunks } from '../shared/decode-plan.js';
import { LevelStream } from '../shared/stitch.js';
import { analysePlan, relativeStepCost } from '../shared/critical-path.js';
import type { JobSpec, Manifest, SongPlan } from '../shared/types.js';
import type { SegmentLayout } from '../shared/plan.js';
import { initialProgress } from './scheduler.js';
import type { JobRecord } from './job.js';

export interface NewJob {
  id: string;
  spec: JobSpec;
  modelHash: string;
  wavFormat: 'pcm16' | 'float32';
  plan: SongPlan;
  layout?: SegmentLayout;
  /** Unix milliseconds; now unless restored. */
  createdAtMs?: number;
  /** The submitting token's name (absent without tokens). */
  owner?: string;
  manifest: Pick<Manifest, 'levels' | 'vqvae'>;
  decodeChunkTokens: number;
  /** Relative step cost per level for critical-path order; default from the manifest (layers × width²). */
  stepCost?: number[];
  /** Tokens the levels start with (spec.start), index = level, one array per row; none for a level without. */
  given?: Int32Array[][];
}

export function createJob(n: NewJob): JobRecord {
  const { plan, spec } = n;
  const tokens = plan.levels.map((lp) => new LevelStream(spec.samples, lp.totalTokens, lp.segments));
  n.given?.forEach((rows, level) => {
    if (rows.length > 0 && rows[0].length > 0) tokens[level].append(0, 0, rows);
  });
  const decodeChunks = planDecodeChunks(plan.levels[0].totalTokens, n.decodeChunkTokens, n.manifest.vqvae.decoders[0].marginTokens);
  return {
    id: n.id,
    spec,
    modelHash: n.modelHash,
    wavFormat: n.wavFormat,
    plan,
    ...(n.layout ? { layout: n.layout } : {}),
    decodeChunkTokens: n.decodeChunkTokens,
    analysis: analysePlan(plan, n.stepCost ?? n.manifest.levels.map((lm) => relativeStepCost(lm))),
    state: 'QUEUED',
    createdAtMs: n.createdAtMs ?? Date.now(),
    seq: 0,
    ...(n.owner !== undefined ? { owner: n.owner } : {}),
    virtualTime: 0,
    tokens,
    levels: initialProgress(plan),
    timing: plan.levels.map(() => ({ newTokensDone: 0 })),
    partial: new Map(),
    runningTails: new Map(),
    readySince: new Map(),
    costDone: 0,
    decodeChunks,
    decode: { done: decodeChunks.map(() => false), running: decodeChunks.map(() => false) },
    audioBytes: [],
    lastEventSeq: 0,
    attempts: new Map(),
    retryAt: new Map(),
    failedOn: new Map(),
    runAlone: new Set(),
  };
}
