import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { ServerResponse } from 'node:http';
import { diffStates } from '../../../replay/diff.js';
import { explainNode, transitionWhat, type Transition } from '../../../replay/explain.js';
import { foldTo, stateAt } from '../../../replay/fold.js';
import { logSource, type EventSource } from '../../../replay/source.js';
import { lastEventTs, parsePoint, resolvePoint } from '../../../replay/time.js';
import { eventNode, matches, type TimelineFilter } from '../../../replay/timeline.js';
import { ErrorCode, isErrorCode, LoadLedgerError } from '../../errors.js';
import { EVENT_TYPES, isEventType, type EventType, type LedgerEvent } from '../../events.js';
import { controlProblem } from '../../protocol/names.js';
import { isNodeId } from '../../util/node-id.js';
import type { RegistryView } from '../../ledger/view.js';
import { stateDocument } from '../../projection/document.js';
import { fail, send } from '../respond.js';
import type { Call, Route } from '../route.js';

/**
 * Time travel over HTTP: the answers of `loadledger replay` (--at, and later --diff and
 * --explain) from the master's own log, with replay's point parser and fold (replay/),
 * never a second copy of either. Every master answers from its own log, leader or standby.
 */

/** Events folded between two returns to the event loop (the live API keeps answering). */
const YIELD_EVERY_EVENTS = 2_000;

/** What messages call the log: never its directory (an HTTP client need not learn paths). */
const DESCRIBE = "this master's log";

/**
 * The log as a replay source whose reads go back to the event loop every few thousand
 * events: a LevelDB iterator's cached entries resolve as microtasks, so without this a fold
 * of a long tail would hold the loop (every other request, the slaves' frames) until done.
 */
function yielding(source: EventSource): EventSource {
  return {
    ...source,
    base: (seq) => source.base(seq),
    close: () => source.close(),
    async *read(from, to) {
      let since = 0;
      for await (const batch of source.read(from, to)) {
        yield batch;
        since += batch.length;
        if (since >= YIELD_EVERY_EVENTS) {
          since = 0;
          await yieldToLoop();
        }
      }
    },
  };
}

/** This master's log as a replay source, its end where the log is now. */
async function openLive(host: RegistryView): Promise<EventSource> {
  return yielding(await logSource(host.log, DESCRIBE));
}

/** Checks that only `allowed` parameters are given, each once: the one-line problem, or undefined. */
function paramsProblem(params: URLSearchParams, path: string, allowed: readonly string[]): string | undefined {
  for (const key of new Set(params.keys())) {
    if (!allowed.includes(key)) return `unknown parameter ${JSON.stringify(key)}; ${path} takes ${allowed.join(', ')}`;
    const n = params.getAll(key).length;
    if (n > 1) return `${key} given ${n} times; give it once`;
  }
  return undefined;
}

/** A point is "ahead" (416, not 410) when it is a seq after the source's last one. */
function isAhead(spec: string, source: EventSource, lastTs: number): boolean {
  try {
    const p = parsePoint(spec, 'at', lastTs);
    return p.kind === 'seq' && p.seq > source.lastSeq;
  } catch {
    return false;
  }
}

/**
 * Resolves `spec` (a replay point) in `source` to a seq, with replay's words for a bad one.
 * Throws a LoadLedgerError whose `ahead` is set for a seq after the end of the log.
 */
async function resolve(spec: string, name: string, source: EventSource, lastTs: number): Promise<number> {
  try {
    return await resolvePoint(spec, { source, flag: name, lastTs });
  } catch (e) {
    if (e instanceof LoadLedgerError && e.code === ErrorCode.SEQ_OUT_OF_RANGE && isAhead(spec, source, lastTs))
      (e as LoadLedgerError & { ahead?: true }).ahead = true;
    throw e;
  }
}

/** Answers a failure of a time-travel query: its stable code, or INTERNAL. */
function failWith(res: ServerResponse, e: unknown): void {
  const given = (e as { code?: string }).code;
  const code = isErrorCode(given) ? given : ErrorCode.INTERNAL;
  if (!res.headersSent) fail(res, code, (e as Error).message ?? String(e), undefined, (e as { ahead?: boolean }).ahead === true);
  else res.destroy();
}

/** Runs a time-travel query under the gate (503 beyond it), its errors answered as such. */
function gated(call: Call, path: string, query: (source: EventSource, lastTs: number) => Promise<void>): Promise<void> | void {
  const { res, timeTravel } = call;
  const run = timeTravel.tryRun(async () => {
    let source: EventSource | undefined;
    try {
      source = await openLive(call.host);
      await query(source, await lastEventTs(source));
    } catch (e) {
      failWith(res, e);
    } finally {
      await source?.close();
    }
  });
  if (run === false) {
    return fail(
      res,
      ErrorCode.TIME_TRAVEL_BUSY,
      `${path}: this master already answers ${timeTravel.max} time-travel queries (at once at most); try again shortly`,
      { 'retry-after': '1' },
    );
  }
  return run;
}

/**
 * `GET /v1/state?at=POINT`: the /v1/state document as it was just after POINT (replay's
 * forms: a seq, an ISO time, a time of day, relative), from the log's nearest snapshot at
 * or before it and the events after it folded: what `loadledger replay --at POINT --json`
 * prints for this log. A time after the last event is the state at the last event (the
 * state "at" a time is the state after the last event at or before it); a seq after the
 * last one is 416, one before the oldest rebuildable is 410 (SEQ_OUT_OF_RANGE both).
 */
export function stateAtPoint(call: Call): Promise<void> | void {
  const { params, res } = call;
  const problem = paramsProblem(params, '/v1/state', ['at']);
  if (problem !== undefined) return fail(res, ErrorCode.BAD_ARGUMENT, problem);
  const spec = params.get('at')!;
  return gated(call, '/v1/state', async (source, lastTs) => {
    const target = await resolve(spec, 'at', source, lastTs);
    const s = await foldTo(source, await source.base(target), target);
    if (res.destroyed) return;
    send(res, 200, stateDocument(s), { 'cache-control': 'no-store', 'x-at-seq': String(target) });
  });
}

/** `replay --diff`'s default --threshold: load moves larger than this are listed. */
const DIFF_THRESHOLD = 10;

/**
 * `GET /v1/diff?from=POINT&to=POINT[&threshold=LOAD]`: what changed between two points,
 * `replay --diff FROM..TO --json` (replay/diff.ts): appeared, disappeared, changed state
 * or drain, load moved by more than `threshold` (default 10), and `term` when the master
 * changed; `from` and `to` also carry the ts of their events.
 */
export function diff(call: Call): Promise<void> | void {
  const { params, res } = call;
  const problem = paramsProblem(params, '/v1/diff', ['from', 'to', 'threshold']);
  if (problem !== undefined) return fail(res, ErrorCode.BAD_ARGUMENT, problem);
  const fromSpec = params.get('from');
  const toSpec = params.get('to');
  if (fromSpec === null || toSpec === null)
    return fail(
      res,
      ErrorCode.BAD_ARGUMENT,
      '/v1/diff needs from=POINT and to=POINT (a seq, an ISO time, a time of day or a relative time each)',
    );
  let threshold = DIFF_THRESHOLD;
  const t = params.get('threshold');
  if (t !== null) {
    threshold = Number(t);
    if (t.trim() === '' || !Number.isFinite(threshold) || threshold < 0)
      return fail(res, ErrorCode.BAD_ARGUMENT, `threshold must be a load (a number ≥ 0), got ${JSON.stringify(t)}`);
  }
  return gated(call, '/v1/diff', async (source, lastTs) => {
    const a = await resolve(fromSpec, 'from', source, lastTs);
    const b = await resolve(toSpec, 'to', source, lastTs);
    if (b < a) throw new LoadLedgerError(ErrorCode.BAD_ARGUMENT, `from ${fromSpec} (seq ${a}) comes after to ${toSpec} (seq ${b})`);
    const s = await stateAt(source, a);
    const docA = stateDocument(s);
    const tsA = s.ts;
    await foldTo(source, s, b);
    const d = diffStates(docA, stateDocument(s), threshold);
    if (res.destroyed) return;
    send(res, 200, { ...d, from: { seq: a, ts: tsA }, to: { seq: b, ts: s.ts }, threshold }, { 'cache-control': 'no-store' });
  });
}

const HISTORY_RE = /^\/v1\/nodes\/([^/]+)\/history$/;

/** Raw events a history answers by default, and at most (`limit`): the latest ones. */
const HISTORY_EVENTS = 1_000;
const HISTORY_EVENTS_MAX = 10_000;

/** One line of a node's history, as `replay --explain` writes it, plus the transition. */
export type HistoryEntry = { time: string; seq: number; what: string; cause: string } & Transition;

function entry(t: Transition): HistoryEntry {
  return { time: new Date(t.ts).toISOString(), what: transitionWhat(t), ...t };
}

/**
 * `GET /v1/nodes/{id}/history[?at=POINT][&type=T,T][&limit=N]`: what `replay --explain ID
 * --at POINT` says (default: the end of the log): `{node, at, state, history, next}` as its
 * --json, each change also as `{time, seq, what, cause}`; plus `events`, the node's raw
 * events up to the point (the latest `limit`, default 1,000, at most 10,000; `type` filters
 * them by event type) and `eventsOmitted`, how many older ones matched but were left out.
 * 404 NOT_FOUND for a node the retained log never mentions.
 */
export function historyRoute(path: string): Route | undefined {
  const m = HISTORY_RE.exec(path);
  if (!m) return undefined;
  return { method: 'GET', handle: (call) => history(call, m[1]!) };
}

function history(call: Call, encoded: string): Promise<void> | void {
  const { params, res } = call;
  let id: string;
  try {
    id = decodeURIComponent(encoded);
  } catch {
    return fail(res, ErrorCode.BAD_ARGUMENT, `the node id ${JSON.stringify(encoded)} is not valid percent-encoding`);
  }
  const control = controlProblem(id, 'the node id');
  if (control !== undefined) return fail(res, ErrorCode.BAD_ARGUMENT, control);
  if (!isNodeId(id))
    return fail(
      res,
      ErrorCode.BAD_ARGUMENT,
      `${JSON.stringify(id)} is not a node id (host:port, host, or an IP address; URL-encoded in the path)`,
    );
  const problem = paramsProblem(params, '/v1/nodes/{id}/history', ['at', 'type', 'limit']);
  if (problem !== undefined) return fail(res, ErrorCode.BAD_ARGUMENT, problem);
  let types: ReadonlySet<EventType> | undefined;
  const typeText = params.get('type');
  if (typeText !== null) {
    const list = typeText
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean);
    const unknown = list.find((x) => !isEventType(x));
    if (list.length === 0 || unknown !== undefined)
      return fail(
        res,
        ErrorCode.BAD_ARGUMENT,
        `type: unknown event type ${JSON.stringify(unknown ?? typeText)}; known: ${EVENT_TYPES.join(', ')}`,
      );
    types = new Set(list as EventType[]);
  }
  let limit = HISTORY_EVENTS;
  const limitText = params.get('limit');
  if (limitText !== null) {
    limit = Number(limitText);
    if (!/^\d+$/.test(limitText) || limit > HISTORY_EVENTS_MAX)
      return fail(
        res,
        ErrorCode.BAD_ARGUMENT,
        `limit must be an integer from 0 to ${HISTORY_EVENTS_MAX}, got ${JSON.stringify(limitText)}`,
      );
  }
  const atSpec = params.get('at');
  return gated(call, '/v1/nodes/{id}/history', async (source, lastTs) => {
    const target = atSpec !== null ? await resolve(atSpec, 'at', source, lastTs) : source.lastSeq;
    const filter: TimelineFilter = { node: id, toSeq: target };
    if (types) filter.types = types;
    // The latest `limit` in a ring, so a node with a million events costs `limit` of memory.
    const ring: LedgerEvent[] = new Array<LedgerEvent>(limit);
    let matched = 0;
    const x = await explainNode(source, id, target, {
      before: (s, e) => {
        if (e.seq > target || !matches(filter, e, eventNode(s, e))) return;
        if (limit > 0) ring[matched % limit] = e;
        matched++;
      },
    });
    const kept = Math.min(matched, limit);
    const start = matched > limit ? matched % limit : 0;
    const events = Array.from({ length: kept }, (_, i) => ring[(start + i) % limit]!);
    if (res.destroyed) return;
    send(
      res,
      200,
      { ...x, history: x.history.map(entry), next: x.next.map(entry), events, eventsOmitted: matched - kept },
      { 'cache-control': 'no-store' },
    );
  });
}
