/** Reading errors in tests: tests assert stable codes, not messages. */
import { expect } from 'vitest';
import { LoadLedgerError } from '../../src/errors.js';

/** The error `fn` throws, checked to be a `type` (LoadLedgerError unless said otherwise). */
export function thrown(fn: () => unknown): LoadLedgerError;
export function thrown<E extends Error>(fn: () => unknown, type: new (...args: never[]) => E): E;
export function thrown(fn: () => unknown, type: new (...args: never[]) => Error = LoadLedgerError): Error {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(type);
    return e as Error;
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

/** The LoadLedgerError `p` rejects with (any other outcome fails the test). */
export async function errorOf(p: Promise<unknown>): Promise<LoadLedgerError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof LoadLedgerError) return e;
    throw e;
  }
  throw new Error('expected a LoadLedgerError');
}
