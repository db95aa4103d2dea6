import { request as httpRequest, type Agent as HttpAgent, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { credentialOptions, networkReason, parseMasterUrl, unauthorized, type MasterCredentials } from '../src/client/http-client.js';
import { unreachableError } from '../src/client/masters.js';
import { ErrorCode, LoadLedgerError } from '../src/errors.js';
import type { LedgerEvent } from '../src/events.js';
import type { ProjectionSnapshot } from '../src/projection/snapshot.js';

/**
 * One master's `GET /v1/events` (see src/http/routes/events.ts), for the event sources of
 * replay/http-source.ts: the request, the refusal as a LoadLedgerError with the master's
 * code, the JSON Lines as parsed batches, and `HEAD /v1/events`'s bounds.
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

export interface Query {
  from?: number | undefined;
  to?: number | undefined;
  follow?: boolean;
  snapshot?: boolean;
}

export interface Conn {
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
  return unreachableError(conn.base.origin, err.code ? networkReason(err, conn.base) : (err.message ?? String(e)), e);
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
export function openEvents(conn: Conn, q: Query, method: 'GET' | 'HEAD', signal?: AbortSignal): Promise<IncomingMessage> {
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

export type Line = { snapshot: ProjectionSnapshot } | LedgerEvent;

/**
 * The lines of a JSON Lines response, parsed, in arrays as they arrive. A line
 * `{"error", "code"}` from the master, a response cut before its end, or a connection
 * lost midway all throw.
 */
export async function* lines(conn: Conn, res: IncomingMessage, after: () => number): AsyncGenerator<Line[]> {
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
          throw new LoadLedgerError(
            ErrorCode.EVENT_STREAM_BROKEN,
            `${conn.describe}: a line of /v1/events is not JSON after seq ${after()}`,
          );
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
    throw lost(conn, after(), (e as NodeJS.ErrnoException).code ?? (e as Error).message, e);
  } finally {
    res.destroy();
  }
  if (rest !== '' || !res.complete) {
    throw lost(conn, after(), 'the stream was cut');
  }
}

/** MASTER_UNREACHABLE: the stream broke off midway (another member may go on from `after` + 1). */
function lost(conn: Conn, after: number, why: string, cause?: unknown): LoadLedgerError {
  return unreachableError(
    conn.base.origin,
    `lost the connection after seq ${after} (${why})`,
    cause,
    `lost the connection to ${conn.describe} after seq ${after} (${why})`,
  );
}

function intHeader(conn: Conn, res: IncomingMessage, name: string): number {
  const v = Number(res.headers[name]);
  if (!Number.isSafeInteger(v))
    throw new LoadLedgerError(
      ErrorCode.MASTER_UNREACHABLE,
      `${conn.describe}: /v1/events answered without a valid ${name} header (not a loadledger master?)`,
    );
  return v;
}

export function connection(url: string | URL, agent: HttpAgent | false, options: HttpSourceOptions = {}): Conn {
  const base = typeof url === 'string' ? parseMasterUrl(url) : url;
  const creds: MasterCredentials = { token: options.token, ca: options.ca };
  return { base, describe: `master ${base.href.replace(/\/$/, '')}`, agent, timeoutMs: options.timeoutMs ?? 30_000, creds };
}

export async function bounds(conn: Conn): Promise<MasterBounds> {
  const res = await openEvents(conn, {}, 'HEAD');
  res.resume();
  return {
    oldest: intHeader(conn, res, 'x-first-seq'),
    lastSeq: intHeader(conn, res, 'x-last-seq'),
    stateFrom: intHeader(conn, res, 'x-state-from'),
  };
}
