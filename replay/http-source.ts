import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { credentialOptions, networkReason, parseMasterUrl, unauthorized, type MasterCredentials } from '../src/client/http-client.js';
import { ErrorCode, LoadLedgerError } from '../src/errors.js';
import type { LedgerEvent } from '../src/events.js';
import { fromSnapshot, type ProjectionSnapshot } from '../src/projection/snapshot.js';
import { beforeOldest, type EventSource } from './source.js';

/**
 * A running master as an event source (--http), through `GET /v1/events` (see
 * src/http/routes/events.ts): JSON Lines of events, optionally after the exact state at from - 1
 * (`snapshot=1`), optionally followed live (`follow=1`).
 *
 * Every stream is checked on arrival: seqs strictly consecutive from the one asked for,
 * and a stream that ends before the seq asked for is an error, never a shorter answer.
 */

export interface HttpSourceOptions extends MasterCredentials {
  /** Give up when the master has not answered a request after this long (ms). Default 30 s. */
  timeoutMs?: number;
}

/** A catch-up stream with nothing on the wire for this long is given up (ms). */
const STREAM_IDLE_MS = 120_000;

/** What `HEAD /v1/events` says about the master's log. */
export interface MasterBounds {
  /** Oldest event still retained. */
  oldest: number;
  /** Last committed seq. */
  lastSeq: number;
  /** Oldest seq whose state the master can rebuild, plus one (EventSource.firstSeq). */
  stateFrom: number;
}

interface Query {
  from?: number | undefined;
  to?: number | undefined;
  follow?: boolean;
  snapshot?: boolean;
}

interface Conn {
  base: URL;
  /** For messages: "master http://127.0.0.1:7480". */
  describe: string;
  agent: HttpAgent | false;
  timeoutMs: number;
  creds: MasterCredentials;
}

const KNOWN_CODES = new Set<string>(Object.values(ErrorCode));

function unreachable(conn: Conn, e: unknown): LoadLedgerError {
  const err = e as NodeJS.ErrnoException;
  return new LoadLedgerError(ErrorCode.MASTER_UNREACHABLE, `master unreachable at ${conn.base.origin} (${err.code ? networkReason(err, conn.base) : (err.message ?? String(e))})`, { cause: e });
}

function eventsPath(q: Query): string {
  const p = new URLSearchParams();
  if (q.from !== undefined) p.set('from', String(q.from));
  if (q.to !== undefined) p.set('to', String(q.to));
  if (q.follow) p.set('follow', '1');
  if (q.snapshot) p.set('snapshot', '1');
  const qs = p.toString();
  return qs ? `v1/events?${qs}` : 'v1/events';
}

/** Opens a request on `/v1/events`; resolves with a 200 response, else throws one clear line. */
function openEvents(conn: Conn, q: Query, method: 'GET' | 'HEAD', signal?: AbortSignal): Promise<IncomingMessage> {
  const base = conn.base.href.endsWith('/') ? conn.base : new URL(`${conn.base.href}/`);
  const url = new URL(eventsPath(q), base);
  const { headers, ...tls } = credentialOptions(conn.creds);
  const options: RequestOptions = { method, agent: conn.agent, headers: { ...headers, accept: 'application/x-ndjson' }, ...tls };
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, options);
    const onAbort = (): void => void req.destroy(Object.assign(new Error('aborted'), { name: 'AbortError' }));
    signal?.addEventListener('abort', onAbort, { once: true });
    req.setTimeout(conn.timeoutMs, () => req.destroy(Object.assign(new Error(`no answer in ${conn.timeoutMs} ms`), { code: 'ETIMEDOUT' })));
    req.on('error', (e) => {
      signal?.removeEventListener('abort', onAbort);
      reject(signal?.aborted ? e : unreachable(conn, e));
    });
    req.on('response', (res) => {
      res.on('close', () => signal?.removeEventListener('abort', onAbort));
      // Streaming now: allow longer pauses (a consumer folding a batch); a follow sets none.
      res.socket.setTimeout(Math.max(conn.timeoutMs, STREAM_IDLE_MS));
      if (res.statusCode === 200) return resolve(res);
      void refusal(conn, res).then(reject, reject);
    });
    req.end();
  });
}

/** The master's `{error, code}` answer as a LoadLedgerError with the same code. */
async function refusal(conn: Conn, res: IncomingMessage): Promise<LoadLedgerError> {
  if (res.statusCode === 401) {
    res.resume();
    return unauthorized(conn.describe, conn.creds.token !== undefined);
  }
  let text = '';
  res.setEncoding('utf8');
  for await (const chunk of res as AsyncIterable<string>) {
    if (text.length < 65536) text += chunk;
  }
  let body: { error?: unknown; code?: unknown } = {};
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    // not JSON: report the status alone
  }
  const code = typeof body.code === 'string' && KNOWN_CODES.has(body.code) ? (body.code as ErrorCode) : ErrorCode.MASTER_UNREACHABLE;
  const why = typeof body.error === 'string' ? body.error : `HTTP ${res.statusCode ?? '?'} from /v1/events`;
  return new LoadLedgerError(code, `${conn.describe}: ${why}`);
}

type Line = { snapshot: ProjectionSnapshot } | LedgerEvent;

/**
 * The lines of a JSON Lines response, parsed, in arrays as they arrive. A line
 * `{"error", "code"}` from the master, a response cut before its end, or a connection
 * lost midway all throw.
 */
async function* lines(conn: Conn, res: IncomingMessage, after: () => number): AsyncGenerator<Line[]> {
  res.setEncoding('utf8');
  let rest = '';
  try {
    for await (const chunk of res as AsyncIterable<string>) {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop()!;
      const out: Line[] = [];
      for (const part of parts) {
        if (part === '') continue;
        let v: unknown;
        try {
          v = JSON.parse(part);
        } catch {
          throw new LoadLedgerError(ErrorCode.EVENT_STREAM_BROKEN, `${conn.describe}: a line of /v1/events is not JSON after seq ${after()}`);
        }
        const o = v as { error?: unknown; code?: unknown };
        if (o && typeof o === 'object' && typeof o.error === 'string') {
          const code = typeof o.code === 'string' && KNOWN_CODES.has(o.code) ? (o.code as ErrorCode) : ErrorCode.EVENT_STREAM_BROKEN;
          throw new LoadLedgerError(code, `${conn.describe}: ${o.error}`);
        }
        out.push(v as Line);
      }
      if (out.length > 0) yield out;
    }
  } catch (e) {
    if (e instanceof LoadLedgerError) throw e;
    throw new LoadLedgerError(ErrorCode.MASTER_UNREACHABLE, `lost the connection to ${conn.describe} after seq ${after()} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { cause: e });
  } finally {
    res.destroy();
  }
  if (rest !== '' || !res.complete) {
    throw new LoadLedgerError(ErrorCode.MASTER_UNREACHABLE, `lost the connection to ${conn.describe} after seq ${after()} (the stream was cut)`);
  }
}

function intHeader(conn: Conn, res: IncomingMessage, name: string): number {
  const v = Number(res.headers[name]);
  if (!Number.isSafeInteger(v)) throw new LoadLedgerError(ErrorCode.MASTER_UNREACHABLE, `${conn.describe}: /v1/events answered without a valid ${name} header (not a loadledger master?)`);
  return v;
}

function connection(url: string | URL, agent: HttpAgent | false, options: HttpSourceOptions = {}): Conn {
  const base = typeof url === 'string' ? parseMasterUrl(url) : url;
  const creds: MasterCredentials = { token: options.token, ca: options.ca };
  return { base, describe: `master ${base.href.replace(/\/$/, '')}`, agent, timeoutMs: options.timeoutMs ?? 30_000, creds };
}

async function bounds(conn: Conn): Promise<MasterBounds> {
  const res = await openEvents(conn, {}, 'HEAD');
  res.resume();
  return { oldest: intHeader(conn, res, 'x-first-seq'), lastSeq: intHeader(conn, res, 'x-last-seq'), stateFrom: intHeader(conn, res, 'x-state-from') };
}

/** What a running master's log holds: oldest retained event, last seq, oldest rebuildable state + 1. */
export async function masterBounds(url: string | URL, options: HttpSourceOptions = {}): Promise<MasterBounds> {
  return bounds(connection(url, false, options));
}

/**
 * A running master at `url` as an EventSource. `firstSeq`/`lastSeq` are the master's as it
 * answers the first request (it goes on appending; the source reads up to `lastSeq` unless
 * asked for more). `base(seq)` is the exact state at `seq`, rebuilt by the master.
 * Unreachable → MASTER_UNREACHABLE; a bad URL → BAD_ARGUMENT.
 */
export async function openHttpSource(url: string | URL, options: HttpSourceOptions = {}): Promise<EventSource> {
  const isHttps = (typeof url === 'string' ? url : url.href).startsWith('https:');
  const agent = isHttps ? new HttpsAgent({ keepAlive: true, ...(options.ca !== undefined ? { ca: options.ca } : {}) }) : new HttpAgent({ keepAlive: true });
  const conn = connection(url, agent, options);
  let b: MasterBounds;
  try {
    b = await bounds(conn);
  } catch (e) {
    agent.destroy();
    throw e;
  }
  const { describe } = conn;
  return {
    describe,
    firstSeq: b.stateFrom,
    lastSeq: b.lastSeq,
    async base(seq) {
      if (seq < b.stateFrom - 1) throw beforeOldest(seq, b.stateFrom, describe);
      const res = await openEvents(conn, { from: seq + 1, to: seq, snapshot: true }, 'GET');
      let snap: ProjectionSnapshot | undefined;
      for await (const batch of lines(conn, res, () => seq)) {
        for (const line of batch) {
          if (snap === undefined && 'snapshot' in line) snap = line.snapshot;
          else throw new LoadLedgerError(ErrorCode.EVENT_STREAM_BROKEN, `${describe}: an event where only the state at seq ${seq} was asked for`);
        }
      }
      if (!snap || snap.seq !== seq) {
        throw new LoadLedgerError(ErrorCode.EVENT_STREAM_BROKEN, `${describe}: asked for the state at seq ${seq}, got ${snap ? `seq ${snap.seq}` : 'none'}`);
      }
      return fromSnapshot(snap);
    },
    async *read(from, to) {
      if (from > to) return;
      if (from < b.oldest) throw beforeOldest(from, b.oldest, describe);
      const res = await openEvents(conn, { from, to }, 'GET');
      let last = from - 1;
      for await (const batch of lines(conn, res, () => last)) {
        for (const e of batch) {
          if ('snapshot' in e || e.seq !== last + 1) {
            throw new LoadLedgerError(ErrorCode.EVENT_STREAM_BROKEN, `${describe}: got ${'snapshot' in e ? 'a snapshot' : `seq ${e.seq}`} after seq ${last}`);
          }
          last = e.seq;
        }
        yield batch as LedgerEvent[];
      }
      if (last !== to) throw new LoadLedgerError(ErrorCode.EVENT_STREAM_BROKEN, `${describe}: the events stopped at seq ${last}, before seq ${to}`);
    },
    async close() {
      agent.destroy();
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
 */
export async function followHttp(
  url: string | URL,
  from: number | undefined,
  onEvent: (event: LedgerEvent) => void | Promise<void>,
  signal?: AbortSignal,
  options: FollowOptions = {},
): Promise<FollowEnd> {
  const conn = connection(url, false, options);
  const start = from ?? (await bounds(conn)).lastSeq + 1;
  let last = start - 1;
  let lastType = '';
  if (signal?.aborted) return { lastSeq: last, reason: 'aborted' };
  let res: IncomingMessage;
  try {
    res = await openEvents(conn, { from: start, follow: true, snapshot: options.onSnapshot !== undefined }, 'GET', signal);
  } catch (e) {
    if (signal?.aborted) return { lastSeq: last, reason: 'aborted' };
    throw e;
  }
  // A quiet master sends nothing for as long as nothing happens: no idle timeout, but TCP
  // keep-alive so that a master that vanished is noticed.
  res.socket.setTimeout(0);
  res.socket.setKeepAlive(true, 10_000);
  try {
    for await (const batch of lines(conn, res, () => last)) {
      for (const line of batch) {
        if ('snapshot' in line) {
          if (last !== start - 1 || !options.onSnapshot) throw new LoadLedgerError(ErrorCode.EVENT_STREAM_BROKEN, `${conn.describe}: an unexpected snapshot after seq ${last}`);
          await options.onSnapshot(line.snapshot);
          continue;
        }
        if (line.seq !== last + 1) throw new LoadLedgerError(ErrorCode.EVENT_STREAM_BROKEN, `${conn.describe}: got seq ${line.seq} after seq ${last}`);
        last = line.seq;
        lastType = line.type;
        const p = onEvent(line);
        if (p) await p;
      }
    }
  } catch (e) {
    if (signal?.aborted) return { lastSeq: last, reason: 'aborted' };
    throw e;
  }
  if (signal?.aborted) return { lastSeq: last, reason: 'aborted' };
  // A master ends a live stream only when it stops, after its MasterStopped.
  if (lastType !== 'MasterStopped') {
    throw new LoadLedgerError(ErrorCode.EVENT_STREAM_BROKEN, `${conn.describe} ended the stream at seq ${last} without stopping`);
  }
  return { lastSeq: last, reason: 'ended' };
}
