import { Subject, type Observable } from 'rxjs';
import type { EventLog, EventLogOptions } from '../../storage/event-log.js';
import { Recorder } from '../../storage/recorder.js';
import { writeError } from '../../storage/level-errors.js';
import { loadProjection } from '../../replay/load.js';
import type { Damage } from '../../storage/damage.js';
import { ErrorCode, LoadLedgerError } from '../errors.js';
import type { LedgerEvent } from '../events.js';
import type { Projection } from '../projection/state.js';
import { formatDuration } from '../util/duration.js';
import type { Clock, TimerHandle } from '../clock.js';
import { Retention, type RetentionOptions } from './retention.js';
import { Snapshots, type SnapshotOptions } from './snapshots.js';
import { checkedStart } from './start-check.js';
import type { Degraded, HealthChange } from './view.js';

export interface LedgerOptions extends SnapshotOptions, RetentionOptions {
  /** Directory of the event log. */
  data: string;
  /** fsync each group commit. */
  sync: boolean;
  /** Wall clock for event timestamps. */
  clock: () => number;
  /** Monotonic time and timers (tests drive a manual one: test/helpers/manual-clock.ts). */
  scheduler: Clock;
  /** After a log write failure: first retry after this long (ms), doubling to 8×. */
  logRetryInterval: number;
  /** … and give up after this long without a successful write (0: never). */
  logRetryFor: number;
  openLog: (dir: string, options: EventLogOptions) => Promise<EventLog>;
  /** Start on a damaged log, recording the damage (LogDamaged), rather than refuse (src/ledger/start-check.ts). */
  acceptDamage: boolean;
}

/** What the ledger asks of the node it runs in. */
export interface LedgerHost {
  /** A write failed: no connection may stay open (nothing it sends could be logged). */
  dropConnections(): void;
  /** The log is writable again after an outage: the host records its MasterStarted. */
  restarted(epoch: number, projection: Projection): void;
  /** The log stayed unwritable for logRetryFor: the host stops. */
  gaveUp(reason: string): void;
}

/**
 * The master's write side: the event log, the Recorder that group-commits to it and folds
 * into the projection, and what keeps the log usable — recovery after a write failure,
 * snapshots, retention. No sockets: the slave port and the HTTP API sit on top of it.
 */
export class Ledger {
  private eventLog: EventLog;
  private rec: Recorder;
  /** Set while the log cannot be written: DOWN for clients until a write succeeds again. */
  degraded: Degraded | undefined;
  /** Log failures, recoveries, giving up: for the operator's log lines. */
  readonly health$ = new Subject<HealthChange>();
  readonly snapshots: Snapshots;
  readonly retention: Retention;
  /** Set once the first MasterStarted is committed: failures before it just fail the start. */
  started = false;
  private stopping = false;
  private recoveryTimer: TimerHandle | undefined;
  private readonly commitListeners = new Set<(seq: number) => void>();
  private recovering: Promise<void> | undefined;

  /** Damage accepted at start (--accept-damage): the node records a LogDamaged for each. */
  accepted: Damage[] = [];

  /**
   * Opens the log, checks it and rebuilds the projection from it (the log is closed again if
   * that fails): damage refuses the start unless the operator accepts it (start-check.ts).
   */
  static async open(options: LedgerOptions, host: LedgerHost): Promise<Ledger> {
    const log = await options.openLog(options.data, { create: true, sync: options.sync });
    try {
      const { projection, accepted } = await checkedStart(log, options.acceptDamage);
      const ledger = new Ledger(options, host, log, projection);
      ledger.accepted = accepted;
      return ledger;
    } catch (e) {
      await log.close().catch(() => {});
      throw e;
    }
  }

  private constructor(
    private readonly options: LedgerOptions,
    private readonly host: LedgerHost,
    log: EventLog,
    projection: Projection,
  ) {
    this.eventLog = log;
    this.snapshots = new Snapshots(this, options, () => this.retention.busy);
    this.retention = new Retention(this, options);
    this.rec = this.newRecorder(log, projection);
    this.snapshots.reset(projection.seq);
  }

  get projection(): Projection {
    return this.rec.projection;
  }

  /** The write path (replaced by a fresh one when the ledger recovers from a log failure). */
  get recorder(): Recorder {
    return this.rec;
  }

  get log(): EventLog {
    return this.eventLog;
  }

  /** Committed events, in order (hot: subscribers see only what is in the log). */
  get events$(): Observable<LedgerEvent> {
    return this.rec.events$;
  }

  /** True while the log takes writes. */
  get writable(): boolean {
    return !this.rec.failure && !this.degraded && !this.stopping;
  }

  now(): number {
    return this.options.scheduler.now();
  }

  private newRecorder(log: EventLog, projection: Projection, stats?: Recorder['stats']): Recorder {
    const rec = new Recorder(
      log,
      projection,
      this.options.clock,
      20_000,
      (seq) => {
        this.snapshots.committed(seq);
        for (const l of this.commitListeners) l(seq);
      },
      stats,
    );
    // (a handler, not an events$ subscriber: events$ skips publishing while nobody listens)
    rec.onFailure((e) => this.logFailed(e));
    return rec;
  }

  /**
   * The log refused a write. Nothing that was not written takes effect (the recorder drops
   * it), no connection stays open, clients are told the master is DOWN, and the ledger
   * tries again: reopen the log, rebuild the projection from what is really in it, record
   * the outage (MasterStopped, then MasterStarted with a new epoch) and take slaves again.
   */
  private logFailed(error: LoadLedgerError): void {
    this.host.dropConnections();
    if (this.stopping || !this.started) return;
    if (this.degraded) {
      this.degraded.error = error;
      this.health$.next({ type: 'retry-failed', error, attempts: this.degraded.attempts });
    } else {
      this.degraded = { since: this.options.clock(), at: this.now(), cause: error, error, attempts: 0 };
      this.health$.next({ type: 'degraded', error, retryFor: this.options.logRetryFor });
    }
    this.scheduleRecovery();
  }

  private scheduleRecovery(): void {
    const d = this.degraded;
    if (!d || this.stopping || this.recoveryTimer) return;
    const down = this.now() - d.at;
    if (this.options.logRetryFor > 0 && down >= this.options.logRetryFor) {
      this.health$.next({ type: 'gave-up', error: d.error, downMs: Math.round(down) });
      this.host.gaveUp('event log unwritable');
      return;
    }
    const delay = this.options.logRetryInterval * 2 ** Math.min(d.attempts, 3);
    this.recoveryTimer = this.options.scheduler.setTimeout(() => {
      this.recoveryTimer = undefined;
      this.recovering = this.recover().finally(() => (this.recovering = undefined));
    }, delay);
    this.recoveryTimer.unref();
  }

  private async recover(): Promise<void> {
    const d = this.degraded;
    if (!d || this.stopping) return;
    d.attempts++;
    let log: EventLog | undefined;
    let projection: Projection;
    try {
      // LevelDB keeps failing after a write error until it is reopened.
      await this.eventLog.close().catch(() => {});
      log = await this.options.openLog(this.options.data, { create: true, sync: this.options.sync });
      // The failed write may or may not have reached the disk: the projection is rebuilt
      // from what the log really holds, never kept from before.
      projection = await loadProjection(log);
      this.eventLog = log;
      this.rec = this.newRecorder(log, projection, this.rec.stats);
      this.snapshots.rewind(projection.seq);
    } catch (e) {
      if (log && log !== this.eventLog) await log.close().catch(() => {});
      d.error = writeError(e);
      this.health$.next({ type: 'retry-failed', error: d.error, attempts: d.attempts });
      this.scheduleRecovery();
      return;
    }
    if (this.stopping) return;
    const epoch = this.projection.master.epoch;
    this.rec.record({
      type: 'MasterStopped',
      epoch,
      reason: `event log write failed: ${d.cause.message}; DOWN for ${formatDuration(this.now() - d.at)}`,
      since: d.since,
    });
    this.host.restarted(epoch + 1, projection);
    await this.rec.flush();
    if (this.rec.failure) return; // logFailed() has scheduled the next attempt
    this.degraded = undefined;
    this.health$.next({ type: 'recovered', downMs: Math.round(this.now() - d.at), epoch: epoch + 1, seq: this.projection.seq });
  }

  // ---- master HA: a standby's log follows the leader's (docs/ha.md)

  /** Calls `listener` after each commit (and each replicated append), whichever recorder is current; returns the unsubscribe. */
  onCommit(listener: (seq: number) => void): () => void {
    this.commitListeners.add(listener);
    return () => this.commitListeners.delete(listener);
  }

  /**
   * Appends records the leader sent, byte for byte, in one write, then folds their events.
   * Resolves once they are in this log (what the standby acknowledges).
   */
  async appendReplicated(records: readonly { seq: number; value: Buffer }[]): Promise<void> {
    const decoded = records.map((r) => this.eventLog.decodeRecord(r.seq, r.value));
    const ends = decoded.map((events, i) => {
      const last = events[events.length - 1]!.seq;
      if (events[0]!.seq !== records[i]!.seq)
        throw new LoadLedgerError(ErrorCode.LOG_CORRUPT, `replicated record keyed ${records[i]!.seq} starts at seq ${events[0]!.seq}`);
      return last;
    });
    await this.eventLog.appendRaw(records, ends);
    for (const events of decoded) this.rec.applyReplicated(events);
  }

  /**
   * Drops this log's tail after `seq` (what the leader never had: this node's own
   * un-replicated writes from a term it lost) and rebuilds the projection from what is
   * left. Returns the seqs dropped.
   */
  async truncateAfter(seq: number): Promise<{ from: number; to: number }> {
    const dropped = await this.eventLog.truncateAfter(seq);
    if (dropped.from <= dropped.to) await this.rebuild();
    return dropped;
  }

  /** A standby too far behind the leader's retention starts again from the leader's snapshot. */
  async resetToSnapshot(seq: number, value: Buffer): Promise<void> {
    await this.eventLog.resetToSnapshot(seq, value);
    await this.rebuild();
  }

  private async rebuild(): Promise<void> {
    const projection = await loadProjection(this.eventLog);
    const fenced = this.rec.fencedState;
    const gate = this.rec.gate;
    this.rec.events$.complete(); // live /v1/events streams end: what they showed was dropped
    this.rec = this.newRecorder(this.eventLog, projection, this.rec.stats);
    this.rec.gate = gate;
    if (fenced) this.rec.fence();
    this.snapshots.rewind(projection.seq);
  }

  /** Writes a snapshot of the projection as it is now (a failed write is not an error: see Snapshots). */
  snapshot(): Promise<void> {
    return this.snapshots.snapshot();
  }

  /** Runs retention now (it also runs on its timer once started). */
  applyRetention(): Promise<void> {
    return this.retention.apply();
  }

  /** No more recovery or retention: waits for the ones running. */
  async quiesce(): Promise<void> {
    this.stopping = true;
    this.retention.stop();
    this.options.scheduler.clearTimeout(this.recoveryTimer);
    await this.retention.idle();
    await this.recovering;
  }

  /** Records MasterStopped (when the log still takes writes), flushes, and snapshots what is new. */
  async recordStop(reason: string): Promise<void> {
    if (this.rec.failure || this.degraded) return;
    this.rec.record({ type: 'MasterStopped', epoch: this.projection.master.epoch, reason });
    await this.rec.flush();
    if (!this.rec.failure) await this.snapshots.final();
  }

  /** Ends the event streams and closes the log (a log that already failed may not close cleanly). */
  async close(): Promise<void> {
    this.rec.events$.complete();
    this.health$.complete();
    await this.log.close().catch((e: unknown) => {
      if (!this.degraded && !this.rec.failure) throw e;
    });
  }
}
