/**
 * Master HA on a real etcd, masters in this process: one leader, LeaderElected first in its
 * term, /v1/cluster and /v1/leader, a standby that follows the leader's log byte for byte
 * and serves reads with its lag, a graceful hand-over.
 */
import { describe, expect, it } from 'vitest';
import type { Master } from '../../src/node/master.js';
import type { LedgerEvent } from '../../src/events.js';
import { inProcessHa } from '../helpers/ha-inproc.js';
import { api, httpBase, logEvents, pushedClient, startMaster } from '../helpers/master.js';
import { waitFor } from '../helpers/wait.js';
import type { EventLog } from '../../storage/event-log.js';

const { run, cleanup, cluster: newCluster, member } = inProcessHa();
/** A member of a cluster of its own: each test passes `cluster` to put two in one. */
const ha = (node: string, extra: Parameters<typeof member>[2] = {}) => member(node, newCluster(), extra);

async function rawRecords(log: EventLog): Promise<{ seq: number; value: Buffer }[]> {
  const out: { seq: number; value: Buffer }[] = [];
  for await (const batch of log.readRecords()) for (const r of batch) if ('value' in r) out.push(r);
  return out;
}

describe.runIf(run)('master HA: election and replication', () => {
  it('one leader: LeaderElected opens its term, /v1/leader is 200 only there, the standby follows byte for byte', async () => {
    const cluster = newCluster();
    const a = await startMaster(cleanup, { ...ha('a'), cluster });
    const b = await startMaster(cleanup, { ...ha('b'), cluster });
    const leaderDoc = (await api(a, '/v1/cluster')).body;
    expect(leaderDoc).toMatchObject({ role: 'leader', node: 'a', leader: { node: 'a' } });
    const term = leaderDoc.term as number;
    expect(term).toBeGreaterThan(0);
    const events = await logEvents(a);
    const first = events.findIndex((e) => e.type === 'LeaderElected');
    expect(events[first]).toMatchObject({ type: 'LeaderElected', term, node: 'a' });
    expect(events[first + 1]?.type).toBe('MasterStarted');

    expect((await api(a, '/v1/leader')).status).toBe(200);
    const notLeader = await api(b, '/v1/leader');
    expect(notLeader.status).toBe(503);
    expect(notLeader.body.code).toBe('NOT_LEADER');

    // a slave on the leader; the standby has the same events at the same seqs
    await pushedClient(cleanup, a, { addr: '10.0.0.1:80', load: 0.25 });
    await waitFor(() => b.log.lastSeq === a.log.lastSeq && b.projection.nodes.get('10.0.0.1:80')?.state === 'PUSH_LOAD_INFO', {
      what: 'the standby to catch up',
      timeout: 5000,
    });
    expect(await rawRecords(b.log)).toEqual(await rawRecords(a.log));
    const standbyDoc = await waitFor(
      async () => {
        const d = (await api(b, '/v1/cluster')).body;
        return d.members.length === 2 && d;
      },
      { what: 'both members listed', timeout: 3000, describe: () => b.cluster?.document() },
    );
    expect(standbyDoc).toMatchObject({ role: 'standby', node: 'b', term, leader: { node: 'a' }, lag: { seq: 0 } });
    expect(standbyDoc.members.map((m: { node: string }) => m.node)).toEqual(['a', 'b']);
    // reads on the standby, with the lag header; max-lag
    const ll = await fetch(`${httpBase(b)}/v1/least-loaded`);
    expect(ll.status).toBe(200);
    expect(((await ll.json()) as { id: string }).id).toBe('10.0.0.1:80');
    expect(ll.headers.get('loadledger-lag')).toMatch(/^seq=\d+, ms=\d+$/);
    expect((await api(b, '/v1/state?max-lag=10s')).status).toBe(200);
  });

  it('a graceful stop hands over: the standby leads the next term with nothing lost', async () => {
    const cluster = newCluster();
    const a = await startMaster(cleanup, { ...ha('a'), cluster });
    const b = await startMaster(cleanup, { ...ha('b'), cluster });
    await pushedClient(cleanup, a, { addr: '10.0.0.2:80', load: 0.5 });
    await waitFor(() => b.log.lastSeq === a.log.lastSeq, { what: 'the standby to catch up', timeout: 5000 });
    const t0 = performance.now();
    await a.stop('SIGTERM');
    const before = a.log.lastSeq;
    await waitFor(async () => (await api(b, '/v1/leader')).status === 200, { what: 'b to lead', timeout: 5000, interval: 10 });
    const took = performance.now() - t0;
    const events: LedgerEvent[] = await logEvents(b);
    const stopped = events.find((e) => e.type === 'MasterStopped' && e.seq <= before);
    expect(stopped).toBeDefined();
    const elected = events.filter((e) => e.type === 'LeaderElected');
    expect(elected.map((e) => (e as { node: string }).node)).toEqual(['a', 'b']);
    expect(elected[1]!.seq).toBeGreaterThan(before);
    // generous: the bound the docs give is 1 s on an idle machine
    expect(took).toBeLessThan(5000);
  });

  it('--ack standby, two masters: after a hand-over the new leader has nobody to wait for and acknowledges locally from its first commit', async () => {
    const cluster = newCluster();
    const a = await startMaster(cleanup, { ...ha('a', { ack: 'standby' }), cluster });
    const b = await startMaster(cleanup, { ...ha('b', { ack: 'standby' }), cluster });
    await pushedClient(cleanup, a, { addr: '10.0.0.3:80', load: 1 });
    await waitFor(() => b.log.lastSeq === a.log.lastSeq, { what: 'the standby to catch up' });
    await waitFor(async () => (await api(a, '/v1/cluster')).body.ack?.inSync?.includes('b'), { what: 'b in sync' });
    await a.stop('SIGTERM');
    await waitFor(async () => (await api(b, '/v1/leader')).status === 200, { what: 'b to lead', interval: 10 });
    // the stopping leader said so in etcd before it resigned: b started its term alone
    const doc = (await api(b, '/v1/cluster')).body;
    expect(doc.ack).toMatchObject({ mode: 'standby', inSync: [], local: true });
    expect(b.cluster?.document().ack.local).toBe(true);
  });

  it('no --etcd: /v1/cluster says standalone and /v1/leader is 200', async () => {
    const m: Master = await startMaster(cleanup);
    expect((await api(m, '/v1/cluster')).body).toMatchObject({ role: 'standalone', members: [] });
    expect((await api(m, '/v1/leader')).status).toBe(200);
    expect(httpBase(m)).toMatch(/^http:/);
  });
});
