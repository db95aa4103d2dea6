/**
 * The weight table every interface reads (src/ledger/weights.ts), ticked by a manual
 * clock over a projection folded by the real reducer: weights per service, a bounded step
 * per tick, nothing for nodes that are not eligible, the minimum for a node that became
 * eligible since the last tick, and a generation that moves only when a weight does.
 */
import { describe, expect, it } from 'vitest';
import { WeightBoard } from '../../src/ledger/weights.js';
import { ev } from '../helpers/events.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { Table } from './table.js';

function board(t: Table, clock = new ManualClock()) {
  const b = new WeightBoard(t, { scheduler: clock, interval: 1000, policy: { min: 10, step: 20 }, serviceKey: 'service' });
  return { b, clock, w: (id: string) => b.weight(t.node(id)) };
}

describe('WeightBoard', () => {
  it('ticks at start and once per interval; weights move one bounded step per tick, towards the target of their own service', async () => {
    const t = new Table()
      .report('a', 50, { attrs: { service: 'web' } })
      .report('b', 50, { attrs: { service: 'web' } })
      .report('c', 0, { attrs: { service: 'api' } })
      .report('d', 900, { attrs: { service: 'api' } });
    const { b, clock, w } = board(t);
    b.start();
    expect(b.tick).toBe(1);
    expect([w('a'), w('b'), w('c'), w('d')]).toEqual([30, 30, 30, 30]); // all new: from min, one step
    await clock.advance(1000);
    expect([w('a'), w('b'), w('c'), w('d')]).toEqual([50, 50, 50, 33]); // d is at its target already
    await clock.advance(3000);
    expect(b.tick).toBe(5);
    // web: equal loads, both full; api: c at 0 → 100, d at 900 → 100·450/1350 = 33
    expect([w('a'), w('b'), w('c'), w('d')]).toEqual([100, 100, 100, 33]);
    expect(b.serviceOf(t.node('a'))).toBe('web');
    b.stop();
    await clock.advance(5000);
    expect(b.tick).toBe(5);
    expect(clock.timers).toBe(0);
  });

  it('a node not eligible has no weight; one eligible since the last tick has the minimum until the next; a node without the attribute is in the service ""', async () => {
    const t = new Table().report('a', 10).report('b', 10);
    const { b, clock, w } = board(t);
    b.start();
    await clock.advance(5000);
    expect([w('a'), w('b')]).toEqual([100, 100]);
    expect(b.serviceOf(t.node('a'))).toBe('');
    t.apply(ev.drained('a'));
    t.down('b');
    t.report('c', 0);
    expect([w('a'), w('b'), w('c')]).toEqual([undefined, undefined, 10]);
    await clock.advance(1000);
    expect(w('c')).toBe(30);
    t.apply(ev.undrained('a'));
    expect(w('a')).toBe(10); // dropped at the tick while drained: ramps up again
    await clock.advance(1000);
    expect([w('a'), w('c')]).toEqual([30, 50]);
  });

  it('does nothing until its first read, which starts it; a stopped table stays stopped', async () => {
    const t = new Table().report('a', 10);
    const { b, clock, w } = board(t);
    await clock.advance(5000);
    expect([b.tick, clock.timers]).toEqual([0, 0]);
    expect(w('a')).toBe(30); // the first read ticks once
    await clock.advance(1000);
    expect(b.tick).toBe(2);
    b.stop();
    w('a');
    expect([b.tick, clock.timers]).toEqual([2, 0]);
  });

  it('generation moves with a tick that changes a weight, not with one that does not', async () => {
    const t = new Table().report('a', 10).report('b', 30);
    const { b, clock } = board(t);
    b.start();
    await clock.advance(10_000);
    const g = b.generation;
    await clock.advance(3000);
    expect(b.generation).toBe(g);
    t.report('b', 0);
    await clock.advance(1000);
    expect(b.generation).toBe(g + 1);
  });
});
