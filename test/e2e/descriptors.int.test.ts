/**
 * A master short of file descriptors (issue 12 item 7), as an operator meets it: the built
 * CLI under `ulimit -n 256`, hundreds of idle HTTP connections, then a slave. Without a cap
 * the HTTP clients take every descriptor and libuv resets the slave with nothing recorded;
 * here the HTTP API is capped (--max-http-connections), and whatever comes near the limit
 * anyway is refused before the table is full: a SlaveRefused in the log, a log line per
 * window, and the metrics.
 */
import { connect, type Socket } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import type { LedgerEvent } from '../../src/events.js';
import { EventLog } from '../../storage/event-log.js';
import { spawnMaster, type ChildMaster } from '../helpers/child-master.js';
import { Cleanup } from '../helpers/cleanup.js';
import { metric } from '../helpers/followers.js';
import { RawClient } from '../helpers/net.js';
import { sleep, waitFor } from '../helpers/wait.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const QUIET = ['--hello-interval', '10s', '--dead-after', '30s'];

/** `n` idle TCP connections to the HTTP API, each resolved once connected or closed; destroyed at cleanup. */
async function idleHttp(master: ChildMaster, n: number): Promise<{ sockets: Socket[]; closedByMaster: () => number }> {
  const port = Number(new URL(master.http).port);
  const sockets: Socket[] = [];
  let closed = 0;
  await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<void>((resolve) => {
          const s = connect({ host: '127.0.0.1', port });
          sockets.push(s);
          s.on('error', () => {});
          s.once('connect', () => resolve());
          s.once('close', () => {
            closed++;
            resolve();
          });
        }),
    ),
  );
  cleanup.defer('idle HTTP connections', () => sockets.forEach((s) => s.destroy()));
  await sleep(200); // the master closes what it refuses as it accepts it
  return { sockets, closedByMaster: () => closed };
}

async function logOf(master: ChildMaster): Promise<LedgerEvent[]> {
  const log = await EventLog.open(master.data);
  const out: LedgerEvent[] = [];
  try {
    for await (const batch of log.read()) out.push(...batch);
  } finally {
    await log.close();
  }
  return out;
}

it('near the descriptor limit, both ports refuse and say so (SlaveRefused, a log line, metrics) instead of silent resets', async () => {
  const master = await spawnMaster(cleanup, { openFiles: 256, args: [...QUIET, '--max-http-connections', '1000'] });
  const http = await idleHttp(master, 300);
  // More than the process can hold: some were closed as they came, none silently by libuv.
  expect(http.closedByMaster()).toBeGreaterThan(0);
  const slave = await RawClient.connect(master.slavePort);
  cleanup.defer('slave', () => slave.destroy());
  slave.push({ addr: '10.0.0.1:80', load: 1 });
  await slave.waitClosed(5000, 'the master to refuse the slave');
  await waitFor(
    () => /slave port: out of file descriptors/.test(master.stderr()) && /HTTP API: .*out of file descriptors/.test(master.stderr()),
    {
      what: 'a log line for each port',
      describe: () => master.stderr(),
    },
  );
  http.sockets.forEach((s) => s.destroy());
  // Descriptors back: the metrics answer, and a slave gets in.
  await waitFor(async () => (await metric(master.http, 'loadledger_refused_descriptors_total')) >= 1, {
    timeout: 10_000,
    what: 'the slave refusal counted',
  });
  expect(await metric(master.http, 'loadledger_http_refused_total{reason="descriptors"}')).toBeGreaterThan(0);
  const later = await RawClient.connect(master.slavePort);
  cleanup.defer('later slave', () => later.destroy());
  later.push({ addr: '10.0.0.2:80', load: 2 });
  await waitFor(async () => (await master.state()).nodes.some((n) => n.id === '10.0.0.2:80'), {
    timeout: 10_000,
    what: 'the later slave in the table',
  });
  expect(await master.stop(10_000)).toEqual({ code: 0, signal: null });
  const refused = (await logOf(master)).filter((e) => e.type === 'SlaveRefused');
  expect(refused.length).toBeGreaterThanOrEqual(1);
  expect(refused[0]).toMatchObject({ reason: expect.stringMatching(/^out of file descriptors: \d+ of 256 open \(ulimit -n\)/) as unknown });
}, 60_000);

it('--max-http-connections keeps HTTP clients from taking the descriptors slaves need', async () => {
  const master = await spawnMaster(cleanup, { openFiles: 256, args: [...QUIET, '--max-http-connections', '100'] });
  const http = await idleHttp(master, 300);
  expect(http.closedByMaster()).toBe(200);
  const slave = await RawClient.connect(master.slavePort);
  cleanup.defer('slave', () => slave.destroy());
  slave.push({ addr: '10.0.0.1:80', load: 1 });
  slave.hello();
  await waitFor(() => slave.count('HELLO_ACK') === 1, { timeout: 5000, what: 'the slave acknowledged' });
  await waitFor(() => /HTTP API: .*refused: 100 connections open \(--max-http-connections\)/.test(master.stderr()), {
    what: 'the log line',
    describe: () => master.stderr(),
  });
  http.sockets.slice(0, 10).forEach((s) => s.destroy());
  // (a scrape that comes before the master has seen those close is refused too, and counted)
  await waitFor(async () => (await metric(master.http, 'loadledger_http_refused_total{reason="max_connections"}')) >= 200, {
    timeout: 10_000,
    what: 'the 200 refusals counted',
  });
  expect(await metric(master.http, 'loadledger_http_refused_total{reason="descriptors"}')).toBe(0);
  expect(await metric(master.http, 'loadledger_refused_descriptors_total')).toBe(0);
}, 60_000);
