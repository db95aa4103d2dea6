/**
 * GOODBYE (README "Extensions to PROTOCOL.md") against a real master: raw clients send the
 * bytes, the log is read back from LevelDB. dead-after is long (20 s), so anything that
 * happens within a second was caused by the GOODBYE, not by a timeout.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import type { LedgerEvent } from '../../src/events.js';
import type { Master } from '../../src/node/master.js';
import { GOODBYE_FRAME, HELLO_FRAME, MsgType, encodeGoodbye, encodePush, type PushFields } from '../../src/protocol/index.js';
import { createSlave } from '../../src/slave/slave.js';
import { Cleanup } from '../helpers/cleanup.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { api, connOf, doc, logEvents, pushedClient, rawClient, slavePort, startMaster, waitForEvent } from '../helpers/master.js';
import { type RawClient, rawFrame } from '../helpers/net.js';
import { waitFor, withTimeout } from '../helpers/wait.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const SLOW = { helloInterval: 10_000, deadAfter: 20_000 } as const;

const client = (master: Master): Promise<RawClient> => rawClient(cleanup, master);
const pushed = (master: Master, fields: PushFields & { addr: string }) => pushedClient(cleanup, master, fields);

const ofConn = (conn: number) => (e: LedgerEvent) => 'conn' in e && e.conn === conn;

describe('GOODBYE', () => {
  it.each([
    { what: 'without a payload', bytes: GOODBYE_FRAME, event: {}, reason: 'left' },
    {
      what: 'with a reason',
      bytes: encodeGoodbye('drained for deploy'),
      event: { reason: 'drained for deploy' },
      reason: 'left (drained for deploy)',
    },
  ])(
    '$what: SlaveLeft recorded, the node DOWN at once, the master closes the connection; nothing else changes',
    async ({ bytes, event, reason }) => {
      const master = await startMaster(cleanup, SLOW);
      const { cl, conn } = await pushed(master, { load: 10, addr: 'leaver:1', attrs: { zone: 'eu-1' } });
      const { cl: other } = await pushed(master, { load: 20, addr: 'stayer:1' });
      const before = doc(master);

      const t0 = performance.now();
      cl.send(bytes); // the client does not close: the master must
      const closedAt = await cl.waitClosed(1000, 'the master to close the connection after GOODBYE');
      expect(closedAt - t0).toBeLessThan(1000); // dead-after is 20 s

      const left = await waitForEvent(master, (e) => e.type === 'SlaveLeft', 'SlaveLeft in the log');
      expect(left).toEqual({ seq: left.seq, ts: left.ts, type: 'SlaveLeft', conn, ...event });
      const after = doc(master);
      const leaver = before.nodes.find((n) => n.id === 'leaver:1')!;
      expect(after.nodes).toEqual([{ ...leaver, state: 'DOWN', since: left.ts, reason }, before.nodes.find((n) => n.id === 'stayer:1')]);
      expect(after.pending).toEqual([]);
      expect(master.projection.conns.has(conn)).toBe(false);
      expect((await api(master, '/v1/least-loaded')).body).toMatchObject({ id: 'stayer:1' });
      const state = (await api(master, '/v1/state')).body as typeof after;
      expect(state.nodes.find((n) => n.id === 'leaver:1')).toMatchObject({ state: 'DOWN', reason });

      // The connection's story ends with SlaveLeft: its close is not recorded a second time.
      other.hello();
      await waitFor(() => other.count('HELLO_ACK') === 1, { what: 'a round trip on the other connection' });
      expect((await logEvents(master)).filter(ofConn(conn)).map((e) => e.type)).toEqual(['SlaveConnected', 'LoadPushed', 'SlaveLeft']);
      expect(other.closed).toBe(false);
    },
  );

  it('frames after GOODBYE (in the same write) are ignored', async () => {
    const master = await startMaster(cleanup, SLOW);
    const { cl, conn } = await pushed(master, { load: 10, addr: 'leaver:1' });
    cl.send(
      Buffer.concat([
        HELLO_FRAME,
        GOODBYE_FRAME,
        encodePush({ load: 99, addr: 'leaver:1' }),
        HELLO_FRAME,
        encodePush({ load: 1, addr: 'new:1' }),
      ]),
    );
    await cl.waitClosed();
    await waitForEvent(master, (e) => e.type === 'SlaveLeft', 'SlaveLeft in the log');
    const types = (await logEvents(master)).filter(ofConn(conn)).map((e) => e.type);
    expect(types).toEqual(['SlaveConnected', 'LoadPushed', 'HelloReceived', 'HelloAckSent', 'SlaveLeft']);
    expect(doc(master).nodes.map((n) => [n.id, n.state, n.load])).toEqual([['leaver:1', 'DOWN', 10]]);
    expect(cl.count('HELLO_ACK')).toBeLessThanOrEqual(1);
  });

  it('on a connection that never pushed: the pending connection just goes, recorded', async () => {
    const master = await startMaster(cleanup, SLOW);
    const { conn: stayer } = await pushed(master, { load: 5, addr: 'stayer:1' });
    const cl = await client(master);
    const conn = await connOf(master, cl);
    expect(doc(master).pending.map((p) => p.conn)).toEqual([conn]);
    const before = doc(master);
    cl.send(encodeGoodbye('never mind'));
    await cl.waitClosed();
    const left = await waitForEvent(master, (e) => e.type === 'SlaveLeft', 'SlaveLeft in the log');
    expect(left).toMatchObject({ conn, reason: 'never mind' });
    expect(doc(master)).toEqual({ ...before, seq: left.seq, pending: [] });
    expect(master.projection.nodes.get('stayer:1')?.conn).toBe(stayer);
  });

  it('an invalid GOODBYE payload is a violation (GOODBYE_MALFORMED): closed, DOWN with that reason, no SlaveLeft', async () => {
    const master = await startMaster(cleanup, SLOW);
    const { cl, conn } = await pushed(master, { load: 10, addr: 'bad:1' });
    cl.send(rawFrame(MsgType.GOODBYE, Buffer.from('bye'))); // a string, not a map
    await cl.waitClosed();
    const v = await waitForEvent(master, (e) => e.type === 'ProtocolViolated' && e.conn === conn, 'the violation');
    expect(v).toMatchObject({ code: ErrorCode.GOODBYE_MALFORMED });
    expect(doc(master).nodes).toMatchObject([
      { id: 'bad:1', state: 'DOWN', load: 10, reason: expect.stringMatching(/^protocol violation GOODBYE_MALFORMED: /) },
    ]);
    expect((await logEvents(master)).some((e) => e.type === 'SlaveLeft')).toBe(false);
  });

  it("the project's slave says GOODBYE on close(): DOWN with its reason at once, though dead-after is 20 s", async () => {
    const master = await startMaster(cleanup, SLOW);
    // The slave's clock stands still: its 1 s close grace can never fire, so close() ends
    // because the master closed its side, however slow the machine.
    const clock = new ManualClock();
    const slave = createSlave({
      master: { host: '127.0.0.1', port: slavePort(master) },
      addr: 'lib:1',
      load: () => 7,
      interval: 50,
      deadAfter: 20_000,
      scheduler: clock,
    });
    cleanup.defer('slave.close()', () => slave.close());
    await waitFor(() => master.projection.nodes.get('lib:1')?.state === 'PUSH_LOAD_INFO', { what: 'lib:1 up' });
    await withTimeout(slave.close({ reason: 'SIGTERM' }), 10_000, 'slave.close() (the master closed its side: no grace timeout)');
    const left = await waitForEvent(master, (e) => e.type === 'SlaveLeft', 'SlaveLeft in the log');
    expect(left).toMatchObject({ reason: 'SIGTERM' });
    expect(doc(master).nodes).toMatchObject([{ id: 'lib:1', state: 'DOWN', reason: 'left (SIGTERM)', load: 7 }]);
  });
});
