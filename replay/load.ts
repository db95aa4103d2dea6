import type { EventLog } from '../storage/event-log.js';
import { ErrorCode, LoadLedgerError } from '../src/errors.js';
import type { Projection } from '../src/projection/state.js';
import { foldTo } from './fold.js';
import { logSource } from './source.js';

/**
 * The projection at `target` (default: the end of the log): the nearest snapshot at or
 * before it, then the events after the snapshot folded with the same reducer as the master.
 * Restart time therefore depends on the tail since the last snapshot, not on the log.
 *
 * Damage an operator accepted (the log's holes, `master --accept-damage`) is stepped over:
 * this is the master's own fold, which must go on; replays never step over it (their reads
 * fail on it with LOG_CORRUPT).
 */
export async function loadProjection(
  log: EventLog,
  target = log.lastSeq,
  onProgress?: (done: number, total: number) => void,
): Promise<Projection> {
  if (target > log.lastSeq) {
    throw new LoadLedgerError(
      ErrorCode.SEQ_OUT_OF_RANGE,
      `seq ${target} is after the end of the log in ${log.dir} (last seq ${log.lastSeq})`,
    );
  }
  const source = await logSource(log, `log ${log.dir}`);
  const state = await source.base(target);
  const opts = onProgress ? { onProgress } : {};
  for (const h of [...log.holes].sort((a, b) => a.from - b.from)) {
    if (h.to <= state.seq || h.from > target) continue;
    await foldTo(source, state, h.from - 1, opts);
    // Nothing can be folded for the damaged seqs: the state goes on from after them.
    state.seq = Math.min(h.to, target);
  }
  return foldTo(source, state, target, opts);
}
