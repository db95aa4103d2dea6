/**
 * The master over real TCP on 127.0.0.1 (port 0) and a real LevelDB log in a temp dir:
 * raw sockets speak the wire protocol byte for byte, the log is read back from LevelDB,
 * the HTTP API is queried with fetch. Intervals are short (HELLO after 50 ms of silence,
 * DOWN after 200 ms) unless a test needs the timer out of the way.
 */
import { request, Agent } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import type { LedgerEvent } from '../../src/events.js';
import { Master } from '../../src/node/master.js';
import { MAX_INFLIGHT_EVENTS } from '../../src/master/connection.js';
import { stateDocument } from '../../src/projection/document.js';
import { foldEvents } from '../../src/projection/evolve.js';
import { createProjection } from '../../src/projection/state.js';
import { HELLO_FRAME, encodePush, type PushFields } from '../../src/protocol/index.js';
import { EventLog } from '../../storage/event-log.js';
import { BAD_PAYLOADS } from '../protocol/helpers.js';
import { Cleanup } from '../helpers/cleanup.js';
import {
  FAST,
  api,
  pushedClient,
  rawClient,
  collectEvents,
  connOf,
  doc,
  logEvents,
  nodeState,
  slavePort,
  startMaster,
  waitForEvent,
  httpBase,
} from '../helpers/master.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { RawClient, closedPort, rawFrame } from '../helpers/net.js';
import { waitFor, withTimeout } from '../helpers/wait.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** Timers out of the way: nothing is pinged or timed out during the test. */
const SLOW = { helloInterval: 10_000, deadAfter: 20_000 } as const;

const client = (master: Master, c: Cleanup = cleanup, opts: { answerHello?: boolean } = {}): Promise<RawClient> =>
  rawClient(c, master, opts);

/** A client whose push is committed: returns it with its conn number. */
const pushed = (master: Master, fields: PushFields & { addr: string }, c: Cleanup = cleanup, opts: { answerHello?: boolean } = {}) =>
  pushedClient(c, master, fields, opts);

const ofConn = (conn: number) => (e: LedgerEvent) => 'conn' in e && e.conn === conn;

// ---------------------------------------------------------------- HELLO

describe('HELLO', () => {
  it('is answered with HELLO_ACK only after its HelloReceived event is in the log', async () => {
    const master = await startMaster(cleanup, SLOW);
    const committed = collectEvents(cleanup, master);
    const cl = await client(master);
    const conn = await connOf(master, cl);

    // What was committed at the instant the HELLO_ACK bytes reached the client.
    let atAck: { committed: LedgerEvent[]; logLastSeq: number } | undefined;
    cl.socket.on('data', () => {
      if (!atAck && cl.count('HELLO_ACK') > 0) atAck = { committed: [...committed], logLastSeq: master.log.lastSeq };
    });
    cl.hello();
    await waitFor(() => atAck, { what: 'the HELLO_ACK' });

    const received = atAck!.committed.find((e) => e.type === 'HelloReceived' && e.conn === conn);
    const sent = atAck!.committed.find((e) => e.type === 'HelloAckSent' && e.conn === conn);
    expect(received, 'HelloReceived committed before the HELLO_ACK went out').toBeDefined();
    expect(sent, 'HelloAckSent committed before the HELLO_ACK went out').toBeDefined();
    expect(received!.seq).toBeLessThan(sent!.seq);
    expect(sent!.seq).toBeLessThanOrEqual(atAck!.logLastSeq);
    const inLog = await logEvents(master);
    expect(inLog.find((e) => e.seq === received!.seq)).toEqual(received);
    expect(cl.count('HELLO_ACK')).toBe(1);
  });

  it('with a payload: the payload is ignored, the HELLO answered, the next frame read normally', async () => {
    const master = await startMaster(cleanup, SLOW);
    const cl = await client(master);
    cl.send(Buffer.concat([rawFrame(1, Buffer.from([0x00, 0x00, 0x00, 0x07, 0xff])), encodePush({ load: 3, addr: 'after-hello:1' })]));
    await waitFor(() => cl.count('HELLO_ACK') === 1 && nodeState(master, 'after-hello:1') === 'PUSH_LOAD_INFO', {
      what: 'HELLO_ACK and the push',
    });
    expect(master.projection.nodes.get('after-hello:1')?.load).toBe(3);
    expect(cl.closed).toBe(false);
  });

  it('the master HELLOs a quiet slave; one that answers HELLO_ACK stays alive past dead-after', async () => {
    // The master's time on a manual clock: every HELLO it sends is answered, and the answer
    // read, before its time moves on (on the wall clock a busy machine could read the
    // HELLO_ACK after the liveness tick that needed it).
    const clock = new ManualClock();
    const master = await startMaster(cleanup, { ...FAST, scheduler: clock });
    const { cl, conn } = await pushed(master, { load: 1, addr: 'acker:1' }, cleanup, { answerHello: true });
    for (let t = 0; t <= 2 * FAST.deadAfter; t += 10) {
      await clock.advance(10);
      await waitFor(
        async () => {
          const events = (await logEvents(master)).filter(ofConn(conn));
          return events.filter((e) => e.type === 'HelloAckReceived').length >= events.filter((e) => e.type === 'HelloSent').length;
        },
        { what: 'every HELLO answered' },
      );
    }
    expect(cl.count('HELLO')).toBeGreaterThanOrEqual(3);
    expect(cl.closed).toBe(false);
    expect(nodeState(master, 'acker:1')).toBe('PUSH_LOAD_INFO');
    const events = (await logEvents(master)).filter(ofConn(conn));
    expect(events.filter((e) => e.type === 'HelloSent').length).toBeGreaterThanOrEqual(3);
    expect(events.filter((e) => e.type === 'HelloAckReceived').length).toBeGreaterThanOrEqual(2);
    expect(events.some((e) => e.type === 'SlaveTimedOut')).toBe(false);
  });
});

// ---------------------------------------------------------------- bad input

const TOO_LARGE = {
  name: 'PUSH_LOAD_INFO header announcing 8193 bytes',
  bytes: rawFrame(0, Buffer.alloc(8193)),
  code: ErrorCode.FRAME_TOO_LARGE,
};
const BAD_FRAMES = [
  TOO_LARGE,
  {
    name: 'PUSH_LOAD_INFO header announcing 65535 bytes, header only',
    bytes: Buffer.from([0x00, 0x00, 0xff, 0xff]),
    code: ErrorCode.FRAME_TOO_LARGE,
  },
  ...BAD_PAYLOADS.map((b) => ({ name: b.name, bytes: rawFrame(0, b.payload), code: b.code })),
];

describe('a malformed push (PROTOCOL.md "Errors")', () => {
  const shared = new Cleanup();
  let master: Master;
  let bystander: RawClient;
  afterAll(() => shared.run());
  beforeAll(async () => {
    master = await startMaster(shared, SLOW);
    ({ cl: bystander } = await pushed(master, { load: 5, addr: 'bystander:1', attrs: { zone: 'eu-1' } }, shared));
  });

  it.each(BAD_FRAMES)('$name → ProtocolViolated $code, only that connection closed, load table unchanged', async ({ bytes, code }) => {
    const victim = await client(master);
    const conn = await connOf(master, victim);
    const nodesBefore = doc(master).nodes;
    const acksBefore = bystander.count('HELLO_ACK');

    victim.send(bytes);
    await victim.waitClosed();
    const violation = await waitForEvent(
      master,
      (e) => e.type === 'ProtocolViolated' && e.conn === conn,
      `ProtocolViolated for conn ${conn}`,
    );
    expect(violation).toMatchObject({ type: 'ProtocolViolated', conn, code });
    expect(typeof (violation as { reason: unknown }).reason).toBe('string');

    expect(doc(master).nodes).toEqual(nodesBefore);
    expect(doc(master).pending.some((p) => p.conn === conn)).toBe(false);
    // The other connection is unaffected: still open, still answered.
    expect(bystander.closed).toBe(false);
    bystander.hello();
    await waitFor(() => bystander.count('HELLO_ACK') === acksBefore + 1, { what: 'the bystander to be answered' });
    expect(nodeState(master, 'bystander:1')).toBe('PUSH_LOAD_INFO');
    // Exactly one event for the end of that connection.
    const ends = (await logEvents(master)).filter(
      (e) => ofConn(conn)(e) && ['ProtocolViolated', 'SlaveDisconnected', 'SlaveTimedOut'].includes(e.type),
    );
    expect(ends.map((e) => e.type)).toEqual(['ProtocolViolated']);
  });

  it.each([
    BAD_FRAMES[0]!,
    BAD_FRAMES.find((b) => b.code === ErrorCode.PUSH_BAD_LOAD)!,
    BAD_FRAMES.find((b) => b.code === ErrorCode.PUSH_NOT_MAP)!,
  ])('after a good push, $name: that node goes DOWN with the violation, its last load and attrs kept', async ({ bytes, code }) => {
    const addr = `victim-${code.toLowerCase()}:1`;
    const { cl: victim, conn } = await pushed(master, { load: 7, addr, capacity: 2, attrs: { zone: 'eu-9' } });
    const bystanderBefore = doc(master).nodes.find((n) => n.id === 'bystander:1');
    victim.send(bytes);
    await victim.waitClosed();
    await waitForEvent(master, (e) => e.type === 'ProtocolViolated' && e.conn === conn, 'the violation');
    const n = doc(master).nodes.find((x) => x.id === addr);
    expect(n).toMatchObject({ state: 'DOWN', load: 7, capacity: 2, attrs: { zone: 'eu-9' } });
    expect(n?.reason).toContain(code);
    expect(doc(master).nodes.find((x) => x.id === 'bystander:1')).toEqual(bystanderBefore);
    expect(master.projection.index.least()?.id).toBe('bystander:1');
  });
});

describe('unknown frame types', () => {
  it('are skipped, counted and recorded; the connection stays', async () => {
    const master = await startMaster(cleanup, SLOW);
    const cl = await client(master);
    const conn = await connOf(master, cl);
    cl.send(
      Buffer.concat([
        rawFrame(6, Buffer.from('abcde')),
        rawFrame(0x7fff),
        // larger than a push may be: an unknown type is skipped whatever its length
        rawFrame(0x8000, Buffer.alloc(60_000, 0xee)),
        rawFrame(0xffff, Buffer.from([0x00])),
        encodePush({ load: 2, addr: 'fwd-compat:1' }),
        HELLO_FRAME,
      ]),
    );
    await waitFor(() => cl.count('HELLO_ACK') === 1, { what: 'the HELLO after the unknown frames to be answered' });
    const skipped = (await logEvents(master)).filter((e) => e.type === 'UnknownFrameSkipped');
    expect(skipped).toMatchObject([
      { conn, code: 6, length: 5 },
      { conn, code: 0x7fff, length: 0 },
      { conn, code: 0x8000, length: 60_000 },
      { conn, code: 0xffff, length: 1 },
    ]);
    expect(master.counters.unknownFrames).toBe(4);
    expect(nodeState(master, 'fwd-compat:1')).toBe('PUSH_LOAD_INFO');
    expect(cl.closed).toBe(false);
  });
});

describe('identity', () => {
  it.each([
    ['another addr', { load: 2, addr: 'other:1' }, 'other:1'],
    ['no addr (the remote IP)', { load: 2 }, '127.0.0.1'],
  ])(
    'a push naming %s on a bound connection → PUSH_ADDR_CHANGED, closed; the first node DOWN, no second node',
    async (_what, second, secondId) => {
      const master = await startMaster(cleanup, SLOW);
      const { cl, conn } = await pushed(master, { load: 1, addr: 'first:1' });
      cl.push(second);
      await cl.waitClosed();
      const v = await waitForEvent(master, (e) => e.type === 'ProtocolViolated' && e.conn === conn, 'the violation');
      expect(v).toMatchObject({ code: ErrorCode.PUSH_ADDR_CHANGED });
      expect(doc(master).nodes.map((n) => [n.id, n.state, n.load])).toEqual([['first:1', 'DOWN', 1]]);
      expect(master.projection.nodes.has(secondId)).toBe(false);
    },
  );

  it('a push without addr binds the remote IP', async () => {
    const master = await startMaster(cleanup, SLOW);
    const cl = await client(master);
    cl.push({ load: 4 });
    await waitFor(() => nodeState(master, '127.0.0.1') === 'PUSH_LOAD_INFO', { what: 'node 127.0.0.1' });
    expect(doc(master).nodes[0]).toMatchObject({ id: '127.0.0.1', addr: '127.0.0.1', load: 4, capacity: 1, attrs: {} });
  });

  it('a second connection with the same addr supersedes the first at once', async () => {
    const master = await startMaster(cleanup, { helloInterval: 1000, deadAfter: 5000 });
    const { cl: first, conn: c1 } = await pushed(master, { load: 10, addr: 'dup:1' });
    const second = await client(master);
    const c2 = await connOf(master, second);
    const t0 = performance.now();
    second.push({ load: 3, addr: 'dup:1' });
    const closedAt = await first.waitClosed(1000, 'the master to close the superseded connection');
    expect(closedAt - t0).toBeLessThan(1000); // dead-after is 5 s: only supersession closes it this soon

    await waitFor(() => master.projection.nodes.get('dup:1')?.conn === c2, { what: 'dup:1 bound to the new connection' });
    expect(doc(master).nodes).toMatchObject([{ id: 'dup:1', state: 'PUSH_LOAD_INFO', load: 3 }]);
    // A round trip on the new connection, so that anything recorded about the old one is in the log.
    second.hello();
    await waitFor(() => second.count('HELLO_ACK') === 1, { what: 'HELLO_ACK on the new connection' });
    const events = await logEvents(master);
    const sup = events.findIndex((e) => e.type === 'SlaveSuperseded');
    expect(events[sup]).toMatchObject({ type: 'SlaveSuperseded', conn: c1, node: 'dup:1', by: c2 });
    const push2 = events.findIndex((e) => e.type === 'LoadPushed' && e.conn === c2);
    expect(sup).toBeLessThan(push2);
    expect(events.filter(ofConn(c1)).map((e) => e.type)).toEqual(['SlaveConnected', 'LoadPushed', 'SlaveSuperseded']);
    expect(second.closed).toBe(false);
  });
});

// ---------------------------------------------------------------- liveness

describe('liveness', () => {
  it('a socket that stays open but silent → SlaveTimedOut and DOWN within dead-after + one interval', async () => {
    // The master's time on a manual clock: the window is its own, not a busy machine's.
    const clock = new ManualClock();
    const master = await startMaster(cleanup, { ...FAST, scheduler: clock });
    const cl = await client(master); // does not answer HELLO
    const conn = await connOf(master, cl);
    cl.push({ load: 4, addr: 'quiet:1' });
    await waitFor(() => nodeState(master, 'quiet:1') === 'PUSH_LOAD_INFO', { what: 'quiet:1 up' });
    // not before dead-after (the tick decides synchronously: a flush commits what it decided)
    await clock.advance(FAST.deadAfter - 1);
    await master.recorder.flush();
    expect((await logEvents(master)).filter((e) => e.type === 'SlaveTimedOut')).toEqual([]);
    expect(nodeState(master, 'quiet:1')).toBe('PUSH_LOAD_INFO');
    // within dead-after + one interval
    await clock.advance(FAST.helloInterval + 1);
    await waitFor(() => nodeState(master, 'quiet:1') === 'DOWN', { what: 'quiet:1 DOWN' });

    const events = (await logEvents(master)).filter(ofConn(conn));
    const timedOut = events.find((e): e is Extract<LedgerEvent, { type: 'SlaveTimedOut' }> => e.type === 'SlaveTimedOut');
    expect(timedOut).toBeDefined();
    expect(timedOut!.silentMs).toBeGreaterThanOrEqual(FAST.deadAfter);
    expect(timedOut!.silentMs).toBeLessThanOrEqual(FAST.deadAfter + FAST.helloInterval);
    expect(events.findIndex((e) => e.type === 'HelloSent')).toBeLessThan(events.indexOf(timedOut!)); // pinged first
    expect(events.at(-1)).toBe(timedOut);
    expect(doc(master).nodes[0]).toMatchObject({ id: 'quiet:1', state: 'DOWN', load: 4, reason: 'no frame for 0.2s' });
    expect(master.projection.index.least()).toBeUndefined();
    await cl.waitClosed();
    expect(cl.count('HELLO')).toBeGreaterThanOrEqual(1);
  });

  it('a connection that never pushes times out too and leaves the pending list', async () => {
    const master = await startMaster(cleanup, FAST);
    const cl = await client(master);
    const conn = await connOf(master, cl);
    expect(doc(master).pending.map((p) => p.conn)).toEqual([conn]);
    await waitForEvent(master, (e) => e.type === 'SlaveTimedOut' && e.conn === conn, 'SlaveTimedOut', 2000);
    await waitFor(() => doc(master).pending.length === 0, { what: 'the pending list to empty' });
    await cl.waitClosed();
  });
});

// ---------------------------------------------------------------- limits, log

describe('max-slaves', () => {
  it('refuses a connection beyond the limit, records SlaveRefused, keeps the others', async () => {
    const master = await startMaster(cleanup, { ...SLOW, maxSlaves: 2 });
    const a = await client(master);
    const b = await client(master);
    const ca = await connOf(master, a);
    const cb = await connOf(master, b);
    const c = await client(master);
    await c.waitClosed();
    const refused = await waitForEvent(master, (e) => e.type === 'SlaveRefused', 'SlaveRefused');
    expect(refused).toMatchObject({ type: 'SlaveRefused', remote: c.remote });
    expect((refused as { reason: string }).reason).toMatch(/max-slaves/);
    expect(master.counters.refused).toBe(1);
    expect(doc(master).pending.map((p) => p.conn)).toEqual([ca, cb]);
    expect(a.closed || b.closed).toBe(false);

    // Room again once one leaves.
    a.destroy();
    await waitForEvent(master, (e) => e.type === 'SlaveDisconnected' && e.conn === ca, 'the disconnect');
    const d = await client(master);
    expect(await connOf(master, d)).toBeGreaterThan(cb);
    expect(d.closed).toBe(false);
  });
});

describe('the log', () => {
  it('seq is gapless from 1; a burst of frames in one write is group-committed', async () => {
    const master = await startMaster(cleanup, { ...SLOW, maxFrameRate: 0 });
    const cl = await client(master);
    const HELLOS = 2000;
    cl.send(
      Buffer.concat([
        encodePush({ load: 1, addr: 'burst:1' }),
        ...Array.from({ length: HELLOS }, () => HELLO_FRAME),
        encodePush({ load: 2, addr: 'burst:1' }),
      ]),
    );
    await waitFor(() => cl.count('HELLO_ACK') === HELLOS, { what: `${HELLOS} HELLO_ACKs`, timeout: 10_000 });
    await waitFor(() => master.projection.nodes.get('burst:1')?.load === 2, { what: 'the last push' });

    const events = await logEvents(master);
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: events.length }, (_, i) => i + 1));
    expect(events.length).toBe(master.log.lastSeq);
    expect(master.projection.seq).toBe(master.log.lastSeq);
    expect(events.filter((e) => e.type === 'HelloReceived').length).toBe(HELLOS);
    expect(events.filter((e) => e.type === 'HelloAckSent').length).toBe(HELLOS);

    const { writes, events: recorded, maxBatch } = master.recorder.stats;
    expect(recorded).toBe(events.length);
    expect(writes).toBeLessThan(recorded);
    expect(writes * 4).toBeLessThan(recorded); // not one write per event, nor per few
    // …and one sender's events wait for the log at most MAX_INFLIGHT_EVENTS at a time
    expect(maxBatch).toBeGreaterThanOrEqual(MAX_INFLIGHT_EVENTS);
    expect(maxBatch).toBeLessThanOrEqual(MAX_INFLIGHT_EVENTS + 2);
    expect((await api(master, '/v1/state')).body.seq).toBe(master.log.lastSeq);
  });
});

// ---------------------------------------------------------------- HTTP

describe('HTTP API', () => {
  it('GET /v1/least-loaded: 503 {error, code NO_ELIGIBLE_NODE} when no node is eligible', async () => {
    const master = await startMaster(cleanup, SLOW);
    const r = await api(master, '/v1/least-loaded');
    expect(r.status).toBe(503);
    expect(r.contentType).toMatch(/^application\/json/);
    expect(r.body).toEqual({ error: expect.any(String), code: 'NO_ELIGIBLE_NODE' });
  });

  it('GET /v1/least-loaded: the least-loaded node; ?zone= filters on the attribute', async () => {
    const master = await startMaster(cleanup, SLOW);
    await pushed(master, { load: 30, addr: 'c:1', attrs: { zone: 'eu-1' } });
    await pushed(master, { load: 10, addr: 'a:1', attrs: { zone: 'eu-2' } });
    await pushed(master, { load: 20, addr: 'b:1', attrs: { zone: 'eu-1' } });

    const all = await api(master, '/v1/least-loaded');
    expect(all.status).toBe(200);
    expect(all.body).toMatchObject({ id: 'a:1', addr: 'a:1', load: 10, state: 'PUSH_LOAD_INFO', capacity: 1, attrs: { zone: 'eu-2' } });
    const eu1 = await api(master, '/v1/least-loaded?zone=eu-1');
    expect(eu1.status).toBe(200);
    expect(eu1.body).toMatchObject({ id: 'b:1', load: 20 });
    const none = await api(master, '/v1/least-loaded?zone=us-1');
    expect(none.status).toBe(503);
    expect(none.body).toMatchObject({ code: 'NO_ELIGIBLE_NODE' });
  });

  it('GET /v1/state: seq, master, nodes sorted by id with the documented fields', async () => {
    const master = await startMaster(cleanup, SLOW);
    for (const [addr, load] of [
      ['z:1', 1],
      ['m:1', 2],
      ['a:1', 3],
    ] as const)
      await pushed(master, { load, addr, attrs: { v: load } });
    const r = await api(master, '/v1/state');
    expect(r.status).toBe(200);
    expect(r.body).toEqual(doc(master));
    expect(r.body.seq).toBe(master.log.lastSeq);
    expect(r.body.master).toEqual({ state: 'UP_LISTENING', epoch: 1, since: expect.any(Number) });
    expect(r.body.nodes.map((n: { id: string }) => n.id)).toEqual(['a:1', 'm:1', 'z:1']);
    for (const n of r.body.nodes) {
      expect(Object.keys(n)).toEqual(expect.arrayContaining(['id', 'addr', 'state', 'load', 'capacity', 'attrs', 'lastSeen', 'since']));
    }
  });

  it('bad parameters → 400 {error, code BAD_ARGUMENT}; unknown paths → 404 {error, code NOT_FOUND}', async () => {
    const master = await startMaster(cleanup, SLOW);
    const bad = await api(master, '/v1/nodes?state=bad');
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({ error: expect.any(String), code: 'BAD_ARGUMENT' });
    // no attribute holds a control or bidi character: a filter for one is a mistake, not "none"
    for (const path of ['/v1/least-loaded?zone=eu%1B', '/v1/nodes?z%E2%80%AEone=a', '/v1/least-loaded?policy=p2c&zone=%C2%85']) {
      const r = await api(master, path);
      expect({ path, status: r.status, body: r.body }).toEqual({
        path,
        status: 400,
        body: { error: expect.stringMatching(/holds the control character U\+/), code: 'BAD_ARGUMENT' },
      });
    }
    const missing = await api(master, '/v1/nope');
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ error: expect.any(String), code: 'NOT_FOUND' });
    const ok = await api(master, '/v1/nodes?state=DOWN');
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ nodes: [] });
    // one state per request: a repeated one is a mistake, not "the last one wins"
    const twice = await api(master, '/v1/nodes?state=DOWN&state=PUSH_LOAD_INFO');
    expect([twice.status, twice.body]).toEqual([400, { error: 'state given 2 times; give it once', code: 'BAD_ARGUMENT' }]);
  });

  it('GET /healthz: 200 while UP_LISTENING; 503 once stop() has begun; gone once stopped', async () => {
    const master = await startMaster(cleanup, SLOW);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    cleanup.defer('agent', () => agent.destroy());
    const port = master.addresses.http!.port;
    const get = (): Promise<{ status: number; body: any }> =>
      new Promise((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: '/healthz', agent }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
        });
        req.on('error', reject);
        req.end();
      });

    expect(await get()).toMatchObject({ status: 200, body: { status: 'ok', master: 'UP_LISTENING' } });
    // The request goes out on the kept-alive connection before the stop can reach the HTTP server.
    const stopping = master.stop();
    expect(master.healthy).toBe(false);
    expect(await get()).toMatchObject({ status: 503, body: { status: 'unavailable' } });
    await withTimeout(stopping, 2000, 'master.stop()');
    await expect(fetch(`${httpBase(master)}/healthz`)).rejects.toThrow();
  });

  it('GET /healthz: 503 once the log stops taking writes; the master does not crash and takes no new slaves', async () => {
    const master = await startMaster(cleanup, SLOW);
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown): number => uncaught.push(e);
    process.on('uncaughtException', onUncaught);
    cleanup.defer('uncaughtException listener', () => process.off('uncaughtException', onUncaught));
    const cl = await client(master);
    await connOf(master, cl);
    expect((await api(master, '/healthz')).status).toBe(200);

    await master.log.close(); // the disk went away: every append fails from now on
    cl.hello();
    await waitFor(() => master.recorder.failure, { what: 'the recorder to notice the failed write' });
    expect(master.recorder.failure?.code).toBe(ErrorCode.LOG_WRITE_FAILED);
    const health = await api(master, '/healthz');
    expect(health.status).toBe(503);
    expect(health.body).toMatchObject({ status: 'unavailable' });

    // More frames on the open connection, then its end: none of it may throw out of a socket handler.
    cl.hello();
    cl.push({ load: 1, addr: 'after-failure:1' });
    cl.destroy();
    const late = await RawClient.connect(slavePort(master));
    cleanup.defer('late client', () => late.destroy());
    await late.waitClosed(1000, 'the master to refuse a slave while its log is failed');
    // The absence of an exception can only be watched over a window: a few event-loop turns.
    await new Promise((r) => setTimeout(r, 50));
    expect(uncaught).toEqual([]);
    expect(master.projection.nodes.has('after-failure:1')).toBe(false);
  });
});

// ---------------------------------------------------------------- stop, restart

describe('stop and restart', () => {
  it('stop() with a slave connected resolves promptly and closes the connection', async () => {
    const master = await startMaster(cleanup, FAST);
    const { cl } = await pushed(master, { load: 1, addr: 'live:1' }, cleanup, { answerHello: true });
    cl.startHeartbeat({ load: 1, addr: 'live:1' }, 20); // a live slave keeps talking
    await withTimeout(master.stop(), 2000, 'master.stop() with a live slave connected');
    await cl.waitClosed(1000);
  });

  it('stop() twice is safe: both resolve, one MasterStopped; the log folds twice to the final state', async () => {
    const dir = await cleanup.tempDir();
    const master = await Master.start({
      data: dir,
      listen: { host: '127.0.0.1', port: 0 },
      http: { host: '127.0.0.1', port: 0 },
      maxSlaves: 10,
      ...SLOW,
    });
    const cl = await client(master);
    cl.push({ load: 9, addr: 'once:1' });
    await waitFor(() => nodeState(master, 'once:1') === 'PUSH_LOAD_INFO', { what: 'once:1' });
    cl.destroy();
    await waitFor(() => nodeState(master, 'once:1') === 'DOWN', { what: 'once:1 DOWN' });

    const [a, b] = [master.stop('first'), master.stop('second')];
    await withTimeout(Promise.all([a, b]), 2000, 'two concurrent stops');
    await withTimeout(master.stop('third'), 2000, 'a stop after the stop');
    const final = stateDocument(master.projection);
    expect(final.master.state).toBe('DOWN');

    const log = await EventLog.open(dir, { create: false });
    try {
      const events: LedgerEvent[] = [];
      for await (const batch of log.read()) events.push(...batch);
      const stops = events.filter((e) => e.type === 'MasterStopped');
      expect(stops).toHaveLength(1);
      expect(stops[0]).toMatchObject({ epoch: 1, reason: 'first' });
      expect(events.at(-1)).toBe(stops[0]);
      const once = stateDocument(foldEvents(createProjection(), events));
      const twice = stateDocument(foldEvents(createProjection(), events));
      expect(twice).toEqual(once);
      expect(once).toEqual(final);
    } finally {
      await log.close();
    }
  });

  it('restart on the same data dir: epoch + 1, state rebuilt, nodes DOWN until they reconnect, conn numbers continue', async () => {
    const dir = await cleanup.tempDir();
    const first = await startMaster(cleanup, { ...SLOW, data: dir });
    const { cl: c1 } = await pushed(first, { load: 5, addr: 'r:1', attrs: { zone: 'eu-1' } });
    await pushed(first, { load: 6, addr: 'r:2' });
    const lastConn = first.projection.lastConn;
    await withTimeout(first.stop('restart'), 2000, 'the first master to stop');
    await c1.waitClosed(1000);
    const stoppedAt = first.projection.seq;

    const second = await startMaster(cleanup, { ...SLOW, data: dir });
    const d = doc(second);
    expect(d.master).toMatchObject({ state: 'UP_LISTENING', epoch: 2 });
    expect(d.seq).toBe(stoppedAt + 1);
    expect(d.nodes.map((n) => [n.id, n.state, n.load])).toEqual([
      ['r:1', 'DOWN', 5],
      ['r:2', 'DOWN', 6],
    ]);
    expect(d.nodes[0]?.attrs).toEqual({ zone: 'eu-1' });
    expect((await api(second, '/v1/least-loaded')).status).toBe(503);
    expect((await api(second, '/v1/state')).body).toEqual(d);

    const { conn } = await pushed(second, { load: 7, addr: 'r:1' });
    expect(conn).toBe(lastConn + 1);
    expect(doc(second).nodes.find((n) => n.id === 'r:1')).toMatchObject({ state: 'PUSH_LOAD_INFO', load: 7, epoch: 2 });
    expect((await api(second, '/v1/least-loaded')).body).toMatchObject({ id: 'r:1' });
  });

  it('a second master on a data dir in use is refused with LOG_LOCKED', async () => {
    const dir = await cleanup.tempDir();
    await startMaster(cleanup, { ...SLOW, data: dir });
    await expect(startMaster(cleanup, { ...SLOW, data: dir })).rejects.toMatchObject({ code: ErrorCode.LOG_LOCKED });
  });

  it('a start that fails (HTTP port in use) releases the slave port and the log', async () => {
    const running = await startMaster(cleanup, SLOW);
    const port = await closedPort();
    const dir = await cleanup.tempDir();
    await expect(
      Master.start({ data: dir, listen: { host: '127.0.0.1', port }, http: running.addresses.http, maxSlaves: 10, ...SLOW }),
    ).rejects.toMatchObject({ code: ErrorCode.ADDRESS_IN_USE });
    // Nothing may still listen on the slave port of the master that failed to start.
    await expect(RawClient.connect(port).then((c) => (c.destroy(), 'connected'))).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    const retry = await startMaster(cleanup, { ...SLOW, data: dir });
    expect(retry.projection.master.state).toBe('UP_LISTENING');
  });
});
