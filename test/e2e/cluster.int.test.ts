/**
 * End to end in one process: a real Master (TCP + HTTP on 127.0.0.1, LevelDB in a temp
 * dir) and real slaves from createSlave, as a user would run them, with short timings
 * (interval 50 ms, reconnect backoff 20 → 100 ms) and a dead-after of 1.5 s, long enough that
 * no live slave of a busy machine times out. Every answer is read over HTTP, as a client
 * application would. Real time: these tests assert what happens, with generous bounds; how
 * soon a silent slave is DOWN (dead-after + one tick) is held exactly on a manual clock in
 * test/master/master.int.test.ts.
 *
 * A slave that "stops sending while its socket stays open" cannot be made from
 * createSlave without lying (it always HELLOs on its timer), so that one is a raw socket
 * that behaves exactly like a slave — HELLO and a push every interval, HELLO answered —
 * until it freezes: a hung agent whose kernel keeps the TCP connection up.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { LedgerEvent } from '../../src/events.js';
import type { Master } from '../../src/node/master.js';
import { createSlave, type Slave } from '../../src/slave/slave.js';
import { Cleanup } from '../helpers/cleanup.js';
import { api, connOf, logEvents, nodeState, slavePort, startMaster } from '../helpers/master.js';
import { RawClient } from '../helpers/net.js';
import { waitFor, withTimeout } from '../helpers/wait.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const INTERVAL = 50;
const DEAD_AFTER = 1500;
/** Real-time deadlines: only a master that never does it fails them, not a busy machine. */
const PATIENCE = 15_000;
const MASTER = { helloInterval: INTERVAL, deadAfter: DEAD_AFTER } as const;

const A30 = '10.0.0.30:8080';
const A10 = '10.0.0.10:8080';
const A20 = '10.0.0.20:8080';

function slave(master: Master | number, addr: string, load: number): Slave {
  const port = typeof master === 'number' ? master : slavePort(master);
  const s = createSlave({
    master: `127.0.0.1:${port}`,
    addr,
    load: () => load,
    interval: INTERVAL,
    deadAfter: DEAD_AFTER,
    backoff: { initial: 20, max: 100 },
  });
  s.on('error', () => {}); // refused while the master restarts: expected, it retries
  cleanup.defer(`slave ${addr}`, () => s.close());
  return s;
}

async function hungSlave(master: Master, addr: string, load: number): Promise<RawClient> {
  const c = await RawClient.connect(slavePort(master));
  cleanup.defer(`raw slave ${addr}`, () => c.destroy());
  c.startHeartbeat({ load, addr }, INTERVAL);
  return c;
}

/** The least-loaded node's addr over HTTP, or undefined while none is eligible. */
async function leastLoaded(master: Master): Promise<string | undefined> {
  const r = await api<{ addr: string }>(master, '/v1/least-loaded');
  return r.status === 200 ? r.body.addr : undefined;
}

describe('a cluster of slaves and a master', () => {
  it('30, 10, 20 → the 10 one; it goes silent with its socket open → DOWN once dead-after passed, and least-loaded moves to the 20 one', async () => {
    const master = await startMaster(cleanup, MASTER);
    slave(master, A30, 30);
    const ten = await hungSlave(master, A10, 10);
    slave(master, A20, 20);

    await waitFor(
      async () => (await leastLoaded(master)) === A10 && [A30, A10, A20].every((a) => nodeState(master, a) === 'PUSH_LOAD_INFO'),
      {
        what: 'three live nodes, the 10 one least loaded',
        timeout: PATIENCE,
      },
    );

    const tenConn = await connOf(master, ten);
    ten.freeze();
    await waitFor(() => nodeState(master, A10) === 'DOWN', { what: `${A10} DOWN`, interval: 2, timeout: PATIENCE });
    // Not before its dead-after: from the last frame the master read on it (its event's
    // timestamp) to the timeout, at least dead-after passed (2 ms: wall vs monotonic clock).
    const ofTen = (await logEvents(master)).filter((e) => 'conn' in e && e.conn === tenConn);
    const lastRx = ofTen.findLast((e) => e.type === 'HelloReceived' || e.type === 'LoadPushed' || e.type === 'HelloAckReceived')!;
    const timedOut = ofTen.find((e) => e.type === 'SlaveTimedOut')!;
    expect(timedOut, 'the silent connection timed out').toBeDefined();
    expect(timedOut.ts - lastRx.ts, 'ms from the last frame to the timeout').toBeGreaterThanOrEqual(DEAD_AFTER - 2);

    expect(await leastLoaded(master)).toBe(A20);
    const state = (await api(master, '/v1/state')).body;
    expect(state.nodes.find((n: { id: string }) => n.id === A10)).toMatchObject({
      state: 'DOWN',
      load: 10,
      reason: expect.stringMatching(/^no frame for/),
    });
    expect(
      state.nodes
        .filter((n: { state: string }) => n.state === 'PUSH_LOAD_INFO')
        .map((n: { id: string }) => n.id)
        .sort(),
    ).toEqual([A20, A30].sort());
    await ten.waitClosed(PATIENCE, 'the master to close the silent connection');
  });

  it('the master restarts on the same data dir and port: state rebuilt from the log, slaves reconnect by themselves, least-loaded answers a live node again', async () => {
    const dir = await cleanup.tempDir();
    const first = await startMaster(cleanup, { ...MASTER, data: dir });
    const { listen, http } = first.addresses;
    const slaves = [slave(first, A30, 30), slave(first, A10, 10), slave(first, A20, 20)];
    await waitFor(async () => (await leastLoaded(first)) === A10 && first.projection.index.size === 3, {
      what: 'the cluster up',
      timeout: PATIENCE,
    });
    const firstEvents = await logEvents(first);
    const lastConnBefore = first.projection.lastConn;

    await withTimeout(first.stop('restart'), PATIENCE, 'the first master to stop');
    const stoppedSeq = first.projection.seq;
    await waitFor(() => slaves.every((s) => !s.connected), { what: 'every slave to notice the master is gone', timeout: PATIENCE });

    const second = await startMaster(cleanup, {
      ...MASTER,
      data: dir,
      listen: { host: '127.0.0.1', port: listen.port },
      http: { host: '127.0.0.1', port: http!.port },
    });
    expect(second.projection.master).toMatchObject({ state: 'UP_LISTENING', epoch: 2 });
    expect(second.projection.seq).toBeGreaterThan(stoppedSeq);
    // Rebuilt from the log: all three are known, with their last loads, before any reconnect.
    expect([...second.projection.nodes.keys()].sort()).toEqual([A10, A20, A30].sort());
    for (const [a, l] of [
      [A30, 30],
      [A10, 10],
      [A20, 20],
    ] as const)
      expect(second.projection.nodes.get(a)?.load).toBe(l);

    await waitFor(async () => (await leastLoaded(second)) === A10, {
      what: 'least-loaded to answer a live node again',
      timeout: PATIENCE,
      interval: 10,
    });
    const least = (await api(second, '/v1/least-loaded')).body;
    expect(least).toMatchObject({ addr: A10, state: 'PUSH_LOAD_INFO', epoch: 2 });

    await waitFor(() => second.projection.index.size === 3, { what: 'all three slaves back', timeout: PATIENCE });
    expect(slaves.every((s) => s.stats.connects >= 2)).toBe(true);
    // conn numbers continue across the restart
    const newConns = (await logEvents(second)).filter((e) => e.seq > firstEvents.at(-1)!.seq && e.type === 'SlaveConnected');
    expect(Math.min(...newConns.map((e) => (e as Extract<LedgerEvent, { type: 'SlaveConnected' }>).conn))).toBeGreaterThan(lastConnBefore);
  });

  it('a slave restarted under the same addr supersedes its old connection at once', async () => {
    const master = await startMaster(cleanup, MASTER);
    slave(master, A30, 30);
    // The old incarnation: still connected (and even still talking), so no timeout can explain what follows.
    const old = await hungSlave(master, A20, 20);
    const oldConn = await connOf(master, old);
    await waitFor(async () => (await leastLoaded(master)) === A20, { what: 'the old incarnation least loaded', timeout: PATIENCE });

    let connected = false;
    const restarted = slave(master, A20, 5);
    restarted.once('connect', () => (connected = true));
    await old.waitClosed(PATIENCE, 'the master to close the old connection');
    expect(connected).toBe(true);

    await waitFor(async () => (await leastLoaded(master)) === A20 && master.projection.nodes.get(A20)?.load === 5, {
      what: 'the new incarnation serving',
      timeout: PATIENCE,
    });
    // At once: the old connection (still heartbeating, so never silent) ends superseded, not timed out.
    const log = await logEvents(master);
    const sup = log.find((e) => e.type === 'SlaveSuperseded');
    expect(sup).toMatchObject({ conn: oldConn, node: A20 });
    expect(log.filter((e) => e.type === 'SlaveTimedOut')).toEqual([]);
    expect((sup as Extract<LedgerEvent, { type: 'SlaveSuperseded' }>).by).toBe(master.projection.nodes.get(A20)?.conn);
    // The new one stays: a few more pushes, still connected, still bound.
    const pushes = restarted.stats.pushes;
    await waitFor(() => restarted.stats.pushes >= pushes + 3, { what: 'three more pushes', timeout: PATIENCE });
    expect(restarted.connected).toBe(true);
    expect(nodeState(master, A20)).toBe('PUSH_LOAD_INFO');
  });
});
