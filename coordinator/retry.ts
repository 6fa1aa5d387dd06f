// Pure: what to do when a window or decode chunk fails (bullmq's habit of a retry decision apart from I/O).

/** How a worker call failed, in the coordinator's terms (gRPC codes are mapped at the edge). */
export type FailureKind =
  /** The worker refused the input: retrying the same input cannot help. */
  | 'invalid'
  /** The worker cannot take the call now (shutting down, thread died, transport down). */
  | 'unavailable'
  /** The worker does not hold what the call needs (another model, level or provider). */
  | 'precondition'
  /** No answer in time: a deadline passed or the stream stalled. */
  | 'timeout'
  /** The worker answered with something unusable (wrong shape, out-of-range tokens). */
  | 'bad-reply'
  /** Anything else the worker reported (an inference error). */
  | 'internal'
  /** The worker's answer was fine but the coordinator could not make it durable (the store is down). */
  | 'store';

export interface TaskFailure {
  kind: FailureKind;
  message: string;
}

export interface RetryPolicy {
  maxAttempts: number;
  /** First delay; doubles with each attempt. */
  baseDelayMs: number;
  maxDelayMs: number;
}

export type RetryDecision =
  | {
      action: 'retry';
      delayMs: number;
      /** Prefer another worker next time. */
      avoidWorker: string;
      markWorkerDown: boolean;
      /** Run it in a batch of its own job only. */
      runAlone: boolean;
      /** Whether this failure counts against the task's attempts. */
      countsAttempt: boolean;
    }
  | { action: 'fail'; reason: string };

/**
 * `attempts` counts the task's earlier failures. When the call failed as a whole and carried other jobs' windows
 * too, the failure may be theirs: the task is retried in a batch of its own, and the failure does not count, so
 * that one job's bad window cannot fail another. Otherwise a refused input fails the job at once, and anything
 * else retries with backoff until the attempts are spent. Transport, precondition, timeout and bad-reply failures
 * also take the worker out of rotation for a while.
 */
export function decideRetry(failure: TaskFailure, attempts: number, worker: string, policy: RetryPolicy, sharedWithOtherJobs = false): RetryDecision {
  const markWorkerDown = failure.kind === 'unavailable' || failure.kind === 'precondition' || failure.kind === 'timeout' || failure.kind === 'bad-reply';
  if (sharedWithOtherJobs) {
    return { action: 'retry', delayMs: policy.baseDelayMs, avoidWorker: worker, markWorkerDown, runAlone: true, countsAttempt: false };
  }
  const n = attempts + 1;
  const tries = `${n} attempt${n === 1 ? '' : 's'}`;
  if (failure.kind === 'invalid') return { action: 'fail', reason: `${failure.message} (after ${tries}; the input was refused)` };
  if (n >= policy.maxAttempts) return { action: 'fail', reason: `${failure.message} (after ${tries})` };
  return {
    action: 'retry',
    delayMs: Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (n - 1)),
    avoidWorker: worker,
    markWorkerDown,
    runAlone: false,
    countsAttempt: true,
  };
}
