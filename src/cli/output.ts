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

/** A plain text table: columns padded to the widest cell. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

/** ms since the epoch as an ISO time with milliseconds (UTC). */
export function isoTime(ms: number): string {
  return ms > 0 ? new Date(ms).toISOString() : '-';
}

export function formatLoad(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(2);
}

export function formatAttrs(attrs: Record<string, unknown>): string {
  return Object.entries(attrs)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(',');
}
