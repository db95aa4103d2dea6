import { loadProjection } from '../../replay/load.js';
import { corruptError, formatRange, type Damage } from '../../storage/damage.js';
import type { EventLog } from '../../storage/event-log.js';
import { ErrorCode, LoadLedgerError, isLoadLedgerError } from '../errors.js';
import type { Projection } from '../projection/state.js';

export interface CheckedStart {
  projection: Projection;
  /** Damage the operator accepted (--accept-damage): the master records a LogDamaged for each. */
  accepted: Damage[];
}

/**
 * The master's start on its log: what the open found (LevelDB's recovery, the tail marker;
 * storage/open-checks.ts), then the fold from the newest snapshot through the tail, every
 * record checked. Damage refuses the start with LOG_CORRUPT naming the seqs, unless the
 * operator accepts it (`acceptDamage`): then the damaged seqs become holes the fold steps
 * over, a damaged snapshot is removed, and the check runs again until the log folds.
 */
export async function checkedStart(log: EventLog, acceptDamage: boolean): Promise<CheckedStart> {
  const accepted: Damage[] = [];
  for (let round = 0; ; round++) {
    const found: Damage[] = [...log.damage];
    let projection: Projection | undefined;
    if (found.length === 0) {
      try {
        projection = await loadProjection(log);
      } catch (e) {
        if (!(isLoadLedgerError(e) && e.code === ErrorCode.LOG_CORRUPT)) throw e;
        if (e.seqs === undefined)
          throw new LoadLedgerError(
            ErrorCode.LOG_CORRUPT,
            `${e.message}; this damage cannot be stepped over: restore the data directory from a backup`,
            { cause: e },
          );
        found.push({ ...e.seqs, reason: reasonOf(e.message, log.dir) });
      }
    }
    if (projection) return { projection, accepted };
    if (!acceptDamage) {
      const d = found[0]!;
      const more = found.length > 1 ? ` (and ${found.length - 1} more)` : '';
      throw new LoadLedgerError(
        ErrorCode.LOG_CORRUPT,
        `${corruptError(log.dir, d).message}${more}. The master does not start on a damaged log: check it with \`loadledger verify --data ${log.dir}\`, restore it from a backup, or start with --accept-damage to record the damage (a LogDamaged event) and go on without ${formatRange(d)}`,
        d.to === undefined ? { seqs: { from: d.from } } : { seqs: { from: d.from, to: d.to } },
      );
    }
    if (round >= 64)
      throw new LoadLedgerError(
        ErrorCode.LOG_CORRUPT,
        `${log.dir}: still damaged after ${accepted.length} ranges were accepted; restore it from a backup`,
      );
    accepted.push(...(await log.acceptDamage(found)));
  }
}

/** A LOG_CORRUPT's message without the directory and the range (the Damage carries both). */
function reasonOf(message: string, dir: string): string {
  const m = message.startsWith(`${dir}: `) ? message.slice(dir.length + 2) : message;
  return m.replace(/^seqs? \d+(?:\.\.\d+)?(?: and after \(how many is unknown\))? damaged: /, '');
}
