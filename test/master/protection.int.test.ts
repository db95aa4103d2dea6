/**
 * Mass-failure protection against a real master (README "Guarantees"): six raw slaves
 * heartbeat every 50 ms (dead-after 500 ms); some of them freeze at once, as they would
 * behind a partition at the master. The master records ProtectionStarted, keeps answering
 * from their last loads for --protect-for, flags it in /healthz, /v1/state and /metrics,
 * and records ProtectionEnded; what it served folds back from the log exactly.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { LedgerEvent, ProtectionStarted } from '../../src/events.js';
import type { Master } from '../../src/node/master.js';
import { stateDocument, type StateDocument } from '../../src/projection/document.js';
import { foldEvents } from '../../src/projection/evolve.js';
import { createProjection } from '../../src/projection/state.js';
import { verifyLog } from '../../replay/verify.js';
import { Cleanup } from '../helpers/cleanup.js';
import { api, httpBase, logEvents, slavePort, startMaster, waitForEvent, type TestMasterOptions } from '../helpers/master.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { RawClient } from '../helpers/net.js';
import { runCli } from '../helpers/cli.js';
import { sleep, waitFor } from '../helpers/wait.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const IDS = [1, 2, 3, 4, 5, 6].map((i) => `n${i}:1`);
/** Heartbeats every 50 ms, dead after 500 ms: the slaves that keep beating never time out, even on a loaded machine. */
const TIMING = { helloInterval: 100, deadAfter: 500 } as const;

/**
 * The master's time (and the slaves' heartbeats) on a manual clock that follows real time at
 * 2.5× but never jumps past a stall of a busy machine: a heartbeat is always read before its
 * slave's silence could count, and the windows take less real time.
 */
let clock: ManualClock;

async function start(opts: TestMasterOptions): Promise<Master> {
  clock = new ManualClock();
  const master = await startMaster(cleanup, { ...TIMING, scheduler: clock, clock: clock.wall, ...opts });
  cleanup.defer('clock', clock.follow(10, 4));
  return master;
}

/** A slave heartbeating as `id` with load 10 × its number (n1 is the least loaded). */
async function slave(master: Master, id: string): Promise<RawClient> {
  const cl = await RawClient.connect(slavePort(master));
  cleanup.defer(`client ${id}`, () => cl.destroy());
  cl.startHeartbeat({ load: 10 * Number(id.slice(1, 2)), addr: id }, 50, clock);
  return cl;
}

async function six(master: Master): Promise<RawClient[]> {
  const cls = await Promise.all(IDS.map((id) => slave(master, id)));
  await waitFor(() => master.projection.index.size === 6, { what: 'six eligible nodes' });
  return cls;
}

/** The state document a fresh fold of the log gives at `seq`. */
async function replayed(master: Master, seq: number): Promise<StateDocument> {
  const events = (await logEvents(master)).filter((e) => e.seq <= seq);
  return stateDocument(foldEvents(createProjection(), events));
}

const isType = (t: LedgerEvent['type']) => (e: LedgerEvent) => e.type === t;

describe('mass-failure protection', () => {
  it('4 of 6 freeze at once: they stay eligible with their last loads for --protect-for, flagged; then DOWN; replay folds to what was served', async () => {
    const master = await start({ protectShare: 0.5, protectFor: 800 });
    const cls = await six(master);
    const told: string[] = [];
    const sub = master.protection$.subscribe((e) => told.push(e.type));
    cleanup.defer('protection$', () => sub.unsubscribe());
    for (const cl of cls.slice(0, 4)) cl.freeze();

    const started = await waitForEvent<ProtectionStarted>(master, isType('ProtectionStarted'), 'ProtectionStarted', 3000);
    expect(started).toMatchObject({ timedOut: 4, eligible: 6, nodes: IDS.slice(0, 4) });
    // until: the master's clock when it decided + --protect-for (ts is stamped a moment later)
    expect(started.until - started.ts).toBeGreaterThan(790);
    expect(started.until - started.ts).toBeLessThanOrEqual(800);
    await waitFor(() => IDS.slice(0, 4).every((id) => master.projection.nodes.get(id)?.protected), {
      what: 'the four frozen nodes protected',
    });

    // while it lasts: answers from the frozen ones' last loads, and it says so everywhere
    const least = await api(master, '/v1/least-loaded');
    expect(least.status).toBe(200);
    expect(least.body).toMatchObject({
      id: 'n1:1',
      load: 10,
      state: 'PUSH_LOAD_INFO',
      protected: true,
      reason: expect.stringMatching(/^no frame for /),
    });
    const health = await api(master, '/healthz');
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({
      status: 'ok',
      protection: { since: started.ts, until: started.until, timedOut: 4, eligible: 6, nodes: IDS.slice(0, 4) },
    });
    const served = await api<StateDocument>(master, '/v1/state');
    expect(served.body.master.protection).toEqual({
      since: started.ts,
      until: started.until,
      timedOut: 4,
      eligible: 6,
      nodes: IDS.slice(0, 4),
    });
    expect(served.body.nodes.filter((n) => n.protected).map((n) => n.id)).toEqual(IDS.slice(0, 4));
    expect(served.body.nodes.every((n) => n.state === 'PUSH_LOAD_INFO')).toBe(true);
    const metrics = await (await fetch(`${httpBase(master)}/metrics`)).text();
    expect(metrics).toMatch(/^loadledger_protection_active 1$/m);
    // the frozen slaves' connections are gone: the master closed them
    for (const cl of cls.slice(0, 4)) await cl.waitClosed(1000);

    // the bound passes: ProtectionEnded, the absent ones go DOWN
    const ended = await waitForEvent(master, isType('ProtectionEnded'), 'ProtectionEnded', 3000);
    expect(ended).toMatchObject({ reason: 'expired' });
    expect(ended.ts).toBeGreaterThanOrEqual(started.until);
    await waitFor(() => told.length === 2, { what: 'protection$ to tell both' });
    expect(told).toEqual(['ProtectionStarted', 'ProtectionEnded']);
    await waitFor(() => master.projection.seq >= ended.seq, { what: 'ProtectionEnded folded' });
    expect((await api(master, '/v1/least-loaded')).body).toMatchObject({ id: 'n5:1', load: 50 });
    const after = await api<StateDocument>(master, '/v1/state');
    expect(after.body.master).not.toHaveProperty('protection');
    for (const id of IDS.slice(0, 4)) {
      expect(after.body.nodes.find((n) => n.id === id)).toMatchObject({
        state: 'DOWN',
        since: ended.ts,
        reason: expect.stringMatching(/kept eligible by mass-failure protection until it ended \(expired\)$/),
      });
    }
    expect((await api(master, '/healthz')).body).not.toHaveProperty('protection');
    expect(await (await fetch(`${httpBase(master)}/metrics`)).text()).toMatch(/^loadledger_protection_active 0$/m);

    // replay reproduces exactly what was served, during protection and after
    expect(await replayed(master, served.body.seq)).toEqual(served.body);
    expect(await replayed(master, after.body.seq)).toEqual(after.body);

    // in the log, from ProtectionStarted to ProtectionEnded the four are eligible after every
    // event (their SlaveTimedOut after the start changed nothing but the flag): no flap
    const p = createProjection();
    const notUp: string[] = [];
    for (const e of await logEvents(master)) {
      foldEvents(p, [e]);
      if (e.seq >= started.seq && e.seq < ended.seq) {
        for (const id of IDS.slice(0, 4)) if (p.nodes.get(id)?.state !== 'PUSH_LOAD_INFO') notUp.push(`${id} at seq ${e.seq}`);
      }
    }
    expect(notUp).toEqual([]);

    await master.stop('test');
    const r = await verifyLog(master.options.data);
    expect(r.problems).toEqual([]);
    expect(r.ok).toBe(true);
  });

  it('1 of 6 times out: no protection, it goes DOWN as always', async () => {
    const master = await start({ protectShare: 0.5, protectFor: 800 });
    const cls = await six(master);
    cls[0]!.freeze();
    await waitForEvent(master, isType('SlaveTimedOut'), 'SlaveTimedOut', 3000);
    await waitFor(() => master.projection.nodes.get('n1:1')?.state === 'DOWN', { what: 'n1:1 DOWN' });
    await sleep(600); // more than a dead-after window: nothing else happens
    expect((await logEvents(master)).filter((e) => e.type === 'ProtectionStarted' || e.type === 'ProtectionEnded')).toEqual([]);
    expect((await api(master, '/v1/least-loaded')).body).toMatchObject({ id: 'n2:1' });
    expect((await api(master, '/healthz')).body).not.toHaveProperty('protection');
  });

  it('drained nodes do not count: three drained and one eligible timing out is no mass failure', async () => {
    const master = await start({ protectShare: 0.5, protectFor: 800 });
    const cls = await six(master);
    for (const id of IDS.slice(0, 3)) master.recorder.record({ type: 'NodeDrained', node: id });
    await master.recorder.flush();
    expect(master.projection.index.size).toBe(3);
    for (const cl of cls.slice(0, 4)) cl.freeze();
    await waitFor(() => master.projection.nodes.get('n4:1')?.state === 'DOWN', { what: 'n4:1 DOWN', timeout: 3000 });
    await waitFor(() => IDS.slice(0, 3).every((id) => master.projection.nodes.get(id)?.state === 'DOWN'), {
      what: 'the drained ones DOWN',
      timeout: 3000,
    });
    expect((await logEvents(master)).filter((e) => e.type === 'ProtectionStarted')).toEqual([]);
    expect((await api(master, '/v1/least-loaded')).body).toMatchObject({ id: 'n5:1' });
  });

  it('below --protect-min-nodes it never starts: 2 of 2 timing out are DOWN', async () => {
    const master = await start({ protectShare: 0.5, protectFor: 800, protectMinNodes: 3 });
    const cls = await Promise.all(IDS.slice(0, 2).map((id) => slave(master, id)));
    await waitFor(() => master.projection.index.size === 2, { what: 'two eligible nodes' });
    for (const cl of cls) cl.freeze();
    await waitFor(() => master.projection.index.size === 0, { what: 'both DOWN', timeout: 3000 });
    expect((await logEvents(master)).filter((e) => e.type === 'ProtectionStarted' || e.type === 'ProtectionEnded')).toEqual([]);
  });

  it('--protect-share 0 turns it off', async () => {
    const master = await start({ protectShare: 0 });
    const cls = await six(master);
    for (const cl of cls.slice(0, 5)) cl.freeze();
    await waitFor(() => master.projection.index.size === 1, { what: 'five DOWN', timeout: 3000 });
    expect((await logEvents(master)).filter((e) => e.type === 'ProtectionStarted' || e.type === 'ProtectionEnded')).toEqual([]);
  });

  it('they come back before the bound: ProtectionEnded (recovered), eligible with their new loads', async () => {
    const master = await start({ protectShare: 0.5, protectFor: 30_000 });
    const cls = await six(master);
    for (const cl of cls.slice(0, 4)) cl.freeze();
    const started = await waitForEvent<ProtectionStarted>(master, isType('ProtectionStarted'), 'ProtectionStarted', 3000);
    for (const cl of cls.slice(0, 4)) await cl.waitClosed(1000);
    // the partition heals: the slaves reconnect (new connections), and report new loads
    for (const id of IDS.slice(0, 4)) {
      const cl = await RawClient.connect(slavePort(master));
      cleanup.defer(`client ${id} again`, () => cl.destroy());
      cl.startHeartbeat({ load: 100 + Number(id.slice(1, 2)), addr: id }, 50, clock);
    }
    const ended = await waitForEvent(master, isType('ProtectionEnded'), 'ProtectionEnded', 3000);
    expect(ended).toMatchObject({ reason: 'recovered' });
    expect(ended.ts).toBeLessThan(started.until);
    await waitFor(() => master.projection.seq >= ended.seq, { what: 'ProtectionEnded folded' });
    const d = (await api<StateDocument>(master, '/v1/state')).body;
    expect(d.master).not.toHaveProperty('protection');
    expect(d.nodes.map((n) => [n.id, n.state, n.protected ?? false])).toEqual(IDS.map((id) => [id, 'PUSH_LOAD_INFO', false]));
    expect(d.nodes.find((n) => n.id === 'n1:1')?.load).toBe(101);
    expect(await replayed(master, d.seq)).toEqual(d);
  });
});

describe('loadledger master --protect-*', () => {
  it.each([
    [['--protect-share', '1.5'], /--protect-share.*expected a share from 0 to 1/],
    [['--protect-share', 'half'], /--protect-share.*expected a share from 0 to 1/],
    [['--protect-for', '30'], /--protect-for/],
    [['--protect-min-nodes', '0'], /--protect-min-nodes/],
  ])('%j: one line, exit 2', async (args, message) => {
    const r = await runCli(cleanup, [
      'master',
      '--listen',
      '127.0.0.1:0',
      '--no-http',
      '--data',
      await cleanup.tempDir('loadledger-protect-'),
      ...args,
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});
