/**
 * `GET /v1/events` and its clients (replay/http-source.ts) against a real master on
 * 127.0.0.1 (port 0) with a real LevelDB log: the live tail under load across the
 * catch-up/live switch, the exact state at from - 1 (snapshot=1) after retention, 410 for
 * what retention removed, an unreachable master, and streams that break.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { followHttp, masterBounds, openHttpSource, type FollowEnd } from '../../replay/http-source.js';
import { openDataSource, type EventSource } from '../../replay/source.js';
import { ErrorCode } from '../../src/errors.js';
import type { LedgerEvent } from '../../src/events.js';
import type { Master } from '../../src/node/master.js';
import { HELLO_FRAME } from '../../src/protocol/encoder.js';
import { stateDocument } from '../../src/projection/document.js';
import { evolve } from '../../src/projection/evolve.js';
import { toSnapshot, type ProjectionSnapshot } from '../../src/projection/snapshot.js';
import { createProjection } from '../../src/projection/state.js';
import { Cleanup } from '../helpers/cleanup.js';
import { httpBase, startMaster } from '../helpers/master.js';
import { RawClient } from '../helpers/net.js';
import { waitFor, withTimeout } from '../helpers/wait.js';
import { codeOf, errorOf } from '../helpers/errors.js';
import { closedPort } from '../helpers/net.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** A quiet master (no pings, no timeouts) so that the only events are the ones a test makes. */
// maxFrameRate 0: the load generators here are single connections sending as fast as they can
const QUIET = { helloInterval: 60_000, deadAfter: 60_000, maxFrameRate: 0 } as const;

async function client(master: Master): Promise<RawClient> {
  const c = await RawClient.connect(master.addresses.listen.port);
  cleanup.defer('raw client', () => c.destroy());
  c.push({ addr: 'n:80', load: 1 });
  return c;
}

/** n HELLOs in one write: 2n events (HelloReceived, HelloAckSent). */
const hellos = (n: number): Buffer => Buffer.concat(Array.from({ length: n }, () => HELLO_FRAME));

async function allEvents(src: EventSource, from: number, to: number): Promise<LedgerEvent[]> {
  const out: LedgerEvent[] = [];
  for await (const batch of src.read(from, to)) out.push(...batch);
  return out;
}

interface Follower {
  from: number | undefined;
  events: LedgerEvent[];
  snapshot?: ProjectionSnapshot;
  done: Promise<FollowEnd>;
  abort: AbortController;
}

function follow(master: Master, from: number | undefined, withSnapshot = false): Follower {
  const abort = new AbortController();
  const f: Follower = { from, events: [], abort, done: undefined as unknown as Promise<FollowEnd> };
  f.done = followHttp(
    httpBase(master),
    from,
    (e) => void f.events.push(e),
    abort.signal,
    withSnapshot ? { onSnapshot: (s) => void (f.snapshot = s) } : {},
  );
  f.done.catch(() => {}); // awaited by the test; never an unhandled rejection
  cleanup.defer('abort follower', () => abort.abort());
  return f;
}

describe('live tail (followHttp, GET /v1/events?follow=1)', () => {
  it('delivers every event in order, no gap and no duplicate across the catch-up/live switch, under load', async () => {
    const data = await cleanup.tempDir('loadledger-follow-');
    const master = await startMaster(cleanup, { data, ...QUIET });
    const c = await client(master);
    // A log long enough that catching up takes a while…
    c.send(hellos(20_000));
    await waitFor(() => c.count('HELLO_ACK') >= 20_000, { timeout: 10_000, what: 'the first 40,000 events' });
    // …and appends going on all the time while the followers catch up and switch.
    const burst = hellos(150);
    let sentHellos = 20_000;
    const producer = setInterval(() => {
      c.send(burst);
      sentHellos += 150;
    }, 3);
    cleanup.defer('producer', () => clearInterval(producer));

    const own = master.recorder.events$.observers.length; // the master's own subscribers
    const followers = [follow(master, 1), follow(master, 12_345, true), follow(master, undefined)];
    await waitFor(() => master.projection.seq > 60_000, { timeout: 10_000, what: '60,000 events' });
    followers.push(follow(master, 1)); // one more that starts catching up in the middle of it
    const mark = master.projection.seq;
    await waitFor(() => followers.every((f) => (f.events.at(-1)?.seq ?? 0) > mark + 5000), {
      timeout: 15_000,
      what: 'every follower live, 5,000 events past the mark',
      describe: () => followers.map((f) => f.events.at(-1)?.seq),
    });
    // All four are live while the appends go on, from one shared subscription (the live
    // tail), not one each: a follower holds a cursor, not a copy of the events.
    expect(master.recorder.events$.observers.length).toBe(own + 1);
    expect(c.closed).toBe(false);
    clearInterval(producer);
    // Everything sent is committed once the last HELLO is acknowledged; then every
    // follower must have it all, live, before the master stops.
    await waitFor(() => c.count('HELLO_ACK') >= sentHellos, { timeout: 10_000, what: 'every HELLO acknowledged' });
    const final = master.projection.seq;
    await waitFor(() => followers.every((f) => f.events.at(-1)?.seq === final), {
      timeout: 10_000,
      what: `every follower at seq ${final}`,
      describe: () => followers.map((f) => f.events.at(-1)?.seq),
    });
    await master.stop('end of the test');
    const ends = await withTimeout(Promise.all(followers.map((f) => f.done)), 5000, 'the followers to end');

    const log = await openDataSource(data);
    cleanup.defer('close log', () => log.close());
    const events = await allEvents(log, 1, log.lastSeq);
    expect(events.at(-1)?.type).toBe('MasterStopped');
    for (const [i, f] of followers.entries()) {
      const first = f.events[0]!.seq;
      if (f.from !== undefined) expect(first).toBe(f.from);
      // Strictly consecutive, and exactly the log from there to the master's last event.
      f.events.forEach((e, k) => {
        if (e.seq !== first + k) throw new Error(`follower ${i}: seq ${e.seq} at position ${k} (expected ${first + k})`);
      });
      expect(f.events).toEqual(events.slice(first - 1));
      expect(ends[i]).toEqual({ lastSeq: log.lastSeq, reason: 'ended' });
    }
    // The follower that asked for it got the exact state before its first event.
    const ref = createProjection();
    for (const e of events.slice(0, 12_344)) evolve(ref, e);
    expect(followers[1]!.snapshot).toEqual(toSnapshot(ref));
  }, 60_000);

  it('stops on abort and leaves no subscription behind on the master', async () => {
    const master = await startMaster(cleanup, QUIET);
    const c = await client(master);
    const own = master.recorder.events$.observers.length; // the master's own subscribers
    const f = follow(master, 1);
    await waitFor(() => f.events.some((e) => e.type === 'LoadPushed'), { what: 'the push' });
    c.send(hellos(10));
    await waitFor(() => f.events.filter((e) => e.type === 'HelloReceived').length === 10, { what: 'ten HELLOs live' });
    expect(master.recorder.events$.observers.length).toBe(own + 1);
    f.abort.abort();
    const end = await withTimeout(f.done, 2000, 'the aborted follow');
    expect(end).toEqual({ lastSeq: f.events.at(-1)!.seq, reason: 'aborted' });
    await waitFor(() => master.recorder.events$.observers.length === own, { what: 'the master to drop the subscription' });
  });
});

describe('GET /v1/events', () => {
  it('validates its parameters and answers HEAD with the bounds alone', async () => {
    const master = await startMaster(cleanup, QUIET);
    const base = httpBase(master);
    for (const qs of ['from=abc', 'from=-1', 'from=1.5', 'frm=1', 'follow=yes', 'from=10&to=5', 'snapshot=2']) {
      const res = await fetch(`${base}/v1/events?${qs}`);
      expect(res.status, qs).toBe(400);
      expect(((await res.json()) as { code: string }).code, qs).toBe(ErrorCode.BAD_ARGUMENT);
    }
    const res = await fetch(`${base}/v1/events?from=${master.projection.seq + 5}&snapshot=1`);
    expect(res.status).toBe(416);
    expect(((await res.json()) as { code: string }).code).toBe(ErrorCode.SEQ_OUT_OF_RANGE);
    const head = await fetch(`${base}/v1/events`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('x-first-seq')).toBe('1');
    expect(head.headers.get('x-last-seq')).toBe(String(master.projection.seq));
    expect(head.headers.get('x-state-from')).toBe('1');
    expect(await head.text()).toBe('');
    expect(await masterBounds(base)).toEqual({ oldest: 1, lastSeq: master.projection.seq, stateFrom: 1 });
  });

  it('after retention: 410 before the oldest event; snapshot=1 rebuilds the exact state from what is kept', async () => {
    const data = await cleanup.tempDir('loadledger-events-retention-');
    const master = await startMaster(cleanup, {
      data,
      ...QUIET,
      retainEvents: 500,
      retentionInterval: 3_600_000,
      snapshotEvery: 300,
      snapshotInterval: 0,
    });
    const c = await client(master);
    c.send(hellos(1000));
    await waitFor(() => c.count('HELLO_ACK') >= 1000, { what: '2,000 events' });
    await master.applyRetention();
    const oldest = master.log.firstSeq;
    expect(oldest).toBeGreaterThan(1000);
    const base = httpBase(master);

    const gone = await fetch(`${base}/v1/events?from=1`);
    expect(gone.status).toBe(410);
    expect(await gone.json()).toEqual({
      error: `seq 1 is before the oldest retained event (seq ${oldest})`,
      code: ErrorCode.SEQ_OUT_OF_RANGE,
    });
    const bounds = await masterBounds(base);
    expect(bounds.oldest).toBe(oldest);
    expect(bounds.stateFrom).toBeGreaterThanOrEqual(oldest);
    const early = await fetch(`${base}/v1/events?from=${bounds.stateFrom - 1}&snapshot=1`);
    expect(early.status).toBe(410);

    const tail = await errorOf(followHttp(base, 1, () => {}));
    expect(tail.code).toBe(ErrorCode.SEQ_OUT_OF_RANGE);
    expect(tail.message).toBe(`master ${base}: seq 1 is before the oldest retained event (seq ${oldest})`);

    const src = await openHttpSource(base);
    cleanup.defer('close http source', () => src.close());
    expect(src.firstSeq).toBe(bounds.stateFrom);
    expect(await codeOf(src.base(src.firstSeq - 2))).toBe(ErrorCode.SEQ_OUT_OF_RANGE);
    expect(await codeOf(allEvents(src, 1, 10))).toBe(ErrorCode.SEQ_OUT_OF_RANGE);
    // The exact state at several seqs, each rebuilt by the master from its nearest snapshot.
    const seqs = [src.firstSeq - 1, src.firstSeq + 1, src.firstSeq + 299, src.lastSeq];
    const states = await Promise.all(seqs.map((s) => src.base(s)));
    const events = await allEvents(src, src.firstSeq, src.lastSeq);
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: src.lastSeq - src.firstSeq + 1 }, (_, i) => src.firstSeq + i));
    const p = states[0]!;
    for (const e of events) {
      evolve(p, e);
      const k = seqs.indexOf(e.seq);
      if (k > 0) expect(toSnapshot(states[k]!)).toEqual(toSnapshot(p));
    }
    expect(stateDocument(p)).toEqual(stateDocument(master.projection));
  });

  it('reads exactly the range asked for', async () => {
    const master = await startMaster(cleanup, QUIET);
    const c = await client(master);
    c.send(hellos(300));
    await waitFor(() => c.count('HELLO_ACK') >= 300, { what: '600 events' });
    const src = await openHttpSource(httpBase(master));
    cleanup.defer('close http source', () => src.close());
    expect(src.describe).toBe(`master ${httpBase(master)}`);
    const some = await allEvents(src, 5, 10);
    expect(some.map((e) => e.seq)).toEqual([5, 6, 7, 8, 9, 10]);
    const all = await allEvents(src, 1, src.lastSeq);
    const fromLog: LedgerEvent[] = [];
    for await (const b of master.log.read(1, src.lastSeq)) fromLog.push(...b);
    expect(all).toEqual(fromLog);
    // Breaking off a read early is fine, and the source still works afterwards.
    for await (const batch of src.read(1, src.lastSeq)) {
      expect(batch[0]!.seq).toBe(1);
      break;
    }
    expect((await src.base(100)).seq).toBe(100);
  });
});

describe('an unreachable master, or one whose stream breaks', () => {
  /** A stand-in master on a real socket that answers /v1/events with `lines`, then does `end`. */
  async function standIn(lines: string[], end: 'end' | 'destroy'): Promise<string> {
    const server: Server = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson', 'x-first-seq': '1', 'x-last-seq': '5', 'x-state-from': '1' });
      if (req.method === 'HEAD') return void res.end();
      res.write(lines.join(''));
      if (end === 'end') res.end();
      else setImmediate(() => res.socket?.destroy());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanup.defer('stand-in server', () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  const ev = (seq: number): string => JSON.stringify({ seq, ts: seq, type: 'HelloReceived', conn: 1 }) + '\n';

  it('MASTER_UNREACHABLE with one clear line; a bad URL is BAD_ARGUMENT', async () => {
    const port = await closedPort();
    const e = await errorOf(openHttpSource(`http://127.0.0.1:${port}`));
    expect(e.code).toBe(ErrorCode.MASTER_UNREACHABLE);
    expect(e.message).toBe(`master unreachable at http://127.0.0.1:${port} (ECONNREFUSED)`);
    expect(await codeOf(followHttp(`http://127.0.0.1:${port}`, 1, () => {}))).toBe(ErrorCode.MASTER_UNREACHABLE);
    expect(await codeOf(openHttpSource('127.0.0.1:7480'))).toBe(ErrorCode.BAD_ARGUMENT);
    expect(await codeOf(openHttpSource('ftp://127.0.0.1'))).toBe(ErrorCode.BAD_ARGUMENT);
  });

  it('a stream cut midway: MASTER_UNREACHABLE; one that skips a seq or stops short: EVENT_STREAM_BROKEN; an error line: its code', async () => {
    const cut = await openHttpSource(await standIn([ev(1), ev(2), '{"seq":3,'], 'destroy'));
    cleanup.defer('close', () => cut.close());
    const e = await errorOf(allEvents(cut, 1, 5));
    expect(e.code).toBe(ErrorCode.MASTER_UNREACHABLE);
    expect(e.message).toMatch(/^lost the connection to master http:\/\/127\.0\.0\.1:\d+ after seq 2/);

    const gap = await openHttpSource(await standIn([ev(1), ev(2), ev(4), ev(5)], 'end'));
    cleanup.defer('close', () => gap.close());
    expect(await codeOf(allEvents(gap, 1, 5))).toBe(ErrorCode.EVENT_STREAM_BROKEN);

    const dup = await standIn([ev(1), ev(2), ev(2), ev(3)], 'end');
    expect(await codeOf(followHttp(dup, 1, () => {}))).toBe(ErrorCode.EVENT_STREAM_BROKEN);

    const short = await openHttpSource(await standIn([ev(1), ev(2)], 'end'));
    cleanup.defer('close', () => short.close());
    expect(await codeOf(allEvents(short, 1, 5))).toBe(ErrorCode.EVENT_STREAM_BROKEN);

    const failed = await openHttpSource(await standIn([ev(1), JSON.stringify({ error: 'gone', code: 'SEQ_OUT_OF_RANGE' }) + '\n'], 'end'));
    cleanup.defer('close', () => failed.close());
    expect(await codeOf(allEvents(failed, 1, 5))).toBe(ErrorCode.SEQ_OUT_OF_RANGE);
  });
});
