import { badArgument, ErrorCode, LoadLedgerError } from '../src/errors.js';
import { effectiveTs } from '../src/events.js';
import { parseDuration } from '../src/util/duration.js';
import type { EventSource } from './source.js';

/**
 * A point in a log as a person writes it:
 *   1200345                   a seq
 *   2026-11-24T03:12:00Z      an ISO time (a date is required; no zone means UTC)
 *   03:12 | 03:12:05.250      a time of day, UTC: its latest occurrence at or before the last event
 *   -5m | 5m | 1h             relative: that long before the last event of the source
 * Relative times and times of day count from the log's last event, not from the clock of
 * the machine replaying it: a log copied off a server weeks later means the same thing.
 */
export type Point = { kind: 'seq'; seq: number } | { kind: 'time'; ms: number };

const SEQ_RE = /^\d+$/;
const TIME_OF_DAY_RE = /^(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?$/;
const DATE_RE = /^\d{4}-\d{2}-\d{2}/;
const RELATIVE_RE = /^-?(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;

/** Parses `spec` against `lastTs` (ms of the source's last event). */
export function parsePoint(spec: string, flag: string, lastTs: number): Point {
  const s = spec.trim();
  if (SEQ_RE.test(s)) return { kind: 'seq', seq: Number(s) };
  const rel = RELATIVE_RE.exec(s);
  if (rel) {
    const ms = parseDuration(`${rel[1]}${rel[2]}`, flag);
    return { kind: 'time', ms: lastTs - ms };
  }
  const tod = TIME_OF_DAY_RE.exec(s);
  if (tod) {
    const [h, m, sec, frac] = [Number(tod[1]), Number(tod[2]), Number(tod[3] ?? 0), Number((tod[4] ?? '0').padEnd(3, '0'))];
    if (h > 23 || m > 59 || sec > 59) throw badArgument(`${flag}: ${JSON.stringify(spec)} is not a time of day`);
    const day = new Date(lastTs);
    let ms = Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), day.getUTCDate(), h, m, sec, frac);
    if (ms > lastTs) ms -= 86_400_000;
    return { kind: 'time', ms };
  }
  if (DATE_RE.test(s)) {
    const iso = /[zZ]|[+-]\d{2}:?\d{2}$/.test(s) || (!s.includes('T') && !s.includes(' ')) ? s : `${s}Z`;
    const ms = Date.parse(iso.replace(' ', 'T'));
    if (Number.isFinite(ms)) {
      checkCalendar(s, ms, flag, spec);
      return { kind: 'time', ms };
    }
  }
  throw badArgument(
    `${flag}: cannot read ${JSON.stringify(spec)} as a point in the log; expected a seq (1200345), an ISO time (2026-11-24T03:12:00Z), a time of day (03:12:05) or a relative time (-5m)`,
  );
}

const ISO_FIELDS_RE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?/;
const OFFSET_RE = /[+-]\d{2}:?\d{2}$/;

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/**
 * Date.parse normalises a date that does not exist (2026-02-30 → March 2) instead of
 * refusing it: an operator who mistyped a date would be shown the wrong moment. Checks
 * the fields as written against the parsed time (in UTC when the text is UTC), or at
 * least their ranges when the text has an offset.
 */
function checkCalendar(s: string, ms: number, flag: string, spec: string): void {
  const m = ISO_FIELDS_RE.exec(s);
  if (!m) return;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const [h, mi, sec] = [Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0)];
  const hasTime = m[4] !== undefined;
  let ok: boolean;
  if (hasTime && OFFSET_RE.test(s)) {
    ok = mo >= 1 && mo <= 12 && d >= 1 && d <= daysInMonth(y, mo) && h <= 23 && mi <= 59 && sec <= 59;
  } else {
    const t = new Date(ms);
    ok =
      t.getUTCFullYear() === y &&
      t.getUTCMonth() + 1 === mo &&
      t.getUTCDate() === d &&
      t.getUTCHours() === h &&
      t.getUTCMinutes() === mi &&
      t.getUTCSeconds() === sec;
  }
  if (!ok) throw badArgument(`${flag}: ${JSON.stringify(spec)} is not a real date and time (no such day or time of day)`);
}

/** ts of the last event in the source (0 when it is empty). */
export async function lastEventTs(source: EventSource): Promise<number> {
  if (source.lastSeq < source.firstSeq) return 0;
  for await (const batch of source.read(source.lastSeq, source.lastSeq)) {
    const e = batch[batch.length - 1];
    if (e) return e.ts;
  }
  return 0;
}

/**
 * The last seq whose event took effect at or before `ms` (firstSeq - 1 when none did). An
 * event recorded late takes effect earlier (effectiveTs: a crash just after its epoch's
 * last event), so a time inside a crashed master's outage lands on its MasterCrashed.
 * Damage an operator accepted (the source's holes) is stepped over: times need no state.
 */
export async function seqAtTime(source: EventSource, ms: number): Promise<{ seq: number; firstTs: number }> {
  let seq = source.firstSeq - 1;
  let firstTs = 0;
  for (const [from, to] of segments(source)) {
    for await (const batch of source.read(from, to)) {
      if (firstTs === 0 && batch[0]) firstTs = batch[0].ts;
      for (const e of batch) {
        if (effectiveTs(e) > ms) return { seq, firstTs };
        seq = e.seq;
      }
    }
  }
  return { seq, firstTs };
}

/** The source's seqs in ranges around its holes. */
function segments(source: EventSource): [number, number][] {
  const out: [number, number][] = [];
  let from = source.firstSeq;
  for (const h of [...(source.holes ?? [])].sort((a, b) => a.from - b.from)) {
    if (h.to < from) continue;
    if (from < h.from) out.push([from, Math.min(h.from - 1, source.lastSeq)]);
    from = h.to + 1;
  }
  if (from <= source.lastSeq) out.push([from, source.lastSeq]);
  return out;
}

/**
 * Resolves a point to a seq in `source`: the state "at" a time is the state after the last
 * event at or before it. A point before the oldest event the source can rebuild, or after
 * its end, is refused with one clear line rather than answered with a wrong state.
 */
export async function resolvePoint(spec: string, ctx: { source: EventSource; flag: string; lastTs?: number }): Promise<number> {
  const { source, flag } = ctx;
  const lastTs = ctx.lastTs ?? (await lastEventTs(source));
  const p = parsePoint(spec, flag, lastTs);
  if (p.kind === 'seq') {
    if (p.seq > source.lastSeq) {
      throw new LoadLedgerError(
        ErrorCode.SEQ_OUT_OF_RANGE,
        `${flag} ${spec}: after the end of ${source.describe} (last seq ${source.lastSeq})`,
      );
    }
    if (p.seq < source.firstSeq - 1) {
      throw new LoadLedgerError(
        ErrorCode.SEQ_OUT_OF_RANGE,
        `${flag} ${spec}: before the oldest event retained in ${source.describe} (seq ${source.firstSeq})`,
      );
    }
    return p.seq;
  }
  const { seq, firstTs } = await seqAtTime(source, p.ms);
  if (seq < source.firstSeq) {
    const oldest = firstTs > 0 ? new Date(firstTs).toISOString() : 'none';
    throw new LoadLedgerError(
      ErrorCode.SEQ_OUT_OF_RANGE,
      `${flag} ${spec} (${new Date(p.ms).toISOString()}): before the oldest event retained in ${source.describe} (${oldest}, seq ${source.firstSeq})`,
    );
  }
  return seq;
}
