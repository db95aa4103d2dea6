/**
 * LevelDB's failures in our words (issue 12 item 13): a full disk when the log was opened
 * was logged as LOG_NOT_FOUND, a permission error as "no event log", and a write to a
 * database LevelDB had closed carried only the library's words.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode, LoadLedgerError } from '../../src/errors.js';
import { openError, writeError } from '../../storage/level-errors.js';

/** What classic-level throws: a ModuleError with a LEVEL_* code, the cause from the C++ side. */
function levelError(code: string, message: string, cause?: string): Error {
  return Object.assign(new Error(message), {
    code,
    ...(cause !== undefined && { cause: Object.assign(new Error(cause), { code: 'LEVEL_IO_ERROR' }) }),
  });
}

describe('openError', () => {
  it('a full disk is LOG_WRITE_FAILED saying so, not LOG_NOT_FOUND', () => {
    const e = openError(
      '/srv/log',
      levelError('LEVEL_DATABASE_NOT_OPEN', 'Database failed to open', 'IO error: /srv/log/000005.log: No space left on device'),
    );
    expect(e.code).toBe(ErrorCode.LOG_WRITE_FAILED);
    expect(e.message).toMatch(/^the event log in \/srv\/log cannot be opened: the disk is full: IO error/);
  });

  it('permission denied is PERMISSION_DENIED', () => {
    const e = openError(
      '/srv/log',
      levelError('LEVEL_DATABASE_NOT_OPEN', 'Database failed to open', 'IO error: /srv/log/LOCK: Permission denied'),
    );
    expect(e.code).toBe(ErrorCode.PERMISSION_DENIED);
  });

  it('a missing log is LOG_NOT_FOUND, a locked one LOG_LOCKED', () => {
    expect(
      openError(
        '/x',
        levelError(
          'LEVEL_DATABASE_NOT_OPEN',
          'Database failed to open',
          'Invalid argument: /x/CURRENT: does not exist (create_if_missing is false)',
        ),
      ).code,
    ).toBe(ErrorCode.LOG_NOT_FOUND);
    expect(openError('/x', levelError('LEVEL_DATABASE_NOT_OPEN', 'Database failed to open', undefined)).code).toBe(
      ErrorCode.LOG_WRITE_FAILED,
    );
    expect(
      openError(
        '/x',
        Object.assign(new Error('Database failed to open'), {
          code: 'LEVEL_DATABASE_NOT_OPEN',
          cause: Object.assign(new Error('lock held'), { code: 'LEVEL_LOCKED' }),
        }),
      ).code,
    ).toBe(ErrorCode.LOG_LOCKED);
  });

  it('never passes a library code through', () => {
    for (const cause of ['IO error: disk I/O', 'No space left on device', 'Permission denied', undefined]) {
      const e = openError('/x', levelError('LEVEL_DATABASE_NOT_OPEN', 'Database failed to open', cause));
      expect(e).toBeInstanceOf(LoadLedgerError);
      expect(Object.values(ErrorCode)).toContain(e.code);
    }
  });
});

describe('writeError', () => {
  it('names a full disk and a closed database in our words, with our code', () => {
    const full = writeError(levelError('LEVEL_IO_ERROR', 'IO error: 000009.log: No space left on device'));
    expect(full.code).toBe(ErrorCode.LOG_WRITE_FAILED);
    expect(full.message).toMatch(/^the event log refused a write: the disk is full: /);
    const closed = writeError(levelError('LEVEL_DATABASE_NOT_OPEN', 'Database is not open'));
    expect(closed.code).toBe(ErrorCode.LOG_WRITE_FAILED);
    expect(closed.message).toBe('the event log refused a write: the log is closed: Database is not open');
  });

  it('keeps one of ours as it is', () => {
    const ours = new LoadLedgerError(ErrorCode.LOG_CORRUPT, 'seq 4..9');
    expect(writeError(ours)).toBe(ours);
  });
});
