import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { ServerResponse } from 'node:http';
import { foldTo } from '../../../replay/fold.js';
import { logSource, type EventSource } from '../../../replay/source.js';
import { lastEventTs, parsePoint, resolvePoint } from '../../../replay/time.js';
import { ErrorCode, isErrorCode, LoadLedgerError } from '../../errors.js';
import type { RegistryView } from '../../ledger/view.js';
import { stateDocument } from '../../projection/document.js';
import { fail, send } from '../respond.js';
import type { Call } from '../route.js';

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
    if (e instanceof LoadLedgerError && e.code === ErrorCode.SEQ_OUT_OF_RANGE && isAhead(spec, source, lastTs)) (e as LoadLedgerError & { ahead?: true }).ahead = true;
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
    return fail(res, ErrorCode.TIME_TRAVEL_BUSY, `${path}: this master already answers ${timeTravel.max} time-travel queries (at once at most); try again shortly`, { 'retry-after': '1' });
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
