import type { Clock, TimerHandle } from '../clock.js';

/** Connections a port turned away or could not take, for the operator's log. */
export interface Refusal {
  /** The slave port or the HTTP API. */
  port: 'slave' | 'http';
  /** What it was: `max-connections`, `accept-failed`, … (one log line per kind and window). */
  kind: string;
  /** The reason, in words, of the first one of the window (`accept failed: EMFILE …`). */
  reason: string;
  /** How many since the last report (1 for the first of a window). */
  count: number;
}

/** One report per kind per this long, at most (ms). */
export const REFUSAL_WINDOW_MS = 10_000;

/**
 * Reports refusals at most once per window and kind: the first at once, the ones after it
 * counted and reported together when the window ends. A port that turns away thousands of
 * connections a second (descriptors exhausted, a flood) writes one line per window, not one
 * per connection.
 */
export class RefusalLog {
  private readonly kinds = new Map<string, { reportedAt: number; unreported: number; reason: string; timer: TimerHandle | undefined }>();

  constructor(
    private readonly clock: Clock,
    private readonly report: (r: Refusal) => void,
    private readonly windowMs = REFUSAL_WINDOW_MS,
  ) {}

  note(port: Refusal['port'], kind: string, reason: string): void {
    const key = `${port} ${kind}`;
    const now = this.clock.now();
    const k = this.kinds.get(key);
    if (!k || now - k.reportedAt >= this.windowMs) {
      if (k?.timer) this.clock.clearTimeout(k.timer);
      const count = (k?.unreported ?? 0) + 1;
      this.kinds.set(key, { reportedAt: now, unreported: 0, reason, timer: undefined });
      this.report({ port, kind, reason, count });
      return;
    }
    k.unreported++;
    k.reason = reason;
    k.timer ??= this.clock
      .setTimeout(
        () => {
          k.timer = undefined;
          if (k.unreported === 0) return;
          const count = k.unreported;
          k.unreported = 0;
          k.reportedAt = this.clock.now();
          this.report({ port, kind, reason: k.reason, count });
        },
        k.reportedAt + this.windowMs - now,
      )
      .unref();
  }

  /** Stops the pending reports (the port closes). */
  close(): void {
    for (const k of this.kinds.values()) this.clock.clearTimeout(k.timer);
    this.kinds.clear();
  }
}
