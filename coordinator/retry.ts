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
  | 'internal';

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
  | { action: 'retry'; delayMs: number; /** Prefer another worker next time. */ avoidWorker: string; markWorkerDown: boolean; runAlone: boolean }
  | { action: 'fail'; reason: string };

/**
 * `attempts` counts this failure. A refused input fails the job at once, unless the task rode in a batch with
 * other jobs' windows: then it is retried alone, so that one job's bad window cannot fail another. Transport,
 * precondition and timeout failures also take the worker out of rotation for a while.
 */
export function decideRetry(failure: TaskFailure, attempts: number, worker: string, policy: RetryPolicy, batched = false): RetryDecision {
  const tries = `${attempts} attempt${attempts === 1 ? '' : 's'}`;
  if (failure.kind === 'invalid' && !batched) return { action: 'fail', reason: `${failure.message} (after ${tries}; the input was refused)` };
  if (attempts >= policy.maxAttempts) return { action: 'fail', reason: `${failure.message} (after ${tries})` };
  return {
    action: 'retry',
    delayMs: Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempts - 1)),
    avoidWorker: worker,
    markWorkerDown: failure.kind === 'unavailable' || failure.kind === 'precondition' || failure.kind === 'timeout' || failure.kind === 'bad-reply',
    runAlone: failure.kind === 'invalid',
  };
}
