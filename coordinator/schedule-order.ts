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
