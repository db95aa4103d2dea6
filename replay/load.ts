import type { EventLog } from '../storage/event-log.js';
import { evolve } from '../src/projection/evolve.js';
import { fromSnapshot } from '../src/projection/snapshot.js';
import { createProjection, type Projection } from '../src/projection/state.js';
import { ErrorCode, LoadLedgerError } from '../src/errors.js';

export interface LoadProgress {
  (folded: number, total: number): void;
}

/**
 * The projection at `target` (default: the end of the log): the nearest snapshot at or
 * before it, then the events after the snapshot folded with the same reducer as the master.
 * Restart time therefore depends on the tail since the last snapshot, not on the log.
 */
export async function loadProjection(log: EventLog, target = log.lastSeq, onProgress?: LoadProgress): Promise<Projection> {
  if (target > log.lastSeq) {
    throw new LoadLedgerError(ErrorCode.SEQ_OUT_OF_RANGE, `seq ${target} is after the end of the log (last seq ${log.lastSeq})`);
  }
  const snap = await log.nearestSnapshot(target);
  if (!snap && log.firstSeq > 1 && target >= 0) {
    throw new LoadLedgerError(ErrorCode.SEQ_OUT_OF_RANGE, `seq ${target} is before the oldest retained event (${log.firstSeq}) and no snapshot covers it`);
  }
  const state = snap ? fromSnapshot(snap) : createProjection();
  if (snap && snap.seq < log.firstSeq - 1 && target > snap.seq) {
    throw new LoadLedgerError(ErrorCode.SEQ_OUT_OF_RANGE, `the log has a gap after snapshot ${snap.seq} (oldest event ${log.firstSeq})`);
  }
  const total = target - state.seq;
  let folded = 0;
  for await (const batch of log.read(state.seq + 1, target)) {
    for (const e of batch) evolve(state, e);
    folded += batch.length;
    onProgress?.(folded, total);
  }
  return state;
}
