/**
 * Binary queries (README "Binary queries"): QUERY on the slave port against an in-process
 * master over real TCP and LevelDB. The same answers as GET /v1/least-loaded at the same
 * seq, in request order, never in the log, never in the load table.
 */
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { QueryClient } from '../../src/client/query-client.js';
import { ErrorCode } from '../../src/errors.js';
import type { ProtocolViolated } from '../../src/events.js';
import type { Master } from '../../src/node/master.js';
import { encodeQuery, type QueryFields } from '../../src/protocol/encoder.js';
import type { QueryReply } from '../../src/protocol/messages.js';
import { Cleanup } from '../helpers/cleanup.js';
import { api, connOf, doc, logEvents, slavePort, startMaster, waitForEvent, type TestMasterOptions } from '../helpers/master.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { RawClient, rawFrame } from '../helpers/net.js';
import { waitFor } from '../helpers/wait.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** No pings, no timeouts during a test: the seq moves only when a test makes it. */
const QUIET = { helloInterval: 10_000, deadAfter: 20_000, handshakeTimeout: 20_000 } as const;

const NODES = [
  { addr: 'a:1', load: 30, capacity: 4, attrs: { zone: 'eu-1', port: 8080, canary: false } },
  { addr: 'b:1', load: 20, capacity: 1, attrs: { zone: 'eu-1', port: 8081, canary: true } },
  { addr: 'c:1', load: 10, capacity: 1, attrs: { zone: 'us-1', port: 8080, canary: false } },
  { addr: 'd:1', load: 50, capacity: 10, attrs: { zone: 'us-1', port: 8082, canary: true } },
];

async function masterWithNodes(opts: TestMasterOptions = {}): Promise<Master> {
  const master = await startMaster(cleanup, { ...QUIET, ...opts });
  for (const n of NODES) {
    const c = await RawClient.connect(slavePort(master), { answerHello: true });
    cleanup.defer(`slave ${n.addr}`, () => c.destroy());
    c.push(n);
  }
  await waitFor(() => NODES.every((n) => master.projection.nodes.get(n.addr)?.state === 'PUSH_LOAD_INFO'), { what: 'every node eligible' });
  return master;
}

async function client(master: Master): Promise<QueryClient> {
  const c = await QueryClient.connect({ host: '127.0.0.1', port: slavePort(master) });
  cleanup.defer('query client', () => c.close());
  return c;
}

const ok = (r: QueryReply): Extract<QueryReply, { ok: true }> => {
  if (!r.ok) throw new Error(`expected an answer, got ${r.code}: ${r.error}`);
  return r;
};

describe('binary QUERY', () => {
  it('gives the node GET /v1/least-loaded gives, for each policy and filter, at the same seq', async () => {
    const master = await masterWithNodes();
    const c = await client(master);
    await c.query(); // answered once its connection is accepted: its SlaveConnected is recorded
    await master.recorder.flush(); // … and committed, so the seq stays put below
    const cases: Array<{ policy?: string; where?: Record<string, string | number | boolean>; http: string }> = [
      { http: '' },
      { policy: 'least-loaded', http: '?policy=least-loaded' },
      { policy: 'capacity', http: '?policy=capacity' },
      { where: { zone: 'eu-1' }, http: '?zone=eu-1' },
      { policy: 'capacity', where: { zone: 'us-1' }, http: '?policy=capacity&zone=us-1' },
      // typed filters compare as text, like the query string
      { where: { port: 8080, canary: false }, http: '?port=8080&canary=false' },
      { where: { port: '8080' }, http: '?port=8080' },
      { where: { canary: true }, http: '?canary=true' },
    ];
    for (const k of cases) {
      const q: QueryFields = {};
      if (k.policy) q.policy = k.policy;
      if (k.where) q.where = k.where;
      const reply = ok(await c.query(q));
      const http = await api(master, `/v1/least-loaded${k.http}`);
      expect(http.status, k.http).toBe(200);
      expect(reply.node.id, JSON.stringify(k)).toBe(http.body.id);
      expect(reply.node).toEqual({ id: http.body.id, load: http.body.load, capacity: http.body.capacity, attrs: http.body.attrs });
      expect(reply.seq).toBe((await api(master, '/v1/state')).body.seq);
    }
    // p2c draws at random: with one node matching it must be that one, and always an eligible match
    expect(ok(await c.query({ policy: 'p2c', where: { zone: 'us-1', canary: true } })).node.id).toBe('d:1');
    for (let i = 0; i < 50; i++) expect(['c:1', 'd:1']).toContain(ok(await c.query({ policy: 'p2c', where: { zone: 'us-1' } })).node.id);
  });

  it('answers pipelined queries in request order with their ids, and never records them nor changes the table', async () => {
    const master = await masterWithNodes({ maxFrameRate: 0 });
    const before = doc(master);
    const seqBefore = master.projection.seq;
    const raw = await RawClient.connect(slavePort(master));
    cleanup.defer('raw', () => raw.destroy());
    const zones = ['eu-1', 'us-1', 'nowhere'];
    const n = 300;
    raw.send(Buffer.concat(Array.from({ length: n }, (_, i) => encodeQuery({ id: 1000 + i, where: { zone: zones[i % 3]! } }))));
    await waitFor(() => raw.count('QUERY_REPLY') === n, { what: `${n} replies`, describe: () => raw.frames.length });
    raw.frames.forEach((f, i) => {
      if (f.type !== 'QUERY_REPLY') throw new Error(`frame ${i} is ${f.type}`);
      expect(f.reply.id).toBe(1000 + i);
      if (i % 3 === 2)
        expect(f.reply).toMatchObject({ ok: false, code: ErrorCode.NO_ELIGIBLE_NODE, error: 'no eligible node matches zone=nowhere' });
      else expect(f.reply).toMatchObject({ ok: true, node: { id: i % 3 === 0 ? 'b:1' : 'c:1' } });
    });
    const conn = await connOf(master, raw);
    // Its connection is in the log (SlaveConnected), its queries are not; the nodes are as they were.
    await master.recorder.flush();
    const events = (await logEvents(master)).filter((e) => e.seq > seqBefore);
    expect(events.map((e) => e.type)).toEqual(['SlaveConnected']);
    expect(events[0]).toMatchObject({ conn });
    expect(doc(master).nodes).toEqual(before.nodes);
    expect(doc(master).pending.map((p) => p.conn)).toEqual([conn]); // never bound to a node
  });

  it('answers NO_ELIGIBLE_NODE when nothing matches, or nothing is up', async () => {
    const master = await startMaster(cleanup, QUIET);
    const c = await client(master);
    expect(await c.query()).toEqual({
      id: 0,
      ok: false,
      code: 'NO_ELIGIBLE_NODE',
      error: 'no eligible node (none in state PUSH_LOAD_INFO)',
    });
    const s = await RawClient.connect(slavePort(master));
    cleanup.defer('slave', () => s.destroy());
    s.push({ addr: 'x:1', load: 1, attrs: { zone: 'eu-1' } });
    await waitFor(() => master.projection.nodes.get('x:1'), { what: 'x:1' });
    expect(await c.query({ where: { zone: 'us-1' } })).toMatchObject({ ok: false, code: 'NO_ELIGIBLE_NODE' });
    expect(ok(await c.query({ where: { zone: 'eu-1' } })).node.id).toBe('x:1');
  });

  it('answers an unknown policy or a bad argument with BAD_ARGUMENT and keeps the connection', async () => {
    const master = await masterWithNodes();
    const c = await client(master);
    expect(await c.query({ policy: 'round-robin' })).toEqual({
      id: 0,
      ok: false,
      code: 'BAD_ARGUMENT',
      error: 'policy must be one of least-loaded, p2c, capacity (got "round-robin")',
    });
    const raw = await RawClient.connect(slavePort(master));
    cleanup.defer('raw', () => raw.destroy());
    raw.send(rawFrame(4, Buffer.from([0x82, 0xa2, 0x69, 0x64, 0x05, 0xa4, 0x77, 0x68, 0x65, 0x72, 0xc0]))); // {id: 5, wher: nil}
    raw.send(encodeQuery({ id: 6 }));
    await waitFor(() => raw.count('QUERY_REPLY') === 2, { what: 'two replies' });
    expect(raw.frames[0]).toMatchObject({ type: 'QUERY_REPLY', reply: { id: 5, ok: false, code: 'BAD_ARGUMENT' } });
    expect(raw.frames[1]).toMatchObject({ type: 'QUERY_REPLY', reply: { id: 6, ok: true, node: { id: 'c:1' } } });
    expect(ok(await c.query()).node.id).toBe('c:1');
    expect(raw.closed).toBe(false);
  });

  it('closes a connection that sends a malformed QUERY and records the violation; the table is unchanged', async () => {
    const master = await masterWithNodes();
    const before = doc(master).nodes;
    const raw = await RawClient.connect(slavePort(master));
    cleanup.defer('raw', () => raw.destroy());
    const conn = await connOf(master, raw);
    raw.send(encodeQuery({ id: 1 }));
    raw.send(rawFrame(4, Buffer.from([0x81, 0xa2, 0x69, 0x64]))); // {id: … cut short
    raw.send(encodeQuery({ id: 2 })); // never read
    await raw.waitClosed();
    const v = await waitForEvent<ProtocolViolated>(master, (e) => e.type === 'ProtocolViolated' && e.conn === conn, 'the violation');
    expect(v).toMatchObject({ code: ErrorCode.QUERY_MALFORMED, reason: 'MessagePack data ends early' });
    expect(raw.frames.map((f) => f.type === 'QUERY_REPLY' && f.reply.id)).toEqual([1]);
    expect(doc(master).nodes).toEqual(before);
  });

  it('keeps a client that keeps querying, and closes one that goes quiet after dead-after', async () => {
    // The master's time is a manual clock: a busy machine cannot stretch a 40 ms pause past
    // dead-after, and each query is read (its reply received) before time moves on.
    const clock = new ManualClock();
    const master = await startMaster(cleanup, { helloInterval: 50, deadAfter: 200, scheduler: clock });
    const raw = await RawClient.connect(slavePort(master)); // does not answer HELLO
    cleanup.defer('raw', () => raw.destroy());
    const conn = await connOf(master, raw);
    for (let t = 0, n = 1; t < 700; t += 40, n++) {
      raw.send(encodeQuery({ id: n }));
      await waitFor(() => raw.count('QUERY_REPLY') === n, { what: `the reply to query ${n}` });
      await clock.advance(40);
    }
    expect(raw.closed).toBe(false);
    expect((await logEvents(master)).filter((e) => e.type === 'SlaveTimedOut')).toEqual([]);
    await clock.advance(200 + 50); // dead-after, and a liveness tick
    await raw.waitClosed(10_000, 'the master to time the quiet query client out');
    expect(await waitForEvent(master, (e) => e.type === 'SlaveTimedOut' && e.conn === conn, 'its timeout')).toBeTruthy();
    // The project's client answers the master's HELLO: idle, it stays.
    const c = await client(master);
    const seq0 = master.log.lastSeq;
    for (let t = 0; t < 500; t += 25) {
      await clock.advance(25);
      // every HELLO the master sent answered before its time moves on
      await waitFor(
        async () => {
          const events = (await logEvents(master)).filter((e) => e.seq > seq0);
          return events.filter((e) => e.type === 'HelloAckReceived').length >= events.filter((e) => e.type === 'HelloSent').length;
        },
        { what: 'the query client to answer HELLO' },
      );
    }
    const after = (await logEvents(master)).filter((e) => e.seq > seq0);
    expect(after.filter((e) => e.type === 'HelloSent').length, 'the master HELLOed the idle client').toBeGreaterThan(0);
    expect(after.filter((e) => e.type === 'SlaveTimedOut')).toEqual([]);
    expect(await c.query()).toMatchObject({ ok: false, code: 'NO_ELIGIBLE_NODE' });
  });

  it('may push and query on one connection', async () => {
    const master = await startMaster(cleanup, QUIET);
    const raw = await RawClient.connect(slavePort(master));
    cleanup.defer('raw', () => raw.destroy());
    raw.push({ addr: 'self:1', load: 3 });
    await waitFor(() => master.projection.nodes.get('self:1'), { what: 'self:1' });
    raw.send(encodeQuery({ id: 9 }));
    await waitFor(() => raw.count('QUERY_REPLY') === 1, { what: 'the reply' });
    expect(raw.frames.at(-1)).toMatchObject({ reply: { id: 9, ok: true, node: { id: 'self:1', load: 3 } } });
  });

  it('cuts off a client that never reads its replies (WRITE_BACKLOG)', async () => {
    const master = await startMaster(cleanup, { ...QUIET, maxFrameRate: 0 });
    // A node with large attributes: each reply is ~7 KB, so the kernel's buffers fill fast.
    const s = await RawClient.connect(slavePort(master));
    cleanup.defer('slave', () => s.destroy());
    s.push({ addr: 'big:1', load: 1, attrs: Object.fromEntries(Array.from({ length: 32 }, (_, i) => [`k${i}`, 'v'.repeat(200)])) });
    await waitFor(() => master.projection.nodes.get('big:1'), { what: 'big:1' });
    const socket = connect({ host: '127.0.0.1', port: slavePort(master), noDelay: true });
    cleanup.defer('deaf', () => socket.destroy());
    socket.pause();
    socket.on('error', () => {});
    await new Promise((r) => socket.once('connect', r));
    const closed = new Promise((r) => socket.once('close', r));
    const burst = Buffer.concat(Array.from({ length: 500 }, () => encodeQuery()));
    const pump = setInterval(() => socket.write(burst), 5);
    cleanup.defer('pump', () => clearInterval(pump));
    await closed;
    clearInterval(pump);
    const v = await waitForEvent<ProtocolViolated>(master, (e) => e.type === 'ProtocolViolated', 'the violation', 5000);
    expect(v.code).toBe(ErrorCode.WRITE_BACKLOG);
    expect(master.projection.nodes.get('big:1')?.state).toBe('PUSH_LOAD_INFO');
  });
});
