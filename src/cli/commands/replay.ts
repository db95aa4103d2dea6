import { Command } from 'commander';
import { diffStates, stateOf, type StateDiff } from '../../../replay/diff.js';
import { clock, explainNode, formatTransitions } from '../../../replay/explain.js';
import { foldTo, stateAt } from '../../../replay/fold.js';
import { openSource, type SourceFlags } from '../../../replay/sources.js';
import type { EventSource } from '../../../replay/source.js';
import { lastEventTs, parsePoint, resolvePoint } from '../../../replay/time.js';
import { eventDetails, eventNode, matches, type TimelineFilter } from '../../../replay/timeline.js';
import { badArgument } from '../../errors.js';
import { EVENT_TYPES } from '../../events.js';
import { stateDocument, type NodeDocument, type StateDocument } from '../../projection/document.js';
import { configurable } from '../config.js';
import { die, formatNumber, isoTime, printable, table, writeJson, writeOut } from '../output.js';
import { addSourceOptions, numberArg, withDefault } from '../options.js';
import { Progress } from '../progress.js';
import { parseTypes } from '../type-filter.js';
import { stateText } from './query.js';

interface ReplayFlags extends SourceFlags {
  at?: string;
  json?: boolean;
  events?: boolean;
  node?: string;
  type?: string;
  since?: string;
  until?: string;
  explain?: string;
  diff?: string;
  threshold: number;
  follow?: boolean;
}

export function replayCommand(): Command {
  const cmd = new Command('replay').description(
    "rebuild the projection from a log, with the master's reducer; time travel, timelines, node histories, diffs (read-only)",
  );
  addSourceOptions(cmd, 'an export file (loadledger export)')
    .option('--at <point>', 'the state just after this point: a seq, an ISO time, a time of day (03:12:05) or relative (-5m)')
    .option('--json', 'machine output: the /v1/state document, or JSON Lines of events')
    .option('--events', 'print the event timeline instead of the state')
    .option('--node <id>', "with --events: only this node's events")
    .option('--type <types>', `with --events: only these types (comma-separated: ${EVENT_TYPES.join(', ')})`)
    .option('--since <point>', 'with --events: from this point')
    .option('--until <point>', 'with --events: up to this point')
    .option('--explain <node>', "the node's state history with causes, up to --at, and where it went next")
    .option('--diff <A..B>', 'what changed between two points')
    .addOption(withDefault('--threshold <load>', 'with --diff: report load changes larger than this', 10, numberArg(0)))
    .option('--follow', 'with --http: print events live as the master appends them')
    .addHelpText(
      'after',
      `
Points: 1200345 (seq) | 2026-11-24T03:12:00Z (ISO; no zone = UTC) | 03:12 or 03:12:05.250 (time
of day, UTC, latest at or before the log's last event) | -5m, 1h (before the log's last event).

Examples:
  loadledger replay --data ./data --at 2026-11-24T03:12:00Z
  loadledger replay --data ./data --events --node 10.0.0.5:8080 --since 03:10 --until 03:15
  loadledger replay --data ./data --explain 10.0.0.5:8080 --at 03:12:05
  loadledger replay --data ./data --diff 03:00..03:15
  loadledger replay --file incident.llog --at 03:12:00
  loadledger replay --http http://127.0.0.1:7480 --follow`,
    )
    .action(async (flags: ReplayFlags) => {
      try {
        await run(flags);
      } catch (e) {
        die(e);
      }
    });
  // --data/--file/--http and the rest can also come from --config FILE or LOADLEDGER_* (src/cli/config.ts).
  return configurable(cmd);
}

async function run(flags: ReplayFlags): Promise<void> {
  const modes = [flags.events, flags.explain !== undefined, flags.diff !== undefined, flags.follow].filter(Boolean).length;
  if (modes > 1) throw badArgument('choose one of --events, --explain, --diff, --follow');
  if (flags.at !== undefined) {
    // --at picks the state shown (the table, or the point of --explain); the other modes have their own range.
    if (flags.events) throw badArgument('--at applies to the state and --explain only; with --events use --since and --until');
    if (flags.diff !== undefined) throw badArgument('--at applies to the state and --explain only; --diff takes its two points as A..B');
    if (flags.follow) throw badArgument('--at applies to the state and --explain only; with --follow use --since SEQ');
  }
  if (flags.follow && flags.until !== undefined)
    throw badArgument('--until cannot be used with --follow: following has no end (use --events --until for a range)');
  if (
    !flags.events &&
    (flags.node !== undefined || flags.type !== undefined || flags.since !== undefined || flags.until !== undefined) &&
    !flags.follow
  ) {
    throw badArgument('--node, --type, --since and --until filter --events (or --follow)');
  }
  if (flags.follow) {
    if (flags.http === undefined) throw badArgument('--follow needs --http URL (a running master)');
    const { follow } = await import('./follow.js');
    return follow(flags);
  }
  const source = await openSource(flags);
  try {
    if (flags.events) await timeline(source, flags);
    else if (flags.explain !== undefined) await explain(source, flags.explain, flags);
    else if (flags.diff !== undefined) await diff(source, flags.diff, flags);
    else await state(source, flags);
  } finally {
    await source.close();
  }
}

function progressFor(label: string, flags: ReplayFlags): Progress {
  return new Progress(label, 0, { quiet: flags.json === true });
}

async function state(source: EventSource, flags: ReplayFlags): Promise<void> {
  const target = flags.at !== undefined ? await resolvePoint(flags.at, { source, flag: '--at' }) : source.lastSeq;
  const progress = progressFor('replay', flags);
  const base = await source.base(target);
  const from = base.seq;
  const s = await foldTo(source, base, target, { onProgress: (d, t) => progress.update(d, t) });
  const doc = stateDocument(s);
  if (!flags.json) progress.done(target - from, `replayed ${source.describe} to seq ${target}`, { snapshot: from });
  if (flags.json) writeJson(doc, 2);
  else writeOut(stateText(doc));
}

/** --since/--until as a timeline filter (seqs stay seqs, times stay times). */
export function rangeFilter(flags: { since?: string; until?: string }, lastTs: number): TimelineFilter {
  const f: TimelineFilter = {};
  if (flags.since !== undefined) {
    const p = parsePoint(flags.since, '--since', lastTs);
    if (p.kind === 'seq') f.fromSeq = p.seq;
    else f.sinceMs = p.ms;
  }
  if (flags.until !== undefined) {
    const p = parsePoint(flags.until, '--until', lastTs);
    if (p.kind === 'seq') f.toSeq = p.seq;
    else f.untilMs = p.ms;
  }
  // A range that is empty by construction is a typo, not a question: say so rather than print nothing.
  // (A seq and a time cannot be compared without reading the log; such a pair is left to the filter.)
  if (f.fromSeq !== undefined && f.toSeq !== undefined && f.toSeq < f.fromSeq) {
    throw badArgument(`--until ${flags.until} is before --since ${flags.since}`);
  }
  if (f.sinceMs !== undefined && f.untilMs !== undefined && f.untilMs < f.sinceMs) {
    throw badArgument(`--until ${flags.until} (${isoTime(f.untilMs)}) is before --since ${flags.since} (${isoTime(f.sinceMs)})`);
  }
  return f;
}

async function timeline(source: EventSource, flags: ReplayFlags): Promise<void> {
  const lastTs = await lastEventTs(source);
  const filter: TimelineFilter = { ...rangeFilter(flags, lastTs) };
  const types = parseTypes(flags.type);
  if (types) filter.types = types;
  if (flags.node !== undefined) filter.node = flags.node;
  const progress = progressFor('events', flags);
  const state = await source.base(source.firstSeq - 1);
  const out: string[] = [];
  let shown = 0;
  const rows: string[][] = [];
  const flushRows = (): void => {
    if (rows.length > 0) out.push(table(['TIME (UTC)', 'SEQ', 'TYPE', 'CONN', 'NODE', 'DETAILS'], rows.splice(0)));
  };
  const end = filter.toSeq !== undefined ? Math.min(filter.toSeq, source.lastSeq) : source.lastSeq;
  await foldTo(source, state, end, {
    onProgress: (d, t) => progress.update(d, t),
    before: (s, e) => {
      const node = eventNode(s, e);
      if (!matches(filter, e, node)) return;
      shown++;
      if (flags.json) writeJson(e);
      else rows.push([isoTime(e.ts), String(e.seq), e.type, 'conn' in e ? String(e.conn) : '', node ?? '', eventDetails(e)]);
    },
  });
  flushRows();
  if (!flags.json) {
    writeOut(out.join('') || '(no events match)\n');
    progress.done(end - source.firstSeq + 1, `scanned ${source.describe}, ${shown} events shown`);
  }
}

async function explain(source: EventSource, node: string, flags: ReplayFlags): Promise<void> {
  const target = flags.at !== undefined ? await resolvePoint(flags.at, { source, flag: '--at' }) : source.lastSeq;
  const progress = progressFor('explain', flags);
  const x = await explainNode(source, node, target, { onProgress: (d, t) => progress.update(d, t) });
  const { history, next } = x;
  const atDoc = x.state ?? undefined;
  const atTs = x.at.ts;
  if (flags.json) {
    writeJson(x, 2);
    return;
  }
  let out = `${printable(node)} at seq ${target}${atTs ? ` (${isoTime(atTs)})` : ''}: `;
  if (!atDoc) out += 'not yet in the load table\n';
  else {
    out += `${atDoc.state} since ${clock(atDoc.since)}, load ${formatNumber(atDoc.load)}, last seen ${atDoc.lastSeen > 0 ? clock(atDoc.lastSeen) : 'never'}`;
    out += atDoc.reason ? `\n  why: ${printable(atDoc.reason)}\n` : '\n';
    if (atDoc.drained)
      out += `  drained since ${clock(atDoc.drainedSince ?? 0)}${atDoc.drainReason !== undefined ? ` (${printable(atDoc.drainReason)})` : ''}: not eligible\n`;
  }
  out += `history:\n${formatTransitions(history) || '  (none)\n'}`;
  out += `next:\n${next.length > 0 ? formatTransitions(next) : '  (nothing after this point: it stays ' + (atDoc?.state ?? 'absent') + ' to the end of the log)\n'}`;
  writeOut(out);
  progress.done(source.lastSeq - source.firstSeq + 1, `explained ${printable(node)} from ${source.describe}`);
}

async function diff(source: EventSource, spec: string, flags: ReplayFlags): Promise<void> {
  const parts = spec.split('..');
  if (parts.length !== 2 || !parts[0] || !parts[1])
    throw badArgument(`--diff: expected A..B (two points, e.g. 03:00..03:15 or 1000..2000), got ${JSON.stringify(spec)}`);
  const lastTs = await lastEventTs(source);
  const a = await resolvePoint(parts[0], { source, flag: '--diff', lastTs });
  const b = await resolvePoint(parts[1], { source, flag: '--diff', lastTs });
  if (b < a) throw badArgument(`--diff ${spec}: the first point (seq ${a}) comes after the second (seq ${b})`);
  const progress = progressFor('diff', flags);
  const s = await stateAt(source, a, { onProgress: (d, t) => progress.update(d, t) });
  const docA = stateDocument(s);
  const tsA = s.ts;
  await foldTo(source, s, b, { onProgress: (d, t) => progress.update(d, t) });
  const docB = stateDocument(s);
  const d = diffStates(docA, docB, flags.threshold);
  if (flags.json) {
    writeJson(d, 2);
    return;
  }
  writeOut(formatDiff(d, docA, docB, tsA, s.ts, flags.threshold));
  progress.done(b - a, `diffed ${source.describe}`);
}

function formatDiff(d: StateDiff, a: StateDocument, b: StateDocument, tsA: number, tsB: number, threshold: number): string {
  const up = (doc: StateDocument): number => doc.nodes.filter((n) => n.state === 'PUSH_LOAD_INFO').length;
  let out = `from seq ${a.seq} (${isoTime(tsA)}): ${a.nodes.length} nodes, ${up(a)} up\n`;
  out += `to   seq ${b.seq} (${isoTime(tsB)}): ${b.nodes.length} nodes, ${up(b)} up\n`;
  if (d.term)
    out += `the master changed: ${d.term.was ? `${d.term.was.node} (term ${d.term.was.term})` : 'a master running alone'} → ${d.term.now.node} (term ${d.term.now.term})\n`;
  const rows: string[][] = [];
  const why = (n: NodeDocument): string =>
    n.drained ? `drained${n.drainReason !== undefined ? ` (${n.drainReason})` : ''}` : (n.reason ?? '');
  for (const x of d.appeared) rows.push(['appeared', x.id, `${x.was} → ${stateOf(x.now)}`, `load ${formatNumber(x.now.load)}`]);
  for (const x of d.disappeared) rows.push(['disappeared', x.id, `${stateOf(x.was)} → ${stateOf(x.now)}`, why(x.now)]);
  for (const x of d.changed) rows.push(['changed', x.id, `${stateOf(x.was)} → ${stateOf(x.now)}`, why(x.now)]);
  for (const x of d.load)
    rows.push(['load', x.id, `${formatNumber(x.was)} → ${formatNumber(x.now)}`, `${x.delta > 0 ? '+' : ''}${formatNumber(x.delta)}`]);
  out += rows.length > 0 ? table(['CHANGE', 'NODE', 'WAS → NOW', 'DETAILS'], rows) : `no changes (load threshold ${threshold})\n`;
  return out;
}
