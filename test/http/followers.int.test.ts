/**
 * `/v1/events` clients that stop reading, and too many of them, against an in-process
 * master (real LevelDB, loopback sockets, the master's time on a manual clock): the cap on
 * live tails (503 TOO_MANY_FOLLOWERS and its metric), the bound on what one stream holds,
 * the cut-off of a client that took nothing for --follow-stall-timeout (a last error line,
 * then its socket destroyed), of one behind the retention horizon, and resuming from a seq.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { followHttp } from '../../replay/http-source.js';
import { ErrorCode } from '../../src/errors.js';
import type { LedgerEvent } from '../../src/events.js';
import { STREAM_BUFFER_LIMIT } from '../../src/http/server.js';
import type { Master } from '../../src/node/master.js';
import { HELLO_FRAME } from '../../src/protocol/encoder.js';
import { Cleanup } from '../helpers/cleanup.js';
import { codeOf } from '../helpers/errors.js';
import { jsonLines, metric, rawFollower, type RawFollower } from '../helpers/followers.js';
import { request } from '../helpers/http.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { httpBase, rawClient, startMaster, type TestMasterOptions } from '../helpers/master.js';
import { waitFor, withTimeout } from '../helpers/wait.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** No pings, no timeouts, no frame rate: the only events are the ones a test makes. */
const QUIET = { helloInterval: 600_000, deadAfter: 1_200_000, maxFrameRate: 0 } as const;

async function quietMaster(opts: TestMasterOptions = {}): Promise<{ master: Master; clock: ManualClock; base: string; port: number }> {
  const clock = new ManualClock();
  const master = await startMaster(cleanup, { ...QUIET, scheduler: clock, ...opts });
  return { master, clock, base: httpBase(master), port: master.addresses.http!.port };
}

async function follower(port: number, path: string): Promise<RawFollower> {
  const f = await rawFollower(port, path);
  cleanup.defer('raw follower', () => f.destroy());
  return f;
}

/** n HELLOs from one slave: 2n events (HelloReceived, HelloAckSent), committed when it returns. */
async function hellos(master: Master, n: number): Promise<void> {
  const c = await rawClient(cleanup, master);
  c.push({ addr: 'n:80', load: 1 });
  const target = master.projection.seq + 2 * n;
  for (let i = 0; i < n; i += 10_000) c.send(Buffer.concat(Array.from({ length: Math.min(10_000, n - i) }, () => HELLO_FRAME)));
  await waitFor(() => master.projection.seq >= target, { timeout: 60_000, what: `${2 * n} events committed` });
}

/** A follower that stopped reading with events still to send: its socket is full (blocked). */
async function blockedFollower(master: Master, base: string, port: number, path = '/v1/events?follow=1&from=1'): Promise<RawFollower> {
  const f = await follower(port, path);
  await waitFor(async () => (await metric(base, 'loadledger_followers')) >= 1, { what: 'the follower counted' });
  // Far more than the kernel's socket buffers take: the master has to stop writing.
  for (let round = 0; round < 10; round++) {
    await hellos(master, 100_000);
    if ((await metric(base, 'loadledger_followers_buffered_bytes{of="max"}')) >= 16 * 1024) return f;
  }
  throw new Error('the follower never filled its socket');
}

describe('live tails that do not read', () => {
  it('hold a bounded number of bytes each, and resume from where they stopped', async () => {
    const { master, base, port } = await quietMaster();
    const f = await blockedFollower(master, base, port);
    // 200,000 more events (some 13 MB of JSON) committed past what it read: held for it by
    // the master, they would be a copy of it all; held as a cursor, one batch.
    await hellos(master, 100_000);
    expect(await metric(base, 'loadledger_followers_buffered_bytes{of="max"}')).toBeLessThanOrEqual(STREAM_BUFFER_LIMIT);
    expect(await metric(base, 'loadledger_followers_tail_events')).toBeLessThanOrEqual(16_384);
    expect(await metric(base, 'loadledger_followers_blocked')).toBe(1);
    // Reading again, it gets everything, in order, from the log, up to the live end.
    f.read();
    const last = master.projection.seq;
    await waitFor(() => f.text().includes(`"seq":${last},`), { timeout: 60_000, interval: 200, what: `the follower at seq ${last}` });
    const { lines } = jsonLines(f.text());
    (lines as LedgerEvent[]).forEach((e, i) => {
      if (e.seq !== i + 1) throw new Error(`line ${i}: seq ${e.seq}`);
    });
  }, 120_000);

  it('are cut off after --follow-stall-timeout: a last error line, then the socket is destroyed', async () => {
    const { master, clock, base, port } = await quietMaster({ followStallTimeout: 5000 });
    const reads = await blockedFollower(master, base, port);
    // (the log is long by now: this one fills its socket at once)
    const never = await follower(port, '/v1/events?follow=1&from=1');
    await waitFor(async () => (await metric(base, 'loadledger_followers_buffered_bytes{of="total"}')) >= 2 * 16 * 1024, {
      what: 'both sockets full',
    });
    const before = await metric(base, 'loadledger_http_connections');
    await clock.advance(4000);
    expect(await metric(base, 'loadledger_followers')).toBe(2); // not yet
    await clock.advance(1000);
    await waitFor(async () => (await metric(base, 'loadledger_followers')) === 0, { what: 'both cut off' });
    expect(await metric(base, 'loadledger_followers_cut_total{reason="stalled"}')).toBe(2);
    // One reads again within the grace: it gets what was sent, then the last line.
    reads.read();
    await withTimeout(reads.closed, 30_000, 'the reading follower to be closed');
    const { lines, complete } = jsonLines(reads.text());
    expect(complete).toBe(true);
    const end = lines.at(-1) as { code?: string; error?: string };
    expect(end.code).toBe(ErrorCode.EVENT_STREAM_BROKEN);
    expect(end.error).toMatch(/took nothing for 5(\.0)?s .*follow again from seq \d+/);
    // The other one does not: its socket is destroyed after the grace, buffers and all.
    await clock.advance(1000);
    await waitFor(async () => (await metric(base, 'loadledger_http_connections')) <= before - 2, {
      what: 'both connections gone from the master',
    });
    never.read();
    await withTimeout(never.closed, 30_000, 'the deaf follower to see its connection closed');
  }, 120_000);

  it('are cut off when retention deleted what they need next (SEQ_OUT_OF_RANGE), stalled or not', async () => {
    const { master, clock, base, port } = await quietMaster({ followStallTimeout: 0, retainEvents: 1000 });
    const f = await blockedFollower(master, base, port);
    await master.applyRetention();
    await clock.advance(1000); // the next check
    await waitFor(async () => (await metric(base, 'loadledger_followers')) === 0, { what: 'the follower cut off' });
    expect(await metric(base, 'loadledger_followers_cut_total{reason="retention"}')).toBe(1);
    f.read();
    await withTimeout(f.closed, 30_000, 'the follower to be closed');
    const end = jsonLines(f.text()).lines.at(-1) as { code?: string };
    expect(end.code).toBe(ErrorCode.SEQ_OUT_OF_RANGE);
  }, 120_000);
});

describe('--max-followers', () => {
  it('answers 503 TOO_MANY_FOLLOWERS beyond the cap, counts it, and takes a new one when one leaves', async () => {
    const { master, base, port } = await quietMaster({ maxFollowers: 2 });
    const a = await follower(port, '/v1/events?follow=1');
    await follower(port, '/v1/events?follow=1&from=1');
    await waitFor(async () => (await metric(base, 'loadledger_followers')) === 2, { what: 'two followers' });
    const refused = await request(`${base}/v1/events?follow=1`);
    expect(refused.status).toBe(503);
    expect(refused.json.code).toBe(ErrorCode.TOO_MANY_FOLLOWERS);
    expect(refused.headers['retry-after']).toBe('5');
    expect(await codeOf(followHttp(base, 1, () => {}))).toBe(ErrorCode.TOO_MANY_FOLLOWERS);
    expect(await metric(base, 'loadledger_followers_refused_total')).toBe(2);
    // Reads without follow are not live tails: not capped.
    expect((await request(`${base}/v1/events?from=1`)).status).toBe(200);
    a.destroy();
    await waitFor(async () => (await metric(base, 'loadledger_followers')) === 1, { what: 'the one that left released' });
    const abort = new AbortController();
    const seen: LedgerEvent[] = [];
    const done = followHttp(base, 1, (e) => void seen.push(e), abort.signal);
    await waitFor(() => seen.length > 0, { what: 'the new follower served' });
    abort.abort();
    await done;
    expect(master.projection.seq).toBeGreaterThan(0);
  });
});
