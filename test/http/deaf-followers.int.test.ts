/**
 * 50 `/v1/events?follow=1` clients that never read, while slaves flood the master (issue 12
 * item 1): the master holds a bounded number of bytes for each (its per-stream buffers, read
 * from /metrics), its RSS moves by at most 100 MiB against the same flood without them, and
 * it stops cleanly with them still connected. Child-process master (its own RSS), flooders
 * in a process of their own. Memory and structure are asserted, never speed: the phases are
 * counted in committed events, not in seconds.
 *
 * Run it alone: npx vitest run test/http/deaf-followers.int.test.ts
 */
import { afterEach, expect, it } from 'vitest';
import { STREAM_BUFFER_LIMIT } from '../../src/http/server.js';
import { MiB, spawnMaster, type ChildMaster } from '../helpers/child-master.js';
import { Cleanup } from '../helpers/cleanup.js';
import { metric, rawFollower, type RawFollower } from '../helpers/followers.js';
import { spawnFlooders } from '../helpers/flooders.js';
import { sleep, waitFor } from '../helpers/wait.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const FOLLOWERS = 50;
/**
 * Events committed in each phase: some 20 MB of JSON lines that each follower is offered
 * and does not read — far more than the kernel's socket buffers take, so without a bound
 * in the master it would hold about a GB for the 50 of them.
 */
const PHASE_EVENTS = 300_000;

/** Runs `phase` while sampling the master's RSS every 50 ms; returns the highest seen. */
async function peakRss(master: ChildMaster, phase: () => Promise<void>): Promise<number> {
  let peak = master.rss();
  let done = false;
  const sampling = (async () => {
    while (!done) {
      peak = Math.max(peak, master.rss());
      await sleep(50);
    }
  })();
  try {
    await phase();
  } finally {
    done = true;
    await sampling;
  }
  return Math.max(peak, master.rss());
}

async function floodFor(master: ChildMaster, events: number): Promise<void> {
  const start = await metric(master.http, 'loadledger_events_total');
  await waitFor(async () => (await metric(master.http, 'loadledger_events_total')) >= start + events, {
    timeout: 120_000,
    interval: 100,
    what: `${events} more events committed`,
  });
}

it(`${FOLLOWERS} followers that never read during a flood cost the master a bounded amount each`, async () => {
  // No frame rate limit (a flood as fast as the master logs), and no stall cut-off: the
  // followers are to be held for the whole flood, however long this machine takes for it.
  const args = [
    '--hello-interval',
    '20s',
    '--dead-after',
    '60s',
    '--max-frame-rate',
    '0',
    '--max-followers',
    String(FOLLOWERS),
    '--follow-stall-timeout',
    '0',
  ];
  const master = await spawnMaster(cleanup, { args });
  const flooders = await spawnFlooders(cleanup, master.slavePort, 2);
  // The flood alone first: the heap grows to what the flood itself needs.
  const alone = await peakRss(master, () => floodFor(master, PHASE_EVENTS));

  const followers: RawFollower[] = [];
  for (let i = 0; i < FOLLOWERS; i++) {
    // Half from the start of the log (a catch-up they never finish), half from the live end
    // (live at once, as `replay --follow` starts): each stops reading as soon as it is in.
    const from = i % 2 === 0 ? 1 : (await metric(master.http, 'loadledger_last_seq')) + 1;
    const f = await rawFollower(Number(new URL(master.http).port), `/v1/events?follow=1&from=${from}`);
    cleanup.defer('follower', () => f.destroy());
    followers.push(f);
  }
  await waitFor(async () => (await metric(master.http, 'loadledger_followers')) === FOLLOWERS, { what: `${FOLLOWERS} followers served` });
  let maxBuffered = 0;
  const withFollowers = await peakRss(master, async () => {
    const start = await metric(master.http, 'loadledger_events_total');
    await waitFor(
      async () => {
        maxBuffered = Math.max(maxBuffered, await metric(master.http, 'loadledger_followers_buffered_bytes{of="max"}'));
        return (await metric(master.http, 'loadledger_events_total')) >= start + PHASE_EVENTS;
      },
      { timeout: 120_000, interval: 100, what: `${PHASE_EVENTS} more events committed with the followers` },
    );
  });
  const total = await metric(master.http, 'loadledger_followers_buffered_bytes{of="total"}');
  await flooders.stop();
  console.log(
    `${FOLLOWERS} deaf followers: master RSS peak ${(alone / MiB).toFixed(0)} MiB with the flood alone, ${(withFollowers / MiB).toFixed(0)} MiB with them ` +
      `(+${((withFollowers - alone) / MiB).toFixed(0)} MiB); largest stream buffer seen ${(maxBuffered / 1024).toFixed(0)} KiB (limit ${(STREAM_BUFFER_LIMIT / 1024).toFixed(0)} KiB), all ${(total / MiB).toFixed(1)} MiB`,
  );
  // Structure: what one stream holds is bounded, whatever it did not read.
  expect(maxBuffered).toBeLessThanOrEqual(STREAM_BUFFER_LIMIT);
  expect(total).toBeLessThanOrEqual(FOLLOWERS * STREAM_BUFFER_LIMIT);
  // Memory: 50 of them on top of the flood cost the process at most 100 MiB.
  expect(withFollowers - alone).toBeLessThanOrEqual(100 * MiB);
  // Still served, and a clean stop with them connected.
  expect(await metric(master.http, 'loadledger_followers')).toBe(FOLLOWERS);
  expect(await master.stop(10_000)).toEqual({ code: 0, signal: null });
}, 300_000);
