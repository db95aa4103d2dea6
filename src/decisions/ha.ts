import type { TermEntry } from '../projection/state.js';

/**
 * Master HA decisions (docs/ha.md), pure: the fencing deadline, where two logs diverge,
 * who may campaign, and when a group commit may be acknowledged with `--ack standby`. The
 * etcd session, the replication sockets and the timers are edges (src/cluster/); they call
 * these with the times and facts they observed.
 */

/**
 * How long before the lease can expire on etcd a leader stops: a margin for the stop
 * itself (drop the connections, refuse the next append) and for a timer that fires late.
 * A quarter of the TTL, at least 250 ms: 500 ms at the default 2 s.
 */
export function fenceMargin(ttlMs: number): number {
  return Math.max(250, Math.floor(ttlMs / 4));
}

/**
 * The leader's own deadline (monotonic ms): etcd counts a lease's TTL from when it
 * *received* the keep-alive, which is after this node *sent* it, so `sentAt + ttl` is
 * never later than the expiry etcd sees (clocks on two machines run at nearly the same
 * rate; their offsets do not matter, only this node's monotonic clock is read).
 */
export function fenceDeadline(sentAt: number, grantedTtlMs: number, margin = fenceMargin(grantedTtlMs)): number {
  return sentAt + grantedTtlMs - margin;
}

/** How often the leader renews its lease: six keep-alives per TTL, so a few can be lost before the deadline. */
export function keepAliveInterval(ttlMs: number): number {
  return Math.max(50, Math.floor(ttlMs / 6));
}

/** The term that wrote `seq` in a log with these terms (0: written before any LeaderElected). */
export function termAt(terms: readonly Pick<TermEntry, 'term' | 'seq'>[], seq: number): number {
  let t = 0;
  for (const e of terms) {
    if (e.seq > seq) break;
    t = e.term;
  }
  return t;
}

export interface LogPosition {
  lastSeq: number;
  terms: readonly Pick<TermEntry, 'term' | 'seq'>[];
}

/**
 * The last seq two logs agree on. One leader per term writes each seq once, so two logs
 * with the same term at a seq hold the same events up to it (the log-matching property
 * Raft relies on); the agreement is a prefix, and it ends at their common end or just
 * before a term starts on one side only. The follower truncates what it has after this.
 */
export function agreedSeq(leader: LogPosition, follower: LogPosition): number {
  const end = Math.min(leader.lastSeq, follower.lastSeq);
  const candidates = new Set<number>([end]);
  for (const e of [...leader.terms, ...follower.terms]) if (e.seq - 1 < end) candidates.add(Math.max(0, e.seq - 1));
  const sorted = [...candidates].sort((a, b) => b - a);
  for (const s of sorted) if (termAt(leader.terms, s) === termAt(follower.terms, s)) return s;
  return 0;
}

/** The in-sync set a leader records in etcd under its term (as Patroni does with its sync key). */
export interface InSyncRecord {
  term: number;
  /** Standbys that have every acknowledged event (`--ack standby`). */
  members: string[];
  /** `local`: no standby was in sync and the leader acknowledged on its own disk alone. */
  mode: 'standby' | 'local';
}

/**
 * May `node` campaign? With `--ack standby` only a standby that has every acknowledged
 * event: one in the in-sync set, or any when the set is empty (the leader was acking
 * locally, or none recorded one yet). `ack local` campaigns always.
 */
export function mayCampaign(node: string, ack: 'local' | 'standby', record: InSyncRecord | null): boolean {
  if (ack === 'local' || record === null || record.members.length === 0) return true;
  return record.members.includes(node);
}

/**
 * The highest seq that may be acknowledged with `--ack standby`: what every member of the
 * recorded in-sync set has durably (undefined: the set is empty, nothing is acknowledged by
 * standbys).
 */
export function ackedBySet(members: readonly string[], acked: ReadonlyMap<string, number>): number | undefined {
  if (members.length === 0) return undefined;
  let min = Infinity;
  for (const m of members) min = Math.min(min, acked.get(m) ?? 0);
  return min;
}
