/** Reading errors in tests: tests assert stable codes, not messages. */
import { expect } from 'vitest';
import { LoadLedgerError } from '../../src/errors.js';

/** The LoadLedgerError `fn` throws (fails the test if it throws something else or nothing). */
export function thrown(fn: () => unknown): LoadLedgerError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(LoadLedgerError);
    return e as LoadLedgerError;
  }
  throw new Error('expected a throw');
}

/** The code `p` rejects with, 'no error', or a description of a foreign error. */
export async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'no error';
  } catch (e) {
    return e instanceof LoadLedgerError ? e.code : `not a LoadLedgerError: ${String(e)}`;
  }
}
