/**
 * The HTTP clients with a list of masters (src/client/http-masters.ts, replay/http-source.ts)
 * against real masters on 127.0.0.1 and small test servers that stand for what a real
 * master cannot be without HA: a standby that refuses writes (503 NOT_LEADER), one too far
 * behind (503 STALE), and the members of a cluster serving the same events at the same
 * seqs, one of which goes away in the middle of a stream.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { followHttp, openHttpSource } from '../../replay/http-source.js';
import { getFromAny, httpMasters, postToLeader } from '../../src/client/http-masters.js';
import { ErrorCode } from '../../src/errors.js';
import type { LedgerEvent } from '../../src/events.js';
import { AdminToken } from '../../src/http/auth.js';
import { Cleanup } from '../helpers/cleanup.js';
import { errorOf } from '../helpers/errors.js';
import { httpBase, startMaster } from '../helpers/master.js';
import { closedPort } from '../helpers/net.js';
import { QueryClient } from '../../src/client/query-client.js';
import { slavePort } from '../helpers/master.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const QUIET = { helloInterval: 60_000, deadAfter: 60_000 } as const;
const TOKEN = 'http-masters-token-0123456789';

/** A test server; `handle` answers every request; the requests it got, by "METHOD path". */
async function server(handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string; seen: string[] }> {
  const seen: string[] = [];
  const s = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    handle(req, res);
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  cleanup.defer('test server', () => new Promise<void>((r) => (s.closeAllConnections(), s.close(() => r()))));
  return { url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, seen };
}

const refusing =
  (code: string, error: string) =>
  (req: IncomingMessage, res: ServerResponse): void => {
    req.resume();
    res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ error, code }));
  };

describe('reads from whichever master answers', () => {
  it('skips a dead address and a stale standby, and asks the one that answered first next time', async () => {
    const master = await startMaster(cleanup, QUIET);
    const dead = `http://127.0.0.1:${await closedPort()}`;
    const stale = await server(refusing(ErrorCode.STALE, 'this standby is 1200 ms behind its leader (max-lag 500ms)'));
    const masters = httpMasters([dead, stale.url, httpBase(master)]);
    const first = await getFromAny(masters, '/v1/state');
    expect(first.status).toBe(200);
    expect(first.from.href).toBe(`${httpBase(master)}/`);
    expect(stale.seen).toEqual(['GET /v1/state']);
    const again = await getFromAny(masters, '/v1/nodes');
    expect(again.status).toBe(200);
    expect(stale.seen).toHaveLength(1); // the one that answered was asked first
  });

  it("an answer that is the cluster's (404, 503 NO_ELIGIBLE_NODE) is not retried elsewhere", async () => {
    const master = await startMaster(cleanup, QUIET);
    const other = await server(refusing(ErrorCode.STALE, 'never asked'));
    const r = await getFromAny([httpBase(master), other.url], '/v1/least-loaded');
    expect(r.status).toBe(503);
    expect((r.body as { code: string }).code).toBe(ErrorCode.NO_ELIGIBLE_NODE);
    expect(other.seen).toEqual([]);
  });

  it('none answers: one line naming each address and what it said', async () => {
    const dead = `http://127.0.0.1:${await closedPort()}`;
    const stale = await server(refusing(ErrorCode.STALE, 'this standby is 1200 ms behind'));
    const e = await errorOf(getFromAny(`${dead},${stale.url}`, '/v1/state'));
    expect(e.code).toBe(ErrorCode.MASTER_UNREACHABLE);
    expect(e.message).toBe(
      `no master answered (2 tried): ${dead}: unreachable (ECONNREFUSED); ${stale.url}: HTTP 503 STALE: this standby is 1200 ms behind`,
    );
  });
});

describe('writes go to the leader', () => {
  it('a drain passes a standby (503 NOT_LEADER) and a dead address by, and lands on the leader once', async () => {
    const master = await startMaster(cleanup, { ...QUIET, auth: { token: new AdminToken(TOKEN) } });
    const standby = await server(refusing(ErrorCode.NOT_LEADER, 'this master is a standby: drains go to the leader'));
    const dead = `http://127.0.0.1:${await closedPort()}`;
    const masters = httpMasters([standby.url, dead, httpBase(master)]);
    const r = await postToLeader(masters, '/v1/nodes/10.0.0.5%3A8080/drain', { reason: 'kernel' }, { token: TOKEN });
    expect(r.status).toBe(200);
    expect(master.projection.nodes.get('10.0.0.5:8080')?.drained?.reason).toBe('kernel');
    expect(standby.seen).toEqual(['POST /v1/nodes/10.0.0.5%3A8080/drain']);
    // the leader is asked first from now on
    await postToLeader(masters, '/v1/nodes/10.0.0.5%3A8080/undrain', {}, { token: TOKEN });
    expect(standby.seen).toHaveLength(1);
    expect(master.projection.nodes.get('10.0.0.5:8080')).toBeUndefined(); // it never reported: undrained, gone
  });

  it('no leader: NOT_LEADER when every member said so', async () => {
    const a = await server(refusing(ErrorCode.NOT_LEADER, 'a standby'));
    const b = await server(refusing(ErrorCode.NOT_LEADER, 'a standby too'));
    const e = await errorOf(postToLeader([a.url, b.url], '/v1/nodes/x/drain', {}));
    expect(e.code).toBe(ErrorCode.NOT_LEADER);
    expect(e.message).toBe(
      `no master leads (2 tried): ${a.url}: HTTP 503 NOT_LEADER: a standby; ${b.url}: HTTP 503 NOT_LEADER: a standby too`,
    );
  });
});

// ------------------------------------------------------------------ event streams

/** Events 1..n, as a log would hold them (any type will do: the client checks seqs and bytes). */
function events(n: number, ts = 1_700_000_000_000): LedgerEvent[] {
  return Array.from({ length: n }, (_, i): LedgerEvent => ({ seq: i + 1, ts: ts + i, type: 'NodeUndrained', node: `n${i + 1}` }));
}

/**
 * A member that serves `log` on /v1/events: HEAD with the bounds; a GET from `from` to `to`
 * (or, following, to the end); `cutAfter`: the stream breaks off after that seq (the member
 * went away); a follow that reaches the end of the log ends the stream (it stopped).
 */
async function member(log: LedgerEvent[], cutAfter?: number): Promise<{ url: string; seen: string[] }> {
  return server((req, res) => {
    const q = new URL(req.url ?? '/', 'http://x').searchParams;
    const last = log.at(-1)?.seq ?? 0;
    const head = { 'content-type': 'application/x-ndjson', 'x-first-seq': '1', 'x-last-seq': String(last), 'x-state-from': '1' };
    if (req.method === 'HEAD') return void res.writeHead(200, head).end();
    const from = Number(q.get('from') ?? 1);
    const to = q.get('follow') === '1' ? last : Number(q.get('to') ?? last);
    res.writeHead(200, head);
    for (const e of log.filter((x) => x.seq >= from && x.seq <= to)) {
      // once the cut's event is on its way, the connection breaks: no end of the chunked body
      if (e.seq === cutAfter) return void res.write(JSON.stringify(e) + '\n', () => res.socket?.destroy());
      res.write(JSON.stringify(e) + '\n');
    }
    res.end();
  });
}

describe('event sources over a list', () => {
  it('replay reads from the first member that answers', async () => {
    const master = await startMaster(cleanup, QUIET);
    const dead = `http://127.0.0.1:${await closedPort()}`;
    const src = await openHttpSource(`${dead},${httpBase(master)}`);
    cleanup.defer('close source', () => src.close());
    expect(src.describe).toBe(`master ${httpBase(master)}`);
    const got: LedgerEvent[] = [];
    for await (const batch of src.read(1, src.lastSeq)) got.push(...batch);
    expect(got.map((e) => e.type)).toEqual(['MasterStarted']);
  });

  it('a read cut off midway goes on at the next member from the next seq, nothing twice', async () => {
    const log = events(8);
    const a = await member(log, 4);
    const b = await member(log);
    const src = await openHttpSource([a.url, b.url]);
    cleanup.defer('close source', () => src.close());
    const got: LedgerEvent[] = [];
    for await (const batch of src.read(1, 8)) got.push(...batch);
    expect(got).toEqual(log);
    expect(b.seen).toEqual(['GET /v1/events?from=4&to=8']); // seq 4 again, to check it is the same
  });

  it('a follow whose member goes away goes on at another: every event once, then its stop', async () => {
    const log = [...events(7), { seq: 8, ts: 1_700_000_000_100, type: 'MasterStopped', epoch: 1, reason: 'SIGTERM' } as LedgerEvent];
    const a = await member(log, 5);
    const b = await member(log);
    const got: LedgerEvent[] = [];
    const end = await followHttp([a.url, b.url], 1, (e) => void got.push(e));
    expect(end).toEqual({ lastSeq: 8, reason: 'ended' });
    expect(got).toEqual(log);
    expect(b.seen).toEqual(['GET /v1/events?from=5&follow=1']);
  });

  it('a member whose history differs at the seq where the other stopped: EVENT_STREAM_BROKEN, never a splice', async () => {
    const log = events(8);
    const a = await member(log, 5);
    const other = events(8, 1_800_000_000_000); // same seqs, other events: a tail that was never replicated
    const b = await member(other);
    const got: LedgerEvent[] = [];
    const e = await errorOf(followHttp([a.url, b.url], 1, (x) => void got.push(x)));
    expect(e.code).toBe(ErrorCode.EVENT_STREAM_BROKEN);
    expect(e.message).toBe(
      `master ${b.url}: its seq 5 is not the event seen there before the switch to it (the master that went away had events this one never had)`,
    );
    expect(got).toEqual(log.slice(0, 5));
  });

  it('no member can be followed: one line naming each', async () => {
    const dead1 = `http://127.0.0.1:${await closedPort()}`;
    const dead2 = `http://127.0.0.1:${await closedPort()}`;
    const e = await errorOf(followHttp([dead1, dead2], 1, () => {}));
    expect(e.code).toBe(ErrorCode.MASTER_UNREACHABLE);
    expect(e.message).toBe(
      `no master could be followed (2 tried): ${dead1}: unreachable (ECONNREFUSED); ${dead2}: unreachable (ECONNREFUSED)`,
    );
  });
});

describe('QueryClient with a list', () => {
  it('connects to the first master that takes the connection; none: one line naming each', async () => {
    const master = await startMaster(cleanup, QUIET);
    const dead = await closedPort();
    const client = await QueryClient.connect(`127.0.0.1:${dead},127.0.0.1:${slavePort(master)}`);
    cleanup.defer('query client', () => client.close());
    expect(client.target).toEqual({ host: '127.0.0.1', port: slavePort(master) });
    expect(await client.query()).toMatchObject({ ok: false, code: ErrorCode.NO_ELIGIBLE_NODE });
    const dead2 = await closedPort();
    const e = await errorOf(
      QueryClient.connect([
        { host: '127.0.0.1', port: dead },
        { host: '127.0.0.1', port: dead2 },
      ]),
    );
    expect(e.code).toBe(ErrorCode.MASTER_UNREACHABLE);
    expect(e.message).toBe(
      `no master answered (2 tried): 127.0.0.1:${dead}: unreachable (ECONNREFUSED); 127.0.0.1:${dead2}: unreachable (ECONNREFUSED)`,
    );
  });
});
