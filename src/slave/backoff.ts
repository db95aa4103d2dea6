/**
 * Where a slave connects next, and when: its masters in turn (master HA, docs/ha.md#slaves),
 * with backoff and jitter between passes. Pure: the randomness is passed in (seeded in
 * tests), and the slave's scheduler runs the delays.
 *
 * - A **pass** tries every address once, one right after the other: when the master it
 *   talked to goes away, a slave reaches whichever master leads now without waiting, and a
 *   master that refuses it (a standby takes no slaves: refused, or closed before it says
 *   anything) sends it straight on to the next. The addresses go round in the order given,
 *   from the one after the last tried, so the one that just failed comes last.
 * - When a pass found none that works, the next one starts after `min(max, initial·2^n)`
 *   for the n-th such pass in a row, of which a `jitter` fraction is random: 1,000 slaves
 *   that lost their master at the same instant come back spread out, not in one burst.
 * - A connection that **worked** (the master talked, and it lasted) starts it over: the
 *   next failure begins a fresh pass, right away, and the backoff from `initial` again.
 */

export interface BackoffOptions {
  /** First delay between passes, ms. Default 100. */
  initial?: number;
  /** Cap of the doubling delay, ms. Default 5000 with one master, 300 with a list. */
  max?: number;
  /** Fraction of each delay that is random, 0–1: delay ∈ (base·(1−jitter), base]. Default 0.5. */
  jitter?: number;
}

/** The delay before the n-th pass in a row that follows a pass that found nothing (n from 0). */
export function backoffDelay(b: Required<BackoffOptions>, n: number, random: () => number): number {
  const base = Math.min(b.max, b.initial * 2 ** Math.min(n, 31));
  return Math.round(base * (1 - b.jitter * random()));
}

/** The next attempt: which address (its index in the list), after how long, and how many failed in a row. */
export interface NextAttempt {
  index: number;
  delay: number;
  /** Attempts (or connections that never worked) that failed in a row, this one's predecessor included. */
  attempt: number;
}

export class ReconnectSchedule {
  private at = 0;
  /** Attempts left in the current pass after the one at `at`. */
  private left: number;
  /** Passes in a row that found nothing. */
  private passes = 0;
  private failures = 0;

  constructor(
    private readonly count: number,
    private readonly backoff: Required<BackoffOptions>,
    private readonly random: () => number,
  ) {
    if (!Number.isInteger(count) || count < 1) throw new RangeError(`ReconnectSchedule: count must be an integer ≥ 1, got ${count}`);
    this.left = count - 1;
  }

  /** The address being tried (or last tried). */
  get index(): number {
    return this.at;
  }

  /** The connection to the current address worked: the next failure starts a fresh pass, right away. */
  worked(): void {
    this.passes = 0;
    this.failures = 0;
    this.left = this.count;
  }

  /** The connection or the attempt on the current address ended: where to go next, and when. */
  ended(): NextAttempt {
    this.failures++;
    this.at = (this.at + 1) % this.count;
    let delay = 0;
    if (this.left > 0) {
      this.left--;
    } else {
      delay = backoffDelay(this.backoff, this.passes, this.random);
      this.passes++;
      this.left = this.count - 1;
    }
    return { index: this.at, delay, attempt: this.failures };
  }
}
