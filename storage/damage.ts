import { ErrorCode, LoadLedgerError, type SeqRange } from '../src/errors.js';

/**
 * Damage to an event log: seqs that cannot be read back as they were written. Found when a
 * log is opened (LevelDB dropped part of its write-ahead log, the tail marker says more
 * events than the records hold, a master refused to start on it earlier) or when a record
 * is read (a checksum, a gap, a record LevelDB cannot read). Every read of a damaged range
 * fails with LOG_CORRUPT naming it; see docs/log-format.md.
 */
export interface Damage extends SeqRange {
  /** What was found, in a few words (no directory: the error adds it). */
  reason: string;
}

/**
 * Damage an operator accepted (`master --accept-damage`): a LogDamaged event at seq `at`
 * records it. The range stays unreadable; the master's own fold steps over it, replays
 * fold from a snapshot after it (docs/guarantees.md).
 */
export interface Hole extends Damage {
  to: number;
  /** seq of the LogDamaged event. */
  at: number;
}

export function formatRange(r: SeqRange): string {
  if (r.to === undefined) return `seq ${r.from} and after (how many is unknown)`;
  return r.to === r.from ? `seq ${r.from}` : `seqs ${r.from}..${r.to}`;
}

/** The LOG_CORRUPT for damage in the log at `dir`. */
export function corruptError(dir: string, d: Damage, cause?: unknown): LoadLedgerError {
  const seqs: SeqRange = d.to === undefined ? { from: d.from } : { from: d.from, to: d.to };
  return new LoadLedgerError(
    ErrorCode.LOG_CORRUPT,
    `${dir}: ${formatRange(d)} damaged: ${d.reason}`,
    cause === undefined ? { seqs } : { seqs, cause },
  );
}

/** Whether [from, to] meets the damaged range (an open-ended one runs to the end). */
export function overlaps(d: SeqRange, from: number, to: number): boolean {
  return from <= (d.to ?? Infinity) && to >= d.from;
}

/** Whether a LevelDB error says the store itself is damaged (a block that does not read). */
export function isLevelCorruption(e: unknown): boolean {
  const err = e as { code?: string; message?: string; cause?: { code?: string; message?: string } } | null;
  if (!err) return false;
  if (err.code === 'LEVEL_CORRUPTION' || err.cause?.code === 'LEVEL_CORRUPTION') return true;
  return /corrupt|checksum|bad block|block contents|not an sstable/i.test(`${err.message ?? ''} ${err.cause?.message ?? ''}`);
}
