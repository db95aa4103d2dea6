/**
 * A slave with the masters of a cluster (master HA, docs/ha.md#slaves), on real loopback
 * sockets with its time on a manual clock: it tries every address once right away (a dead
 * one, a standby that closes it at once), then passes with seeded backoff; when its master
 * goes it is at the next one without waiting and pushes its whole state there; and slaves
 * that lose their master together come back spread out, not in one burst.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/selection/random.js';
import { ReconnectSchedule } from '../../src/slave/backoff.js';
import { LIST_BACKOFF_MAX_MS } from '../../src/slave/options.js';
import { createSlave, type ReconnectInfo, type Slave, type SlaveOptions } from '../../src/slave/slave.js';
import { Cleanup } from '../helpers/cleanup.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { logEvents, slavePort, startMaster } from '../helpers/master.js';
import { closedPort } from '../helpers/net.js';
import { waitFor } from '../helpers/wait.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** A master that never pings nor times out by itself: the slave's time is the manual clock's. */
const QUIET = { helloInterval: 600_000, deadAfter: 1_200_000 } as const;
const NODE = '10.0.0.5:8080';

function slave(
  clock: ManualClock,
  options: Omit<SlaveOptions, 'load' | 'scheduler'>,
): { slave: Slave; reconnecting: Array<ReconnectInfo & { at: number }> } {
  const s = createSlave({
    load: () => 7,
    addr: NODE,
    capacity: 2,
    attrs: { zone: 'eu-1' },
    scheduler: clock,
    interval: 1000,
    deadAfter: 3000,
    ...options,
  });
  const reconnecting: Array<ReconnectInfo & { at: number }> = [];
  s.on('reconnecting', (r) => reconnecting.push({ ...r, at: clock.now() }));
  s.on('error', () => {});
  cleanup.defer('slave', () => s.close());
  return { slave: s, reconnecting };
}

/** Waits (in real time) for `cond` while running the timers due now, never moving the clock: what `cond` needs takes no backoff. */
async function atOnce(clock: ManualClock, cond: () => boolean, what: string): Promise<void> {
  const t0 = clock.now();
  await waitFor(
    async () => {
      await clock.advance(0);
      return cond();
    },
    { what },
  );
  expect(clock.now()).toBe(t0);
}

/** A standby as a slave meets one: it accepts the connection and closes it before saying anything. */
async function standby(): Promise<{ port: number; accepted: () => number }> {
  let n = 0;
  const server: Server = createServer((socket: Socket) => {
    n++;
    socket.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanup.defer('standby', () => new Promise<void>((r) => server.close(() => r())));
  return { port: (server.address() as { port: number }).port, accepted: () => n };
}

describe('a slave with a list of masters', () => {
  it('passes a dead address and a standby that closes it by, right away, and registers on the master', async () => {
    const clock = new ManualClock();
    const master = await startMaster(cleanup, QUIET);
    const dead = await closedPort();
    const b = await standby();
    const { slave: s, reconnecting } = slave(clock, { master: `127.0.0.1:${dead},127.0.0.1:${b.port},127.0.0.1:${slavePort(master)}` });
    // no backoff on the way: the first pass goes straight through, without the clock moving
    // (only its due timers run), however long the machine takes over the sockets
    await atOnce(clock, () => master.projection.nodes.get(NODE)?.state === 'PUSH_LOAD_INFO', 'the node on the master');
    expect(reconnecting.map((r) => [r.master.port, r.delay, r.attempt])).toEqual([
      [b.port, 0, 1],
      [slavePort(master), 0, 2],
    ]);
    expect(b.accepted()).toBe(1);
    expect(s.master).toEqual({ host: '127.0.0.1', port: slavePort(master) });
    expect(s.masters.map((m) => m.port)).toEqual([dead, b.port, slavePort(master)]);
  });

  it('when its master goes, it is at the next one without waiting, with its whole state: HELLO, load, capacity, attributes', async () => {
    const clock = new ManualClock();
    const a = await startMaster(cleanup, QUIET);
    const b = await startMaster(cleanup, QUIET);
    const { reconnecting } = slave(clock, { master: [`127.0.0.1:${slavePort(a)}`, { host: '127.0.0.1', port: slavePort(b) }] });
    await clock.advanceUntil(() => a.projection.nodes.get(NODE)?.state === 'PUSH_LOAD_INFO', { step: 10, what: 'the node on a' });
    await clock.advance(2000); // it worked: connected for more than a second
    await a.stop('the leader goes');
    await atOnce(clock, () => b.projection.nodes.get(NODE)?.state === 'PUSH_LOAD_INFO', 'the node on b');
    expect(reconnecting.map((r) => [r.master.port, r.delay])).toEqual([[slavePort(b), 0]]);
    expect(b.projection.nodes.get(NODE)).toMatchObject({ load: 7, capacity: 2, attrs: { zone: 'eu-1' } });
    const types = (await logEvents(b)).map((e) => e.type);
    expect(types.slice(1, 5)).toEqual(['SlaveConnected', 'HelloReceived', 'HelloAckSent', 'LoadPushed']);
  });

  it('nobody takes it: every address once, then passes with the seeded backoff, capped at 300 ms with a list', async () => {
    const clock = new ManualClock();
    const ports = [await closedPort(), await closedPort()];
    const { reconnecting } = slave(clock, { master: ports.map((p) => `127.0.0.1:${p}`).join(','), random: seededRandom(9) });
    await clock.advanceUntil(() => reconnecting.length >= 16, { step: 20, max: 60_000, what: '16 reconnects' });
    // the same delays as the schedule with the same seed; each attempt at the time they say
    const expected = new ReconnectSchedule(2, { initial: 100, max: LIST_BACKOFF_MAX_MS, jitter: 0.5 }, seededRandom(9));
    const want = Array.from({ length: 16 }, () => expected.ended());
    expect(reconnecting.slice(0, 16).map((r) => [r.master.port, r.delay, r.attempt])).toEqual(
      want.map((w) => [ports[w.index], w.delay, w.attempt]),
    );
    expect(Math.max(...want.map((w) => w.delay))).toBeLessThanOrEqual(LIST_BACKOFF_MAX_MS);
    for (let i = 1; i < 16; i++) {
      // an attempt fails at once (refused on loopback): the next is scheduled when the last one's delay ran out
      expect(reconnecting[i]!.at - reconnecting[i - 1]!.at).toBeGreaterThanOrEqual(reconnecting[i - 1]!.delay);
      expect(reconnecting[i]!.at - reconnecting[i - 1]!.at).toBeLessThanOrEqual(reconnecting[i - 1]!.delay + 100);
    }
  });

  it('40 slaves that lose their master together reach the new one spread out, none more than the cap after it answers', async () => {
    const clock = new ManualClock();
    const a = await closedPort(); // the leader died
    const bPort = await closedPort(); // the standby: refuses until it is elected
    const arrivals: number[] = [];
    const start = clock.now();
    for (let i = 0; i < 40; i++) slave(clock, { master: `127.0.0.1:${a},127.0.0.1:${bPort}`, random: seededRandom(100 + i) });
    // the election, 2 s: in steps, with real time between them for the refusals to arrive
    await clock.advanceUntil(() => clock.now() - start >= 2000, { step: 10, max: 3000, what: 'the election' });
    const elected = clock.now();
    const sockets: Socket[] = [];
    const server = createServer((socket) => {
      arrivals.push(clock.now());
      sockets.push(socket);
      socket.on('error', () => {});
    });
    await new Promise<void>((r) => server.listen(bPort, '127.0.0.1', r));
    cleanup.defer('new leader', () => new Promise<void>((r) => (sockets.forEach((x) => x.destroy()), server.close(() => r()))));
    await clock.advanceUntil(() => arrivals.length >= 40, { step: 10, max: 5000, what: 'all 40 at the new leader' });
    // the cap, and the other address of that pass (refused on loopback: a step or two of the clock)
    expect(Math.max(...arrivals) - elected).toBeLessThanOrEqual(LIST_BACKOFF_MAX_MS + 100);
    const spread = new Set(arrivals.map((t) => Math.floor(t / 25))).size;
    console.log(
      `40 slaves: at the new leader ${Math.min(...arrivals) - elected}..${Math.max(...arrivals) - elected} ms after it answered, in ${spread} windows of 25 ms`,
    );
    expect(spread).toBeGreaterThanOrEqual(6); // not one burst: arrivals fall in many 25 ms windows
  });
});
