import type { Clock, TimerHandle } from '../clock.js';
import { ackedBySet, type InSyncRecord } from '../decisions/ha.js';

export interface AckTrackerOptions {
  /** `--ack`: standby waits for the in-sync standbys; local acknowledges once on this disk. */
  mode: 'local' | 'standby';
  /** How long a commit waits for the in-sync standbys before they are dropped from the set (ms). */
  timeout: number;
  scheduler: Clock;
  /** Writes the in-sync record in etcd under the leader's term (false: this node no longer leads). */
  write(record: InSyncRecord): Promise<boolean>;
  /** Told when acknowledging falls back to this disk alone, and when a standby is in sync again. */
  onChange?: (local: boolean, members: string[]) => void;
  /**
   * No other member is registered as the term starts (the old leader died or stopped, no
   * third one): no standby can have anything to confirm, so waiting `timeout` on every
   * first commit would only hold the slaves' HELLO_ACKs back (1 s after each failover of a
   * two-master cluster). Acknowledge locally from the start, said as usual, until one catches up.
   */
  alone?: boolean;
}

interface Waiter {
  seq: number;
  since: number;
  resolve: () => void;
}

/**
 * `--ack standby` on the leader: which standbys are in sync, and when a commit may be
 * acknowledged. The in-sync set is recorded in etcd before it counts (a member added) or
 * before it stops counting (a member dropped), so that at every moment each acknowledged
 * event is on every member of the set etcd holds, and only those may win the next election
 * (src/decisions/ha.ts, mayCampaign). A commit waits until every member has it; a member
 * that does not confirm within `timeout` is dropped; with none left the leader
 * acknowledges on its own disk (announced through onChange) until a standby catches up.
 */
export class AckTracker {
  /** The set as etcd holds it (what acknowledgements are checked against). */
  members: string[] = [];
  /** True while no standby is in sync and commits are acknowledged locally. */
  local = false;
  /** When the local acknowledging started (monotonic ms), for /v1/cluster. */
  localSince = 0;
  readonly acked = new Map<string, number>();
  private readonly connected = new Set<string>();
  private waiters: Waiter[] = [];
  private writing = false;
  private timer: TimerHandle | undefined;
  private committed = 0;
  private stopped = false;

  constructor(
    private readonly term: number,
    private readonly options: AckTrackerOptions,
  ) {
    if (options.mode === 'standby') {
      this.timer = options.scheduler.setInterval(() => this.check(), Math.max(10, Math.floor(options.timeout / 4)));
      this.timer.unref();
      void this.update([], options.alone ?? false);
    }
  }

  /** The recorder's gate: undefined acknowledges now. */
  waitFor(seq: number): Promise<void> | undefined {
    this.committed = Math.max(this.committed, seq);
    if (this.options.mode === 'local' || this.stopped) return undefined;
    if (this.local && this.waiters.length === 0) return undefined;
    const have = ackedBySet(this.members, this.acked);
    if (have !== undefined && have >= seq && this.waiters.length === 0) return undefined;
    return new Promise((resolve) => this.waiters.push({ seq, since: this.options.scheduler.now(), resolve }));
  }

  follower(node: string, connected: boolean): void {
    if (connected) this.connected.add(node);
    else this.connected.delete(node);
    this.check();
  }

  ack(node: string, seq: number): void {
    this.acked.set(node, Math.max(seq, this.acked.get(node) ?? 0));
    this.check();
  }

  private release(): void {
    const have = this.local ? Infinity : ackedBySet(this.members, this.acked);
    if (have === undefined) return;
    let n = 0;
    while (n < this.waiters.length && this.waiters[n]!.seq <= have) this.waiters[n++]!.resolve();
    if (n > 0) this.waiters = this.waiters.slice(n);
  }

  /** Adds standbys that caught up, drops members that timed out, releases what is acknowledged. */
  private check(): void {
    if (this.options.mode === 'local' || this.stopped) return;
    this.release();
    if (this.writing) return;
    const now = this.options.scheduler.now();
    const oldest = this.waiters[0];
    const late = oldest !== undefined && now - oldest.since >= this.options.timeout;
    let next = this.members;
    if (late) next = next.filter((m) => (this.acked.get(m) ?? 0) >= oldest.seq && this.connected.has(m));
    else next = next.filter((m) => this.connected.has(m) || (this.acked.get(m) ?? 0) >= this.committed);
    const caughtUp = [...this.connected].filter((m) => !next.includes(m) && (this.acked.get(m) ?? 0) >= this.committed);
    next = [...next, ...caughtUp].sort();
    const local = next.length === 0 && (this.local || late);
    if (next.join() === this.members.join() && local === this.local) return;
    void this.update(next, local);
  }

  private async update(members: string[], local: boolean): Promise<void> {
    this.writing = true;
    try {
      const ok = await this.options.write({ term: this.term, members, mode: local ? 'local' : 'standby' });
      if (!ok || this.stopped) return;
      const changed = local !== this.local || members.join() !== this.members.join();
      if (local && !this.local) this.localSince = this.options.scheduler.now();
      this.members = members;
      this.local = local;
      if (changed) this.options.onChange?.(local, members);
    } catch {
      // etcd out of reach: tried again on the next check (the fencing deadline bounds how long)
    } finally {
      this.writing = false;
    }
    this.check();
  }

  /** Everything still waiting is dropped (the leader stepped down: no effect runs). */
  stop(): void {
    this.stopped = true;
    this.options.scheduler.clearInterval(this.timer);
    this.waiters = [];
  }
}
