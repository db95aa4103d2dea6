import type { ServerResponse } from 'node:http';
import type { EventLog } from '../../../storage/event-log.js';
import { loadProjection } from '../../../replay/load.js';
import { ErrorCode, isErrorCode } from '../../errors.js';
import type { RegistryView } from '../../ledger/view.js';
import { toSnapshot, type ProjectionSnapshot } from '../../projection/snapshot.js';
import type { EventStream } from '../event-stream.js';
import type { Followers } from '../followers.js';
import { fail } from '../respond.js';
import type { Call } from '../route.js';

export interface EventsQuery {
  from: number | undefined;
  to: number | undefined;
  follow: boolean;
  snapshot: boolean;
}

const EVENTS_PARAMS = ['from', 'to', 'follow', 'snapshot'];

function seqParam(params: URLSearchParams, name: string): number | undefined | string {
  const text = params.get(name);
  if (text === null) return undefined;
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n)) return `${name} must be a seq (an integer ≥ 0), got ${JSON.stringify(text)}`;
  return n;
}

function flagParam(params: URLSearchParams, name: string): boolean | string {
  const text = params.get(name);
  if (text !== null && !['0', '1', 'true', 'false'].includes(text)) return `${name} must be 1 or 0, got ${JSON.stringify(text)}`;
  return text === '1' || text === 'true';
}

/** The parameters of `/v1/events`, or the one-line reason they are refused. */
export function parseEventsQuery(params: URLSearchParams): EventsQuery | string {
  for (const key of params.keys()) {
    if (!EVENTS_PARAMS.includes(key)) return `unknown parameter ${JSON.stringify(key)}; /v1/events takes ${EVENTS_PARAMS.join(', ')}`;
  }
  const from = seqParam(params, 'from');
  const to = seqParam(params, 'to');
  const follow = flagParam(params, 'follow');
  const snapshot = flagParam(params, 'snapshot');
  for (const v of [from, to, follow, snapshot]) if (typeof v === 'string') return v;
  const q = { from, to, follow, snapshot } as EventsQuery;
  if (q.to !== undefined && q.from !== undefined && q.to < q.from - 1) return `to (${q.to}) must be at least from - 1 (${q.from - 1})`;
  return q;
}

/**
 * The oldest `from` for which this log can rebuild the state at from - 1: 1 while the log
 * still starts at seq 1; after retention, one past EventLog.replayBaseSeq.
 */
async function stateFrom(log: EventLog, last: number): Promise<number> {
  const usable = await log.replayBaseSeq();
  return usable === undefined ? last + 1 : usable + 1;
}

/**
 * `GET /v1/events?from=SEQ[&to=SEQ][&follow=1][&snapshot=1]`: JSON Lines, one event a
 * line, in seq order. `HEAD` answers the same status and headers without reading the log.
 *
 * - `from` defaults to the oldest retained event (with snapshot=1: the oldest rebuildable).
 *   A `from` before the oldest retained event is 410 SEQ_OUT_OF_RANGE.
 * - `snapshot=1`: the first line is `{"snapshot": ProjectionSnapshot}`, the exact state at
 *   from - 1 (nearest snapshot in the log, the events after it folded), so a client can
 *   rebuild exact states from a master whose older events were deleted by retention.
 * - `to`: stop after this seq (to = from - 1: the snapshot alone).
 * - `follow=1`: after the catch-up, live events as they are committed, until `to` or the
 *   master stops.
 * - Headers: x-first-seq (oldest retained event), x-last-seq (last committed seq when the
 *   answer started), x-state-from (the oldest `from` that snapshot=1 accepts).
 * - A failure after the 200 header ends the stream with a line `{"error", "code"}`.
 *
 * - `follow=1`: at most --max-followers at once (beyond: 503 TOO_MANY_FOLLOWERS). A client
 *   that takes nothing for --follow-stall-timeout while there is something to send, or whose
 *   next event retention deleted, gets a last error line and its socket is destroyed.
 *
 * Every stream is a cursor over the log at the client's pace (src/http/event-stream.ts):
 * the next batch is written when the socket has taken the last one, read from the shared
 * live tail or back from the log, so a client that stops reading costs a bounded few
 * hundred KiB, never a copy of what it did not read; no gap and no duplicate, as every
 * line comes by seq from what is committed. A master that stops ends live streams cleanly
 * after its last event (MasterStopped); one still behind then is cut, so that it never
 * looks complete.
 */
export function streamEvents({ host, params, res, followers }: Call): void {
  const q = parseEventsQuery(params);
  if (typeof q === 'string') return fail(res, ErrorCode.BAD_ARGUMENT, q);
  serveEvents(host, q, res, followers).catch((e: unknown) => {
    const given = (e as { code?: string }).code;
    const code = isErrorCode(given) ? given : ErrorCode.INTERNAL;
    const message = (e as Error).message ?? String(e);
    if (!res.headersSent) fail(res, code, message);
    else if (!res.destroyed && !res.writableEnded) res.end(JSON.stringify({ error: message, code }) + '\n');
  });
}

async function serveEvents(master: RegistryView, q: EventsQuery, res: ServerResponse, followers: Followers): Promise<void> {
  const log = master.log;
  const head = res.req.method === 'HEAD';
  const last = master.projection.seq;
  const oldest = log.firstSeq;
  const from = Math.max(1, q.from ?? (q.snapshot ? await stateFrom(log, last) : oldest));
  const to = q.to ?? Number.POSITIVE_INFINITY;
  // Counted from here, before the log is read for it: the cap holds while snapshots are built.
  let stream: EventStream | undefined;
  if (!head) {
    stream = followers.open(res, q.follow, from, to);
    if (!stream) {
      const { maxFollowers } = followers.limits;
      return fail(
        res,
        ErrorCode.TOO_MANY_FOLLOWERS,
        `this master already serves ${maxFollowers} live tails (--max-followers ${maxFollowers}); try again later`,
        { 'retry-after': '5' },
      );
    }
  }
  try {
    await answer(master, q, res, from, stream);
  } finally {
    if (stream) followers.release(stream);
  }
}

async function answer(
  master: RegistryView,
  q: EventsQuery,
  res: ServerResponse,
  from: number,
  stream: EventStream | undefined,
): Promise<void> {
  const log = master.log;
  const last = master.projection.seq;
  const oldest = log.firstSeq;
  const rebuildFrom = await stateFrom(log, last);
  if (from < oldest) {
    return fail(res, ErrorCode.SEQ_OUT_OF_RANGE, `seq ${from} is before the oldest retained event (seq ${oldest})`);
  }
  if (q.snapshot && from < rebuildFrom) {
    return fail(
      res,
      ErrorCode.SEQ_OUT_OF_RANGE,
      `the state at seq ${from - 1} cannot be rebuilt: the oldest this master can rebuild is at seq ${rebuildFrom - 1}`,
    );
  }
  if (q.snapshot && from - 1 > last) {
    return fail(res, ErrorCode.SEQ_OUT_OF_RANGE, `the state at seq ${from - 1} does not exist yet (last seq ${last})`, undefined, true);
  }
  let snapshot: ProjectionSnapshot | undefined;
  if (q.snapshot && stream) {
    // Exact at from - 1: the live projection when that is now, else the log's nearest
    // snapshot with the events after it folded (loadProjection, as the master starts).
    snapshot = from - 1 === master.projection.seq ? toSnapshot(master.projection) : toSnapshot(await loadProjection(log, from - 1));
  }
  if (res.destroyed) return;
  const lastAtStart = master.projection.seq;
  res.writeHead(200, {
    'content-type': 'application/x-ndjson',
    'cache-control': 'no-store',
    'x-first-seq': String(oldest),
    'x-last-seq': String(lastAtStart),
    'x-state-from': String(rebuildFrom),
  });
  if (!stream) return void res.end();
  if (snapshot) res.write(JSON.stringify({ snapshot }) + '\n');
  await stream.run(lastAtStart);
}
