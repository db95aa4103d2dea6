import type { Duplex } from 'node:stream';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { createServer as createHttpsServer } from 'node:https';
import { ErrorCode, LoadLedgerError } from '../errors.js';
import type { Clock } from '../clock.js';
import type { HostPort } from '../util/hostport.js';
import type { Descriptors } from '../util/descriptors.js';
import { RefusalLog, type Refusal } from '../util/refusals.js';
import { systemClock } from '../util/system-clock.js';
import { authorize, type HttpAuthOptions } from './auth.js';
import { Drains } from './drain.js';
import { FOLLOWER_DEFAULTS, Followers, type FollowerLimits } from './followers.js';
import { MasterMetrics, type HttpConnections } from './metrics.js';
import { fail } from './respond.js';
import type { ApiHost, ApiState, Route } from './route.js';
import { adminSnapshot, nodeRoute } from './routes/admin.js';
import { streamEvents } from './routes/events.js';
import { TimeTravelGate } from './time-travel.js';
import { diff, historyRoute } from './routes/history.js';
import { scrape } from './routes/metrics.js';
import { healthz, leastLoaded, nodes, state } from './routes/queries.js';
import { checkLag, cluster, leader } from './routes/cluster.js';
import { envoyEds, prometheusSd } from './routes/discovery.js';
import { parseDuration } from '../util/duration.js';

/** The replication stream's path and upgrade protocol (src/cluster/wire.ts). */
const REPLICATE_PATH = '/v1/cluster/replicate';
const REPLICATE_PROTOCOL = 'loadledger-replication';

export type { ApiHost } from './route.js';
export { parseEventsQuery, type EventsQuery } from './routes/events.js';
export { STREAM_BUFFER_LIMIT } from './event-stream.js';
export { FOLLOWER_DEFAULTS, type FollowerLimits } from './followers.js';

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
  /** The cap on live tails and the stall timeout of `/v1/events` streams (src/http/followers.ts). */
  followers?: Partial<FollowerLimits> | undefined;
  /** TCP connections served at once; more are closed as they arrive (counted and reported). */
  maxConnections?: number | undefined;
  /** Monotonic time and timers (stall checks, refusal reports); tests drive a manual one. */
  scheduler?: Clock | undefined;
  /** Connections turned away or not taken, at most once per window and kind (the operator's log). */
  onRefusal?: ((r: Refusal) => void) | undefined;
  /** The process's file descriptors: connections are closed as they arrive before none are left. */
  descriptors?: Descriptors | undefined;
}

/** Connections the HTTP API serves at once by default (--max-http-connections). */
export const HTTP_MAX_CONNECTIONS = 1024;

/** How long a TLS client gets to finish its handshake (ms). */
const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

/**
 * The JSON API of a running master. Every answer is read from the projection, which holds
 * only what is already in the log. Over HTTPS when `options.tls` is given; who may call
 * which endpoint is `options.auth` (see ROUTES and src/http/auth.ts).
 */
export async function startHttpApi(host: ApiHost, at: HostPort, options: HttpApiOptions = {}): Promise<HttpApi> {
  const scheduler = options.scheduler ?? systemClock;
  const followers = new Followers(host, { ...FOLLOWER_DEFAULTS, ...options.followers }, scheduler);
  const connections: HttpConnections = { open: 0, refused: 0, fdRefused: 0, acceptErrors: 0 };
  const auth = options.auth ?? {};
  const api: ApiState = {
    host,
    followers,
    metrics: new MasterMetrics(host, { followers, connections }),
    answers: {},
    drains: new Drains(),
    timeTravel: new TimeTravelGate(),
  };
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const failed = (e: unknown): void => {
      if (!res.headersSent) fail(res, ErrorCode.INTERNAL, (e as Error).message);
      else res.destroy();
    };
    try {
      route(api, req, res, auth)?.catch(failed);
    } catch (e) {
      failed(e);
    }
  };
  let server: Server;
  if (options.tls) {
    try {
      server = createHttpsServer(
        { keepAlive: true, cert: options.tls.cert, key: options.tls.key, handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS },
        handler,
      );
    } catch (e) {
      // OpenSSL's reason (a bad PEM, a key that does not match), never the PEM itself.
      throw new LoadLedgerError(ErrorCode.BAD_ARGUMENT, `HTTP TLS certificate and key: ${(e as Error).message}`, { cause: e });
    }
  } else {
    server = createServer({ keepAlive: true }, handler);
  }
  server.keepAliveTimeout = 30_000;
  const refusals = new RefusalLog(scheduler, options.onRefusal ?? (() => {}));
  watchConnections(server, options.maxConnections ?? HTTP_MAX_CONNECTIONS, connections, refusals, options.descriptors);
  // Master HA: a standby's replication stream (reads the whole log: needs read access).
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = (req.url ?? '').split('?')[0];
    const refusal = authorize('read', req.headers.authorization, auth, `GET ${REPLICATE_PATH}`);
    const view = host.cluster;
    if (path !== REPLICATE_PATH || req.headers.upgrade !== REPLICATE_PROTOCOL || refusal || !view?.leading) {
      const status = refusal ? 401 : path !== REPLICATE_PATH ? 404 : 503;
      socket.end(`HTTP/1.1 ${status} ${status === 503 ? 'Not the leader' : 'Refused'}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
      return;
    }
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nupgrade: ${REPLICATE_PROTOCOL}\r\nconnection: Upgrade\r\n\r\n`);
    if (head.length > 0) socket.unshift(head);
    view.replicate(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        new LoadLedgerError(
          e.code === 'EADDRINUSE' ? ErrorCode.ADDRESS_IN_USE : ErrorCode.BAD_ARGUMENT,
          `--http ${at.host}:${at.port}: ${e.code === 'EADDRINUSE' ? 'address already in use' : e.message}`,
          { cause: e },
        ),
      ),
    );
    server.listen(at.port, at.host, () => resolve());
  });
  // After listening, an error is a connection the kernel gave us that we could not take.
  server.on('error', (e: NodeJS.ErrnoException) => {
    connections.acceptErrors++;
    refusals.note(
      'http',
      'accept-failed',
      `accept failed: ${e.code ?? e.message}${e.code === 'EMFILE' || e.code === 'ENFILE' ? ' (out of file descriptors: raise ulimit -n, or lower --max-http-connections / --max-slaves)' : ''}`,
    );
  });
  const a = server.address();
  const address = a && typeof a === 'object' ? { host: a.address, port: a.port } : at;
  return {
    address,
    close: async () => {
      refusals.close();
      await followers.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/**
 * Counts open connections, and caps them with `server.maxConnections`: one over the cap is
 * closed by Node as it is accepted (before any byte is read), counted and reported; so is
 * one that would leave the process too few file descriptors (src/util/descriptors.ts).
 */
function watchConnections(
  server: Server,
  max: number,
  connections: HttpConnections,
  refusals: RefusalLog,
  descriptors: Descriptors | undefined,
): void {
  server.maxConnections = max;
  server.on('connection', (socket: Socket) => {
    if (descriptors?.exhausted()) {
      connections.fdRefused++;
      refusals.note(
        'http',
        'descriptors',
        `${socket.remoteAddress ?? 'a client'} refused: out of file descriptors (${descriptors.inUse} of ${descriptors.limit} open, ulimit -n; ${descriptors.reserve} kept for the log)`,
      );
      socket.destroy();
      return;
    }
    connections.open++;
    socket.once('close', () => connections.open--);
  });
  server.on('drop', (data?: { remoteAddress?: string }) => {
    connections.refused++;
    refusals.note(
      'http',
      'max-connections',
      `${data?.remoteAddress ?? 'a client'} refused: ${max} connections open (--max-http-connections)`,
    );
  });
}

/**
 * Every endpoint. Authorization is decided here from `admin`/`open`, before any handler
 * runs (src/http/auth.ts): a new endpoint that changes something only says `admin: true`.
 */
const ROUTES: ReadonlyMap<string, Route> = new Map<string, Route>([
  ['/v1/least-loaded', { method: 'GET', handle: leastLoaded }],
  ['/v1/state', { method: 'GET', handle: state }],
  ['/v1/nodes', { method: 'GET', handle: nodes }],
  ['/v1/events', { method: 'GET', handle: streamEvents }],
  ['/v1/diff', { method: 'GET', handle: diff }],
  ['/metrics', { method: 'GET', handle: scrape }],
  ['/healthz', { method: 'GET', open: true, handle: healthz }],
  ['/v1/cluster', { method: 'GET', handle: cluster }],
  ['/v1/leader', { method: 'GET', open: true, handle: leader }],
  ['/v1/admin/snapshot', { method: 'POST', admin: true, handle: adminSnapshot }],
  // for consumers (docs/integrations.md): each answers 404 while its flag is off
  ['/v1/sd/prometheus', { method: 'GET', handle: prometheusSd }],
  ['/v3/discovery:endpoints', { method: 'POST', handle: envoyEds }],
]);

function route(api: ApiState, req: IncomingMessage, res: ServerResponse, auth: HttpAuthOptions): void | Promise<void> {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const endpoint = ROUTES.get(path) ?? nodeRoute(path) ?? historyRoute(path);
  if (!endpoint) return fail(res, ErrorCode.NOT_FOUND, `no such endpoint: ${path}`);
  const allowed = endpoint.method === 'GET' ? ['GET', 'HEAD'] : [endpoint.method];
  if (!allowed.includes(req.method ?? '')) {
    return fail(res, ErrorCode.METHOD_NOT_ALLOWED, `${req.method ?? '?'} ${path}: only ${allowed.join(' and ')}`, {
      allow: allowed.join(', '),
    });
  }
  const refusal = authorize(
    endpoint.admin ? 'admin' : endpoint.open ? 'open' : 'read',
    req.headers.authorization,
    auth,
    `${endpoint.method} ${path}`,
  );
  if (refusal) return fail(res, refusal.code, refusal.error, refusal.headers);
  const call = { ...api, req, res, params: new URLSearchParams(q < 0 ? '' : url.slice(q + 1)) };
  if (endpoint.method === 'GET' && !checkLag(call, (s) => parseDuration(s, 'max-lag'))) return;
  return endpoint.handle(call);
}
