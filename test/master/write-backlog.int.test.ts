/**
 * Slaves that never read: they send HELLOs in a tight loop and never take the ACKs, so the
 * master's writes back up. Each must be cut off at the per-connection output limit
 * (256 KiB queued: ProtocolViolated WRITE_BACKLOG), and the master's memory must not grow
 * with the flood. The master runs in a child process so that its RSS is its own.
 *
 * What it costs: on loopback the kernel takes ~4 MiB of the master's ACKs per connection
 * before anything queues in the master (its send buffer autotunes to tcp_wmem's maximum
 * at once: loopback's MSS is 64 KiB), so each deaf slave has ~1.1M HELLOs (2.2M events)
 * logged before it is cut off: ~2.5 s of the master's time per slave on 2 cores. Hence
 * two slaves at once (LOADLEDGER_TEST_DEAF_SLAVES=20 for the full-size run, ~60 s).
 */
import { connect, type Socket } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { HELLO_FRAME, encodePush } from '../../src/protocol/index.js';
import { MiB, spawnMaster } from '../helpers/child-master.js';
import { Cleanup } from '../helpers/cleanup.js';
import { HelloProbe } from '../helpers/latency.js';
import { withTimeout } from '../helpers/wait.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const DEAF = Number(process.env['LOADLEDGER_TEST_DEAF_SLAVES'] ?? 2);
/** 4,096 HELLOs in one write. */
const HELLOS = Buffer.concat(Array.from({ length: 4096 }, () => HELLO_FRAME));

/**
 * A slave that pushes once (so the violation shows on its node), then never reads again
 * and writes HELLOs as fast as its socket takes them, until the master closes it.
 * Resolves with the bytes it got into its socket.
 */
function deafSlave(port: number, addr: string, sockets: Set<Socket>): Promise<number> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, noDelay: true });
    sockets.add(socket);
    socket.pause(); // never read: the ACKs pile up in the kernel, then in the master
    let sent = 0;
    const pump = (): void => {
      while (!socket.destroyed) {
        sent += HELLOS.length;
        if (!socket.write(HELLOS)) {
          socket.once('drain', pump);
          return;
        }
      }
    };
    socket.on('connect', () => {
      socket.write(encodePush({ addr, load: 1 }));
      pump();
    });
    socket.on('error', () => {}); // the master resets it: that is the point
    socket.on('close', () => {
      sockets.delete(socket);
      resolve(sent);
    });
  });
}

it('slaves that never read are cut off at the write backlog limit, and the master RSS does not grow with the flood', async () => {
  // No ping, no timeout during the test: the only way out for a deaf slave is WRITE_BACKLOG.
  // no frame rate: this is about the write backlog, which a rate-limited deaf slave takes an hour to fill
  const master = await spawnMaster(cleanup, { args: ['--hello-interval', '20s', '--dead-after', '60s', '--max-frame-rate', '0'] });
  const probe = await HelloProbe.connect(master.slavePort, 'healthy:80');
  cleanup.defer('probe', () => probe.destroy());
  await probe.sample(50);
  const sockets = new Set<Socket>();
  cleanup.defer('deaf sockets', () => sockets.forEach((s) => s.destroy()));

  const rssBefore = master.rss();
  const addrs = Array.from({ length: DEAF }, (_, k) => `deaf-${k}:80`);
  const t0 = performance.now();
  const sent = await withTimeout(
    Promise.all(addrs.map((a) => deafSlave(master.slavePort, a, sockets))),
    30_000 * DEAF,
    'the master to cut off every deaf slave',
  );
  const ms = performance.now() - t0;
  const rssAfter = master.rss();
  // Each one's violation is in the log, folded onto its node.
  const nodes = (await master.state()).nodes;
  for (const a of addrs) {
    expect(
      nodes.find((n) => n.id === a),
      a,
    ).toMatchObject({ state: 'DOWN', reason: expect.stringMatching(/^protocol violation WRITE_BACKLOG: /) });
  }
  // Still serving, and its log still takes writes.
  await probe.hello();
  expect((await fetch(`${master.http}/healthz`)).status).toBe(200);
  console.log(
    `deaf slaves: ${DEAF} at once, all cut off after ${ms.toFixed(0)} ms, ${(sent.reduce((x, y) => x + y, 0) / MiB).toFixed(1)} MiB of HELLOs written; ` +
      `master RSS ${(rssBefore / MiB).toFixed(0)} → ${(rssAfter / MiB).toFixed(0)} MiB`,
  );
  // The bound. A master that buffered the flood (its input or its ACKs) would grow by what
  // was written to it, without end. What it may hold: a V8 heap sized for ~1M events/s
  // (the young generation; events in flight: 20,000 plus one 64 KiB read per connection,
  // 32,768 events), 256 KiB of ACKs per deaf slave (65,536 queued writes, ~3.6 MiB of heap),
  // LevelDB's write buffers. Measured on 2 cores with two deaf slaves at once: +100 to
  // +114 MiB (one: +66 to +72 MiB).
  expect(rssAfter - rssBefore).toBeLessThan(160 * MiB);
}, 90_000);
