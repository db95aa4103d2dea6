import { Agent as HttpAgent, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { describeUrl, httpMasters, type MasterUrls } from '../src/client/http-masters.js';
import { firstAnswer, missFrom, noneAnswered, type Masters, type Miss } from '../src/client/masters.js';
import { ErrorCode, LoadLedgerError, isLoadLedgerError } from '../src/errors.js';
import type { LedgerEvent } from '../src/events.js';
import { fromSnapshot, type ProjectionSnapshot } from '../src/projection/snapshot.js';
import { bounds, connection, lines, openEvents, type Conn, type HttpSourceOptions, type MasterBounds } from './http-conn.js';
import { beforeOldest, type EventSource } from './source.js';

export type { HttpSourceOptions, MasterBounds } from './http-conn.js';

/**
 * A running master as an event source (--http), through `GET /v1/events` (see
 * src/http/routes/events.ts): JSON Lines of events, optionally after the exact state at from - 1
 * (`snapshot=1`), optionally followed live (`follow=1`).
 *
 * Every stream is checked on arrival: seqs strictly consecutive from the one asked for,
 * and a stream that ends before the seq asked for is an error, never a shorter answer.
 *
 * The masters of a cluster (a list, master HA): every member has the same events at the
 * same seqs, so a read goes to whichever answers, and a stream cut off midway goes on at
 * another member from the next seq — after checking that the other member has the last
 * event seen, byte for byte (a leader's tail that was never replicated is a different
 * history: EVENT_STREAM_BROKEN, never a silent splice).
 */

const unreachable = (e: unknown): e is LoadLedgerError => isLoadLedgerError(e) && e.code === ErrorCode.MASTER_UNREACHABLE;

const missOf = (conn: Conn, e: LoadLedgerError): Miss => missFrom(describeUrl(conn.base), e);

/** One connection per member, made as they are first needed. */
function memberConns(make: (u: URL) => Conn): (u: URL) => Conn {
  const conns = new Map<URL, Conn>();
  return (u) => {
    let c = conns.get(u);
    if (!c) conns.set(u, (c = make(u)));
    return c;
  };
}

/**
 * `fn` on the member that answered last, then the others, while they cannot be reached;
 * `fn` may have handed part of its answer over before it failed (a stream): it is called
 * again on the next member and goes on from where it got to.
 */
async function onAnyMember<T>(masters: Masters<URL>, conn: (u: URL) => Conn, what: string, fn: (c: Conn) => Promise<T>): Promise<T> {
  if (masters.all.length === 1) return fn(conn(masters.all[0]!));
  const misses: Miss[] = [];
  for (const u of masters.readOrder()) {
    try {
      const out = await fn(conn(u));
      masters.answered(u);
      return out;
    } catch (e) {
      if (!unreachable(e)) throw e;
      misses.push(missOf(conn(u), e));
    }
  }
  throw noneAnswered(what, misses);
}

/**
 * What a running master's log holds: oldest retained event, last seq, oldest rebuildable
 * state + 1 (the first member of a list that answers).
 */
export async function masterBounds(url: MasterUrls, options: HttpSourceOptions = {}): Promise<MasterBounds> {
  const masters = httpMasters(url);
  const { value } = await firstAnswer(masters, masters.readOrder(), 'answered', async (u) => ({
    ok: true,
    value: await bounds(connection(u, false, options)),
  }));
  return value;
}

/** The events of one member must go on where another's stopped: the same event at `seq`, then seq + 1. */
function sameEvent(conn: Conn, seen: LedgerEvent, got: LedgerEvent | { snapshot: unknown }): void {
  if (!('snapshot' in got) && got.seq === seen.seq && JSON.stringify(got) === JSON.stringify(seen)) return;
  throw new LoadLedgerError(
    ErrorCode.EVENT_STREAM_BROKEN,
    `${conn.describe}: its seq ${seen.seq} is not the event seen there before the switch to it (the master that went away had events this one never had)`,
  );
}

/**
 * A running master at `url` (or the masters of a list) as an EventSource. `firstSeq` /
 * `lastSeq` are the master's as it answers the first request (it goes on appending; the
 * source reads up to `lastSeq` unless asked for more). `base(seq)` is the exact state at
 * `seq`, rebuilt by the master. Unreachable → MASTER_UNREACHABLE (with a list: when no
 * member can be reached, one line naming each); a bad URL → BAD_ARGUMENT.
 */
export async function openHttpSource(url: MasterUrls, options: HttpSourceOptions = {}): Promise<EventSource> {
  const masters = httpMasters(url);
  const agents: Array<HttpAgent | HttpsAgent> = [];
  const conn = memberConns((u) => {
    const agent =
      u.protocol === 'https:'
        ? new HttpsAgent({ keepAlive: true, ...(options.ca !== undefined ? { ca: options.ca } : {}) })
        : new HttpAgent({ keepAlive: true });
    agents.push(agent);
    return connection(u, agent, options);
  });
  const closeAll = (): void => agents.forEach((a) => a.destroy());
  let b: MasterBounds;
  try {
    b = await onAnyMember(masters, conn, 'answered', bounds);
  } catch (e) {
    closeAll();
    throw e;
  }
  const describe = conn(masters.current ?? masters.all[0]!).describe;
  return {
    describe,
    firstSeq: b.stateFrom,
    lastSeq: b.lastSeq,
    async base(seq) {
      if (seq < b.stateFrom - 1) throw beforeOldest(seq, b.stateFrom, describe);
      return onAnyMember(masters, conn, 'answered', async (c) => {
        const res = await openEvents(c, { from: seq + 1, to: seq, snapshot: true }, 'GET');
        let snap: ProjectionSnapshot | undefined;
        for await (const batch of lines(c, res, () => seq)) {
          for (const line of batch) {
            if (snap === undefined && 'snapshot' in line) snap = line.snapshot;
            else
              throw new LoadLedgerError(
                ErrorCode.EVENT_STREAM_BROKEN,
                `${c.describe}: an event where only the state at seq ${seq} was asked for`,
              );
          }
        }
        if (!snap || snap.seq !== seq) {
          throw new LoadLedgerError(
            ErrorCode.EVENT_STREAM_BROKEN,
            `${c.describe}: asked for the state at seq ${seq}, got ${snap ? `seq ${snap.seq}` : 'none'}`,
          );
        }
        return fromSnapshot(snap);
      });
    },
    async *read(from, to) {
      if (from > to) return;
      if (from < b.oldest) throw beforeOldest(from, b.oldest, describe);
      let last = from - 1;
      let seen: LedgerEvent | undefined;
      const misses: Miss[] = [];
      for (const u of masters.all.length === 1 ? masters.all : masters.readOrder()) {
        const c = conn(u);
        try {
          // Having read some: ask from the last one again, to check that this member has it too.
          let overlap = seen;
          const res = await openEvents(c, { from: overlap ? last : from, to }, 'GET');
          for await (const batch of lines(c, res, () => last)) {
            const out: LedgerEvent[] = [];
            for (const e of batch) {
              if (overlap) {
                sameEvent(c, overlap, e);
                overlap = undefined;
                continue;
              }
              if ('snapshot' in e || e.seq !== last + 1) {
                throw new LoadLedgerError(
                  ErrorCode.EVENT_STREAM_BROKEN,
                  `${c.describe}: got ${'snapshot' in e ? 'a snapshot' : `seq ${e.seq}`} after seq ${last}`,
                );
              }
              last = e.seq;
              out.push(e);
            }
            if (out.length > 0) {
              yield out;
              seen = out[out.length - 1];
            }
          }
          if (last !== to)
            throw new LoadLedgerError(ErrorCode.EVENT_STREAM_BROKEN, `${c.describe}: the events stopped at seq ${last}, before seq ${to}`);
          masters.answered(u);
          return;
        } catch (e) {
          if (masters.all.length === 1 || !unreachable(e)) throw e;
          misses.push(missOf(c, e));
        }
      }
      throw noneAnswered('answered', misses);
    },
    async close() {
      closeAll();
    },
  };
}

export interface FollowOptions extends HttpSourceOptions {
  /** Ask for the exact state at from - 1 first (`snapshot=1`) and hand it here. */
  onSnapshot?: (snapshot: ProjectionSnapshot) => void | Promise<void>;
}

export interface FollowEnd {
  /** Seq of the last event handed to onEvent (from - 1 when none was). */
  lastSeq: number;
  /** 'aborted': the signal fired; 'ended': the master ended the stream (it stopped). */
  reason: 'aborted' | 'ended';
}

/**
 * The live tail: every event from `from` on (catch-up first, then live, no gap and no
 * duplicate across the switch), handed to `onEvent` in seq order. An `onEvent` that
 * returns a promise holds the stream until it settles. `from` undefined: from the next
 * event the master commits.
 *
 * Resolves when `signal` aborts, or when the master ends the stream because it stopped
 * (the last event handed over is its MasterStopped; follow again from lastSeq + 1 to wait
 * for a restart). Rejects with MASTER_UNREACHABLE when it cannot connect or the connection
 * is lost, SEQ_OUT_OF_RANGE when `from` is no longer retained, EVENT_STREAM_BROKEN when
 * the stream skips or repeats a seq, or ends without the master stopping.
 *
 * With the masters of a cluster (a list): a member that cannot be reached, loses the
 * stream or stops is followed on by the next, from the next seq, after checking that it
 * has the last event seen (see above); a member that handed over events gives the others
 * another chance. It resolves `ended` or rejects only once every member in turn stopped
 * or could not be reached.
 */
export async function followHttp(
  url: MasterUrls,
  from: number | undefined,
  onEvent: (event: LedgerEvent) => void | Promise<void>,
  signal?: AbortSignal,
  options: FollowOptions = {},
): Promise<FollowEnd> {
  const masters = httpMasters(url);
  const conn = memberConns((u) => connection(u, false, options));
  const start = from ?? (await onAnyMember(masters, conn, 'answered', bounds)).lastSeq + 1;
  const tail: Tail = { start, last: start - 1, seen: undefined, snapshot: options.onSnapshot !== undefined };
  const aborted = (): FollowEnd => ({ lastSeq: tail.last, reason: 'aborted' });
  if (masters.all.length === 1) {
    const end = await followOne(conn(masters.all[0]!), tail, onEvent, signal, options);
    return end === 'ended' ? { lastSeq: tail.last, reason: 'ended' } : aborted();
  }
  // Round after round over the members, while one of them moves the tail on.
  let misses: Array<Miss & { stopped?: true }> = [];
  let order = masters.readOrder();
  while (order.length > 0) {
    const u = order.shift()!;
    const before = tail.last;
    try {
      if ((await followOne(conn(u), tail, onEvent, signal, options)) === 'aborted') return aborted();
      misses.push({ where: describeUrl(u), said: `stopped at seq ${tail.last}`, code: ErrorCode.MASTER_UNREACHABLE, stopped: true });
    } catch (e) {
      if (signal?.aborted) return aborted();
      if (!unreachable(e)) throw e;
      misses.push(missOf(conn(u), e));
    }
    if (tail.last > before) {
      // it handed events over, then went away: a new round, the others first
      masters.answered(u);
      misses = misses.slice(-1);
      order = masters.all.filter((m) => m !== u);
    }
  }
  // One that stopped (rather than vanished) is one to wait for, as with a single master.
  if (misses.some((m) => m.stopped)) return { lastSeq: tail.last, reason: 'ended' };
  throw noneAnswered('could be followed', misses);
}

/** Where a tail got to, across the members it was followed on. */
interface Tail {
  readonly start: number;
  last: number;
  /** The last event handed over (undefined: none yet): the next member must have it too. */
  seen: LedgerEvent | undefined;
  /** A snapshot is still to be asked for (the first stream, before any event). */
  snapshot: boolean;
}

/** Follows one member until it stops ('ended'), the signal aborts, or it fails (throws). */
async function followOne(
  conn: Conn,
  tail: Tail,
  onEvent: (event: LedgerEvent) => void | Promise<void>,
  signal: AbortSignal | undefined,
  options: FollowOptions,
): Promise<'ended' | 'aborted'> {
  if (signal?.aborted) return 'aborted';
  let overlap = tail.seen;
  let lastType = '';
  const snapshot = tail.snapshot && tail.last === tail.start - 1;
  let res: IncomingMessage;
  try {
    res = await openEvents(conn, { from: overlap ? tail.last : tail.last + 1, follow: true, snapshot }, 'GET', signal);
  } catch (e) {
    if (signal?.aborted) return 'aborted';
    throw e;
  }
  // A quiet master sends nothing for as long as nothing happens: no idle timeout, but TCP
  // keep-alive so that a master that vanished is noticed.
  res.socket.setTimeout(0);
  res.socket.setKeepAlive(true, 10_000);
  try {
    for await (const batch of lines(conn, res, () => tail.last)) {
      for (const line of batch) {
        if (overlap) {
          sameEvent(conn, overlap, line);
          lastType = overlap.type; // a member that stopped at that very seq ends here
          overlap = undefined;
          continue;
        }
        if ('snapshot' in line) {
          if (!snapshot || tail.last !== tail.start - 1 || !options.onSnapshot)
            throw new LoadLedgerError(ErrorCode.EVENT_STREAM_BROKEN, `${conn.describe}: an unexpected snapshot after seq ${tail.last}`);
          tail.snapshot = false;
          await options.onSnapshot(line.snapshot);
          continue;
        }
        if (line.seq !== tail.last + 1)
          throw new LoadLedgerError(ErrorCode.EVENT_STREAM_BROKEN, `${conn.describe}: got seq ${line.seq} after seq ${tail.last}`);
        tail.last = line.seq;
        tail.seen = line;
        lastType = line.type;
        const p = onEvent(line);
        if (p) await p;
      }
    }
  } catch (e) {
    if (signal?.aborted) return 'aborted';
    throw e;
  }
  if (signal?.aborted) return 'aborted';
  // A master ends a live stream only when it stops, after its MasterStopped.
  if (lastType !== 'MasterStopped') {
    throw new LoadLedgerError(ErrorCode.EVENT_STREAM_BROKEN, `${conn.describe} ended the stream at seq ${tail.last} without stopping`);
  }
  return 'ended';
}
