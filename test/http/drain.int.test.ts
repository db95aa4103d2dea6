/**
 * POST /v1/nodes/{id}/drain and /undrain against an in-process master with a real LevelDB
 * log: admin token, answers after the event is committed, idempotent, URL-encoded ids,
 * strict bodies, 503 MASTER_DOWN while the log cannot be written, and a drain that survives
 * a master restart.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { verifyLog } from '../../replay/verify.js';
import { ErrorCode } from '../../src/errors.js';
import { AdminToken } from '../../src/http/auth.js';
import type { Master } from '../../src/node/master.js';
import { Cleanup } from '../helpers/cleanup.js';
import { faultyStorage } from '../helpers/faulty-storage.js';
import { bearer, request, type RawResponse } from '../helpers/http.js';
import { api, connOf, httpBase, logEvents, slavePort, startMaster, type TestMasterOptions } from '../helpers/master.js';
import { RawClient } from '../helpers/net.js';
import { CONTROL_SAMPLES } from '../protocol/helpers.js';
import { waitFor } from '../helpers/wait.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const SECRET = 'dr41n-t0ken.for+tests~xyz';
const SLOW = { helloInterval: 10_000, deadAfter: 20_000 } as const;

function tokenMaster(opts: TestMasterOptions = {}): Promise<Master> {
  return startMaster(cleanup, { ...SLOW, auth: { token: new AdminToken(SECRET) }, ...opts });
}

function post(
  master: Master,
  path: string,
  body?: string | Buffer,
  headers: Record<string, string> = bearer(SECRET),
): Promise<RawResponse> {
  return request(httpBase(master) + path, {
    method: 'POST',
    headers: { ...headers, ...(body !== undefined && { 'content-type': 'application/json' }) },
    ...(body !== undefined && { body }),
  });
}

function get(master: Master, path: string): Promise<RawResponse> {
  return request(httpBase(master) + path, { headers: bearer(SECRET) });
}

async function slave(master: Master, addr: string, load: number): Promise<RawClient> {
  const cl = await RawClient.connect(slavePort(master), { answerHello: true });
  cleanup.defer(`client ${addr}`, () => cl.destroy());
  const conn = await connOf(master, cl);
  cl.push({ addr, load });
  await waitFor(() => master.projection.nodes.get(addr)?.conn === conn && master.projection.nodes.get(addr)?.load === load, {
    what: `${addr} to push`,
  });
  return cl;
}

const drains = async (master: Master) => (await logEvents(master)).filter((e) => e.type === 'NodeDrained' || e.type === 'NodeUndrained');

describe('POST /v1/nodes/{id}/drain and /undrain', () => {
  it('drain: 200 with the node document once NodeDrained is in the log; the node stays connected and reporting but is never answered; undrain brings it back', async () => {
    const master = await tokenMaster();
    const a = await slave(master, 'a:1', 1);
    await slave(master, 'b:1', 20);
    expect((await get(master, '/v1/least-loaded')).json.id).toBe('a:1');

    const r = await post(master, '/v1/nodes/a:1/drain', JSON.stringify({ reason: 'kernel upgrade' }));
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ id: 'a:1', state: 'PUSH_LOAD_INFO', load: 1, drained: true, drainReason: 'kernel upgrade' });
    // The answer went out after the commit: the event is in LevelDB, at the seq the header names.
    const logged = await drains(master);
    expect(logged).toEqual([
      expect.objectContaining({ type: 'NodeDrained', node: 'a:1', reason: 'kernel upgrade', seq: Number(r.headers['x-event-seq']) }),
    ]);
    expect(r.json.drainedSince).toBe(logged[0]!.ts);

    expect((await get(master, '/v1/least-loaded')).json.id).toBe('b:1');
    for (const policy of ['least-loaded', 'p2c', 'capacity']) {
      for (let i = 0; i < 10; i++) expect((await get(master, `/v1/least-loaded?policy=${policy}`)).json.id).toBe('b:1');
    }
    // still connected, still reporting: the load moves, it is still not answered
    a.push({ addr: 'a:1', load: 0 });
    await waitFor(() => master.projection.nodes.get('a:1')?.load === 0, { what: 'the drained node to report' });
    const nodes = (await get(master, '/v1/nodes')).json.nodes;
    expect(nodes.find((n: { id: string }) => n.id === 'a:1')).toMatchObject({ state: 'PUSH_LOAD_INFO', load: 0, drained: true });
    expect(nodes.find((n: { id: string }) => n.id === 'b:1').drained).toBeUndefined();
    expect((await get(master, '/v1/state')).json.nodes[0]).toMatchObject({ id: 'a:1', drained: true, drainReason: 'kernel upgrade' });
    expect(a.closedAt).toBeUndefined();
    expect((await get(master, '/v1/least-loaded')).json.id).toBe('b:1');

    const u = await post(master, '/v1/nodes/a:1/undrain');
    expect(u.status).toBe(200);
    expect(u.json).toMatchObject({ id: 'a:1', state: 'PUSH_LOAD_INFO', load: 0 });
    expect(u.json.drained).toBeUndefined();
    expect((await drains(master)).map((e) => e.type)).toEqual(['NodeDrained', 'NodeUndrained']);
    expect((await get(master, '/v1/least-loaded')).json.id).toBe('a:1');
  });

  it('idempotent: a drain of a drained node (or an undrain of an undrained one) answers 200 and records nothing, even sent at once', async () => {
    const master = await tokenMaster();
    await slave(master, 'a:1', 1);
    const [r1, r2, r3] = await Promise.all([
      post(master, '/v1/nodes/a:1/drain'),
      post(master, '/v1/nodes/a:1/drain'),
      post(master, '/v1/nodes/a:1/drain'),
    ]);
    for (const r of [r1, r2, r3]) expect(r).toMatchObject({ status: 200, json: { drained: true } });
    expect([r1, r2, r3].filter((r) => r.headers['x-event-seq'] !== undefined)).toHaveLength(1);
    const seq = master.log.lastSeq;
    const again = await post(master, '/v1/nodes/a:1/drain', '{"reason":"another"}');
    expect(again.status).toBe(200);
    expect(again.headers['x-event-seq']).toBeUndefined();
    expect(again.json.drainReason).toBeUndefined(); // the first drain stands
    expect(master.log.lastSeq).toBe(seq);
    expect(await drains(master)).toHaveLength(1);

    expect((await post(master, '/v1/nodes/a:1/undrain')).status).toBe(200);
    const un = await post(master, '/v1/nodes/a:1/undrain');
    expect(un.status).toBe(200);
    expect(un.headers['x-event-seq']).toBeUndefined();
    expect((await drains(master)).map((e) => e.type)).toEqual(['NodeDrained', 'NodeUndrained']);
  });

  it('a node not in the table: drained ahead (an entry, DOWN, never reported), and not eligible when it connects; undrain of an unknown node is 404', async () => {
    const master = await tokenMaster();
    await slave(master, 'b:1', 50);
    const r = await post(master, '/v1/nodes/c:1/drain', '{"reason":"not racked yet"}');
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({
      id: 'c:1',
      state: 'DOWN',
      reason: 'never reported',
      lastSeen: 0,
      drained: true,
      drainReason: 'not racked yet',
    });
    await slave(master, 'c:1', 0);
    expect((await get(master, '/v1/least-loaded')).json.id).toBe('b:1');

    const nf = await post(master, '/v1/nodes/zz:1/undrain');
    expect(nf).toMatchObject({ status: 404, json: { code: ErrorCode.NOT_FOUND } });
    expect((await drains(master)).map((e) => e.type)).toEqual(['NodeDrained']);

    // drained ahead and undrained before it ever reported: the entry goes
    expect((await post(master, '/v1/nodes/d:1/drain')).status).toBe(200);
    expect((await post(master, '/v1/nodes/d:1/undrain')).status).toBe(200);
    expect(master.projection.nodes.has('d:1')).toBe(false);
  });

  it('node ids URL-encoded in the path: host:port, [::1]:8080, a bare IPv6; a path that is no node id is 400', async () => {
    const master = await tokenMaster();
    await slave(master, '10.0.0.5:8080', 3);
    await slave(master, '[::1]:8080', 4);
    expect((await post(master, '/v1/nodes/10.0.0.5%3A8080/drain')).json).toMatchObject({ id: '10.0.0.5:8080', drained: true });
    expect((await post(master, `/v1/nodes/${encodeURIComponent('[::1]:8080')}/drain`)).json).toMatchObject({
      id: '[::1]:8080',
      drained: true,
    });
    expect((await post(master, '/v1/nodes/[::1]:8080/undrain')).json).toMatchObject({ id: '[::1]:8080', state: 'PUSH_LOAD_INFO' });
    expect((await post(master, '/v1/nodes/fd00%3A%3A7/drain')).json).toMatchObject({ id: 'fd00::7', drained: true });
    expect((await drains(master)).map((e) => [e.type, (e as { node: string }).node])).toEqual([
      ['NodeDrained', '10.0.0.5:8080'],
      ['NodeDrained', '[::1]:8080'],
      ['NodeUndrained', '[::1]:8080'],
      ['NodeDrained', 'fd00::7'],
    ]);
    for (const bad of ['%ZZ', 'a%20b', 'a:99999', encodeURIComponent('x'.repeat(300)), 'a%2Fb']) {
      const r = await post(master, `/v1/nodes/${bad}/drain`);
      expect({ bad, status: r.status, code: r.json?.code }).toEqual({ bad, status: 400, code: ErrorCode.BAD_ARGUMENT });
    }
    expect(await post(master, '/v1/nodes/a:1/reboot')).toMatchObject({ status: 404 });
    expect(await post(master, '/v1/nodes//drain')).toMatchObject({ status: 404 });
  });

  it('a node id or reason holding a control or bidi character is 400 BAD_ARGUMENT, names the character and records nothing', async () => {
    const master = await tokenMaster();
    await slave(master, '10.0.0.5', 1);
    for (const c of CONTROL_SAMPLES.map(([, ch]) => ch)) {
      // 10.0.0.66 followed by backspaces reads as 10.0.0.5 on a terminal
      for (const id of [`10.0.0.66${c}`, `10.0.0.66${'\b'.repeat(9)}10.0.0.5`.replace('\b', c)]) {
        const r = await post(master, `/v1/nodes/${encodeURIComponent(id)}/drain`);
        expect({ id, status: r.status, code: r.json?.code }).toEqual({ id, status: 400, code: ErrorCode.BAD_ARGUMENT });
        expect(r.json?.error).toMatch(/^the node id holds the control character U\+[0-9A-F]{4} at index \d+/);
      }
      const r = await post(master, '/v1/nodes/10.0.0.5/drain', JSON.stringify({ reason: `deploy${c}` }));
      expect({ status: r.status, code: r.json?.code, error: r.json?.error }).toMatchObject({
        status: 400,
        code: ErrorCode.BAD_ARGUMENT,
        error: expect.stringContaining('"reason" holds the control character'),
      });
    }
    expect(await drains(master)).toEqual([]);
    expect(master.projection.nodes.size).toBe(1);
  });

  it('bodies: empty or {"reason"}; anything else is 400 BAD_ARGUMENT and records nothing', async () => {
    const master = await tokenMaster();
    await slave(master, 'a:1', 1);
    const bad = [
      'not json',
      '[1]',
      '"x"',
      '{"why":"typo"}',
      '{"reason":5}',
      JSON.stringify({ reason: 'é'.repeat(129) }), // 258 bytes
      JSON.stringify({ reason: 'two\nlines' }),
      JSON.stringify({ reason: 'x'.repeat(3000) }),
    ];
    for (const body of bad) {
      const r = await post(master, '/v1/nodes/a:1/drain', body);
      expect({ body: body.slice(0, 30), status: r.status, code: r.json?.code }).toEqual({
        body: body.slice(0, 30),
        status: 400,
        code: ErrorCode.BAD_ARGUMENT,
      });
    }
    // invalid UTF-8 (a lone 0xFF, a truncated sequence) is refused, not recorded with U+FFFD in the reason
    for (const raw of [Buffer.from('{"reason":"\xff\xfe"}', 'latin1'), Buffer.from('{"reason":"ok \xe2\x82"}', 'latin1')]) {
      const r = await post(master, '/v1/nodes/a:1/drain', raw);
      expect({ status: r.status, code: r.json?.code, error: r.json?.error }).toEqual({
        status: 400,
        code: ErrorCode.BAD_ARGUMENT,
        error: 'the body is not valid UTF-8',
      });
    }
    expect((await post(master, '/v1/nodes/a:1/undrain', '{"reason":"x"}')).status).toBe(400);
    expect(await drains(master)).toEqual([]);
    expect((await post(master, '/v1/nodes/a:1/drain', JSON.stringify({ reason: 'é'.repeat(128) }))).status).toBe(200);
    expect((await post(master, '/v1/nodes/a:1/undrain', '{}')).status).toBe(200);
  });

  it('admin: no token or a wrong one → 401; a master without --admin-token-file → 403 ADMIN_DISABLED; GET → 405', async () => {
    const master = await tokenMaster({ auth: { token: new AdminToken(SECRET), openReads: true } });
    await slave(master, 'a:1', 1);
    expect(await post(master, '/v1/nodes/a:1/drain', undefined, {})).toMatchObject({ status: 401, json: { code: ErrorCode.UNAUTHORIZED } });
    expect(await post(master, '/v1/nodes/a:1/drain', undefined, bearer('W' + SECRET.slice(1)))).toMatchObject({ status: 401 });
    // a bad id behind a missing token: still 401 (the route is admin whatever its id)
    expect(await post(master, '/v1/nodes/%ZZ/drain', undefined, {})).toMatchObject({ status: 401 });
    const g = await get(master, '/v1/nodes/a:1/drain');
    expect(g).toMatchObject({ status: 405, json: { code: 'METHOD_NOT_ALLOWED' } });
    expect(g.headers.allow).toBe('POST');
    expect(await drains(master)).toEqual([]);

    const open = await startMaster(cleanup, SLOW);
    for (const path of ['/v1/nodes/a:1/drain', '/v1/nodes/a:1/undrain']) {
      const r = await post(open, path);
      expect(r).toMatchObject({ status: 403, json: { code: ErrorCode.ADMIN_DISABLED } });
      expect(r.json.error).toContain('--admin-token-file');
    }
  });

  it('while the log cannot be written: 503 MASTER_DOWN, nothing takes effect; after recovery it works', async () => {
    const { disk, openLog } = faultyStorage();
    const master = await tokenMaster({ openLog, logRetryInterval: 50, logRetryFor: 0 });
    await slave(master, 'a:1', 1);
    disk.full = true;
    // the first drain is the write that fails: it is not answered 200
    const first = await post(master, '/v1/nodes/a:1/drain');
    expect(first).toMatchObject({ status: 503, json: { code: ErrorCode.MASTER_DOWN } });
    await waitFor(() => master.degraded, { what: 'the master to be degraded' });
    const r = await post(master, '/v1/nodes/a:1/drain');
    expect(r).toMatchObject({ status: 503, json: { code: ErrorCode.MASTER_DOWN } });
    disk.full = false;
    await waitFor(() => !master.degraded, { what: 'recovery', timeout: 5000 });
    expect(await drains(master)).toEqual([]);
    const ok = await post(master, '/v1/nodes/a:1/drain');
    expect(ok).toMatchObject({ status: 200, json: { drained: true } });
  });

  it('survives a master restart: stopped and started on the same log, the node is still drained after it reconnects; verify passes', async () => {
    const data = await cleanup.tempDir('loadledger-drain-');
    const m1 = await tokenMaster({ data });
    const a = await slave(m1, 'a:1', 1);
    await slave(m1, 'b:1', 20);
    expect((await post(m1, '/v1/nodes/a:1/drain', '{"reason":"maintenance"}')).status).toBe(200);
    a.destroy();
    await m1.stop('test restart');

    const m2 = await tokenMaster({ data });
    expect(m2.projection.nodes.get('a:1')).toMatchObject({ state: 'DOWN', drained: { reason: 'maintenance' } });
    await slave(m2, 'a:1', 0);
    await slave(m2, 'b:1', 20);
    expect((await api(m2, '/v1/nodes')).status).toBe(401); // reads need the token on this master
    const doc = (await get(m2, '/v1/nodes')).json.nodes.find((n: { id: string }) => n.id === 'a:1');
    expect(doc).toMatchObject({ state: 'PUSH_LOAD_INFO', load: 0, drained: true, drainReason: 'maintenance' });
    expect((await get(m2, '/v1/least-loaded')).json.id).toBe('b:1');
    await m2.stop('test done');
    const v = await verifyLog(data);
    expect(v.problems).toEqual([]);
    expect(v.ok).toBe(true);
  });
});
