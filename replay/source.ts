import type { LedgerEvent } from '../src/events.js';
import { ErrorCode, LoadLedgerError } from '../src/errors.js';
import type { Projection } from '../src/projection/state.js';
import { createProjection } from '../src/projection/state.js';
import { fromSnapshot } from '../src/projection/snapshot.js';
import { openLogReadOnly } from './open.js';
import type { EventLog } from '../storage/event-log.js';

/**
 * Where replay reads events from: a log directory (--data), an export file (--file) or a
 * running master (--http). All three are folded by the same reducer.
 */
export interface EventSource {
  /** For messages: "log ./data", "file incident.llog", "master http://…". */
  readonly describe: string;
  /** Oldest seq whose state can be rebuilt (the base projection's seq + 1). */
  readonly firstSeq: number;
  /** Last seq available when the source was opened. */
  readonly lastSeq: number;
  /** Damage accepted by an operator (a log's holes): unreadable seqs, stepped over when looking for a time. */
  readonly holes?: readonly { from: number; to: number }[];
  /**
   * The projection to start folding from for a target seq: the nearest snapshot at or
   * before `seq` (or the empty projection). Throws SEQ_OUT_OF_RANGE when nothing covers it.
   */
  base(seq: number): Promise<Projection>;
  /** Events from ≤ seq ≤ to, in order, in batches. */
  read(from: number, to: number): AsyncIterable<LedgerEvent[]>;
  close(): Promise<void>;
}

export function beforeOldest(seq: number, oldest: number, describe: string): LoadLedgerError {
  return new LoadLedgerError(ErrorCode.SEQ_OUT_OF_RANGE, `seq ${seq} is before the oldest event retained in ${describe} (seq ${oldest})`);
}

/**
 * An EventLog as a source. After retention the log starts later; the state is
 * rebuildable from the first snapshot that leaves no gap before the remaining events.
 */
export async function logSource(log: EventLog, describe: string, close: () => Promise<void> = async () => {}): Promise<EventSource> {
  const usable = await log.replayBaseSeq();
  const firstSeq = usable === undefined ? log.lastSeq + 1 : usable + 1;
  return {
    describe,
    firstSeq,
    lastSeq: log.lastSeq,
    holes: log.holes,
    async base(seq) {
      if (seq < firstSeq - 1) throw beforeOldest(seq, firstSeq, describe);
      const snap = await log.nearestSnapshot(seq);
      if (snap && snap.seq >= firstSeq - 1) return fromSnapshot(snap);
      if (firstSeq > 1) throw beforeOldest(seq, firstSeq, describe);
      return createProjection();
    },
    read: (from, to) => log.read(from, to),
    close,
  };
}

/** A stopped master's log directory, opened read-only (a private copy, see open.ts). */
export async function openDataSource(dir: string): Promise<EventSource> {
  const ro = await openLogReadOnly(dir);
  try {
    return await logSource(ro.log, `log ${dir}`, () => ro.close());
  } catch (e) {
    await ro.close();
    throw e;
  }
}
