/**
 * Master HA with closed reads (--admin-token-file without --open-reads): a standby presents
 * the cluster's token to its leader, whose replication stream is a read that needs it, and
 * follows; a standby with another token is refused (401) and follows nothing.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AdminToken } from '../../src/http/auth.js';
import { Cleanup } from '../helpers/cleanup.js';
import { etcdAvailable, startEtcd, type TestEtcd } from '../helpers/etcd.js';
import { api, pushedClient, startMaster } from '../helpers/master.js';
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

const TOKEN = 'cluster-token-0123456789abcdef';

function ha(node: string, cluster: string, token: string): Parameters<typeof startMaster>[1] {
  return {
    etcd: [etcd.url],
    nodeId: node,
    leaseTtl: 5000,
    cluster,
    helloInterval: 200,
    deadAfter: 1000,
    auth: { token: new AdminToken(token), openReads: false },
  };
}

describe.runIf(run)('master HA: replication when reads need the token', () => {
  it('a standby sends the token and follows the leader', async () => {
    const cluster = `auth${++n}-${process.pid}`;
    const a = await startMaster(cleanup, ha('a', cluster, TOKEN));
    const b = await startMaster(cleanup, ha('b', cluster, TOKEN));
    // reads on the leader do need it
    expect((await api(a, '/v1/state')).status).toBe(401);
    await pushedClient(cleanup, a, { addr: '10.0.0.7:80', load: 0.5 });
    await waitFor(() => b.log.lastSeq === a.log.lastSeq && b.projection.nodes.get('10.0.0.7:80')?.state === 'PUSH_LOAD_INFO', {
      what: 'the standby to follow with the token',
      timeout: 10_000,
      describe: () => ({ a: a.log.lastSeq, b: b.log.lastSeq, cluster: b.cluster?.document() }),
    });
    expect(b.cluster?.document().role).toBe('standby');
  });

  it('a standby with another token is refused and follows nothing', async () => {
    const cluster = `auth${++n}-${process.pid}`;
    const a = await startMaster(cleanup, ha('a', cluster, TOKEN));
    const b = await startMaster(cleanup, ha('b', cluster, 'another-token-0123456789abcdef'));
    await pushedClient(cleanup, a, { addr: '10.0.0.8:80', load: 0.5 });
    await new Promise((r) => setTimeout(r, 1500));
    expect(b.log.lastSeq).toBe(0);
    expect(b.cluster?.document().role).not.toBe('standby');
  });
});
