/**
 * Master HA: the DNS interface (`--dns`) answers on a standby from its own log, as every
 * interface for consumers does (docs/integrations.md), and goes on answering, on the same
 * port, when the standby leads.
 */
import { promises as dnsPromises } from 'node:dns';
import { describe, expect, it } from 'vitest';
import { inProcessHa } from '../helpers/ha-inproc.js';
import { api, pushedClient, startMaster } from '../helpers/master.js';
import { waitFor } from '../helpers/wait.js';

const { run, cleanup, cluster: newCluster, member } = inProcessHa();
const ha = (node: string, cluster: string) => member(node, cluster, { dns: { host: '127.0.0.1', port: 0 } });

describe.runIf(run)('master HA: DNS on a standby', () => {
  it("answers least. and SRV from the standby's own log, and on the same port once it leads", async () => {
    const cluster = newCluster('dns');
    const a = await startMaster(cleanup, ha('a', cluster));
    const b = await startMaster(cleanup, ha('b', cluster));
    await waitFor(async () => (await api(a, '/v1/leader')).status === 200, { what: 'a to lead' });
    await pushedClient(cleanup, a, { addr: '127.0.0.61:8080', load: 1 });
    await waitFor(() => b.projection.nodes.get('127.0.0.61:8080')?.state === 'PUSH_LOAD_INFO', { what: 'the standby to follow' });
    expect(b.cluster?.leading).toBe(false);
    const port = b.dns!.address.port;
    const resolver = new dnsPromises.Resolver({ timeout: 3000, tries: 3 });
    resolver.setServers([`127.0.0.1:${port}`]);
    expect(await resolver.resolve4('least.loadledger')).toEqual(['127.0.0.61']);
    expect((await resolver.resolveSrv('_nodes._tcp.loadledger')).map((r) => `${r.name}:${r.port}`)).toEqual([
      '127-0-0-61.addr.loadledger:8080',
    ]);
    expect((await api(b, '/v1/cluster')).body.integrations.dns).toMatchObject({ at: `udp+tcp 127.0.0.1:${port}`, requests: 2, errors: 0 });

    await a.stop('hand over');
    await waitFor(async () => (await api(b, '/v1/leader')).status === 200, { what: 'b to lead' });
    expect(b.dns!.address.port).toBe(port);
    // the new term's nodes are the previous term's until their slaves re-register or a dead-after passes
    const answer = await resolver.resolve4('least.loadledger').catch((e: NodeJS.ErrnoException) => e.code);
    expect([['127.0.0.61'], 'ENODATA']).toContainEqual(answer);
  });
});
