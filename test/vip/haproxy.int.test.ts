/**
 * The VIP for seed-only slaves (docs/ha.md#vip): a real HAProxy in TCP mode in front of two
 * real masters of one cluster on a real etcd, each checked with `GET /v1/leader` (200 only
 * on the leader); a slave that knows one address (the VIP's) reaches the leader, and after a
 * failover the new leader. Real processes and real time: generous bounds, behaviour asserted, never speed.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Master } from '../../src/node/master.js';
import { createSlave } from '../../src/slave/slave.js';
import { Cleanup } from '../helpers/cleanup.js';
import { HAPROXY_BIN, haproxyAvailable, startHaproxy } from '../helpers/haproxy.js';
import { etcdAvailable, startEtcd } from '../helpers/etcd.js';
import { api, logEvents, startMaster } from '../helpers/master.js';
import { closedPort } from '../helpers/net.js';
import { waitFor } from '../helpers/wait.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const TIMING = { helloInterval: 200, deadAfter: 1500 } as const;
const NODE = '10.0.0.5:8080';

const eligibleOn = (m: Master): boolean => m.projection.nodes.get(NODE)?.state === 'PUSH_LOAD_INFO';

/** NODE pushed in the newest term of `node` in m's log (after its LeaderElected). */
async function pushedInTermOf(m: Master, node: string): Promise<boolean> {
  const events = await logEvents(m);
  const term = events.findLast((e) => e.type === 'LeaderElected' && e.node === node);
  return term !== undefined && events.some((e) => e.seq > term.seq && e.type === 'LoadPushed' && e.node === NODE);
}

describe.skipIf(!haproxyAvailable())('the VIP: HAProxy in TCP mode in front of the masters', () => {
  it('the configuration docs/ha.md shows is one haproxy accepts', async () => {
    const doc = readFileSync(new URL('../../docs/ha.md', import.meta.url), 'utf8');
    const block = /```haproxy\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(block, 'a ```haproxy block in docs/ha.md').toBeDefined();
    for (const line of ['mode tcp', 'option httpchk GET /v1/leader', 'http-check expect status 200', 'on-marked-down shutdown-sessions'])
      expect(block).toContain(line);
    const file = join(await cleanup.tempDir('loadledger-haproxy-doc-'), 'haproxy.cfg');
    writeFileSync(file, block!);
    const r = spawnSync(HAPROXY_BIN!, ['-c', '-f', file], { encoding: 'utf8' });
    expect(r.status, r.stderr + r.stdout).toBe(0);
  });

  it.runIf(etcdAvailable())(
    'a slave that knows only the VIP reaches the leader (checked on /v1/leader), and the new leader after a failover',
    async () => {
      const etcd = await startEtcd(cleanup);
      const cluster = `vip-${process.pid}`;
      // fixed slave ports: a standby binds its slave port only when it leads, HAProxy needs it beforehand
      const ports = [await closedPort(), await closedPort()] as const;
      const ha = (node: string, port: number) => ({
        etcd: [etcd.url],
        cluster,
        nodeId: node,
        leaseTtl: 1000,
        listen: { host: '127.0.0.1', port },
        ...TIMING,
      });
      const a = await startMaster(cleanup, ha('a', ports[0]));
      await waitFor(async () => (await api(a, '/v1/leader')).status === 200, { timeout: 10_000, what: 'a to lead' });
      const b = await startMaster(cleanup, ha('b', ports[1]));
      expect((await api(b, '/v1/leader')).status).toBe(503); // its HTTP API is up, but it does not lead
      const vip = await startHaproxy(
        cleanup,
        [
          { name: 'a', port: ports[0], checkPort: a.addresses.http!.port },
          { name: 'b', port: ports[1], checkPort: b.addresses.http!.port },
        ],
        { check: '/v1/leader' },
      );
      await vip.waitUp(['a']); // b fails the check: every slave goes to a

      const slave = createSlave({
        master: `127.0.0.1:${vip.port}`,
        addr: NODE,
        load: () => 7,
        interval: TIMING.helloInterval,
        deadAfter: TIMING.deadAfter,
        backoff: { initial: 50, max: 500 },
      });
      slave.on('error', () => {});
      cleanup.defer('slave', () => slave.close());
      await waitFor(async () => pushedInTermOf(a, 'a'), { timeout: 10_000, what: 'the node pushed to a, through the VIP' });

      await a.stop('failover'); // it hands over: b leads the next term and passes the check
      await vip.waitUp(['b'], 15_000);
      // only the leader writes: a push in b's term is the slave reaching b through the same VIP
      await waitFor(async () => pushedInTermOf(b, 'b'), {
        timeout: 15_000,
        what: 'the node pushed to b, through the same VIP',
        describe: () => slave.stats,
      });
      expect(eligibleOn(b)).toBe(true);
      expect(slave.stats.connects).toBeGreaterThanOrEqual(2);
    },
    60_000,
  );
});
