import { ErrorCode, exitCode, isLoadLedgerError } from '../errors.js';
import { jsonText, printable, printableLines } from '../format/text.js';

/** Exit codes (from the table in src/errors.ts): 1 for a failure at run time, 2 for bad usage (a flag, an argument). */
export const EXIT_FAILURE = exitCode(ErrorCode.INTERNAL);
export const EXIT_USAGE = exitCode(ErrorCode.BAD_ARGUMENT);

/**
 * Every human output of the CLI goes through these: whatever a name, a reason or a message
 * holds (an older log, an export file, a master's answer), no control character reaches
 * the terminal as is (printableLines: escaped, newlines kept). JSON goes out as jsonText.
 */
export function writeOut(text: string): void {
  process.stdout.write(printableLines(text));
}

export function writeErr(text: string): void {
  process.stderr.write(printableLines(text));
}

/** A JSON document (or one JSON line with no indent) on stdout, terminal-safe (jsonText). */
export function writeJson(value: unknown, indent?: number): void {
  process.stdout.write(jsonText(value, indent) + '\n');
}

/**
 * Who speaks on stderr: `loadledger master`, `loadledger replay`, … once a command runs (the
 * program sets it before the action), so a failure reads like that command's usage errors
 * and its log lines; `loadledger` before any command is known.
 */
let speaker = 'loadledger';

export function speakAs(command: string): void {
  speaker = `loadledger ${command}`;
}

/** One line on stderr under the command's name: `loadledger replay: no event log at …`. */
export function sayErr(message: string): void {
  process.stderr.write(printableLines(`${speaker}: ${message}\n`));
}

/** One line on stderr, no stack trace; the exit code says whether it was the person's input. */
export function die(e: unknown): never {
  if (isLoadLedgerError(e)) {
    sayErr(printable(e.message));
    process.exit(exitCode(e.code));
  }
  const err = e as { code?: string; message?: string } | undefined;
  sayErr(`unexpected error: ${printable(err?.message ?? String(e))}`);
  if (process.env['LOADLEDGER_DEBUG']) console.error(e);
  process.exit(EXIT_FAILURE);
}

/** The text formatting the CLI shares with the demo lives in src/format/text.ts. */
export { formatAttrs, formatNumber, isoTime, printable, table } from '../format/text.js';
