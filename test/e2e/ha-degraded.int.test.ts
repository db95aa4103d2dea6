/**
 * Master HA when part of the cluster is gone or late (issue 13 tests), on a real etcd with
 * the masters as child processes (test/helpers/ha-master.ts): the only standby down under
 * `--ack standby`, a waiting candidate whose lease expired while etcd was out of its reach,
 * a standby that starts too far behind the leader's retention, a slave whose list begins
 * with a dead address. Real time: bounds are generous and assert behaviour, not speed.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { LedgerEvent } from '../../src/events.js';
import { Cleanup } from '../helpers/cleanup.js';
import { etcdAvailable, startEtcd, type TestEtcd } from '../helpers/etcd.js';
import { ackCounters, slaves } from '../helpers/ha-load.js';
import { spawnHaMaster, watchLeaders, type HaMaster } from '../helpers/ha-master.js';
import { closedPort } from '../helpers/net.js';
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
const PATIENCE = 30_000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function pair(
  opts: { args?: string[]; argsB?: string[]; etcdOf?: (node: string) => string; standby?: boolean } = {},
): Promise<[HaMaster, HaMaster]> {
  const cluster = `d${++n}-${process.pid}`;
  const base = ['--hello-interval', '500ms', '--dead-after', '3s', ...(opts.args ?? [])];
  const etcdOf = opts.etcdOf ?? (() => etcd.url);
  const a = await spawnHaMaster(cleanup, { etcd: etcdOf('a'), node: 'a', cluster, leaseTtl: TTL, args: base });
  await a.waitRole('leader');
  const b = await spawnHaMaster(cleanup, { etcd: etcdOf('b'), node: 'b', cluster, leaseTtl: TTL, args: [...base, ...(opts.argsB ?? [])] });
  if (opts.standby !== false) await b.waitRole('standby');
  return [a, b];
}

const termOf = (events: LedgerEvent[], node: string): number | undefined => {
  const e = events.find((x) => x.type === 'LeaderElected' && x.node === node);
  return e?.type === 'LeaderElected' ? e.term : undefined;
};

describe.runIf(run)('master HA with part of the cluster gone (real etcd, masters in child processes)', () => {
  it('the only standby down with --ack standby: the leader goes on acknowledging on its own disk after a bounded wait, and says so', async () => {
    const [a, b] = await pair({ args: ['--ack', 'standby'] });
    await waitFor(async () => (await a.cluster())?.ack.inSync.includes('b'), { what: 'b in sync', timeout: PATIENCE });
    const acks = await ackCounters(cleanup, a, 2, 10);
    await waitFor(() => acks.received() >= 20, { what: '20 HELLO_ACKs with b in sync', timeout: PATIENCE });
    await b.kill();
    const doc = await waitFor(
      async () => {
        const d = await a.cluster();
        return d?.ack.local === true && d;
      },
      { what: "a's /v1/cluster to say it acknowledges locally", timeout: PATIENCE },
    );
    expect(doc.role).toBe('leader');
    expect(doc.ack.inSync).toEqual([]);
    expect(a.stderr()).toMatch(/no standby is in sync; acknowledging on this disk alone/);
    const before = acks.received();
    await waitFor(() => acks.received() >= before + 20, { what: '20 more HELLO_ACKs without a standby', timeout: PATIENCE });
    const metrics = await fetch(`${a.http}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/^loadledger_ack_local 1$/m);
    acks.stop();
  });

  it('a waiting candidate whose lease expired while etcd was out of its reach does not act as leader; it campaigns again and leads a later term', async () => {
    const proxy = await startTcpProxy(cleanup, { host: '127.0.0.1', port: etcd.port });
    const [a, b] = await pair({ etcdOf: (node) => (node === 'b' ? proxy.url : etcd.url) });
    const watch = watchLeaders([a, b]);
    const termA = (await a.cluster())!.term;
    proxy.cut();
    await sleep(TTL_MS * 2); // b's lease (and its campaign key) expire on etcd meanwhile
    proxy.restore();
    // a still leads its term; b, back in reach, must not take the expired campaign for a win
    for (let i = 0; i < 20; i++) {
      const [da, db] = await Promise.all([a.cluster(), b.cluster()]);
      expect(db?.role, "b's role after its lease was lost").not.toBe('leader');
      if (da) expect([da.role, da.term]).toEqual(['leader', termA]);
      await sleep(50);
    }
    await a.kill();
    const led = await b.waitRole('leader', PATIENCE);
    expect(led.term).toBeGreaterThan(termA);
    expect(termOf(await b.events(), 'b')).toBe(led.term);
    const { overlaps, answers } = await watch.stop();
    expect(overlaps).toEqual([]);
    expect(answers.some((x) => x.node === 'b' && x.role === 'leader' && x.term <= termA)).toBe(false);
  });

  it("a standby that starts behind the leader's retention restarts its log from the leader's snapshot and follows byte for byte from there", async () => {
    const retention = ['--retain-events', '300', '--retention-interval', '100ms', '--snapshot-every', '100'];
    const cluster = `d${++n}-${process.pid}`;
    const args = ['--hello-interval', '500ms', '--dead-after', '3s', ...retention];
    const a = await spawnHaMaster(cleanup, { etcd: etcd.url, node: 'a', cluster, leaseTtl: TTL, args });
    await a.waitRole('leader');
    slaves(cleanup, 10, [a], { interval: 10 });
    // the log's first events are gone: a new standby cannot catch up from seq 1
    await waitFor(
      async () => {
        const ev = await a.events();
        return ev.length > 0 && ev[0]!.seq > 500;
      },
      { what: "a's retention to delete its first 500 events", timeout: PATIENCE },
    );
    const b = await spawnHaMaster(cleanup, { etcd: etcd.url, node: 'b', cluster, leaseTtl: TTL, args });
    await b.waitRole('standby');
    const line = await waitFor(() => /restarted this log from its snapshot at seq (\d+)/.exec(b.stderr()), {
      what: "b's snapshot line",
      timeout: PATIENCE,
      describe: () => b.stderr(),
    });
    const from = Number(line[1]);
    const seq = (await a.cluster())!.seq;
    await waitFor(async () => ((await b.cluster())?.seq ?? 0) >= seq, { what: 'b to catch up with a', timeout: PATIENCE });
    const [ea, eb] = await Promise.all([a.events(), b.events()]);
    const common = (e: LedgerEvent): boolean => e.seq > from && e.seq <= seq && e.seq >= ea[0]!.seq && e.seq >= eb[0]!.seq;
    expect(eb.filter(common).length).toBeGreaterThan(0);
    expect(eb.filter(common)).toEqual(ea.filter(common));
    // its reads come from its own log: the same nodes as the leader's
    const nodes = async (m: HaMaster) =>
      ((await m.get<{ nodes: { id: string }[] }>('/v1/nodes'))?.body.nodes ?? []).map((x) => x.id).sort();
    expect(await nodes(b)).toEqual(await nodes(a));
  });

  it('a slave whose list begins with a dead address reports to the leader at once, before any backoff', async () => {
    const [a, b] = await pair();
    const dead = { listen: `127.0.0.1:${await closedPort()}` };
    // a backoff of a minute: had a slave waited after the dead address, it would not be on a in time
    const fleet = slaves(cleanup, 5, [dead, a, b], { backoff: { initial: 60_000, max: 60_000 } });
    await waitFor(() => fleet.every((s) => s.connected && s.master.port === a.listenPort), { what: 'every slave on a', timeout: 20_000 });
    await waitFor(async () => (await a.get<{ nodes: unknown[] }>('/v1/nodes'))?.body.nodes?.length === 5, {
      what: 'the 5 nodes on a',
      timeout: PATIENCE,
    });
  });
});
