/**
 * What `loadledger demo` shows, as pure functions of a snapshot: a table redrawn in place
 * on a terminal (ANSI, no dependency), or one plain line per refresh when stdout is a
 * pipe or a file.
 */
import type { NodeDocument, StateDocument } from '../projection/document.js';
import { formatAttrs, formatNumber as formatLoad, printable } from '../format/text.js';

export interface DemoView {
  /** Wall-clock ms now (for "last seen … ago"). */
  now: number;
  uptimeMs: number;
  slaves: number;
  http: string;
  listen: string;
  dir: string;
  keep: boolean;
  doc: StateDocument;
  /** What `GET /v1/least-loaded` answers now; undefined when no node is eligible. */
  least: { id: string; load: number } | undefined;
  eventsPerSec: number;
}

/** Loads are drawn against this (the demo's loads stay below it). */
const BAR_MAX = 100;
const BAR_WIDTH = 20;
const EIGHTHS = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];

/** A horizontal bar of `width` cells for `value` out of `max`, in eighths of a cell. */
export function bar(value: number, max = BAR_MAX, width = BAR_WIDTH): string {
  const eighths = Math.round(Math.min(1, Math.max(0, value / max)) * width * 8);
  const full = Math.floor(eighths / 8);
  return ('█'.repeat(full) + EIGHTHS[eighths % 8]!).padEnd(width);
}

function ago(now: number, ms: number): string {
  if (ms <= 0) return '-';
  const s = Math.max(0, now - ms) / 1000;
  return s < 60 ? `${s.toFixed(1)}s ago` : `${Math.floor(s / 60)}m ago`;
}

function note(n: NodeDocument): string {
  return n.state === 'DOWN' ? printable(n.reason ?? '') : formatAttrs(n.attrs);
}

const ANSI = {
  green: (s: string) => `\x1b[32m${s}\x1b[39m`,
  red: (s: string) => `\x1b[31m${s}\x1b[39m`,
  yellow: (s: string) => `\x1b[33m${s}\x1b[39m`,
  bold: (s: string) => `\x1b[1m${s}\x1b[22m`,
  dim: (s: string) => `\x1b[2m${s}\x1b[22m`,
};
const PLAIN = { green: (s: string) => s, red: (s: string) => s, yellow: (s: string) => s, bold: (s: string) => s, dim: (s: string) => s };

/** Cuts a plain-text line to `columns` characters (a wrapped line would break the redraw). */
function fit(s: string, columns: number): string {
  return s.length <= columns ? s : `${s.slice(0, Math.max(0, columns - 1))}…`;
}

/**
 * The whole screen: a header (where to look: HTTP URL, log), the table (node, state, load,
 * bar, last seen, attributes or why DOWN), which node least-loaded answers, and the
 * master's seq and events per second. Lines are cut to `columns`; colours only if `color`.
 */
export function renderScreen(v: DemoView, columns = 100, color = true): string[] {
  const c = color ? ANSI : PLAIN;
  const lines: Array<{ text: string; paint?: (s: string) => string }> = [];
  const push = (text: string, paint?: (s: string) => string): void => void lines.push(paint ? { text, paint } : { text });
  push(`loadledger demo: a master and ${v.slaves} simulated slave${v.slaves === 1 ? '' : 's'} in this process. Ctrl-C stops it.`, c.bold);
  push(`HTTP  ${v.http}    try: curl ${v.http}/v1/least-loaded`);
  push(`      or: npx loadledger query state --http ${v.http}`);
  push(`log   ${v.dir}${v.keep ? ' (kept at the end)' : ' (removed at the end; --keep keeps it)'}`);
  push('');
  const rows = v.doc.nodes.map((n) => ({
    n,
    cells: [
      printable(n.id),
      n.state,
      formatLoad(n.load),
      n.state === 'PUSH_LOAD_INFO' ? bar(n.load) : ' '.repeat(BAR_WIDTH),
      ago(v.now, n.lastSeen),
      note(n),
    ],
  }));
  const headers = ['NODE', 'STATE', 'LOAD', 'LOAD 0–100'.padEnd(BAR_WIDTH), 'LAST SEEN', 'ATTRS / WHY DOWN'];
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r.cells[i]!.length)));
  const join = (cells: string[]): string =>
    cells.map((x, i) => (i === 2 ? x.padStart(widths[i]!) : i < cells.length - 1 ? x.padEnd(widths[i]!) : x)).join('  ');
  push(join(headers).trimEnd(), c.dim);
  for (const { n, cells } of rows) {
    const paint = n.state === 'PUSH_LOAD_INFO' ? (n.id === v.least?.id ? c.green : undefined) : n.state === 'DOWN' ? c.red : c.yellow;
    push(join(cells).trimEnd() + (n.id === v.least?.id ? '  ← least loaded' : ''), paint);
  }
  if (v.doc.nodes.length === 0) push('(no node has reported yet)', c.dim);
  for (const p of v.doc.pending) push(`connection ${p.conn} from ${printable(p.remote)}: CONNECTED, no load reported yet`, c.yellow);
  push('');
  push(
    v.least
      ? `least-loaded → ${printable(v.least.id)} (load ${formatLoad(v.least.load)})`
      : 'least-loaded → none eligible (503 NO_ELIGIBLE_NODE)',
    c.bold,
  );
  push(
    `master ${v.doc.master.state} epoch ${v.doc.master.epoch} · seq ${v.doc.seq} · ${Math.round(v.eventsPerSec)} events/s · up ${(v.uptimeMs / 1000).toFixed(1)}s`,
  );
  return lines.map(({ text, paint }) => {
    const t = fit(text, columns);
    return paint ? paint(t) : t;
  });
}

/** Redraws in place: cursor home, each line cleared to its end, the rest of the screen cleared. */
export function redraw(lines: string[]): string {
  return `\x1b[H${lines.map((l) => `${l}\x1b[K`).join('\n')}\n\x1b[J`;
}

/** One line per refresh for a pipe or a file: time, seq, rate, least-loaded, every node. */
export function renderLine(v: DemoView): string {
  const nodes = v.doc.nodes.map((n) => `${printable(n.id)} ${n.state} ${formatLoad(n.load)}${note(n) ? ` ${note(n)}` : ''}`);
  return [
    `${new Date(v.now).toISOString().slice(11, 23)} seq ${v.doc.seq} ${Math.round(v.eventsPerSec)} ev/s least-loaded ${v.least ? printable(v.least.id) : 'none'}`,
    ...nodes,
  ].join(' | ');
}
