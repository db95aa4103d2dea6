/**
 * The cap on time-travel queries (src/http/routes/history.ts): each folds part of the log,
 * so a master answers only a few at once and refuses more (503 TIME_TRAVEL_BUSY) rather
 * than queue folds behind each other.
 */

/** Time-travel queries answered at once per master; one more is 503 TIME_TRAVEL_BUSY. */
export const MAX_TIME_TRAVEL = 4;

/** The time-travel queries running on one HTTP API (ApiState.timeTravel). */
export class TimeTravelGate {
  running = 0;
  constructor(readonly max = MAX_TIME_TRAVEL) {}

  /** Runs `f` when under the cap; false (nothing run) when the cap is reached. */
  tryRun(f: () => Promise<void>): Promise<void> | false {
    if (this.running >= this.max) return false;
    this.running++;
    return f().finally(() => this.running--);
  }
}
