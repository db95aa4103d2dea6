import { ErrorCode, LoadLedgerError } from '../src/errors.js';
import { isLevelCorruption } from './damage.js';

interface LevelFailure {
  code?: string;
  message?: string;
  cause?: { code?: string; message?: string };
}

/** What LevelDB (or the file system under it) said, without its wrapper's words. */
function said(e: unknown): string {
  const err = e as LevelFailure;
  return err.cause?.message ?? err.message ?? String(e);
}

const isDenied = (text: string, e: LevelFailure): boolean =>
  /permission denied|EACCES|EPERM|operation not permitted/i.test(text) || e.code === 'EACCES' || e.code === 'EPERM';
const isFull = (text: string, e: LevelFailure): boolean => /no space left|ENOSPC|disk quota|EDQUOT/i.test(text) || e.code === 'ENOSPC';

/**
 * One of our codes for a failure LevelDB reports when a log is opened: its own codes
 * (LEVEL_LOCKED, LEVEL_CORRUPTION, LEVEL_DATABASE_NOT_OPEN, …) never reach a person.
 */
export function openError(dir: string, e: unknown): LoadLedgerError {
  const err = e as LevelFailure;
  const text = `${err.message ?? ''} ${said(e)}`;
  if (err.cause?.code === 'LEVEL_LOCKED' || err.code === 'LEVEL_LOCKED') {
    return new LoadLedgerError(ErrorCode.LOG_LOCKED, `the event log in ${dir} is locked by another process (a running master?)`, {
      cause: e,
    });
  }
  if (isLevelCorruption(e)) {
    return new LoadLedgerError(ErrorCode.LOG_CORRUPT, `the event log in ${dir} is corrupt: LevelDB cannot open it (${said(e)})`, {
      cause: e,
    });
  }
  if (isDenied(text, err))
    return new LoadLedgerError(ErrorCode.PERMISSION_DENIED, `the event log in ${dir}: permission denied (${said(e)})`, { cause: e });
  if (/does not exist|create_if_missing/i.test(text))
    return new LoadLedgerError(ErrorCode.LOG_NOT_FOUND, `no event log at ${dir} (${said(e)})`, { cause: e });
  // A full disk, an I/O error: the log is there, it cannot be opened for writing.
  return new LoadLedgerError(
    ErrorCode.LOG_WRITE_FAILED,
    `the event log in ${dir} cannot be opened: ${isFull(text, err) ? 'the disk is full: ' : ''}${said(e)}`,
    { cause: e },
  );
}

/** One of our codes for a failed write (a full disk, an I/O error, a database LevelDB has closed). */
export function writeError(e: unknown): LoadLedgerError {
  if (e instanceof LoadLedgerError) return e;
  const err = e as LevelFailure;
  const text = `${err.message ?? ''} ${said(e)}`;
  const what = isFull(text, err)
    ? 'the disk is full: '
    : /not open|LEVEL_DATABASE_NOT_OPEN/i.test(`${text} ${err.code ?? ''}`)
      ? 'the log is closed: '
      : '';
  return new LoadLedgerError(ErrorCode.LOG_WRITE_FAILED, `the event log refused a write: ${what}${said(e)}`, { cause: e });
}
