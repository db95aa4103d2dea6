/**
 * `--ack standby` on the leader (src/cluster/ack.ts), on a manual clock: a commit waits for
 * the in-sync standbys, at most `timeout`, then the leader acknowledges on its own disk; a
 * term that starts with no other member does not wait at all.
 */
import { describe, expect, it } from 'vitest';
import { AckTracker } from '../../src/cluster/ack.js';
import type { InSyncRecord } from '../../src/decisions/ha.js';
import { ManualClock } from '../helpers/manual-clock.js';

function tracker(opts: { alone?: boolean } = {}) {
  const clock = new ManualClock();
  const records: InSyncRecord[] = [];
  const changes: { local: boolean; members: string[] }[] = [];
  const acks = new AckTracker(7, {
    mode: 'standby',
    timeout: 1000,
    scheduler: clock,
    write: (r) => (records.push(r), Promise.resolve(true)),
    onChange: (local, members) => changes.push({ local, members }),
    ...opts,
  });
  return { clock, acks, records, changes };
}

/** Resolves to the ms (manual clock) the commit of `seq` waited, or undefined when it did not wait. */
async function waited(t: ReturnType<typeof tracker>, seq: number, until = 5000): Promise<number | undefined> {
  const start = t.clock.now();
  const p = t.acks.waitFor(seq);
  if (p === undefined) return undefined;
  let done = false;
  void p.then(() => (done = true));
  await t.clock.advanceUntil(() => done, { step: 10, max: until, what: `the commit of seq ${seq}` });
  return t.clock.now() - start;
}

describe('AckTracker', () => {
  it('a term that starts with no other member acknowledges locally from the first commit, and says so', async () => {
    const t = tracker({ alone: true });
    await t.clock.advance(0);
    expect(t.records).toEqual([{ term: 7, members: [], mode: 'local' }]);
    expect(t.changes).toEqual([{ local: true, members: [] }]);
    expect(await waited(t, 1)).toBeUndefined();
    t.acks.stop();
  });

  it('otherwise the first commit waits the timeout for a standby before acknowledging locally', async () => {
    const t = tracker();
    await t.clock.advance(0);
    expect(t.records).toEqual([{ term: 7, members: [], mode: 'standby' }]);
    const ms = await waited(t, 1);
    expect(ms).toBeGreaterThanOrEqual(1000);
    expect(t.changes).toEqual([{ local: true, members: [] }]);
    t.acks.stop();
  });

  it('alone, then a standby that catches up joins the set, and commits wait for it again', async () => {
    const t = tracker({ alone: true });
    await t.clock.advance(0);
    expect(await waited(t, 5)).toBeUndefined();
    t.acks.follower('b', true);
    t.acks.ack('b', 5);
    await t.clock.advance(300);
    expect(t.records.at(-1)).toEqual({ term: 7, members: ['b'], mode: 'standby' });
    expect(t.changes.at(-1)).toEqual({ local: false, members: ['b'] });
    const p = t.acks.waitFor(6);
    expect(p).toBeDefined();
    let done = false;
    void p!.then(() => (done = true));
    await t.clock.advance(100);
    expect(done).toBe(false);
    t.acks.ack('b', 6);
    await t.clock.advance(0);
    expect(done).toBe(true);
    t.acks.stop();
  });
});
