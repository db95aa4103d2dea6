/**
 * Who gets in, over real TCP on 127.0.0.1: --allow, the per-peer connection rate against
 * a slave that flaps in a tight loop, the handshake timeout for connections that never
 * send a valid frame, and per-connection backpressure for a slave that floods. Time is a
 * manual clock where the test is about time (rates, timeouts): it moves when the test says.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { LedgerEvent } from '../../src/events.js';
import { MAX_INFLIGHT_EVENTS } from '../../src/master/connection.js';
import { HELLO_FRAME } from '../../src/protocol/index.js';
import { Cleanup } from '../helpers/cleanup.js';
import { connOf, logEvents, slavePort, startMaster, waitForEvent } from '../helpers/master.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { RawClient } from '../helpers/net.js';
import { sleep, waitFor } from '../helpers/wait.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const SLOW = { helloInterval: 10_000, deadAfter: 20_000 } as const;

async function client(port: number): Promise<RawClient> {
  const cl = await RawClient.connect(port);
  cleanup.defer(`client ${cl.remote}`, () => cl.destroy());
  return cl;
}

const refusals = (events: LedgerEvent[]) =>
  events.filter((e): e is Extract<LedgerEvent, { type: 'SlaveRefused' }> => e.type === 'SlaveRefused');

describe('--allow', () => {
  it('a peer outside the ranges is closed before it gets a connection number; one SlaveRefused per second', async () => {
    const master = await startMaster(cleanup, { ...SLOW, allow: ['10.0.0.0/8'] });
    const tries = await Promise.all(Array.from({ length: 5 }, () => client(slavePort(master))));
    await Promise.all(tries.map((c) => c.waitClosed()));
    await waitForEvent(master, (e) => e.type === 'SlaveRefused', 'SlaveRefused');
    const events = await logEvents(master);
    expect(events.some((e) => e.type === 'SlaveConnected')).toBe(false);
    const refused = refusals(events);
    expect(refused).toHaveLength(1); // five refusals in well under a second: one record
    expect(refused[0]!.reason).toBe('127.0.0.1 is not in --allow (10.0.0.0/8)');
    expect(master.counters.refused).toBe(5);
  });

  it('a peer inside the ranges is served', async () => {
    const master = await startMaster(cleanup, { ...SLOW, allow: ['10.0.0.0/8', '127.0.0.0/8'] });
    const cl = await client(slavePort(master));
    cl.hello();
    await waitFor(() => cl.count('HELLO_ACK') === 1, { what: 'HELLO_ACK' });
  });
});

describe('a slave that flaps (connects and disconnects in a tight loop)', () => {
  it('cannot grow the log faster than about 2 events per allowed connection, plus one refusal record per second', async () => {
    const rate = 20;
    const burst = 5;
    const clock = new ManualClock();
    const master = await startMaster(cleanup, { ...SLOW, connectRate: rate, connectBurst: burst, scheduler: clock });
    const port = slavePort(master);
    const seq0 = master.projection.seq;
    const t0 = clock.now();
    let attempts = 0;
    // a connection every 10 ms of the master's time, for a second
    while (clock.now() - t0 < 1000) {
      const cl = await RawClient.connect(port);
      cl.destroy();
      attempts++;
      await clock.advance(10);
    }
    const seconds = (clock.now() - t0) / 1000;
    // every accepted connection's end is recorded (the master sees the closes a bit later)
    await waitFor(() => master.projection.conns.size === 0, { what: 'every flapping connection to be recorded as gone' });
    await master.recorder.flush();
    const events = (await logEvents(master)).filter((e) => e.seq > seq0);
    const connected = events.filter((e) => e.type === 'SlaveConnected').length;
    const refused = refusals(events);
    expect(attempts).toBeGreaterThan(50); // it really was a tight loop
    expect(connected).toBeLessThanOrEqual(burst + Math.ceil(rate * seconds) + 1);
    expect(refused.length).toBeGreaterThanOrEqual(1);
    expect(refused.length).toBeLessThanOrEqual(Math.ceil(seconds) + 1);
    expect(refused[0]!.reason).toMatch(/^connection rate limit \(20\/s per peer, bursts of 5\)/);
    // The documented bound: ≤ 2 events per allowed connection + 1 refusal per second.
    expect(events.length).toBeLessThanOrEqual(2 * (burst + Math.ceil(rate * seconds) + 1) + Math.ceil(seconds) + 1);
    expect(master.counters.refused).toBe(attempts - connected);
  });
});

describe('handshake timeout', () => {
  it('a connection that sends nothing is closed after --handshake-timeout even with a long dead-after', async () => {
    const clock = new ManualClock();
    const master = await startMaster(cleanup, { ...SLOW, handshakeTimeout: 150, scheduler: clock });
    const cl = await client(slavePort(master));
    const conn = await connOf(master, cl);
    await clock.advance(149);
    await sleep(20);
    expect(cl.closed).toBe(false);
    await clock.advance(150 + 250 - 149); // timeout + one liveness tick, of the master's time
    await cl.waitClosed(); // (the close itself goes through the log, in real time)
    const e = await waitForEvent(master, (x) => x.type === 'SlaveTimedOut' && x.conn === conn, 'SlaveTimedOut');
    expect(e).toMatchObject({ type: 'SlaveTimedOut', conn, handshake: true });
    expect(master.projection.conns.has(conn)).toBe(false);
  });

  it('bytes that never make a whole frame (a slow loris) do not count', async () => {
    const clock = new ManualClock();
    const master = await startMaster(cleanup, { ...SLOW, handshakeTimeout: 150, scheduler: clock });
    const cl = await client(slavePort(master));
    const conn = await connOf(master, cl);
    // a PUSH_LOAD_INFO header announcing 8000 bytes, then its payload one byte every 20 ms
    cl.send(Buffer.from([0x00, 0x00, 0x1f, 0x40]));
    const drip = clock.setInterval(() => cl.send(Buffer.from([0x80])), 20);
    cleanup.defer('drip', () => clock.clearInterval(drip));
    for (let t = 0; t < 150 + 250; t += 10) await clock.advance(10); // timeout + one liveness tick, dripping
    await cl.waitClosed();
    await waitForEvent(master, (x) => x.type === 'SlaveTimedOut' && x.conn === conn && 'handshake' in x, 'handshake SlaveTimedOut');
  });

  it('one valid frame ends the handshake: the connection then lives by dead-after', async () => {
    const clock = new ManualClock();
    const master = await startMaster(cleanup, { ...SLOW, handshakeTimeout: 100, scheduler: clock });
    const cl = await client(slavePort(master));
    cl.hello();
    await waitFor(() => cl.count('HELLO_ACK') === 1, { what: 'HELLO_ACK' });
    await clock.advance(400);
    await sleep(50); // a close the master decided would have reached us by now
    expect(cl.closed).toBe(false);
  });
});

describe('a slave that floods HELLOs', () => {
  it("is read at --max-frame-rate: a second's worth at once, then the rate; it is paused, not closed", async () => {
    const clock = new ManualClock();
    const master = await startMaster(cleanup, { ...SLOW, maxFrameRate: 500, scheduler: clock });
    const flooder = await client(slavePort(master));
    const conn = await connOf(master, flooder);
    const burst = Buffer.alloc(HELLO_FRAME.length * 1000);
    for (let i = 0; i < 1000; i++) HELLO_FRAME.copy(burst, i * HELLO_FRAME.length);
    const t0 = clock.now();
    flooder.send(burst);
    await waitFor(() => flooder.count('HELLO_ACK') >= 500, { what: 'the first 500 ACKs (the bucket)' });
    const tBucket = clock.now() - t0;
    await clock.advanceUntil(() => flooder.count('HELLO_ACK') === 1000, { step: 10, max: 5000, what: 'all 1000 ACKs' });
    const tAll = clock.now() - t0;
    expect(tBucket).toBeLessThan(500); // the bucket went at once
    expect(tAll).toBeGreaterThanOrEqual(900); // the other 500 at 500/s: about a second
    expect(flooder.closed).toBe(false);
    const events = (await logEvents(master)).filter((e) => 'conn' in e && e.conn === conn);
    expect(events.filter((e) => e.type === 'HelloAckSent')).toHaveLength(1000);
    expect(events.some((e) => e.type === 'ProtocolViolated' || e.type === 'SlaveTimedOut')).toBe(false);
  });

  it("is held to the log's pace: never more than a bounded number of its events wait for the log", async () => {
    const master = await startMaster(cleanup, { ...SLOW, maxFrameRate: 0 });
    const flooder = await client(slavePort(master));
    const conn = await connOf(master, flooder);
    // 16k HELLOs in one write: one socket chunk can hold thousands of frames.
    const burst = Buffer.alloc(HELLO_FRAME.length * 16_384);
    for (let i = 0; i < 16_384; i++) HELLO_FRAME.copy(burst, i * HELLO_FRAME.length);
    let maxWaiting = 0;
    const origRecord = master.recorder.record.bind(master.recorder);
    master.recorder.record = (e, effect) => {
      const r = origRecord(e, effect);
      maxWaiting = Math.max(maxWaiting, master.recorder.lastSeq - master.projection.seq);
      return r;
    };
    for (let i = 0; i < 4; i++) flooder.send(burst);
    await waitFor(() => flooder.count('HELLO_ACK') === 4 * 16_384, { what: 'every HELLO answered', timeout: 15_000 });
    expect(maxWaiting).toBeLessThanOrEqual(MAX_INFLIGHT_EVENTS + 2);
    const acks = (await logEvents(master)).filter((e) => e.type === 'HelloAckSent' && e.conn === conn).length;
    expect(acks).toBe(4 * 16_384);
  });
});
