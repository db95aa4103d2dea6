import { badArgument } from '../errors.js';

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/**
 * The longest timer Node.js can set: 2^31−1 ms, about 24.8 days. A longer one is not
 * refused by Node: it fires after 1 ms, and an interval then fires every millisecond.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

// A plain decimal (no sign, no exponent, no hex): `1.5s` yes, `-1s`, `1e3`, `0x10` no.
const DURATION_RE = /^(\d+(?:\.\d+)?|\.\d+)(ms|s|m|h|d)?$/;

/**
 * Parses a duration given by a person: `500ms`, `3s`, `1.5s`, `1m`, `2h`, `7d`, or a bare
 * number of milliseconds (the CLI flags require a unit: see src/cli/options.ts). Returns
 * milliseconds (≥ 0, possibly fractional); callers decide whether 0 makes sense for their flag.
 *
 * @param flag names the flag or option in the error, e.g. `--interval`.
 * @throws LoadLedgerError BAD_ARGUMENT with one line naming `flag`.
 */
export function parseDuration(s: string, flag: string): number {
  const m = DURATION_RE.exec(typeof s === 'string' ? s.trim() : '');
  const ms = m ? Number(m[1]) * UNIT_MS[(m[2] ?? 'ms') as keyof typeof UNIT_MS] : NaN;
  if (!Number.isFinite(ms)) {
    throw badArgument(
      `${flag}: expected a duration like 500ms, 3s, 1.5s, 1m, 2h, 7d or a number of milliseconds, got ${JSON.stringify(s)}`,
    );
  }
  return ms;
}

/**
 * MAX_TIMER_MS in the unit of a duration as it was typed, rounded down so that the text
 * itself is accepted: `30d` → `24.8d`, `1000h` → `596.5h`, `3000000000ms` → `2147483647ms`.
 */
export function maxTimerIn(typed: string): string {
  const unit = (DURATION_RE.exec(typed.trim())?.[2] ?? 'ms') as keyof typeof UNIT_MS;
  const size = UNIT_MS[unit];
  return `${size === 1 ? MAX_TIMER_MS : Math.floor((MAX_TIMER_MS / size) * 10) / 10}${unit}`;
}

/** A duration for people: `850ms`, `12.3s`, `5m`, `1h 30m`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const m = Math.round(ms / 60_000);
  return m < 60 ? `${m}m` : `${Math.floor(m / 60)}h${m % 60 ? ` ${m % 60}m` : ''}`;
}
