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
