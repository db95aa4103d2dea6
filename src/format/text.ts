/** Plain-text formatting shared by the CLI and the demo (pure: strings in, strings out). */

// ---------------------------------------------------------------------------
// Escaping: nothing a name or a message holds reaches a terminal as a control

/**
 * What human output never prints as is: controls (Cc: C0, DEL, C1), format characters (Cf:
 * the bidi controls, zero-width spaces and joiners, soft hyphen, BOM, tags), line and
 * paragraph separators (Zl, Zp), and lone surrogates (Cs). A master refuses the controls and
 * bidi controls in names (src/protocol/names.ts), but older logs, export files and messages
 * may still hold any of them.
 */
const NON_PRINTABLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;
/** The same, but a newline stays a newline (a multi-line text). */
const NON_PRINTABLE_BUT_NEWLINE = /(?!\n)[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;

const hex = (n: number, width: number): string => n.toString(16).padStart(width, '0');

function escapeChar(c: string): string {
  if (c === '\n') return '\\n';
  if (c === '\t') return '\\t';
  if (c === '\r') return '\\r';
  const cp = c.codePointAt(0)!;
  if (cp <= 0xff) return `\\x${hex(cp, 2)}`;
  if (cp <= 0xffff) return `\\u${hex(cp, 4)}`;
  return `\\u{${hex(cp, 1)}}`;
}

/**
 * `s` as it may be printed: every character above escaped as JavaScript writes it
 * (`\n`, `\t`, `\r`, `\x1b`, `\x85`, `\u202e`, `\u{e0001}`); everything else, a backslash
 * included, as is. For one field: a node id, an attribute, a reason, a cell of a table.
 */
export function printable(s: string): string {
  return s.replace(NON_PRINTABLE, escapeChar);
}

/** A whole text for a terminal: as `printable`, but its newlines stay (the last guard before a write). */
export function printableLines(s: string): string {
  return s.replace(NON_PRINTABLE_BUT_NEWLINE, escapeChar);
}

/** What JSON.stringify leaves as is but a terminal would act on: DEL, C1, Cf, Zl, Zp (C0 and lone surrogates it escapes itself). */
const JSON_UNSAFE = /[\u007f-\u009f\p{Cf}\p{Zl}\p{Zp}]/gu;

/**
 * JSON for a terminal: JSON.stringify, with every character it leaves as is but that
 * `printable` escapes written as a `\uXXXX` escape (a surrogate pair beyond the BMP). The
 * same JSON value: a parser reads back exactly the strings it was given.
 */
export function jsonText(value: unknown, indent?: number): string {
  return printableJson(JSON.stringify(value, null, indent));
}

/** Text that is already JSON (a log line), made as safe for a terminal as jsonText makes it. */
export function printableJson(json: string): string {
  return json.replace(JSON_UNSAFE, (c) => {
    let out = '';
    for (let i = 0; i < c.length; i++) out += `\\u${hex(c.charCodeAt(i), 4)}`;
    return out;
  });
}

// ---------------------------------------------------------------------------
// Numbers

/** Significant digits a number is printed with at most (see formatNumber). */
export const NUMBER_PRECISION = 12;

/**
 * A number as people write it: integers exactly (`81`, `18446744073709552000`), others
 * with at most 12 significant digits and no trailing zeros (`48.9`, `122.5` for
 * 122.50000000000001, `0.3` for 0.1 + 0.2, `0.004`, `0.333333333333`), so that binary
 * rounding never shows and no load other than 0 prints as 0. The one formatter of loads,
 * capacities, deltas and number attributes in human output; JSON keeps the exact value.
 */
export function formatNumber(n: number): string {
  if (Number.isInteger(n) || !Number.isFinite(n)) return String(n + 0); // -0 → "0"
  return String(Number(n.toPrecision(NUMBER_PRECISION)));
}

// ---------------------------------------------------------------------------
// Tables, times, attributes

/** A plain text table: columns padded to the widest cell; every cell printable (escaped). */
export function table(headers: string[], rows: string[][]): string {
  const safe = rows.map((r) => r.map(printable));
  const widths = headers.map((h, i) => Math.max(h.length, ...safe.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...safe.map(line)].join('\n') + '\n';
}

/** ms since the epoch as an ISO time with milliseconds (UTC). */
export function isoTime(ms: number): string {
  return ms > 0 ? new Date(ms).toISOString() : '-';
}

/** A value of an attribute: numbers by formatNumber, strings escaped. */
export function formatValue(v: unknown): string {
  return typeof v === 'number' ? formatNumber(v) : printable(String(v));
}

/** `zone=eu-1,weight=2.5`: keys and values escaped. */
export function formatAttrs(attrs: Record<string, unknown>): string {
  return Object.entries(attrs)
    .map(([k, v]) => `${printable(k)}=${formatValue(v)}`)
    .join(',');
}
