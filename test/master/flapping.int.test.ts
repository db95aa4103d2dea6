/**
 * Two slaves with the same --addr (issue 12 item 9), over real TCP on 127.0.0.1, the master's
 * time on a manual clock: up to --flap-takeovers takeovers within --flap-window supersede as
 * before; the next is flapping: the connection that holds the node keeps it, the newcomer is
 * refused (a SlaveRefused with conn, node and reason, counted in loadledger_refused_total),
 * the detection is counted (loadledger_flapping_total) and warned about once, naming both
 * peers; after --flap-hold-down takeovers work again. The log still folds to the live state.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { LedgerEvent, SlaveRefused } from '../../src/events.js';
import { createLogger } from '../../src/cli/log.js';
import { logMaster } from '../../src/cli/master-log.js';
import type { Master } from '../../src/node/master.js';
import { foldEvents } from '../../src/projection/evolve.js';
import { createProjection } from '../../src/projection/state.js';
import { stateDocument } from '../../src/projection/document.js';
import { createSlave } from '../../src/slave/slave.js';
import { Cleanup } from '../helpers/cleanup.js';
import { connOf, httpBase, logEvents, pushedClient, rawClient, startMaster, waitForEvent } from '../helpers/master.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { waitFor } from '../helpers/wait.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

// Nobody times out within the test (the raw clients send nothing after their push).
const SLOW = { helloInterval: 300_000, deadAfter: 600_000 } as const;
const FLAP = { flapTakeovers: 3, flapWindow: 60_000, flapHoldDown: 120_000 } as const;
const NODE = '10.0.0.7:8080';

interface Warning {
  level: string;
  event?: string;
  msg: string;
  [k: string]: unknown;
}

async function flappingMaster(): Promise<{ master: Master; clock: ManualClock; warnings: () => Warning[] }> {
  const clock = new ManualClock();
  const master = await startMaster(cleanup, { ...SLOW, ...FLAP, scheduler: clock, clock: clock.wall });
  const lines: string[] = [];
  logMaster(
    master,
    createLogger('loadledger master', { logLevel: 'info', logFormat: 'json' }, { write: (l) => lines.push(l) }),
    master.options.data,
  );
  const warnings = (): Warning[] => lines.map((l) => JSON.parse(l) as Warning).filter((r) => r.level === 'warn');
  return { master, clock, warnings };
}

/** A new connection pushing for NODE; resolves with it and its conn once its end or its binding is committed. */
async function takeOver(master: Master, load: number) {
  const cl = await rawClient(cleanup, master);
  const conn = await connOf(master, cl);
  cl.push({ load, addr: NODE });
  await waitFor(() => master.projection.nodes.get(NODE)?.conn === conn || !master.projection.conns.has(conn), {
    what: `connection ${conn}'s push to be bound or refused`,
  });
  return { cl, conn, bound: master.projection.nodes.get(NODE)?.conn === conn };
}

async function metric(master: Master, name: string): Promise<number> {
  const text = await (await fetch(httpBase(master) + '/metrics', { signal: AbortSignal.timeout(5000) })).text();
  const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(text);
  if (!m) throw new Error(`${name} not in /metrics`);
  return Number(m[1]);
}

const refusedFor = (events: LedgerEvent[], conn: number) =>
  events.find((e): e is SlaveRefused => e.type === 'SlaveRefused' && e.conn === conn);

describe('a node id taken over again and again (two slaves with the same --addr)', () => {
  it('up to --flap-takeovers takeovers supersede; the next is refused and the holder keeps the node for the hold-down', async () => {
    const { master, clock, warnings } = await flappingMaster();
    const first = await pushedClient(cleanup, master, { load: 10, addr: NODE });
    let holder = first;
    // three takeovers within a minute: superseded as always
    for (let i = 1; i <= FLAP.flapTakeovers; i++) {
      await clock.advance(1000);
      const t = await takeOver(master, i % 2 === 0 ? 10 : 90);
      expect(t.bound).toBe(true);
      await waitForEvent(
        master,
        (e) => e.type === 'SlaveSuperseded' && e.conn === holder.conn && e.by === t.conn,
        `connection ${holder.conn} superseded`,
      );
      holder = t;
    }
    const heldLoad = master.projection.nodes.get(NODE)!.load;
    expect(master.counters.flapping).toBe(0);
    expect(warnings()).toEqual([]);

    // the fourth: flapping
    await clock.advance(1000);
    const newcomer = await takeOver(master, 55);
    expect(newcomer.bound).toBe(false);
    await newcomer.cl.waitClosed();
    const refused = refusedFor(await logEvents(master), newcomer.conn)!;
    expect(refused).toMatchObject({ type: 'SlaveRefused', conn: newcomer.conn, node: NODE, remote: newcomer.cl.remote });
    expect(refused.reason).toBe(
      `node ${NODE} is flapping (taken over 4 times within 1m, by connections from ${holder.cl.remote} and ${newcomer.cl.remote}): it stays with connection ${holder.conn} from ${holder.cl.remote}, others are refused for 2m`,
    );
    expect(master.projection.nodes.get(NODE)).toMatchObject({ conn: holder.conn, load: heldLoad, state: 'PUSH_LOAD_INFO' });
    expect(holder.cl.closed).toBe(false);
    expect(master.counters).toMatchObject({ refused: 1, flapping: 1 });
    expect(warnings()).toHaveLength(1);
    expect(warnings()[0]).toMatchObject({
      event: 'flapping',
      node: NODE,
      takeovers: 4,
      holder: holder.cl.remote,
      holderConn: holder.conn,
      refused: newcomer.cl.remote,
      holdDownMs: 120_000,
    });
    expect(warnings()[0]!.msg).toContain(`by connections from ${holder.cl.remote} and ${newcomer.cl.remote}`);

    // during the hold-down: every other connection pushing for it is refused, no new warning
    for (let i = 0; i < 3; i++) {
      await clock.advance(20_000);
      const again = await takeOver(master, 66);
      expect(again.bound).toBe(false);
      expect(refusedFor(await logEvents(master), again.conn)?.reason).toMatch(
        new RegExp(
          `^node ${NODE.replace(/\./g, '\\.')} is flapping: it stays with connection ${holder.conn} from ${holder.cl.remote} for another `,
        ),
      );
    }
    expect(master.projection.nodes.get(NODE)).toMatchObject({ conn: holder.conn, load: heldLoad });
    expect(master.counters).toMatchObject({ refused: 4, flapping: 1 });
    expect(warnings()).toHaveLength(1);
    expect(await metric(master, 'loadledger_flapping_total')).toBe(1);
    expect(await metric(master, 'loadledger_refused_total')).toBe(4);

    // after the hold-down a takeover supersedes again
    await clock.advance(FLAP.flapHoldDown);
    const after = await takeOver(master, 77);
    expect(after.bound).toBe(true);
    await waitForEvent(
      master,
      (e) => e.type === 'SlaveSuperseded' && e.conn === holder.conn && e.by === after.conn,
      'the holder superseded after the hold-down',
    );

    // the refused connections are gone from the state, and the log folds to the same state
    await master.recorder.flush();
    const live = stateDocument(master.projection);
    expect(live.pending).toEqual([]);
    expect(stateDocument(foldEvents(createProjection(), await logEvents(master)))).toEqual(live);
  });

  it('a newcomer binds the node as usual once the holder is gone, hold-down or not (that is no takeover)', async () => {
    const { master, clock } = await flappingMaster();
    let holder = await pushedClient(cleanup, master, { load: 10, addr: NODE });
    for (let i = 0; i <= FLAP.flapTakeovers; i++) {
      await clock.advance(1000);
      const t = await takeOver(master, 20 + i);
      if (t.bound) holder = t;
    }
    expect(master.counters.flapping).toBe(1);
    holder.cl.destroy(); // the slave that kept it stops
    await waitForEvent(master, (e) => e.type === 'SlaveDisconnected' && e.conn === holder.conn, 'the holder disconnected');
    expect(master.projection.nodes.get(NODE)?.state).toBe('DOWN');
    await clock.advance(1000);
    const next = await takeOver(master, 42);
    expect(next.bound).toBe(true);
    expect(master.projection.nodes.get(NODE)).toMatchObject({ state: 'PUSH_LOAD_INFO', load: 42 });
  });

  it('two real slaves with the same --addr: once flapping is detected, the node keeps one load for the hold-down', async () => {
    const { master, clock, warnings } = await flappingMaster();
    const port = master.addresses.listen.port;
    for (const load of [10, 90]) {
      // deadAfter past the test's clock time: the clock runs a minute ahead in steps that wait
      // for no HELLO_ACK, and a busy machine answers late; a slave giving its master up for
      // dead would let go of the node (the flap-hold-down is not about that).
      const s = createSlave({
        master: `127.0.0.1:${port}`,
        addr: NODE,
        load: () => load,
        interval: 1000,
        deadAfter: SLOW.deadAfter,
        scheduler: clock,
      });
      s.on('error', () => {});
      cleanup.defer(`slave ${load}`, () => s.close());
    }
    // they supersede each other (each reconnects with its backoff) until the master sees the flapping
    await clock.advanceUntil(() => master.counters.flapping === 1, { step: 100, max: 60_000, what: 'flapping detected' });
    await waitFor(() => master.projection.conns.size === 1 && master.projection.nodes.get(NODE)?.state === 'PUSH_LOAD_INFO', {
      what: 'one connection left, holding the node',
    });
    const held = master.projection.nodes.get(NODE)!;
    const { conn, load } = held;
    // a minute of the hold-down: the refused slave keeps trying, the node keeps its load and connection
    const loads = new Set<number>();
    for (let t = 0; t < 60_000; t += 500) {
      await clock.advance(500);
      loads.add(master.projection.nodes.get(NODE)!.load);
      expect(master.projection.nodes.get(NODE)!.conn).toBe(conn);
    }
    expect([...loads]).toEqual([load]);
    expect(master.counters.refused).toBeGreaterThan(1);
    expect(master.counters.flapping).toBe(1);
    expect(warnings()).toHaveLength(1);
  });
});
