/**
 * Time as the edges see it: a monotonic clock and timers, passed in (`scheduler` option)
 * rather than read from `performance.now()` and the global timers. Types only, so the pure
 * core may name it; the real one is `systemClock` (src/util/system-clock.ts), and tests
 * drive a manual one (test/helpers/manual-clock.ts) instead of waiting real windows.
 */

/** A pending timer. `unref()` as on Node's timers: it does not keep the process alive. */
export interface TimerHandle {
  unref(): TimerHandle;
}

export interface Clock {
  /** Monotonic milliseconds (only differences mean anything). */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle | undefined): void;
  setInterval(fn: () => void, ms: number): TimerHandle;
  clearInterval(handle: TimerHandle | undefined): void;
}
