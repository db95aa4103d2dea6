import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Subscription } from 'rxjs';
import type { EventLog } from '../../storage/event-log.js';
import { loadProjection } from '../../replay/load.js';
import { ErrorCode, LoadLedgerError } from '../errors.js';
import type { LedgerEvent } from '../events.js';
import { nodeDocument, protectionDocument, stateDocument } from '../projection/document.js';
import { toSnapshot, type ProjectionSnapshot } from '../projection/snapshot.js';
import type { NodeEntry } from '../projection/state.js';
import type { Degraded, Master, HostPort } from '../node/master.js';
import { authorize, type HttpAuthOptions } from './auth.js';
import { takePolicyParam, type Policy } from '../selection/policy.js';
import { nodeAction, parseActionBody, parseNodeActionPath, readBody } from './drain.js';
import { MasterMetrics } from './metrics.js';

export interface HttpApi {
  readonly address: HostPort;
  close(): Promise<void>;
}

/** The certificate chain and private key (PEM) that make the API HTTPS. */
export interface HttpTlsOptions {
  cert: string | Buffer;
  key: string | Buffer;
}

export interface HttpApiOptions {
  /** Serve HTTPS instead of HTTP. */
  tls?: HttpTlsOptions | undefined;
  /** The admin token and whether reads stay open (src/http/auth.ts). Default: no token. */
  auth?: HttpAuthOptions | undefined;
}

type Params = URLSearchParams;

/** Attribute filters (`?zone=eu-1`) compare the attribute's text form. */
export function attrFilter(params: Iterable<[string, string]>): ((n: NodeEntry) => boolean) | undefined {
  const pairs = [...params];
  if (pairs.length === 0) return undefined;
  return (n) => pairs.every(([k, v]) => Object.hasOwn(n.attrs, k) && String(n.attrs[k]) === v);
}

/**
 * Per master and policy: the last unfiltered /v1/least-loaded answer, valid while its
 * projection is at `seq`. Only for policies whose answer is a function of the projection
 * (Selector.deterministic: least-loaded and capacity without compensation).
 */
const answers = new WeakMap<Master, Partial<Record<Policy, { seq: number; body: Buffer | null }>>>();

function sendBody(res: ServerResponse, status: number, body: Buffer): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': body.length });
  res.end(body);
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function fail(res: ServerResponse, status: number, code: string, error: string, headers?: Record<string, string>): void {
  send(res, status, { error, code }, headers);
}

/** How long a TLS client gets to finish its handshake (ms). */
const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

/**
 * The JSON API of a running master. Every answer is read from the projection, which holds
 * only what is already in the log. Over HTTPS when `options.tls` is given; who may call
 * which endpoint is `options.auth` (see ROUTES and src/http/auth.ts).
 */
export async function startHttpApi(master: Master, at: HostPort, options: HttpApiOptions = {}): Promise<HttpApi> {
  const follows = new Set<Follow>();
  const auth = options.auth ?? {};
  const metrics = new MasterMetrics(master);
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const failed = (e: unknown): void => {
      if (!res.headersSent) fail(res, 500, 'INTERNAL', (e as Error).message);
      else res.destroy();
    };
    try {
      route({ master, req, res, follows, metrics }, auth)?.catch(failed);
    } catch (e) {
      failed(e);
    }
  };
  let server: Server;
  if (options.tls) {
    try {
      server = createHttpsServer({ keepAlive: true, cert: options.tls.cert, key: options.tls.key, handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS }, handler);
    } catch (e) {
      // OpenSSL's reason (a bad PEM, a key that does not match), never the PEM itself.
      throw new LoadLedgerError(ErrorCode.BAD_ARGUMENT, `HTTP TLS certificate and key: ${(e as Error).message}`, { cause: e });
    }
  } else {
    server = createServer({ keepAlive: true }, handler);
  }
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(new LoadLedgerError(e.code === 'EADDRINUSE' ? ErrorCode.ADDRESS_IN_USE : ErrorCode.BAD_ARGUMENT, `--http ${at.host}:${at.port}: ${e.code === 'EADDRINUSE' ? 'address already in use' : e.message}`, { cause: e })),
    );
    server.listen(at.port, at.host, () => resolve());
  });
  const a = server.address();
  const address = a && typeof a === 'object' ? { host: a.address, port: a.port } : at;
  return {
    address,
    close: async () => {
      await endFollows(follows);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

interface Request {
  master: Master;
  req: IncomingMessage;
  res: ServerResponse;
  follows: Set<Follow>;
  metrics: MasterMetrics;
}

interface Call extends Request {
  params: Params;
}

interface Route {
  /** The method it answers (GET routes answer HEAD too). */
  method: 'GET' | 'POST';
  /** It changes something: needs the admin token, and is off on a master without one. */
  admin?: true;
  /** Open whatever the token settings: load balancers check health without credentials. */
  open?: true;
  handle(call: Call): void | Promise<void>;
}

/**
 * Every endpoint. Authorization is decided here from `admin`/`open`, before any handler
 * runs (src/http/auth.ts): a new endpoint that changes something only says `admin: true`.
 */
const ROUTES: ReadonlyMap<string, Route> = new Map<string, Route>([
  ['/v1/least-loaded', { method: 'GET', handle: leastLoaded }],
  ['/v1/state', { method: 'GET', handle: state }],
  ['/v1/nodes', { method: 'GET', handle: nodes }],
  ['/v1/events', { method: 'GET', handle: ({ master, params, res, follows }) => streamEvents(master, params, res, follows) }],
  ['/metrics', { method: 'GET', handle: ({ metrics, res }) => scrape(metrics, res) }],
  ['/healthz', { method: 'GET', open: true, handle: healthz }],
  ['/v1/admin/snapshot', { method: 'POST', admin: true, handle: adminSnapshot }],
]);

function route(r: Request, auth: HttpAuthOptions): void | Promise<void> {
  const { req, res } = r;
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const endpoint = ROUTES.get(path) ?? nodeRoute(path);
  if (!endpoint) return fail(res, 404, ErrorCode.NOT_FOUND, `no such endpoint: ${path}`);
  const allowed = endpoint.method === 'GET' ? ['GET', 'HEAD'] : [endpoint.method];
  if (!allowed.includes(req.method ?? '')) {
    return fail(res, 405, 'METHOD_NOT_ALLOWED', `${req.method ?? '?'} ${path}: only ${allowed.join(' and ')}`, { allow: allowed.join(', ') });
  }
  const refusal = authorize(endpoint.admin ? 'admin' : endpoint.open ? 'open' : 'read', req.headers.authorization, auth, `${endpoint.method} ${path}`);
  if (refusal) return fail(res, refusal.status, refusal.code, refusal.error, refusal.headers);
  return endpoint.handle({ ...r, params: new URLSearchParams(q < 0 ? '' : url.slice(q + 1)) });
}

/**
 * `POST /v1/nodes/{id}/drain` and `/undrain` (src/http/drain.ts): admin. A path that names
 * no valid node id is still this route (so it needs the token), answered 400.
 */
function nodeRoute(path: string): Route | undefined {
  const parsed = parseNodeActionPath(path);
  if (parsed === undefined) return undefined;
  return {
    method: 'POST',
    admin: true,
    handle: async ({ master, req, res }) => {
      if (typeof parsed === 'string') {
        req.resume();
        return fail(res, 400, ErrorCode.BAD_ARGUMENT, parsed);
      }
      const text = await readBody(req);
      const body = text === undefined ? 'the body is too large (a drain takes {"reason": "..."})' : parseActionBody(text, parsed.action);
      if (typeof body === 'string') return fail(res, 400, ErrorCode.BAD_ARGUMENT, body);
      const a = await nodeAction(master, parsed.id, parsed.action, body.reason);
      send(res, a.status, a.body, a.headers);
    },
  };
}

function leastLoaded({ master, params, res, metrics }: Call): void {
  const p = master.projection;
  const selector = master.selector;
  let policy = selector.policy;
  // Never an answer from a projection the master can no longer extend.
  if (master.degraded) {
    metrics.query(policy, 'down');
    return fail(res, 503, ErrorCode.MASTER_DOWN, downMessage(master.degraded));
  }
  if (params.size > 0) {
    const taken = takePolicyParam(params, policy); // reserved: not an attribute filter
    if ('error' in taken) {
      metrics.query(policy, 'bad_request');
      return fail(res, 400, ErrorCode.BAD_ARGUMENT, taken.error);
    }
    policy = taken.policy;
  }
  let cached = answers.get(master);
  if (!cached) answers.set(master, (cached = {}));
  const cache = params.size === 0 && selector.deterministic(policy) ? (cached[policy] ??= { seq: -1, body: null }) : undefined;
  if (cache && cache.seq === p.seq && cache.body) {
    metrics.query(policy, 'ok');
    return sendBody(res, 200, cache.body);
  }
  const n = selector.choose(p, policy, attrFilter(params));
  if (!n) {
    metrics.query(policy, 'no_eligible');
    return fail(res, 503, ErrorCode.NO_ELIGIBLE_NODE, params.size > 0 ? `no eligible node matches ${params.toString()}` : 'no eligible node (none in state PUSH_LOAD_INFO and not drained)');
  }
  metrics.query(policy, 'ok');
  if (!cache) return send(res, 200, nodeDocument(n));
  // The answer changes only with the projection: cache the encoded body by seq.
  cache.seq = p.seq;
  cache.body = Buffer.from(JSON.stringify(nodeDocument(n)));
  return sendBody(res, 200, cache.body);
}

function state({ master, params, res }: Call): void {
  if (params.size > 0) return fail(res, 400, ErrorCode.BAD_ARGUMENT, `/v1/state takes no parameters (got ${params.toString()})`);
  const doc = stateDocument(master.projection);
  // The log holds UP_LISTENING (the failure itself could not be written); say what is true.
  if (master.degraded) doc.master = { state: 'DOWN', epoch: doc.master.epoch, since: master.degraded.since, reason: downMessage(master.degraded) };
  return send(res, 200, doc);
}

function nodes({ master, params, res }: Call): void {
  const state = params.get('state');
  if (state !== null && state !== 'PUSH_LOAD_INFO' && state !== 'DOWN') {
    const hint = state === 'CONNECTED' ? '; connections that have not pushed yet are the "pending" list of /v1/state' : '';
    return fail(res, 400, ErrorCode.BAD_ARGUMENT, `state must be PUSH_LOAD_INFO or DOWN (got ${JSON.stringify(state)})${hint}`);
  }
  params.delete('state');
  const match = attrFilter(params);
  const p = master.projection;
  const list = stateDocument(p).nodes.filter((n) => (state === null || n.state === state) && (!match || match({ attrs: n.attrs } as NodeEntry)));
  return send(res, 200, { seq: p.seq, nodes: list });
}

function healthz({ master, res }: Call): void {
  const ok = master.healthy;
  const p = master.projection;
  const d = master.degraded;
  if (d) return send(res, 503, { status: 'unavailable', master: 'DOWN', seq: p.seq, code: ErrorCode.MASTER_DOWN, reason: downMessage(d), since: d.since });
  // Mass-failure protection is the master working as designed (answers stay available): 200, flagged.
  const protection = p.protection ? { protection: protectionDocument(p.protection) } : {};
  return send(res, ok ? 200 : 503, { status: ok ? 'ok' : 'unavailable', master: p.master.state, seq: p.seq, ...protection });
}

/**
 * `POST /v1/admin/snapshot`: a snapshot of the projection as it is now, so that a restart
 * or a replay to here folds nothing. Answers `{seq}`, the seq it was taken at. The body of
 * the request is ignored.
 */
async function adminSnapshot({ master, req, res }: Call): Promise<void> {
  req.resume();
  // Master.snapshot() takes the projection before its first await: this is its seq.
  const seq = master.projection.seq;
  await master.snapshot();
  // Master.snapshot() swallows a failed write (it costs restart time, not data); whoever
  // asked for this one is told.
  const written = await master.log.nearestSnapshot(seq);
  if (written?.seq !== seq) return fail(res, 500, 'INTERNAL', `the snapshot at seq ${seq} could not be written`);
  send(res, 200, { seq });
}

function downMessage(d: Degraded): string {
  return `the master is DOWN: it cannot write its event log since ${new Date(d.since).toISOString()} (${d.error.message}); it keeps retrying`;
}

/** A `/v1/events?follow=1` stream: `live` once it is past the catch-up. */
interface Follow {
  sub?: Subscription;
  res: ServerResponse;
  live?: boolean;
}

/** Catch-up switches to live events once it is this close to the last committed seq. */
const LIVE_SWITCH_WITHIN = 2048;

/**
 * Ends every live `/v1/events` stream and waits (up to `ms`) for what was written to reach
 * the clients, so that a tail sees the master's last events (its MasterStopped) and a
 * clean end before the connections are closed.
 */
function endFollows(follows: Set<Follow>, ms = 1000): Promise<void> {
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

function seqParam(params: Params, name: string): number | undefined | string {
  const text = params.get(name);
  if (text === null) return undefined;
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n)) return `${name} must be a seq (an integer ≥ 0), got ${JSON.stringify(text)}`;
  return n;
}

function flagParam(params: Params, name: string): boolean | string {
  const text = params.get(name);
  if (text !== null && !['0', '1', 'true', 'false'].includes(text)) return `${name} must be 1 or 0, got ${JSON.stringify(text)}`;
  return text === '1' || text === 'true';
}

/** The parameters of `/v1/events`, or the one-line reason they are refused. */
export function parseEventsQuery(params: Params): EventsQuery | string {
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
function streamEvents(master: Master, params: Params, res: ServerResponse, follows: Set<Follow>): void {
  const q = parseEventsQuery(params);
  if (typeof q === 'string') return fail(res, 400, ErrorCode.BAD_ARGUMENT, q);
  serveEvents(master, q, res, follows).catch((e: unknown) => {
    const code = (e as { code?: string }).code ?? 'INTERNAL';
    const message = (e as Error).message ?? String(e);
    if (!res.headersSent) fail(res, code === ErrorCode.SEQ_OUT_OF_RANGE ? 410 : 500, code, message);
    else endWithError(res, code, message);
  });
}

async function serveEvents(master: Master, q: EventsQuery, res: ServerResponse, follows: Set<Follow>): Promise<void> {
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

/** `GET /metrics`: Prometheus text format (src/http/metrics.ts lists what is in it). */
async function scrape(metrics: MasterMetrics, res: ServerResponse): Promise<void> {
  const text = await metrics.text();
  res.writeHead(200, { 'content-type': metrics.contentType, 'content-length': Buffer.byteLength(text) });
  res.end(res.req.method === 'HEAD' ? undefined : text);
}
