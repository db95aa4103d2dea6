/**
 * The demo's engine in-process, with short intervals: a real master over a temp log and
 * the project's slaves; the flapping slave leaves with GOODBYE and comes back.
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { afterEach, expect, it } from 'vitest';
import { Demo, demoAddr } from '../../src/demo/demo.js';
import { waveLoad } from '../../src/demo/loads.js';
import type { LedgerEvent } from '../../src/events.js';
import { Cleanup } from '../helpers/cleanup.js';
import { getJson } from '../helpers/master.js';
import { waitFor, withTimeout } from '../helpers/wait.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

async function start(opts: Parameters<typeof Demo.start>[0]): Promise<Demo> {
  const demo = await Demo.start(opts);
  cleanup.defer(`rm ${demo.dir}`, () => rm(demo.dir, { recursive: true, force: true }));
  cleanup.defer('demo.stop()', () => withTimeout(demo.stop('test cleanup'), 5000, 'demo.stop()'));
  return demo;
}

it('the last slave leaves with GOODBYE (DOWN "left") and comes back; the others stay up; stop removes the temp log', async () => {
  const demo = await start({ slaves: 3, interval: 25, flap: { up: 300, away: 300 } });
  const events: LedgerEvent[] = [];
  demo.master.events$.subscribe((e) => events.push(e));
  const node = (i: number) => demo.master.projection.nodes.get(demoAddr(i));

  await waitFor(() => [0, 1, 2].every((i) => node(i)?.state === 'PUSH_LOAD_INFO'), { what: 'three nodes up' });
  expect(node(0)?.attrs).toEqual({ zone: 'eu-1' });
  const least = await getJson<{ id: string }>(`${demo.http}/v1/least-loaded`);
  expect([0, 1, 2].map(demoAddr)).toContain(least.body.id);

  await waitFor(() => node(2)?.state === 'DOWN', { what: 'the flapping slave to leave', timeout: 3000 });
  expect(node(2)?.reason).toBe('left (demo: back in 300ms)');
  expect(events.some((e) => e.type === 'SlaveLeft' && e.reason === 'demo: back in 300ms')).toBe(true);
  expect(node(0)?.state).toBe('PUSH_LOAD_INFO');
  expect(node(1)?.state).toBe('PUSH_LOAD_INFO');
  await waitFor(() => node(2)?.state === 'PUSH_LOAD_INFO', { what: 'the flapping slave to come back', timeout: 3000 });

  const summary = await demo.stop('test');
  expect(summary).toMatchObject({ dir: demo.dir, kept: false });
  expect(summary.events).toBe(demo.master.projection.seq);
  expect(existsSync(demo.dir)).toBe(false);
  // Every slave that was up said GOODBYE before the master stopped.
  expect(events.filter((e) => e.type === 'SlaveLeft' && e.reason === 'demo stopped')).toHaveLength(3);
  expect(events[events.length - 1]?.type).toBe('MasterStopped');
  expect([0, 1, 2].map((i) => node(i)?.reason)).toEqual(['left (demo stopped)', 'left (demo stopped)', 'left (demo stopped)']);
});

it('keep: the log directory stays', async () => {
  const demo = await start({ slaves: 1, interval: 25, keep: true, flap: false });
  await waitFor(() => demo.master.projection.nodes.get(demoAddr(0))?.state === 'PUSH_LOAD_INFO', { what: 'the node up' });
  const summary = await demo.stop('test');
  expect(summary.kept).toBe(true);
  expect(existsSync(demo.dir)).toBe(true);
});

it('waveLoad: out of phase between slaves, within 0–100, one decimal', () => {
  let t = 0;
  const loads = [0, 1, 2].map((i) => waveLoad(i, 3, { clock: () => t, random: () => 0.5 }));
  const seen = new Set<number>();
  for (t = 0; t < 60_000; t += 500) {
    const vs = loads.map((f) => f());
    for (const v of vs) {
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThanOrEqual(100);
      expect(Math.round(v * 10) / 10).toBe(v);
    }
    seen.add(vs.indexOf(Math.min(...vs)));
  }
  expect(seen).toEqual(new Set([0, 1, 2])); // each slave is the least loaded at some point
});
