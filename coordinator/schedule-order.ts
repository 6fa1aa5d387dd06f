// Pure: the order in which ready work of all jobs is offered to free workers. Jobs share the workers by
// priority-weighted fair queuing (each job has a virtual time that grows by the cost of what it is given over its
// priority; the job furthest behind goes next), so no job waits for another whole job; inside a job, the task
// with the longest path to the end of the song goes first (critical path list scheduling).

export interface Candidate<T> {
  jobId: string;
  /** Longest path from this task to the end of its job, in cost units; larger goes first within a job. */
  tail: number;
  /** What running it costs, in the same units as virtual time × priority. */
  cost: number;
  item: T;
}

export interface JobShare {
  jobId: string;
  /** 1..10. */
  priority: number;
  /** Cost given to the job so far over its priority (see the dispatcher). */
  virtualTime: number;
  /** Submission order: earlier first on ties. */
  seq: number;
}

/** Orders candidates of every job: fair between jobs, critical path first within each. */
export function scheduleOrder<T>(candidates: readonly Candidate<T>[], jobs: readonly JobShare[]): Candidate<T>[] {
  const perJob = new Map<string, Candidate<T>[]>();
  for (const c of candidates) {
    const list = perJob.get(c.jobId) ?? [];
    list.push(c);
    perJob.set(c.jobId, list);
  }
  for (const list of perJob.values()) list.sort((a, b) => b.tail - a.tail);
  const state = jobs.filter((j) => perJob.has(j.jobId)).map((j) => ({ ...j, next: 0 }));
  const before = (a: (typeof state)[number], b: (typeof state)[number]): boolean =>
    a.virtualTime !== b.virtualTime ? a.virtualTime < b.virtualTime : a.priority !== b.priority ? a.priority > b.priority : a.seq < b.seq;
  const out: Candidate<T>[] = [];
  for (;;) {
    let best: (typeof state)[number] | undefined;
    for (const j of state) if (j.next < perJob.get(j.jobId)!.length && (!best || before(j, best))) best = j;
    if (!best) break;
    const c = perJob.get(best.jobId)![best.next++];
    out.push(c);
    best.virtualTime += c.cost / best.priority;
  }
  return out;
}

/** A window on a job's longest remaining path (within this fraction of it) is critical: it never waits for a batch. */
export const CRITICAL_FRACTION = 0.9;

export interface BatchCandidate<T> extends Candidate<T> {
  /** Windows with the same key may ride in one batch ('' = never batched: decode chunks). */
  batchKey: string;
  rows: number;
  /** The longest tail among the job's ready and running work. */
  jobMaxTail: number;
}

/**
 * The order in which free workers open batches: critical work (a window within CRITICAL_FRACTION of its job's
 * longest remaining path, and decode chunks) in schedule order first, then the rest by the rows its batch would
 * hold, fullest first. Work off the critical path has slack; spending a worker on a full batch rather than a thin
 * one gets more tokens per session.run, and the thin groups fill up while they wait.
 */
export function batchOrder<T>(ordered: readonly BatchCandidate<T>[], maxBatchRows: number, fraction = CRITICAL_FRACTION): BatchCandidate<T>[] {
  const critical: BatchCandidate<T>[] = [];
  const groups = new Map<string, { rows: number; first: number; items: BatchCandidate<T>[] }>();
  ordered.forEach((c, i) => {
    if (c.batchKey === '' || c.tail >= fraction * c.jobMaxTail) {
      critical.push(c);
      return;
    }
    const g = groups.get(c.batchKey) ?? { rows: 0, first: i, items: [] };
    g.rows += c.rows;
    g.items.push(c);
    groups.set(c.batchKey, g);
  });
  // A group fuller than a batch can hold is worth one full batch.
  const size = (g: { rows: number }): number => Math.min(g.rows, maxBatchRows);
  const rest = [...groups.values()].sort((a, b) => size(b) - size(a) || a.first - b.first).flatMap((g) => g.items);
  return [...critical, ...rest];
}

/** A thin batch may wait up to this fraction of its level's typical batch time for windows about to be ready. */
export const BATCH_HOLD_FRACTION = 0.5;

export interface HoldQuestion {
  /** Rows the batch would hold now, and the most the worker takes. */
  rows: number;
  maxRows: number;
  /** When its oldest window became ready, and now. */
  readySinceMs: number;
  nowMs: number;
  /** How long a batch of this level typically takes (undefined: not measured yet). */
  typicalBatchMs?: number;
  /** Expected ends of batches of the same level and model in flight elsewhere (their next windows come then). */
  inFlightEndsMs: number[];
}

/**
 * Whether to leave a thin batch waiting (Triton's dynamic batcher does the same with its queue delay): only when
 * a batch of the same level is about to finish, so that its jobs' next windows can ride along, and never longer
 * than BATCH_HOLD_FRACTION of a typical batch after the oldest window became ready. Returns the time to look again,
 * or undefined to send it now.
 */
export function holdUntil(q: HoldQuestion): number | undefined {
  if (q.rows >= q.maxRows || q.typicalBatchMs === undefined) return undefined;
  const deadline = q.readySinceMs + BATCH_HOLD_FRACTION * q.typicalBatchMs;
  if (q.nowMs >= deadline) return undefined;
  const soon = q.inFlightEndsMs.filter((end) => end <= deadline);
  if (soon.length === 0) return undefined;
  return deadline;
}

/** 1-based positions of jobs that have not started: higher priority first, then submission order. */
export function queuePositions(queued: readonly Pick<JobShare, 'jobId' | 'priority' | 'seq'>[]): Map<string, number> {
  const sorted = [...queued].sort((a, b) => (a.priority !== b.priority ? b.priority - a.priority : a.seq - b.seq));
  return new Map(sorted.map((j, i) => [j.jobId, i + 1]));
}

export interface AdmissionLimits {
  /** Jobs submitted and not finished. */
  maxPendingJobs: number;
  /** Their sample rows together. */
  maxPendingRows: number;
}

/** Why a new job of `rows` rows is refused, or null when it is admitted. */
export function admissionRefusal(pendingJobs: number, pendingRows: number, rows: number, limits: AdmissionLimits): string | null {
  if (pendingJobs + 1 > limits.maxPendingJobs) {
    return `the coordinator already has ${pendingJobs} unfinished jobs, its limit (max pending jobs ${limits.maxPendingJobs}); retry when some have finished`;
  }
  if (pendingRows + rows > limits.maxPendingRows) {
    return `${rows} more sample rows would exceed the coordinator's limit of ${limits.maxPendingRows} unfinished rows (${pendingRows} now); retry later or with fewer samples`;
  }
  return null;
}
