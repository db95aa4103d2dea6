import type { Clock, TimerHandle } from '../../src/clock.js';

interface Entry {
  at: number;
  seq: number;
  fn: () => void;
  every: number | undefined;
  handle: TimerHandle;
}

/**
 * A clock that moves only when the test says so: `advance(ms)` runs every timer that falls
 * due on the way, in order, with `now()` set to each one's time. Between timers it yields
 * to real I/O (a macrotask), so socket writes and log commits that a timer starts can land
 * before the next one fires. Inject it as a Master's or slave's `scheduler`.
 */
export class ManualClock implements Clock {
  private t: number;
  private seq = 0;
  private readonly pending = new Map<TimerHandle, Entry>();
  private readonly origin: number;
  private readonly wallOrigin: number;

  constructor(start = 1_000_000, wallStart = Date.now()) {
    this.t = this.origin = start;
    this.wallOrigin = wallStart;
  }

  /** A wall clock that moves with this one (a Master's `clock`): protection's bound is wall time. */
  readonly wall = (): number => this.wallOrigin + (this.t - this.origin);

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    return this.add(fn, ms, undefined);
  }

  setInterval(fn: () => void, ms: number): TimerHandle {
    return this.add(fn, ms, Math.max(1, ms));
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    if (handle) this.pending.delete(handle);
  }

  clearInterval(handle: TimerHandle | undefined): void {
    if (handle) this.pending.delete(handle);
  }

  /** Timers waiting (intervals count once). */
  get timers(): number {
    return this.pending.size;
  }

  /**
   * Moves time forward by `ms`, firing due timers in order and letting real I/O run after
   * each (and once at the end).
   */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      const next = this.nextDue(end);
      if (!next) break;
      this.t = Math.max(this.t, next.at);
      if (next.every !== undefined) next.at += next.every;
      else this.pending.delete(next.handle);
      next.fn();
      await yieldToIo();
    }
    this.t = end;
    await yieldToIo();
  }

  /**
   * Advances in steps of `step` ms (with a real millisecond between steps for I/O) until
   * `cond()` holds; throws once `max` ms of clock time passed without it. Returns the clock
   * time it took.
   */
  async advanceUntil(
    cond: () => boolean,
    { step = 50, max = 60_000, what = 'the condition' }: { step?: number; max?: number; what?: string } = {},
  ): Promise<number> {
    const t0 = this.t;
    while (!cond()) {
      if (this.t - t0 >= max) throw new Error(`${what} not met within ${max} ms of manual clock time`);
      await this.advance(step);
      await new Promise((r) => setTimeout(r, 1));
    }
    return this.t - t0;
  }

  /**
   * Lets the clock follow real time, `step` ms per real `every` ms (faster than real time if
   * `every` < `step`), but never more than one step per turn of the event loop: after a
   * stall (a busy machine) it is behind, not ahead, so sockets are always read before the
   * time their silence would count. Returns stop().
   */
  follow(step = 10, every = step): () => Promise<void> {
    let stopped = false;
    const running = (async () => {
      while (!stopped) {
        await new Promise((r) => setTimeout(r, every));
        if (!stopped) await this.advance(step);
      }
    })();
    return async () => {
      stopped = true;
      await running;
    };
  }

  private nextDue(end: number): Entry | undefined {
    let best: Entry | undefined;
    for (const e of this.pending.values()) {
      if (e.at <= end && (!best || e.at < best.at || (e.at === best.at && e.seq < best.seq))) best = e;
    }
    return best;
  }

  private add(fn: () => void, ms: number, every: number | undefined): TimerHandle {
    const handle: TimerHandle = { unref: () => handle };
    this.pending.set(handle, { at: this.t + Math.max(0, ms), seq: this.seq++, fn, every, handle });
    return handle;
  }
}

function yieldToIo(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}
