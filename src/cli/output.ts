import { isLoadLedgerError } from '../errors.js';

/** Exit codes: 1 for a failure at run time, 2 for bad usage (a flag, an argument). */
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** One line on stderr, no stack trace; the exit code says whether it was the person's input. */
export function die(e: unknown): never {
  if (isLoadLedgerError(e)) {
    process.stderr.write(`loadledger: ${e.message}\n`);
    process.exit(e.code === 'BAD_ARGUMENT' ? EXIT_USAGE : EXIT_FAILURE);
  }
  const err = e as { code?: string; message?: string };
  if (err && err.code === 'BAD_ARGUMENT') {
    process.stderr.write(`loadledger: ${err.message ?? String(e)}\n`);
    process.exit(EXIT_USAGE);
  }
  process.stderr.write(`loadledger: unexpected error: ${err?.message ?? String(e)}\n`);
  if (process.env['LOADLEDGER_DEBUG']) console.error(e);
  process.exit(EXIT_FAILURE);
}

/** The text formatting the CLI shares with the demo lives in src/format/text.ts. */
export { formatAttrs, formatLoad, isoTime, table } from '../format/text.js';
