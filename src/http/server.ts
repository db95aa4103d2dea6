import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Subscription } from 'rxjs';
import { ErrorCode } from '../errors.js';
import type { LedgerEvent } from '../events.js';
import { nodeDocument, stateDocument } from '../projection/document.js';
import type { NodeEntry } from '../projection/state.js';
import type { Master, HostPort } from '../master/master.js';

export interface HttpApi {
  readonly address: HostPort;
  close(): Promise<void>;
}

type Params = URLSearchParams;

/** Attribute filters (`?zone=eu-1`) compare the attribute's text form. */
export function attrFilter(params: Iterable<[string, string]>): ((n: NodeEntry) => boolean) | undefined {
  const pairs = [...params];
  if (pairs.length === 0) return undefined;
  return (n) => pairs.every(([k, v]) => k in n.attrs && String(n.attrs[k]) === v);
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function fail(res: ServerResponse, status: number, code: string, error: string): void {
  send(res, status, { error, code });
}

/**
 * The JSON API of a running master. Every answer is read from the projection, which holds
 * only what is already in the log.
 */
export async function startHttpApi(master: Master, at: HostPort): Promise<HttpApi> {
  const follows = new Set<{ sub?: Subscription; res: ServerResponse }>();
  const server: Server = createServer({ keepAlive: true }, (req, res) => {
    try {
      route(master, req, res, follows);
    } catch (e) {
      fail(res, 500, 'INTERNAL', (e as Error).message);
    }
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(Object.assign(new Error(`--http ${at.host}:${at.port}: ${e.code === 'EADDRINUSE' ? 'address already in use' : e.message}`), { code: ErrorCode.BAD_ARGUMENT })),
    );
    server.listen(at.port, at.host, () => resolve());
  });
  const a = server.address();
  const address = a && typeof a === 'object' ? { host: a.address, port: a.port } : at;
  return {
    address,
    close: () =>
      new Promise<void>((resolve) => {
        for (const f of follows) {
          f.sub?.unsubscribe();
          f.res.end();
        }
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function route(master: Master, req: IncomingMessage, res: ServerResponse, follows: Set<{ sub?: Subscription; res: ServerResponse }>): void {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const params: Params = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    return fail(res, 405, 'METHOD_NOT_ALLOWED', `${req.method ?? '?'} ${path}: only GET is supported`);
  }
  const p = master.projection;
  switch (path) {
    case '/v1/least-loaded': {
      const n = p.index.least(attrFilter(params));
      if (!n) {
        return fail(res, 503, ErrorCode.NO_ELIGIBLE_NODE, params.size > 0 ? `no eligible node matches ${params.toString()}` : 'no eligible node (none in state PUSH_LOAD_INFO)');
      }
      return send(res, 200, nodeDocument(n));
    }
    case '/v1/state':
      if (params.size > 0) return fail(res, 400, ErrorCode.BAD_ARGUMENT, `/v1/state takes no parameters (got ${params.toString()})`);
      return send(res, 200, stateDocument(p));
    case '/v1/nodes': {
      const state = params.get('state');
      if (state !== null && state !== 'PUSH_LOAD_INFO' && state !== 'DOWN' && state !== 'CONNECTED') {
        return fail(res, 400, ErrorCode.BAD_ARGUMENT, `state must be PUSH_LOAD_INFO, DOWN or CONNECTED (got ${JSON.stringify(state)})`);
      }
      params.delete('state');
      const match = attrFilter(params);
      const nodes = stateDocument(p).nodes.filter((n) => (state === null || n.state === state) && (!match || match({ attrs: n.attrs } as NodeEntry)));
      return send(res, 200, { seq: p.seq, nodes });
    }
    case '/healthz': {
      const ok = master.healthy;
      return send(res, ok ? 200 : 503, { status: ok ? 'ok' : 'unavailable', master: p.master.state, seq: p.seq });
    }
    case '/v1/events':
      return streamEvents(master, params, res, follows);
    case '/metrics':
      return metrics(master, res);
    default:
      return fail(res, 404, ErrorCode.NOT_FOUND, `no such endpoint: ${path}`);
  }
}

/**
 * `GET /v1/events?from=SEQ[&follow=1]`: JSON Lines, one event a line, in seq order.
 * Catch-up from the log first, then (with follow) live events as they are committed,
 * with no gap and no duplicate at the switch: live events are buffered while catching up.
 */
function streamEvents(master: Master, params: Params, res: ServerResponse, follows: Set<{ sub?: Subscription; res: ServerResponse }>): void {
  const fromText = params.get('from') ?? '1';
  const from = Number(fromText);
  if (!Number.isSafeInteger(from) || from < 0) return fail(res, 400, ErrorCode.BAD_ARGUMENT, `from must be a seq (an integer ≥ 0), got ${JSON.stringify(fromText)}`);
  const followText = params.get('follow');
  if (followText !== null && !['0', '1', 'true', 'false'].includes(followText)) {
    return fail(res, 400, ErrorCode.BAD_ARGUMENT, `follow must be 1 or 0, got ${JSON.stringify(followText)}`);
  }
  const follow = followText === '1' || followText === 'true';
  const log = master.log;
  const start = Math.max(from, 1);
  if (start < log.firstSeq && log.firstSeq <= log.lastSeq) {
    return fail(res, 410, ErrorCode.SEQ_OUT_OF_RANGE, `seq ${start} is before the oldest retained event (${log.firstSeq})`);
  }
  res.writeHead(200, {
    'content-type': 'application/x-ndjson',
    'x-first-seq': String(log.firstSeq),
    'x-last-seq': String(master.projection.seq),
  });
  const entry: { sub?: Subscription; res: ServerResponse } = { res };
  let sent = start - 1;
  let live: LedgerEvent[] | null = [];
  const write = (e: LedgerEvent): void => {
    if (e.seq <= sent) return;
    sent = e.seq;
    res.write(JSON.stringify(e) + '\n');
  };
  if (follow) {
    follows.add(entry);
    entry.sub = master.events$.subscribe({
      next: (e) => (live ? live.push(e) : write(e)),
      complete: () => res.end(),
      error: () => res.end(),
    });
    res.on('close', () => {
      entry.sub?.unsubscribe();
      follows.delete(entry);
    });
  }
  const upTo = master.projection.seq;
  void (async () => {
    try {
      for await (const batch of log.read(start, upTo)) {
        let chunk = '';
        for (const e of batch) {
          if (e.seq > sent) {
            sent = e.seq;
            chunk += JSON.stringify(e) + '\n';
          }
        }
        if (!res.write(chunk)) await new Promise((r) => res.once('drain', r));
        if (res.destroyed) return;
      }
    } catch {
      res.destroy();
      return;
    }
    if (!follow) return void res.end();
    const buffered = live ?? [];
    live = null;
    for (const e of buffered) write(e);
  })();
}

function metrics(master: Master, res: ServerResponse): void {
  const p = master.projection;
  let up = 0;
  let down = 0;
  for (const n of p.nodes.values()) n.state === 'PUSH_LOAD_INFO' ? up++ : down++;
  const s = master.recorder.stats;
  const lines = [
    '# HELP loadledger_events_total Events committed to the log by this process.',
    '# TYPE loadledger_events_total counter',
    `loadledger_events_total ${s.events}`,
    '# HELP loadledger_log_writes_total Group commits (LevelDB writes).',
    '# TYPE loadledger_log_writes_total counter',
    `loadledger_log_writes_total ${s.writes}`,
    '# HELP loadledger_last_seq Seq of the last event applied.',
    '# TYPE loadledger_last_seq gauge',
    `loadledger_last_seq ${p.seq}`,
    '# HELP loadledger_nodes Nodes in the load table by state.',
    '# TYPE loadledger_nodes gauge',
    `loadledger_nodes{state="PUSH_LOAD_INFO"} ${up}`,
    `loadledger_nodes{state="DOWN"} ${down}`,
    '# HELP loadledger_connections Open slave connections.',
    '# TYPE loadledger_connections gauge',
    `loadledger_connections ${p.conns.size}`,
    '# HELP loadledger_unknown_frames_total Frames of unknown type skipped.',
    '# TYPE loadledger_unknown_frames_total counter',
    `loadledger_unknown_frames_total ${master.counters.unknownFrames}`,
    '',
  ];
  res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
  res.end(lines.join('\n'));
}
