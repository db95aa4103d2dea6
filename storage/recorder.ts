import { performance } from 'node:perf_hooks';
import { Subject } from 'rxjs';
import type { LoadLedgerError } from '../src/errors.js';
import { EVENT_TYPES, type EventType, type LedgerEvent, type NewEvent } from '../src/events.js';
import { evolve } from '../src/projection/evolve.js';
import type { Projection } from '../src/projection/state.js';
import type { EventLog } from './event-log.js';
import { writeError } from './level-errors.js';

export interface RecorderStats {
  events: number;
  writes: number;
  maxBatch: number;
  /** Committed events by type (for /metrics): counted once per batch, off the fold. */
  byType: Record<EventType, number>;
  /** Committed ProtocolViolated events by code (for /metrics). */
  violations: Map<string, number>;
  /** Called once per group commit with its size and how long the append took (seconds). */
  onCommit?: ((events: number, seconds: number) => void) | undefined;
}

export function newRecorderStats(): RecorderStats {
  const byType = {} as Record<EventType, number>;
  for (const t of EVENT_TYPES) byType[t] = 0;
  return { events: 0, writes: 0, maxBatch: 0, byType, violations: new Map() };
}

/**
 * What master HA (docs/ha.md) puts between a commit and its effects: `permit()` is false
 * once this node may no longer be the leader (its fencing deadline passed): nothing more is
 * appended and no effect runs. `acked(seq)`: with `--ack standby`, resolves once a standby
 * has everything up to `seq` durably (undefined: acknowledge now).
 */
export interface CommitGate {
  permit(): boolean;
  acked(seq: number): Promise<void> | undefined;
  /** The recorder stopped because permit() said no (the node steps down). */
  fenced(): void;
}

/**
 * The write path: stamps events with `seq` and `ts`, group-commits them to the log, and
 * only then folds them into the projection, publishes them on `events$` and runs the
 * effects that waited for them (a HELLO_ACK goes out after its HELLO is on disk).
 *
 * Group commit: events recorded while a write is in flight (or in the same turn of the
 * event loop) go out together in the next single LevelDB write.
 */
export class Recorder {
  /** Every event, in seq order, after it is in the log and folded into the projection. */
  readonly events$ = new Subject<LedgerEvent>();
  /** Set when a write failed: nothing more is accepted (the master stops). */
  failure: LoadLedgerError | undefined;
  /** Called once when a write fails (before events$ errors). */
  private readonly failureHandlers: ((e: LoadLedgerError) => void)[] = [];

  private pending: LedgerEvent[] = [];
  private pendingEffects: (() => void)[] = [];
  private writing = false;
  private scheduled = false;
  private nextSeq: number;
  private idleWaiters: (() => void)[] = [];
  private backlogWaiters: (() => void)[] = [];
  /** Waiting for a seq to be committed (connections held back by backpressure); few. */
  private commitWaiters: { seq: number; resolve: () => void }[] = [];
  /** Master HA: set while this node may write (see CommitGate); undefined for a master running alone. */
  gate: CommitGate | undefined;
  /** The gate said no: nothing more is taken until resume() (a standby records nothing). */
  fencedState = false;
  /** Effects waiting for the standby's acknowledgement, in commit order. */
  private ackChain: Promise<void> = Promise.resolve();
  private chained = 0;
  /** The last seq whose effects ran (acknowledged), and who waits for one. */
  private ackedSeq: number;
  private ackWaiters: { seq: number; resolve: (ok: boolean) => void }[] = [];

  constructor(
    private readonly log: EventLog,
    readonly projection: Projection,
    private readonly clock: () => number = Date.now,
    /** Above this many events waiting, `backlogged` is true and the master pauses reads. */
    private readonly highWater = 20_000,
    private readonly onCommitted?: (lastSeq: number) => void,
    /** Counters for /metrics and the benchmarks (handed on when a recorder replaces another). */
    readonly stats: RecorderStats = newRecorderStats(),
  ) {
    this.nextSeq = log.lastSeq + 1;
    this.ackedSeq = log.lastSeq;
  }

  /** Stops taking events (this node is a standby, or its lease may be gone): what is pending is dropped. */
  fence(): void {
    if (this.fencedState) return;
    this.fencedState = true;
    this.pending = [];
    this.pendingEffects = [];
    this.releaseCommitWaiters(true);
    for (const w of this.ackWaiters.splice(0)) w.resolve(false);
    this.settleIdle();
    this.gate?.fenced();
  }

  /** Takes events again after the log was extended by replication (this node leads now). */
  resume(): void {
    this.fencedState = false;
    this.nextSeq = this.log.lastSeq + 1;
    this.ackedSeq = this.log.lastSeq;
  }

  /**
   * A standby: events a leader wrote, already appended to this log byte for byte by the
   * replication (src/ledger/ledger.ts), folded and published as if committed here.
   */
  applyReplicated(events: readonly LedgerEvent[]): void {
    const { byType, violations } = this.stats;
    const observed = this.events$.observed;
    for (const e of events) {
      if (e.seq <= this.projection.seq) continue; // already in a snapshot it started from
      evolve(this.projection, e);
      byType[e.type]++;
      if (e.type === 'ProtocolViolated') violations.set(e.code, (violations.get(e.code) ?? 0) + 1);
      if (observed) this.events$.next(e);
    }
    this.stats.events += events.length;
    this.nextSeq = this.log.lastSeq + 1;
    this.ackedSeq = this.log.lastSeq;
    this.releaseCommitWaiters(false);
    this.onCommitted?.(this.projection.seq);
  }

  /**
   * Resolves once `seq` is committed and acknowledged (with `--ack standby`: a standby has
   * it): true, or false when it never will be here (the write failed, the node was fenced).
   */
  whenAcked(seq: number): Promise<boolean> {
    if (seq <= this.ackedSeq) return Promise.resolve(true);
    if (this.failure || this.fencedState) return Promise.resolve(false);
    return new Promise((resolve) => this.ackWaiters.push({ seq, resolve }));
  }

  private runEffects(effects: (() => void)[], lastSeq: number): void {
    if (this.fencedState || (this.gate && !this.gate.permit())) {
      this.fence();
      return;
    }
    for (const effect of effects) effect();
    this.ackedSeq = lastSeq;
    if (this.ackWaiters.length > 0) {
      const still: typeof this.ackWaiters = [];
      for (const w of this.ackWaiters) {
        if (w.seq <= lastSeq) w.resolve(true);
        else still.push(w);
      }
      this.ackWaiters = still;
    }
  }

  onFailure(handler: (e: LoadLedgerError) => void): void {
    this.failureHandlers.push(handler);
  }

  get lastSeq(): number {
    return this.nextSeq - 1;
  }

  get backlogged(): boolean {
    return this.pending.length >= this.highWater;
  }

  /**
   * Queues an event; `effect` runs once the event is in the log and the projection.
   * After a write failure nothing more is taken (returns undefined): what cannot be logged
   * must not take effect, and the master is stopping.
   */
  record(event: NewEvent, effect?: () => void): LedgerEvent | undefined {
    if (this.failure || this.fencedState) return undefined;
    // Stamped in place (the caller hands the object over): no copy per event on the hot path.
    const stamped = event as { seq?: number; ts?: number } & NewEvent;
    stamped.seq = this.nextSeq++;
    stamped.ts = this.clock();
    this.pending.push(stamped as LedgerEvent);
    if (effect) this.pendingEffects.push(effect);
    if (!this.writing && !this.scheduled) {
      this.scheduled = true;
      setImmediate(this.drain);
    }
    return stamped as LedgerEvent;
  }

  /** Resolves when everything recorded so far is committed. */
  flush(): Promise<void> {
    if (!this.writing && !this.scheduled && this.pending.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Resolves when the backlog is below the high-water mark again. */
  whenNotBacklogged(): Promise<void> {
    if (!this.backlogged) return Promise.resolve();
    return new Promise((resolve) => this.backlogWaiters.push(resolve));
  }

  /** Resolves once `seq` is committed (or the log failed: nothing more will be). */
  whenCommitted(seq: number): Promise<void> {
    if (seq <= this.projection.seq || this.failure) return Promise.resolve();
    return new Promise((resolve) => this.commitWaiters.push({ seq, resolve }));
  }

  private releaseCommitWaiters(all: boolean): void {
    if (this.commitWaiters.length === 0) return;
    const done = this.projection.seq;
    const still: { seq: number; resolve: () => void }[] = [];
    for (const w of this.commitWaiters) {
      if (all || w.seq <= done) w.resolve();
      else still.push(w);
    }
    this.commitWaiters = still;
  }

  private readonly drain = (): void => {
    this.scheduled = false;
    if (this.writing || this.pending.length === 0) return this.settleIdle();
    if (this.gate && !this.gate.permit()) return this.fence();
    const batch = this.pending;
    const effects = this.pendingEffects;
    this.pending = [];
    this.pendingEffects = [];
    this.writing = true;
    const started = performance.now();
    this.log.append(batch).then(
      () => {
        this.writing = false;
        this.stats.writes++;
        this.stats.events += batch.length;
        if (batch.length > this.stats.maxBatch) this.stats.maxBatch = batch.length;
        this.stats.onCommit?.(batch.length, (performance.now() - started) / 1000);
        // one pass: fold, count for /metrics, publish (only while someone listens)
        const { byType, violations } = this.stats;
        const observed = this.events$.observed;
        for (const e of batch) {
          evolve(this.projection, e);
          byType[e.type]++;
          if (e.type === 'ProtocolViolated') violations.set(e.code, (violations.get(e.code) ?? 0) + 1);
          if (observed) this.events$.next(e);
        }
        const lastSeq = batch[batch.length - 1]!.seq;
        const waiting = this.gate?.acked(lastSeq);
        // in commit order: a batch acknowledged at once still waits for the ones before it
        if (waiting || this.chained > 0) {
          this.chained++;
          this.ackChain = this.ackChain
            .then(() => waiting)
            .then(() => {
              this.chained--;
              this.runEffects(effects, lastSeq);
            });
        } else this.runEffects(effects, lastSeq);
        this.releaseCommitWaiters(false);
        this.onCommitted?.(this.projection.seq);
        if (!this.backlogged) for (const w of this.backlogWaiters.splice(0)) w();
        if (this.pending.length > 0) this.drain();
        else this.settleIdle();
      },
      (e: unknown) => {
        this.writing = false;
        this.failure = writeError(e);
        this.pending = [];
        this.pendingEffects = [];
        for (const h of this.failureHandlers) h(this.failure);
        this.releaseCommitWaiters(true);
        for (const w of this.ackWaiters.splice(0)) w.resolve(false);
        this.events$.error(this.failure);
        this.settleIdle();
      },
    );
  };

  private settleIdle(): void {
    if (this.writing || this.scheduled || this.pending.length > 0) return;
    for (const w of this.idleWaiters.splice(0)) w();
  }
}
