/**
 * The VIP for seed-only slaves (docs/ha.md#vip): a real HAProxy in TCP mode in front of two
 * real masters, each checked over HTTP; a slave that knows one address (the VIP's) reaches
 * the master that passes the check, and when that master goes away it is moved to the
 * other one. Real processes and real time: generous bounds, behaviour asserted, never speed.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Master } from '../../src/node/master.js';
import { createSlave } from '../../src/slave/slave.js';
import { Cleanup } from '../helpers/cleanup.js';
import { HAPROXY_BIN, haproxyAvailable, startHaproxy } from '../helpers/haproxy.js';
import { slavePort, startMaster } from '../helpers/master.js';
import { waitFor } from '../helpers/wait.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const TIMING = { helloInterval: 200, deadAfter: 1500 } as const;
const NODE = '10.0.0.5:8080';

const backend = (name: string, m: Master) => ({ name, port: slavePort(m), checkPort: m.addresses.http!.port });
const eligibleOn = (m: Master): boolean => m.projection.nodes.get(NODE)?.state === 'PUSH_LOAD_INFO';

describe.skipIf(!haproxyAvailable())('the VIP: HAProxy in TCP mode in front of the masters', () => {
  it('the configuration docs/ha.md shows is one haproxy accepts', async () => {
    const doc = readFileSync(new URL('../../docs/ha.md', import.meta.url), 'utf8');
    const block = /```haproxy\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(block, 'a ```haproxy block in docs/ha.md').toBeDefined();
    for (const line of ['mode tcp', 'option httpchk GET /v1/leader', 'http-check expect status 200', 'on-marked-down shutdown-sessions']) expect(block).toContain(line);
    const file = join(await cleanup.tempDir('loadledger-haproxy-doc-'), 'haproxy.cfg');
    writeFileSync(file, block!);
    const r = spawnSync(HAPROXY_BIN!, ['-c', '-f', file], { encoding: 'utf8' });
    expect(r.status, r.stderr + r.stdout).toBe(0);
  });

  it('a slave that knows only the VIP reaches the master that passes the check, and the other one when that master goes', async () => {
    const a = await startMaster(cleanup, TIMING);
    const b = await startMaster(cleanup, TIMING);
    const vip = await startHaproxy(cleanup, [backend('a', a), backend('b', b)], { check: '/healthz' });
    await vip.waitUp(['a', 'b']);

    const slave = createSlave({ master: `127.0.0.1:${vip.port}`, addr: NODE, load: () => 7, interval: TIMING.helloInterval, deadAfter: TIMING.deadAfter, backoff: { initial: 50, max: 500 } });
    slave.on('error', () => {});
    cleanup.defer('slave', () => slave.close());
    await waitFor(() => eligibleOn(a), { timeout: 10_000, what: 'the node on a, through the VIP' });
    expect(b.projection.nodes.has(NODE)).toBe(false);

    await a.stop('the leader goes'); // its slave port and its HTTP API close: the check fails
    await vip.waitUp(['b']);
    await waitFor(() => eligibleOn(b), { timeout: 15_000, what: 'the node on b, through the same VIP', describe: () => slave.stats });
    expect(slave.stats.connects).toBeGreaterThanOrEqual(2);
  }, 40_000);
});
