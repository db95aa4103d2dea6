import { performance } from 'node:perf_hooks';
import { Subject } from 'rxjs';
import { ErrorCode, LoadLedgerError } from '../src/errors.js';
import { EVENT_TYPES, type EventType, type LedgerEvent, type NewEvent } from '../src/events.js';
import { evolve } from '../src/projection/evolve.js';
import type { Projection } from '../src/projection/state.js';
import type { EventLog } from './event-log.js';

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
    if (this.failure) return undefined;
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
        for (const effect of effects) effect();
        this.releaseCommitWaiters(false);
        this.onCommitted?.(this.projection.seq);
        if (!this.backlogged) for (const w of this.backlogWaiters.splice(0)) w();
        if (this.pending.length > 0) this.drain();
        else this.settleIdle();
      },
      (e: unknown) => {
        this.writing = false;
        this.failure = e instanceof LoadLedgerError ? e : new LoadLedgerError(ErrorCode.LOG_WRITE_FAILED, String(e), { cause: e });
        this.pending = [];
        this.pendingEffects = [];
        for (const h of this.failureHandlers) h(this.failure);
        this.releaseCommitWaiters(true);
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
