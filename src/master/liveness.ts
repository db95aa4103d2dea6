import { Subject } from 'rxjs';
import type { Clock, TimerHandle } from '../clock.js';
import type { Recorder } from '../../storage/recorder.js';
import type { NewEvent, ProtectionEnded, ProtectionStarted } from '../events.js';
import type { Projection } from '../projection/state.js';
import type { SlaveConnection } from './connection.js';
import { ProtectionGuard, type ProtectionOptions } from '../decisions/protection.js';
import { ReconnectGrace } from '../decisions/takeover.js';

export interface LivenessOptions {
  /** The master HELLOs a slave that was quiet this long (ms). */
  helloInterval: number;
  /** A slave with no frame for this long is DOWN (ms). */
  deadAfter: number;
  /** A connection that sends no valid frame this long after it was accepted is closed (ms). */
  handshakeTimeout: number;
  /** Wall clock (protection's bounds are wall-clock times, as in its events). */
  clock: () => number;
  /** Monotonic time and timers (tests drive a manual one: test/helpers/manual-clock.ts). */
  scheduler: Clock;
}

/** What liveness reads and writes. */
export interface LivenessHost {
  readonly conns: ReadonlyMap<number, SlaveConnection>;
  readonly projection: Projection;
  readonly recorder: Recorder;
  /** Forgets connect-rate state of peers quiet for long (monotonic ms). */
  prune(now: number): void;
  now(): number;
}

/**
 * The liveness timer: HELLOs quiet slaves, times out silent ones and handshakes that never
 * finish, and has mass-failure protection (src/decisions/protection.ts) decide before a
 * tick's timeouts are recorded.
 */
export class Liveness {
  private timer: TimerHandle | undefined;
  private lastPrune = 0;
  /** Decides when mass-failure protection starts and ends. */
  readonly protection: ProtectionGuard;
  /** Master HA: what becomes of the previous term's connections after a takeover (termBegan). */
  readonly grace: ReconnectGrace;
  /** ProtectionStarted and ProtectionEnded once committed: for the operator's log lines. */
  readonly protection$ = new Subject<ProtectionStarted | ProtectionEnded>();

  constructor(
    private readonly host: LivenessHost,
    private readonly options: LivenessOptions,
    protection: Omit<ProtectionOptions, 'deadAfter'>,
  ) {
    this.protection = new ProtectionGuard({ ...protection, deadAfter: options.deadAfter });
    this.grace = new ReconnectGrace({ deadAfter: options.deadAfter });
  }

  /**
   * Master HA: this master began to lead (its LeaderElected is committed). The connections
   * the log holds that are not its own are the previous term's: their slaves get one
   * dead-after to re-register here before they time out (src/decisions/takeover.ts), and
   * the protection window starts over (what the previous leader saw time out is not a
   * failure this one sees). Returns how many connections wait.
   */
  termBegan(): number {
    this.protection.reset();
    return this.grace.begin(this.host.now(), this.host.projection, (conn) => this.host.conns.has(conn));
  }

  start(): void {
    const tick = Math.max(5, Math.min(250, Math.floor(Math.min(this.options.helloInterval, this.options.deadAfter) / 4)));
    this.timer = this.options.scheduler.setInterval(() => this.check(), tick).unref();
  }

  stop(): void {
    this.options.scheduler.clearInterval(this.timer);
  }

  /** Ends the protection$ stream (at stop). */
  complete(): void {
    this.protection$.complete();
  }

  check(): void {
    const host = this.host;
    const now = host.now();
    const { deadAfter, helloInterval, handshakeTimeout } = this.options;
    if (this.protection.enabled) this.decideProtection(this.protection.ending(this.options.clock(), host.projection));
    // the previous term's connections: recorded as decided, never counted by protection
    if (this.grace.active) for (const e of this.grace.due(now, this.options.clock(), host.projection)) host.recorder.record(e);
    let timingOut: { c: SlaveConnection; silent: number }[] | undefined;
    for (const c of host.conns.values()) {
      if (c.paused) continue; // we are not reading it: its silence is ours, not the slave's
      const silent = now - c.lastRx;
      if (c.frames === 0 && now - c.connectedAt >= handshakeTimeout) c.timedOut(silent, true);
      else if (silent >= deadAfter) (timingOut ??= []).push({ c, silent });
      else if (silent >= helloInterval && now - c.lastPing >= helloInterval) c.ping(now);
    }
    if (timingOut) {
      // Counted before they are recorded: a mass failure is recorded before its timeouts.
      // the eligible ones: a drained node is not answered anyway, its silence says nothing of a partition
      const bound = timingOut.flatMap(({ c }) =>
        c.node !== null && host.projection.nodes.get(c.node)?.drained === undefined ? [{ node: c.node, conn: c.conn }] : [],
      );
      this.decideProtection(this.protection.timeouts(now, this.options.clock(), host.projection, bound));
      for (const { c, silent } of timingOut) c.timedOut(silent);
    }
    if (now - this.lastPrune >= 10_000) {
      this.lastPrune = now;
      host.prune(now);
    }
  }

  private decideProtection(event: NewEvent | undefined): void {
    if (!event) return;
    const e = this.host.recorder.record(event, () => this.protection$.next(e as ProtectionStarted | ProtectionEnded));
    this.protection.recorded(e?.seq);
  }
}
