import type { ServerResponse } from 'node:http';
import { ErrorCode } from '../errors.js';
import type { RegistryView } from '../ledger/view.js';
import type { Clock, TimerHandle } from '../clock.js';
import { formatDuration } from '../util/duration.js';
import { EventTail } from './event-tail.js';
import { CONCURRENT_READS, EventStream, Gate, type StreamHost } from './event-stream.js';

export interface FollowerLimits {
  /** Live tails (`/v1/events?follow=1`) served at once; more are answered 503 TOO_MANY_FOLLOWERS. */
  maxFollowers: number;
  /** A stream whose socket takes nothing this long while it has events to send is cut off (ms; 0: never). */
  stallTimeout: number;
}

export const FOLLOWER_DEFAULTS: FollowerLimits = { maxFollowers: 100, stallTimeout: 60_000 };

/** Why streams were cut off (the `reason` label of loadledger_followers_cut_total). */
export const CUT_REASONS = ['stalled', 'retention'] as const;
export type CutReason = (typeof CUT_REASONS)[number];

/** How often the streams are checked for a stall (ms). */
const SWEEP_MS = 1000;

/**
 * Every `/v1/events` stream of one HTTP API: the cap on live tails, the shared live tail
 * they read from (src/http/event-tail.ts), the check that cuts off a stream that stopped
 * reading or fell behind the retention horizon, and the end of them all when the API closes.
 * What is "too far behind": reading from the log makes being behind cost nothing but the
 * cursor, so a stream is cut only when the events it needs next were deleted by retention, or
 * when its client has taken nothing for `stallTimeout` although there was something to send.
 */
export class Followers implements StreamHost {
  readonly streams = new Set<EventStream>();
  readonly tail: EventTail;
  readonly reads = new Gate(CONCURRENT_READS);
  /** For /metrics: follows refused beyond the cap, streams cut off by reason. */
  readonly counts = { refused: 0, cut: { stalled: 0, retention: 0 } satisfies Record<CutReason, number> };
  closing = false;
  private following = 0;
  private sweeper: TimerHandle | undefined;

  constructor(
    readonly view: RegistryView,
    readonly limits: FollowerLimits,
    readonly scheduler: Clock,
  ) {
    this.tail = new EventTail(() => view.events$);
  }

  /** Live tails being served now. */
  get live(): number {
    return this.following;
  }

  /**
   * A stream for `res` from seq `from`, or undefined when it would be a live tail beyond the
   * cap (counted as refused). It counts from now, before its header is written.
   */
  open(res: ServerResponse, follow: boolean, from: number, to: number): EventStream | undefined {
    if (follow && this.following >= this.limits.maxFollowers) {
      this.counts.refused++;
      return undefined;
    }
    const s = new EventStream(this, res, follow, from, to);
    this.streams.add(s);
    if (follow) this.following++;
    if (!this.sweeper) this.sweeper = this.scheduler.setInterval(() => this.sweep(), SWEEP_MS).unref();
    return s;
  }

  release(stream: EventStream): void {
    if (!this.streams.delete(stream)) return;
    if (stream.follow) this.following--;
    if (this.streams.size === 0 && this.sweeper) {
      this.scheduler.clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }

  /** Bytes buffered on the streams' sockets: the total and the largest (for /metrics). */
  buffered(): { total: number; max: number } {
    let total = 0;
    let max = 0;
    for (const s of this.streams) {
      const b = s.buffered;
      total += b;
      if (b > max) max = b;
    }
    return { total, max };
  }

  /** Streams waiting for their socket to take what it has (for /metrics). */
  blocked(): number {
    let n = 0;
    for (const s of this.streams) if (s.blockedSince !== undefined) n++;
    return n;
  }

  /** Cuts off the streams that stopped reading, or that wait for events retention deleted. */
  sweep(): void {
    const now = this.scheduler.now();
    const { stallTimeout } = this.limits;
    const firstSeq = this.view.log.firstSeq;
    for (const s of [...this.streams]) {
      if (s.blockedSince === undefined) continue;
      if (s.sent + 1 < firstSeq) {
        this.counts.cut.retention++;
        s.cut(
          ErrorCode.SEQ_OUT_OF_RANGE,
          `this client fell behind the retention horizon: it was at seq ${s.sent}, and the oldest retained event is seq ${firstSeq}; start again with snapshot=1`,
        );
      } else if (stallTimeout > 0 && now - s.blockedSince >= stallTimeout) {
        this.counts.cut.stalled++;
        s.cut(
          ErrorCode.EVENT_STREAM_BROKEN,
          `this client took nothing for ${formatDuration(stallTimeout)} (--follow-stall-timeout) with events still to send; cut off after seq ${s.sent}: follow again from seq ${s.sent + 1}`,
        );
      }
    }
  }

  /**
   * Ends every stream: live tails once they have sent the last committed event (the
   * master's MasterStopped), within `ms`; whatever has not finished by then is destroyed, so
   * that a stream still behind never looks complete.
   */
  async close(ms = 1000): Promise<void> {
    this.closing = true;
    this.tail.wakeAll();
    const open = [...this.streams];
    if (open.length > 0) {
      const ended = open.map(
        (s) =>
          new Promise<void>((resolve) =>
            s.res.destroyed || s.res.writableFinished ? resolve() : (s.res.once('finish', resolve), s.res.once('close', resolve)),
          ),
      );
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(ended), new Promise<void>((r) => (timer = setTimeout(r, ms)))]).finally(() => clearTimeout(timer));
    }
    for (const s of open) if (!s.res.writableFinished) s.destroy();
    if (this.sweeper) this.scheduler.clearInterval(this.sweeper);
    this.sweeper = undefined;
  }
}
