import type { EventLog } from '../../storage/event-log.js';
import { toSnapshot } from '../projection/snapshot.js';
import type { Projection } from '../projection/state.js';
import type { Clock } from '../clock.js';

export interface SnapshotOptions {
  /** Snapshot the projection every this many events (0: never by count). */
  snapshotEvery: number;
  /** … or every this many ms, whichever comes first (0: never by time). */
  snapshotInterval: number;
  /** Snapshots kept (the oldest go first). */
  maxSnapshots: number;
  /** Monotonic time and timers (tests drive a manual one: test/helpers/manual-clock.ts). */
  scheduler: Clock;
}

/**
 * When to snapshot the projection (every N events or T ms after a commit) and writing it:
 * restart time then depends on the tail since the last snapshot, not on the log.
 */
export class Snapshots {
  private lastSeq = 0;
  private lastAt: number;
  private running = false;

  constructor(
    private readonly ledger: { readonly projection: Projection; readonly log: EventLog },
    private readonly options: SnapshotOptions,
    /** Retention is deleting: snapshots are not pruned meanwhile. */
    private readonly retaining: () => boolean,
  ) {
    this.lastAt = options.scheduler.now();
  }

  /** The projection is at `seq` (at start); nothing before it needs a snapshot. */
  reset(seq: number): void {
    this.lastSeq = seq;
  }

  /** The projection was rebuilt at `seq` (after a log failure): it may be behind the last snapshot. */
  rewind(seq: number): void {
    this.lastSeq = Math.min(this.lastSeq, seq);
  }

  /** A group commit ended at `seq`. */
  committed(seq: number): void {
    const { snapshotEvery, snapshotInterval } = this.options;
    const due =
      (snapshotEvery > 0 && seq - this.lastSeq >= snapshotEvery) ||
      (snapshotInterval > 0 && this.options.scheduler.now() - this.lastAt >= snapshotInterval && seq > this.lastSeq);
    if (due && !this.running) void this.snapshot();
  }

  /** Writes a snapshot of the projection as it is now (between two commits, so exact). */
  async snapshot(): Promise<void> {
    this.running = true;
    const snap = toSnapshot(this.ledger.projection);
    this.lastSeq = snap.seq;
    this.lastAt = this.options.scheduler.now();
    try {
      await this.ledger.log.putSnapshot(snap);
      // Not while retention deletes: the snapshot it made at its cutoff is often the oldest,
      // and pruned before the events before it are gone it would leave them unreplayable.
      if (!this.retaining()) await this.ledger.log.pruneSnapshots(this.options.maxSnapshots);
    } catch {
      // A failed snapshot costs restart time, not data: the events are in the log.
    } finally {
      this.running = false;
    }
  }

  /** At stop: a snapshot of whatever is newer than the last one (after the one running). */
  async final(): Promise<void> {
    if (this.ledger.projection.seq <= this.lastSeq) return;
    while (this.running) await new Promise((r) => setTimeout(r, 5));
    await this.snapshot();
  }
}
