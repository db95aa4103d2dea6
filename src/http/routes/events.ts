import type { ServerResponse } from 'node:http';
import type { EventLog } from '../../../storage/event-log.js';
import { loadProjection } from '../../../replay/load.js';
import { ErrorCode, LoadLedgerError } from '../../errors.js';
import type { LedgerEvent } from '../../events.js';
import type { RegistryView } from '../../ledger/view.js';
import { toSnapshot, type ProjectionSnapshot } from '../../projection/snapshot.js';
import { fail } from '../respond.js';
import type { Call, Follow } from '../route.js';

/** Catch-up switches to live events once it is this close to the last committed seq. */
const LIVE_SWITCH_WITHIN = 2048;

/**
 * Ends every live `/v1/events` stream and waits (up to `ms`) for what was written to reach
 * the clients, so that a tail sees the master's last events (its MasterStopped) and a
 * clean end before the connections are closed.
 */
export function endFollows(follows: Set<Follow>, ms = 1000): Promise<void> {
  const pending = [...follows].map(
    (f) =>
      new Promise<void>((resolve) => {
        f.sub?.unsubscribe();
        if (f.res.destroyed || f.res.writableFinished) return resolve();
        // Still catching up: a clean end would pass for the end of the log. Cut it instead.
        if (f.live === false) return resolve(void f.res.destroy());
        f.res.once('finish', resolve);
        f.res.once('close', resolve);
        f.res.end();
      }),
  );
  follows.clear();
  if (pending.length === 0) return Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([Promise.all(pending).then(() => undefined), new Promise<void>((r) => (timer = setTimeout(r, ms)))]).finally(() => clearTimeout(timer));
}

/** A following client that falls this many bytes behind is cut off (with an error line). */
export const FOLLOW_MAX_BACKLOG = 64 * 1024 * 1024;
/** Live events held for a follower still catching up (~64 MiB of JSON at ~100 B each). */
const FOLLOW_MAX_BUFFERED_EVENTS = 640_000;

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

/** Resolves when `res` can take more, or has closed. */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/** Ends a stream whose 200 header is gone with a last line saying why. */
function endWithError(res: ServerResponse, code: string, error: string): void {
  if (res.destroyed || res.writableEnded) return;
  res.end(JSON.stringify({ error, code }) + '\n');
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
 * Catch-up reads the log in rounds, at the client's pace, up to the last committed seq
 * (nothing buffered however long it takes); once within LIVE_SWITCH_WITHIN of the end it
 * subscribes to the committed events, reads the log up to the seq committed at that same
 * turn of the event loop, then flushes what arrived meanwhile: no gap, no duplicate.
 * A master that stops ends live streams cleanly after its last event (MasterStopped);
 * a stream still catching up then is cut, so that it never looks complete.
 */
export function streamEvents({ host, params, res, follows }: Call): void {
  const q = parseEventsQuery(params);
  if (typeof q === 'string') return fail(res, 400, ErrorCode.BAD_ARGUMENT, q);
  serveEvents(host, q, res, follows).catch((e: unknown) => {
    const code = (e as { code?: string }).code ?? 'INTERNAL';
    const message = (e as Error).message ?? String(e);
    if (!res.headersSent) fail(res, code === ErrorCode.SEQ_OUT_OF_RANGE ? 410 : 500, code, message);
    else endWithError(res, code, message);
  });
}

async function serveEvents(master: RegistryView, q: EventsQuery, res: ServerResponse, follows: Set<Follow>): Promise<void> {
  const log = master.log;
  const head = res.req.method === 'HEAD';
  const last = master.projection.seq;
  const oldest = log.firstSeq;
  const rebuildFrom = await stateFrom(log, last);
  const from = Math.max(1, q.from ?? (q.snapshot ? rebuildFrom : oldest));
  const to = q.to ?? Number.POSITIVE_INFINITY;
  if (from < oldest) {
    return fail(res, 410, ErrorCode.SEQ_OUT_OF_RANGE, `seq ${from} is before the oldest retained event (seq ${oldest})`);
  }
  if (q.snapshot && from < rebuildFrom) {
    return fail(res, 410, ErrorCode.SEQ_OUT_OF_RANGE, `the state at seq ${from - 1} cannot be rebuilt: the oldest this master can rebuild is at seq ${rebuildFrom - 1}`);
  }
  if (q.snapshot && from - 1 > last) {
    return fail(res, 416, ErrorCode.SEQ_OUT_OF_RANGE, `the state at seq ${from - 1} does not exist yet (last seq ${last})`);
  }
  let snapshot: ProjectionSnapshot | undefined;
  if (q.snapshot && !head) {
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
  if (head) return void res.end();
  if (snapshot) res.write(JSON.stringify({ snapshot }) + '\n');

  let sent = from - 1;
  const writable = (): boolean => !res.destroyed && !res.writableEnded;
  const gap = (seq: number): LoadLedgerError =>
    new LoadLedgerError(ErrorCode.SEQ_OUT_OF_RANGE, `the log gave seq ${seq} after seq ${sent} (events removed by retention while streaming?)`);
  /** Streams the log from sent + 1 to `target`, at the client's pace; false if the client went away. */
  const catchUp = async (target: number): Promise<boolean> => {
    for await (const batch of log.read(sent + 1, target)) {
      let chunk = '';
      for (const e of batch) {
        if (e.seq !== sent + 1) throw gap(e.seq);
        sent = e.seq;
        chunk += JSON.stringify(e) + '\n';
      }
      if (!writable()) return false;
      if (!res.write(chunk)) await drained(res);
      if (!writable()) return false;
    }
    if (sent < target) throw gap(target);
    return true;
  };

  if (!q.follow) {
    if (await catchUp(Math.min(lastAtStart, to))) res.end();
    return;
  }
  // Far behind: rounds straight from the log, nothing buffered, until the rest is short.
  for (;;) {
    const target = Math.min(master.projection.seq, to);
    if (target - sent <= LIVE_SWITCH_WITHIN) break;
    if (!(await catchUp(target))) return;
  }
  // Near the end: subscribe, and in the same turn take the last committed seq. The log has
  // every event up to it; every event after it arrives on the subscription (buffered until
  // the log is read up to it). Hence no gap and no duplicate at the switch.
  const entry: Follow = { res, live: false };
  let buffer: LedgerEvent[] | null = [];
  let completed = false;
  let corked = false;
  const stop = (): void => {
    entry.sub?.unsubscribe();
    follows.delete(entry);
  };
  const finish = (): void => {
    stop();
    if (writable()) res.end();
  };
  const writeLive = (e: LedgerEvent): void => {
    if (!writable() || e.seq <= sent) return;
    if (e.seq !== sent + 1) {
      stop();
      return endWithError(res, ErrorCode.EVENT_STREAM_BROKEN, `live event seq ${e.seq} after seq ${sent}`);
    }
    sent = e.seq;
    // A group commit publishes its events in one turn: one socket write for all of them.
    if (!corked) {
      corked = true;
      res.cork();
      process.nextTick(() => {
        corked = false;
        res.uncork();
      });
    }
    res.write(JSON.stringify(e) + '\n');
    if (sent >= to) finish();
    else if (res.writableLength > FOLLOW_MAX_BACKLOG) {
      stop();
      endWithError(res, ErrorCode.EVENT_STREAM_BROKEN, `this client fell more than ${FOLLOW_MAX_BACKLOG >> 20} MiB behind the live events and was cut off at seq ${sent}`);
    }
  };
  res.on('close', stop);
  follows.add(entry);
  entry.sub = master.events$.subscribe({
    next: (e) => {
      if (!buffer) return writeLive(e);
      buffer.push(e);
      // A client that stops reading during its last catch-up must not make us hold the
      // live stream for it without limit (same bound as a live follower's backlog).
      if (buffer.length > FOLLOW_MAX_BUFFERED_EVENTS) {
        buffer = [];
        stop();
        endWithError(res, ErrorCode.EVENT_STREAM_BROKEN, `this client did not read while catching up; cut off at seq ${sent}`);
      }
    },
    complete: () => (buffer ? (completed = true) : finish()),
    error: (e: unknown) => {
      stop();
      endWithError(res, (e as { code?: string }).code ?? 'INTERNAL', `the master stopped: ${(e as Error).message ?? String(e)}`);
    },
  });
  const target = Math.min(master.projection.seq, to);
  try {
    if (sent < target && !(await catchUp(target))) return stop();
  } catch (e) {
    stop();
    throw e;
  }
  const pending = buffer;
  buffer = null;
  entry.live = true;
  for (const e of pending) writeLive(e);
  if (completed || sent >= to) finish();
}
