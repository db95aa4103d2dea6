/**
 * Backpressure: a slave that floods the master faster than the log takes events is paused
 * on its own; the others go on, and nobody is recorded as timed out for the pause.
 */
import { afterEach, expect, it } from 'vitest';
import { HELLO_FRAME } from '../../src/protocol/encoder.js';
import { Cleanup } from '../helpers/cleanup.js';
import { logEvents, startMaster } from '../helpers/master.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { RawClient, closedPort } from '../helpers/net.js';
import { waitFor } from '../helpers/wait.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

it('a flooding slave is paused alone; no one times out because of the pause', async () => {
  // no frame rate: this is about the log's backpressure, which the rate would keep away
  // The master's time follows real time but never jumps past a stall of this (busy) machine:
  // the steady slave's heartbeat (in that time too) is always read before its silence counts.
  const clock = new ManualClock();
  const master = await startMaster(cleanup, { helloInterval: 100, deadAfter: 400, maxFrameRate: 0, scheduler: clock });
  cleanup.defer('clock', clock.follow(10));
  const port = master.addresses.listen.port;
  const steady = await RawClient.connect(port);
  cleanup.defer('steady', () => steady.destroy());
  steady.startHeartbeat({ addr: '10.0.0.1:80', load: 5 }, 50, clock);
  const flood = await RawClient.connect(port, { answerHello: true });
  cleanup.defer('flood', () => flood.destroy());
  flood.push({ addr: '10.0.0.2:80', load: 7 });
  // 300,000 HELLOs at once: 600,000 events, far above the recorder's high-water mark.
  const burst = Buffer.concat(Array.from({ length: 10_000 }, () => HELLO_FRAME));
  for (let i = 0; i < 30; i++) flood.send(burst);
  // 600,000 events through one process: about 15 s alone, much longer beside other work. The
  // bound is generous on purpose: it is how much gets through, not how fast, that is tested.
  await waitFor(() => flood.count('HELLO_ACK') === 300_000, { timeout: 120_000, what: 'every flooded HELLO acknowledged' });
  const events = await logEvents(master);
  expect(events.filter((e) => e.type === 'SlaveTimedOut')).toEqual([]);
  expect(master.projection.nodes.get('10.0.0.1:80')?.state).toBe('PUSH_LOAD_INFO');
  expect(master.projection.nodes.get('10.0.0.2:80')?.state).toBe('PUSH_LOAD_INFO');
  expect(master.recorder.stats.maxBatch).toBeLessThan(200_000); // reading stopped near the mark
}, 150_000);

it('a slave that connects while the master is starting is recorded after MasterStarted and stays eligible', async () => {
  // A free port (not one the kernel hands out to others: closedPort), then a slave hammering
  // it with connection attempts while the master starts.
  const port = await closedPort();
  const dir = await cleanup.tempDir('loadledger-early-');
  let client: RawClient | undefined;
  let stop = false;
  const trying = (async () => {
    while (!stop && !client) {
      client = await RawClient.connect(port).catch(() => undefined);
      if (client) client.startHeartbeat({ addr: '10.0.0.9:80', load: 3 }, 20);
      else await new Promise((r) => setTimeout(r, 1));
    }
  })();
  const master = await startMaster(cleanup, { data: dir, listen: { host: '127.0.0.1', port }, helloInterval: 5000, deadAfter: 10_000 });
  await trying;
  stop = true;
  cleanup.defer('client', () => client?.destroy());
  await waitFor(() => master.projection.nodes.get('10.0.0.9:80')?.state === 'PUSH_LOAD_INFO', { what: 'the early slave eligible' });
  const events = await logEvents(master);
  expect(events[0]!.type).toBe('MasterStarted');
});
