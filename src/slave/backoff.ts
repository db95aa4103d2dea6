/** The reconnect backoff: exponential, capped, with jitter so that slaves do not reconnect in step. */

export interface BackoffOptions {
  /** First reconnect delay, ms. Default 100. */
  initial?: number;
  /** Cap of the doubling delay, ms. Default 5000. */
  max?: number;
  /** Fraction of each delay that is random, 0–1: delay ∈ (base·(1−jitter), base]. Default 0.5. */
  jitter?: number;
}

/** base = min(max, initial·2^attempt); a `jitter` fraction of it is random. */
export function backoffDelay(b: Required<BackoffOptions>, attempt: number): number {
  const base = Math.min(b.max, b.initial * 2 ** Math.min(attempt, 31));
  return Math.round(base * (1 - b.jitter * Math.random()));
}
