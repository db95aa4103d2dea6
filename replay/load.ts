import type { EventLog } from '../storage/event-log.js';
import { ErrorCode, LoadLedgerError } from '../src/errors.js';
import type { Projection } from '../src/projection/state.js';
import { stateAt } from './fold.js';
import { logSource } from './source.js';

/**
 * The projection at `target` (default: the end of the log): the nearest snapshot at or
 * before it, then the events after the snapshot folded with the same reducer as the master.
 * Restart time therefore depends on the tail since the last snapshot, not on the log.
 */
export async function loadProjection(log: EventLog, target = log.lastSeq, onProgress?: (done: number, total: number) => void): Promise<Projection> {
  if (target > log.lastSeq) {
    throw new LoadLedgerError(ErrorCode.SEQ_OUT_OF_RANGE, `seq ${target} is after the end of the log in ${log.dir} (last seq ${log.lastSeq})`);
  }
  const source = await logSource(log, `log ${log.dir}`);
  return stateAt(source, target, onProgress ? { onProgress } : {});
}
