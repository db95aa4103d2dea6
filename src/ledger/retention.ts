import type { EventLog } from '../../storage/event-log.js';
import type { Clock, TimerHandle } from '../clock.js';
import { loadProjection } from '../../replay/load.js';
import { logSource } from '../../replay/source.js';
import { seqAtTime } from '../../replay/time.js';
import { toSnapshot } from '../projection/snapshot.js';
import type { Projection } from '../projection/state.js';

export interface RetentionOptions {
  /** Delete events older than this many ms (0: keep everything). */
  retain: number;
  /** Keep only the newest this many events (0: keep everything). */
  retainEvents: number;
  /** How often the retention task runs (ms). */
  retentionInterval: number;
  /** Wall clock (event timestamps are compared with it). */
  clock: () => number;
  /** Monotonic time and timers (tests drive a manual one: test/helpers/manual-clock.ts). */
  scheduler: Clock;
}

/**
 * Retention, in the background: finds the new start of the log, makes sure a snapshot
 * sits exactly before it (so replay still works from there), then deletes what is older.
 * Appends go on meanwhile: LevelDB work runs off the event loop, and the fold that builds
 * the snapshot yields between records.
 */
export class Retention {
  private timer: TimerHandle | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly ledger: { readonly projection: Projection; readonly log: EventLog; readonly degraded: unknown },
    private readonly options: RetentionOptions,
  ) {}

  /** Deleting right now (snapshots are not pruned meanwhile). */
  get busy(): boolean {
    return this.running !== undefined;
  }

  /** Runs every retentionInterval when a limit is set. */
  start(): void {
    if (this.options.retain > 0 || this.options.retainEvents > 0) {
      this.timer = this.options.scheduler.setInterval(() => void this.apply(), this.options.retentionInterval);
      this.timer.unref();
    }
  }

  stop(): void {
    this.stopped = true;
    this.options.scheduler.clearInterval(this.timer);
  }

  /** Resolves once the run in progress (if any) is over. */
  async idle(): Promise<void> {
    await this.running;
  }

  apply(): Promise<void> {
    this.running ??= this.run().finally(() => (this.running = undefined));
    return this.running;
  }

  private async run(): Promise<void> {
    if (this.ledger.degraded) return;
    const log = this.ledger.log;
    const last = this.ledger.projection.seq;
    if ((await log.replayBaseSeq()) === undefined) return; // nothing can be replayed: touch nothing
    let cutoff = 0;
    if (this.options.retainEvents > 0) cutoff = last - this.options.retainEvents;
    if (this.options.retain > 0) {
      const limit = this.options.clock() - this.options.retain;
      // the last event older than the limit (reads only the old part of the log)
      cutoff = Math.max(cutoff, (await seqAtTime(await logSource(log, `log ${log.dir}`), limit - 1)).seq);
    }
    // Records are deleted whole: move the cutoff back to the start of the record that holds
    // cutoff + 1, so the snapshot sits exactly before the new first event.
    const start = cutoff >= log.firstSeq ? await log.recordStart(cutoff + 1) : undefined;
    if (start === undefined) return;
    cutoff = start - 1;
    if (cutoff < log.firstSeq || this.stopped) return;
    try {
      const snap = await log.nearestSnapshot(cutoff);
      if (!snap || snap.seq !== cutoff) await log.putSnapshot(toSnapshot(await loadProjection(log, cutoff)));
      if (this.stopped) return;
      await log.deleteBefore(cutoff + 1);
    } catch (e) {
      process.emitWarning(`retention failed, will retry: ${(e as Error).message}`);
    }
  }
}
