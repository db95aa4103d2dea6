import { ErrorCode, exitCode, isLoadLedgerError } from '../errors.js';

/** Exit codes (from the table in src/errors.ts): 1 for a failure at run time, 2 for bad usage (a flag, an argument). */
export const EXIT_FAILURE = exitCode(ErrorCode.INTERNAL);
export const EXIT_USAGE = exitCode(ErrorCode.BAD_ARGUMENT);

/** One line on stderr, no stack trace; the exit code says whether it was the person's input. */
export function die(e: unknown): never {
  if (isLoadLedgerError(e)) {
    process.stderr.write(`loadledger: ${e.message}\n`);
    process.exit(exitCode(e.code));
  }
  const err = e as { code?: string; message?: string } | undefined;
  process.stderr.write(`loadledger: unexpected error: ${err?.message ?? String(e)}\n`);
  if (process.env['LOADLEDGER_DEBUG']) console.error(e);
  process.exit(EXIT_FAILURE);
}

/** The text formatting the CLI shares with the demo lives in src/format/text.ts. */
export { formatAttrs, formatNumber, isoTime, table } from '../format/text.js';
