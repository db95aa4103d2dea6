/**
 * No policy ever answers a drained node: least-loaded, p2c and capacity, with and without
 * compensation, with and without filters, whether the selector's views existed before the
 * drain or are made after it; and an undrained node comes back.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { NodeEntry } from '../../src/projection/state.js';
import { POLICIES, type Policy } from '../../src/selection/policy.js';
import { seededRandom } from '../../src/selection/random.js';
import { Selector } from '../../src/selection/selector.js';
import { ev } from '../helpers/events.js';
import { Table } from './table.js';

const zone = (z: string) => (n: NodeEntry) => n.attrs['zone'] === z;
const CASES = POLICIES.flatMap((policy) => [0, 1].map((compensation) => [policy, compensation] as const));

function picks(s: Selector, t: Table, k: number, policy: Policy, filter?: (n: NodeEntry) => boolean): Set<string> {
  const out = new Set<string>();
  for (let i = 0; i < k; i++) out.add(s.choose(t.projection, policy, filter)?.id ?? '(none)');
  return out;
}

describe.each(CASES)('%s, compensation %d', (policy, compensation) => {
  it('the least-loaded node, drained, is never answered; the others still are; undrained, it is again', () => {
    const s = new Selector({ policy, compensation, random: seededRandom(11) });
    const t = new Table().report('a', 1, { capacity: 4 }).report('b', 20).report('c', 30);
    // the selector's views (capacity, compensation) exist before the drain
    expect(s.choose(t.projection, policy)).toBeDefined();
    t.apply(ev.drained('a', 'maintenance'));
    expect(picks(s, t, 200, policy).has('a')).toBe(false);
    // it keeps reporting, lower still: still never
    t.report('a', 0);
    expect(picks(s, t, 200, policy).has('a')).toBe(false);
    t.apply(ev.undrained('a'));
    expect(picks(s, t, 200, policy).has('a')).toBe(true);
  });

  it('with a filter that only the drained node matches: no answer', () => {
    const s = new Selector({ policy, compensation, random: seededRandom(12) });
    const t = new Table()
      .report('a', 1, { attrs: { zone: 'x' } })
      .report('b', 5, { attrs: { zone: 'y' } })
      .report('c', 9, { attrs: { zone: 'y' } });
    t.apply(ev.drained('a'));
    expect(s.choose(t.projection, policy, zone('x'))).toBeUndefined();
    expect(picks(s, t, 100, policy, zone('y')).has('a')).toBe(false);
    t.apply(ev.drained('b'));
    expect(picks(s, t, 100, policy, zone('y'))).toEqual(new Set(['c']));
  });

  it('every node drained: no answer (HTTP: 503 NO_ELIGIBLE_NODE)', () => {
    const s = new Selector({ policy, compensation, random: seededRandom(13) });
    const t = new Table().report('a', 1).report('b', 2);
    t.apply(ev.drained('a'));
    t.apply(ev.drained('b'));
    expect(s.choose(t.projection, policy)).toBeUndefined();
  });

  it('a node drained before it connected is never answered once it reports', () => {
    const s = new Selector({ policy, compensation, random: seededRandom(14) });
    const t = new Table().report('b', 50);
    t.apply(ev.drained('new'));
    t.report('new', 0);
    expect(picks(s, t, 100, policy)).toEqual(new Set(['b']));
  });

  it('property: random loads, drains, undrains and queries, with and without a filter: never a drained node', () => {
    const ids = ['a', 'b', 'c', 'd', 'e'];
    const op = fc.oneof(
      fc.record({
        k: fc.constant('report' as const),
        id: fc.constantFrom(...ids),
        load: fc.integer({ min: 0, max: 5 }),
        z: fc.constantFrom('x', 'y'),
      }),
      fc.record({ k: fc.constant('drain' as const), id: fc.constantFrom(...ids) }),
      fc.record({ k: fc.constant('undrain' as const), id: fc.constantFrom(...ids) }),
      fc.record({ k: fc.constant('down' as const), id: fc.constantFrom(...ids) }),
      fc.record({ k: fc.constant('query' as const), z: fc.constantFrom('x', 'y', undefined) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), fc.nat(), (ops, seed) => {
        const s = new Selector({ policy, compensation, random: seededRandom(seed) });
        const t = new Table();
        for (const o of ops) {
          if (o.k === 'report') t.report(o.id, o.load, { attrs: { zone: o.z } });
          else if (o.k === 'drain') t.apply(ev.drained(o.id));
          else if (o.k === 'undrain') t.apply(ev.undrained(o.id));
          else if (o.k === 'down') {
            if (t.projection.nodes.get(o.id)?.state === 'PUSH_LOAD_INFO') t.down(o.id);
          } else {
            const filter = o.z === undefined ? undefined : zone(o.z);
            const n = s.choose(t.projection, policy, filter);
            const candidates = [...t.projection.nodes.values()].filter(
              (x) => x.state === 'PUSH_LOAD_INFO' && !x.drained && (!filter || filter(x)),
            );
            if (n === undefined) expect(candidates).toEqual([]);
            else {
              expect(n.drained).toBeUndefined();
              expect(candidates).toContain(n);
            }
          }
        }
      }),
      { numRuns: 60 },
    );
  });
});
