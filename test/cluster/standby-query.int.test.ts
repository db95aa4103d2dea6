/**
 * Master HA: a standby's slave port answers binary QUERY frames from its own log (issue 13
 * item 3) and takes no slave: a HELLO or a push closes the connection without a word and
 * records nothing, so a slave goes on to the leader. When the standby leads, its slave port
 * is on the same address and takes slaves.
 */
import { describe, expect, it } from 'vitest';
import { QueryClient } from '../../src/client/query-client.js';
import { createSlave } from '../../src/slave/slave.js';
import { inProcessHa } from '../helpers/ha-inproc.js';
import { api, pushedClient, slavePort, startMaster } from '../helpers/master.js';
import { RawClient } from '../helpers/net.js';
import { waitFor } from '../helpers/wait.js';

const { run, cleanup, cluster: newCluster, member: ha } = inProcessHa();

describe.runIf(run)("master HA: a standby's slave port", () => {
  it('answers QUERY from its own log, closes on a slave without recording anything, and takes slaves on the same address once it leads', async () => {
    const cluster = newCluster('q');
    const a = await startMaster(cleanup, ha('a', cluster));
    const b = await startMaster(cleanup, ha('b', cluster));
    await pushedClient(cleanup, a, { addr: '10.0.0.9:80', load: 0.5 });
    await waitFor(() => b.log.lastSeq === a.log.lastSeq && b.projection.nodes.get('10.0.0.9:80')?.state === 'PUSH_LOAD_INFO', {
      what: 'the standby to follow',
      timeout: 10_000,
    });
    const port = slavePort(b);
    expect(port).toBeGreaterThan(0);
    // its etcd member record names the address it is on
    await waitFor(
      async () =>
        ((await api(b, '/v1/cluster')).body.members as { node: string; listen: string }[]).some(
          (m) => m.node === 'b' && m.listen === `127.0.0.1:${port}`,
        ),
      {
        what: "b's member record with its slave port",
        timeout: 5000,
      },
    );

    const q = await QueryClient.connect({ host: '127.0.0.1', port });
    cleanup.defer('query client', () => q.close());
    const reply = await q.query();
    expect(reply).toMatchObject({ ok: true, node: { id: '10.0.0.9:80' } });
    expect(await q.query({ where: { zone: 'nowhere' } })).toMatchObject({ ok: false, code: 'NO_ELIGIBLE_NODE' });

    const seq = b.log.lastSeq;
    const slave = await RawClient.connect(port);
    cleanup.defer('raw slave', () => void slave.socket.destroy());
    slave.push({ addr: '10.0.0.10:80', load: 1 });
    slave.hello();
    await waitFor(() => slave.closed, { what: 'the standby to close a slave', timeout: 5000 });
    expect(slave.frames).toEqual([]); // not a word: no HELLO_ACK, no HELLO
    expect(b.log.lastSeq).toBe(seq);
    expect(a.log.lastSeq).toBe(seq); // and nothing of it reached the leader either

    // a slave with the standby first in its list goes on to the leader
    const listed = createSlave({
      master: [`127.0.0.1:${port}`, `127.0.0.1:${slavePort(a)}`],
      addr: '10.0.0.11:80',
      load: () => 3,
      interval: 200,
      deadAfter: 1000,
      backoff: { initial: 50, max: 200 },
    });
    listed.on('error', () => {});
    cleanup.defer('listed slave', () => listed.close());
    await waitFor(() => a.projection.nodes.get('10.0.0.11:80')?.state === 'PUSH_LOAD_INFO', {
      what: 'the listed slave on the leader',
      timeout: 10_000,
    });

    await a.stop('hand over');
    await waitFor(async () => (await api(b, '/v1/leader')).status === 200, { what: 'b to lead', timeout: 10_000 });
    expect(slavePort(b)).toBe(port);
    await waitFor(() => b.projection.nodes.get('10.0.0.11:80')?.state === 'PUSH_LOAD_INFO' && b.projection.conns.size > 0, {
      what: 'the slave on b, at the same address',
      timeout: 10_000,
    });
  });
});
