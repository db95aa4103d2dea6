/**
 * Master HA failures on a real etcd with real processes (issue 13): two masters are child
 * processes of the built CLI (test/helpers/ha-master.ts), killed, frozen and cut off from
 * etcd by their PIDs and a TCP proxy; slaves in this process report to both through their
 * lists. Real time: every bound is generous (a busy 2-core machine); the figures that
 * matter (takeover ms, acknowledged events missing) are measured and printed.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { LedgerEvent } from '../../src/events.js';
import { foldEvents } from '../../src/projection/evolve.js';
import { createProjection } from '../../src/projection/state.js';
import { Cleanup } from '../helpers/cleanup.js';
import { etcdAvailable, startEtcd, type TestEtcd } from '../helpers/etcd.js';
import { spawnHaMaster, watchLeaders, type HaMaster } from '../helpers/ha-master.js';
import { ackCounters, ackedMissing, slaves } from '../helpers/ha-load.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { waitFor } from '../helpers/wait.js';

const run = etcdAvailable();
const fileCleanup = new Cleanup();
const cleanup = new Cleanup();
let etcd: TestEtcd;
let n = 0;

beforeAll(async () => {
  if (run) etcd = await startEtcd(fileCleanup);
});
afterEach(() => cleanup.run());
afterAll(() => fileCleanup.run());

const TTL = '2s';
const TTL_MS = 2000;
/** Slaves notice a dead master within this (a kill -9 resets at once); the new leader waits one for them. */
const DEAD_AFTER = '3s';
const PATIENCE = 30_000;

function pair(extra: string[] = [], etcdOf: (node: string) => string = () => etcd.url): Promise<[HaMaster, HaMaster]> {
  const cluster = `f${++n}-${process.pid}`;
  const args = ['--hello-interval', '500ms', '--dead-after', DEAD_AFTER, ...extra];
  return (async () => {
    const a = await spawnHaMaster(cleanup, { etcd: etcdOf('a'), node: 'a', cluster, leaseTtl: TTL, args });
    await a.waitRole('leader');
    const b = await spawnHaMaster(cleanup, { etcd: etcdOf('b'), node: 'b', cluster, leaseTtl: TTL, args });
    await b.waitRole('standby');
    return [a, b];
  })();
}

const electedOf = (events: LedgerEvent[], node: string) =>
  events.find((e) => e.type === 'LeaderElected' && e.node === node) as Extract<LedgerEvent, { type: 'LeaderElected' }> | undefined;

describe.runIf(run)('master HA failures (real etcd, masters in child processes)', () => {
  it('kill -9 of the leader under load: the standby leads, the slaves re-register, least-loaded answers within TTL + 1 s, no acknowledged HELLO is missing (--ack standby)', async () => {
    const [a, b] = await pair(['--ack', 'standby']);
    await waitFor(async () => (await a.cluster())?.ack.inSync.includes('b'), { what: 'b in sync', timeout: PATIENCE });
    const fleet = slaves(cleanup, 20, [a, b]);
    const acks = await ackCounters(cleanup, a, 5);
    await waitFor(async () => (await a.get<{ nodes: unknown[] }>('/v1/nodes'))?.body.nodes?.length === 25, {
      what: 'the 25 slaves on a',
      timeout: PATIENCE,
    });
    await waitFor(() => acks.received() >= 100, { what: '100 HELLO_ACKs', timeout: PATIENCE });

    const t0 = performance.now();
    await a.kill();
    acks.stop();
    await waitFor(async () => (await b.get('/v1/leader', 500))?.status === 200 && (await b.get('/v1/least-loaded', 500))?.status === 200, {
      what: 'b to lead and answer least-loaded',
      timeout: PATIENCE,
      interval: 10,
    });
    const takeover = performance.now() - t0;
    await waitFor(() => fleet.every((s) => s.connected && s.master.port === b.listenPort), { what: 'every slave on b', timeout: PATIENCE });
    const events = await waitFor(
      async () => {
        const ev = await b.events();
        const elected = electedOf(ev, 'b');
        const back = new Set(
          ev.filter((e) => e.type === 'LoadPushed' && elected && e.seq > elected.seq).map((e) => (e as { node: string }).node),
        );
        return fleet.every((s) => back.has(s.addr)) && ev;
      },
      { what: 'all 20 slaves re-registered on b', timeout: PATIENCE },
    );
    const reRegistered = performance.now() - t0;

    const missing = ackedMissing(events, acks);
    console.log(
      `kill -9 takeover: b leads and answers least-loaded ${Math.round(takeover)} ms after the kill (lease TTL ${TTL_MS} ms), all 20 slaves re-registered at ${Math.round(reRegistered)} ms; HELLO_ACKs received ${acks.received()}, missing on the new leader ${missing}`,
    );
    expect(missing).toBe(0);
    // generous: the bound is TTL + 1 s on an idle machine
    expect(takeover).toBeLessThan(TTL_MS + 10_000);
    // the slaves of the previous term were not DOWN at the takeover, and protection did not take it for a partition
    const elected = electedOf(events, 'b')!;
    const started = events.find((e) => e.seq > elected.seq && e.type === 'MasterStarted')!;
    const atStart = foldEvents(
      createProjection(),
      events.filter((e) => e.seq <= started.seq),
    );
    for (const s of fleet) expect(atStart.nodes.get(s.addr)?.state, `${s.addr} at b's MasterStarted`).toBe('PUSH_LOAD_INFO');
    expect(events.filter((e) => e.type === 'ProtectionStarted')).toEqual([]);
  });

  it('SIGSTOP of the leader past the TTL, then SIGCONT: never two leaders; the old one fences, truncates its un-replicated tail and follows', async () => {
    const [a, b] = await pair();
    slaves(cleanup, 20, [a, b], { interval: 10 });
    await waitFor(async () => (await a.get<{ nodes: unknown[] }>('/v1/nodes'))?.body.nodes?.length === 20, {
      what: 'the 20 slaves on a',
      timeout: PATIENCE,
    });
    const watch = watchLeaders([a, b]);
    // b frozen first: a writes on, and what b's socket cannot hold stays a's alone (its tail)
    b.signal('SIGSTOP');
    await waitFor(async () => ((await a.cluster())?.seq ?? 0) > 3000, { what: 'a to write 3000 more events', timeout: PATIENCE });
    a.signal('SIGSTOP');
    b.signal('SIGCONT');
    await b.waitRole('leader', PATIENCE);
    await new Promise((r) => setTimeout(r, TTL_MS)); // a stays frozen well past its TTL
    a.signal('SIGCONT');
    await waitFor(() => /FENCED: a stopped leading/.test(a.stderr()), {
      what: "a's FENCED line",
      timeout: PATIENCE,
      describe: () => a.stderr(),
    });
    const follows = await a.waitRole('standby', PATIENCE);
    expect(follows.leader?.node).toBe('b');
    const { answers, overlaps } = await watch.stop();
    expect(overlaps, 'two masters said leader at once').toEqual([]);
    expect(answers.filter((x) => x.node === 'a' && x.role === 'leader').length).toBeGreaterThan(0);
    const truncated = /truncated seq (\d+)\.\.(\d+) \((\d+) events\)/.exec(a.stderr());
    console.log(
      `SIGSTOP: ${answers.length} /v1/cluster answers, no overlap; a ${truncated ? `truncated ${truncated[3]} events (seq ${truncated[1]}..${truncated[2]})` : 'had no un-replicated tail'}`,
    );
    // a follows b: the same events at the same seqs (what a wrote past b's last is gone)
    const seq = (await b.cluster())!.seq;
    await waitFor(async () => ((await a.cluster())?.seq ?? 0) >= seq, { what: 'a to catch up with b', timeout: PATIENCE });
    const [ea, eb] = await Promise.all([a.events(), b.events()]);
    expect(ea.filter((e) => e.seq <= seq)).toEqual(eb.filter((e) => e.seq <= seq));
    // Whether a has a tail b never got depends on where SIGSTOP caught its replication (a
    // batch committed, not yet sent: a few events); when it has one, it is dropped from the
    // point b's term began, and said so.
    if (truncated) expect(Number(truncated[1])).toBe(electedOf(eb, 'b')!.seq);
  });

  it('etcd out of reach from the leader only (a TCP proxy cut): the leader fences before the standby wins', async () => {
    const proxy = await startTcpProxy(cleanup, { host: '127.0.0.1', port: etcd.port });
    const [a, b] = await pair([], (node) => (node === 'a' ? proxy.url : etcd.url));
    const watch = watchLeaders([a, b]);
    proxy.cut();
    const fencedAt = await waitFor(async () => ((await a.cluster())?.role !== 'leader' ? Date.now() : undefined), {
      what: 'a to stop leading',
      timeout: PATIENCE,
      interval: 5,
    });
    await b.waitRole('leader', PATIENCE);
    const { overlaps } = await watch.stop();
    expect(overlaps).toEqual([]);
    const elected = electedOf(await b.events(), 'b')!;
    console.log(`etcd cut from a: a fenced ${elected.ts - fencedAt} ms before b's LeaderElected`);
    expect(fencedAt).toBeLessThan(elected.ts);
    expect(a.stderr()).toMatch(/FENCED: a stopped leading/);
    // fenced: it takes no slave
    expect((await a.get('/v1/leader'))?.status).toBe(503);
  });

  it('etcd restarted on its data dir with both masters up: the cluster recovers to exactly one leader', async () => {
    const [a, b] = await pair();
    const watch = watchLeaders([a, b]);
    await etcd.restart();
    const one = await waitFor(
      async () => {
        const [da, db] = await Promise.all([a.cluster(), b.cluster()]);
        const led = [da, db].filter((d) => d?.role === 'leader');
        const other = [da, db].find((d) => d?.role !== 'leader');
        return led.length === 1 && other?.role === 'standby' && other.leader?.node === led[0]!.node && led[0];
      },
      { what: 'one leader and a standby following it', timeout: PATIENCE, describe: async () => [await a.cluster(), await b.cluster()] },
    );
    // and it stays so
    for (let i = 0; i < 20; i++) {
      const led = [await a.cluster(), await b.cluster()].filter((d) => d?.role === 'leader');
      expect(led.map((d) => [d!.node, d!.term])).toEqual([[one.node, one.term]]);
      await new Promise((r) => setTimeout(r, 50));
    }
    const { overlaps } = await watch.stop();
    expect(overlaps).toEqual([]);
    console.log(`etcd restart: ${one.node} leads term ${one.term}`);
  });
});
