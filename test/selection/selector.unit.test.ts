/**
 * The selection policies in memory: least-loaded, p2c and capacity, each with and without
 * in-flight compensation, over a projection folded by the real reducer. p2c's draws come
 * from a seeded PRNG, so every run makes the same choices.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import type { NodeEntry } from '../../src/projection/state.js';
import { POLICIES, takePolicyParam, type Policy } from '../../src/selection/policy.js';
import { seededRandom } from '../../src/selection/random.js';
import { Selector } from '../../src/selection/selector.js';
import { thrown } from '../helpers/errors.js';
import { Table, tally } from './table.js';

const zone = (z: string) => (n: NodeEntry) => n.attrs['zone'] === z;

function picks(s: Selector, t: Table, k: number, policy?: Policy, filter?: (n: NodeEntry) => boolean): string[] {
  const out: string[] = [];
  for (let i = 0; i < k; i++) out.push(s.choose(t.projection, policy, filter)?.id ?? '(none)');
  return out;
}

describe('every policy', () => {
  it.each(POLICIES)('%s: no eligible node → undefined (HTTP: 503 NO_ELIGIBLE_NODE); DOWN nodes are never chosen', (policy) => {
    const s = new Selector({ policy, random: seededRandom(1) });
    const t = new Table();
    expect(s.choose(t.projection)).toBeUndefined();
    t.report('a', 1).report('b', 2).down('a').down('b');
    expect(s.choose(t.projection)).toBeUndefined();
    t.report('c', 50).report('d', 0).down('d');
    expect(new Set(picks(s, t, 50))).toEqual(new Set(['c']));
  });

  it.each(POLICIES)('%s: a filter that nothing matches → undefined; a filter is applied before choosing', (policy) => {
    const s = new Selector({ policy, random: seededRandom(2) });
    const t = new Table()
      .report('a', 1, { attrs: { zone: 'x' } })
      .report('b', 5, { attrs: { zone: 'y' } })
      .report('c', 9, { attrs: { zone: 'y' } });
    expect(s.choose(t.projection, policy, zone('nowhere'))).toBeUndefined();
    const ys = picks(s, t, 100, policy, zone('y'));
    expect(ys.every((id) => id === 'b' || id === 'c')).toBe(true);
    // b is the less loaded of the two y nodes: every policy picks it (p2c draws both).
    expect(new Set(ys)).toEqual(new Set(['b']));
  });

  it.each(POLICIES)('%s with one eligible node answers it', (policy) => {
    const s = new Selector({ policy, compensation: 1, random: seededRandom(3) });
    const t = new Table().report('only', 70);
    expect(new Set(picks(s, t, 20))).toEqual(new Set(['only']));
  });
});

describe('least-loaded', () => {
  it('the lowest load; ties by id; follows new reports', () => {
    const s = new Selector();
    const t = new Table().report('c', 5).report('b', 5).report('d', 7);
    expect(s.choose(t.projection)?.id).toBe('b');
    t.report('a', 5);
    expect(s.choose(t.projection)?.id).toBe('a');
    t.report('d', 1);
    expect(s.choose(t.projection)?.id).toBe('d');
  });

  it('with a filter: the least loaded of the matching nodes', () => {
    const s = new Selector();
    const t = new Table()
      .report('a', 1, { attrs: { zone: 'x' } })
      .report('b', 9, { attrs: { zone: 'y' } })
      .report('c', 3, { attrs: { zone: 'y' } });
    expect(s.choose(t.projection, 'least-loaded', zone('y'))?.id).toBe('c');
  });

  it('without compensation sends every query between two reports to the same node', () => {
    const s = new Selector();
    const t = new Table().report('a', 10).report('b', 11);
    expect(tally(picks(s, t, 100))).toEqual(new Map([['a', 100]]));
  });
});

describe('capacity', () => {
  it('the lowest load / capacity, ties by id', () => {
    const s = new Selector({ policy: 'capacity' });
    // ratios: a 10, b 7.5, c 10, d 12
    const t = new Table().report('a', 10).report('b', 30, { capacity: 4 }).report('c', 20, { capacity: 2 }).report('d', 12);
    expect(s.choose(t.projection)?.id).toBe('b');
    t.down('b');
    expect(s.choose(t.projection)?.id).toBe('a'); // a and c tie at 10
    expect(s.choose(t.projection, 'least-loaded')?.id).toBe('a');
    t.report('e', 19, { capacity: 2 }); // 9.5
    expect(s.choose(t.projection)?.id).toBe('e');
  });

  it('follows a report that changes only the capacity', () => {
    const s = new Selector({ policy: 'capacity' });
    const t = new Table().report('a', 10).report('b', 15);
    expect(s.choose(t.projection)?.id).toBe('a');
    t.report('b', 15, { capacity: 2 }); // same load, ratio 7.5
    expect(s.choose(t.projection)?.id).toBe('b');
    t.report('b', 15, { capacity: 1 });
    expect(s.choose(t.projection)?.id).toBe('a');
  });

  it('with a filter: the lowest ratio among the matching nodes', () => {
    const s = new Selector({ policy: 'capacity' });
    const t = new Table()
      .report('a', 1, { attrs: { zone: 'x' } })
      .report('b', 8, { capacity: 1, attrs: { zone: 'y' } })
      .report('c', 12, { capacity: 2, attrs: { zone: 'y' } });
    expect(s.choose(t.projection, 'capacity', zone('y'))?.id).toBe('c');
  });
});

describe('p2c', () => {
  it('of two nodes: always the less loaded; equal loads: the lower id', () => {
    const s = new Selector({ policy: 'p2c', random: seededRandom(4) });
    const t = new Table().report('b', 3).report('a', 7);
    expect(new Set(picks(s, t, 50))).toEqual(new Set(['b']));
    t.report('a', 3);
    expect(new Set(picks(s, t, 50))).toEqual(new Set(['a']));
  });

  it('the less loaded of two distinct random nodes: loads 1, 2, 3 → 2/3, 1/3, never', () => {
    const s = new Selector({ policy: 'p2c', random: seededRandom(5) });
    const t = new Table().report('n1', 1).report('n2', 2).report('n3', 3);
    const k = 3000;
    const got = tally(picks(s, t, k));
    expect(got.get('n3')).toBeUndefined(); // it loses to whichever node it is drawn with
    expect(got.get('n1')! / k).toBeCloseTo(2 / 3, 1);
    expect(got.get('n2')! / k).toBeCloseTo(1 / 3, 1);
  });

  it('draws among the eligible nodes only, also after nodes left and came back (the array of eligible nodes)', () => {
    const s = new Selector({ policy: 'p2c', random: seededRandom(6) });
    const t = new Table();
    for (let i = 0; i < 8; i++) t.report(`n${i}`, 10);
    t.down('n0').down('n3').down('n7').report('n3', 10).down('n5');
    // equal loads: ties by id, so every eligible node but the one with the highest id wins sometimes
    const got = tally(picks(s, t, 2000));
    expect([...got.keys()].sort()).toEqual(['n1', 'n2', 'n3', 'n4']);
  });

  it('with a filter: two random among the matching eligible nodes', () => {
    const s = new Selector({ policy: 'p2c', random: seededRandom(7) });
    const t = new Table()
      .report('x0', 0, { attrs: { zone: 'x' } })
      .report('y1', 1, { attrs: { zone: 'y' } })
      .report('y2', 2, { attrs: { zone: 'y' } })
      .report('y3', 3, { attrs: { zone: 'y' } });
    const k = 3000;
    const got = tally(picks(s, t, k, 'p2c', zone('y')));
    expect(got.get('x0')).toBeUndefined();
    expect(got.get('y3')).toBeUndefined();
    expect(got.get('y1')! / k).toBeCloseTo(2 / 3, 1);
    expect(got.get('y2')! / k).toBeCloseTo(1 / 3, 1);
  });

  it('with a filter that matches 2 of 500 nodes (past the random draws: a scan): the less loaded of the two, always', () => {
    const s = new Selector({ policy: 'p2c', random: seededRandom(8) });
    const t = new Table();
    for (let i = 0; i < 498; i++) t.report(`n${i}`, i % 7, { attrs: { zone: 'x' } });
    t.report('rare-a', 40, { attrs: { zone: 'rare' } }).report('rare-b', 30, { attrs: { zone: 'rare' } });
    expect(new Set(picks(s, t, 200, 'p2c', zone('rare')))).toEqual(new Set(['rare-b']));
    t.down('rare-b');
    expect(new Set(picks(s, t, 50, 'p2c', zone('rare')))).toEqual(new Set(['rare-a']));
  });
});

describe('in-flight compensation', () => {
  it('least-loaded: each answer adds the increment to the chosen node until its next report', () => {
    const s = new Selector({ compensation: 5 });
    const t = new Table().report('a', 10).report('b', 12);
    // effective loads: a 10 → 15 → 20 → 25, b 12 → 17 → 22
    expect(picks(s, t, 5)).toEqual(['a', 'b', 'a', 'b', 'a']);
    expect(s.inFlight(t.node('a'))).toBe(3);
    expect(s.effectiveLoad(t.node('a'))).toBe(25);
    expect(s.effectiveLoad(t.node('b'))).toBe(22);
  });

  it('ties on effective load go by id', () => {
    const s = new Selector({ compensation: 5 });
    const t = new Table().report('b', 10).report('a', 15);
    expect(picks(s, t, 4)).toEqual(['b', 'a', 'b', 'a']); // b 15 = a 15: a; then b 15 < a 20 …
  });

  it("resets to 0 at the node's next report, even with the same load; other nodes keep theirs", () => {
    const s = new Selector({ compensation: 5 });
    const t = new Table()
      .report('a', 10)
      .report('b', 12)
      .report('c', 40, { attrs: { zone: 'z' } });
    picks(s, t, 4); // a, b, a, b: a 20, b 22
    expect(s.choose(t.projection, 'least-loaded', zone('z'))?.id).toBe('c'); // the last answer is not b's
    t.report('b', 12); // b: 12 again
    expect(s.inFlight(t.node('b'))).toBe(0);
    expect(s.inFlight(t.node('a'))).toBe(2);
    expect(picks(s, t, 3)).toEqual(['b', 'b', 'a']); // b 12 → 17 → 22; a 20 < 22
    t.report('a', 10);
    expect(s.choose(t.projection)?.id).toBe('a');
  });

  it('a node that goes DOWN and comes back starts without compensation', () => {
    const s = new Selector({ compensation: 10 });
    const t = new Table().report('a', 1).report('b', 2);
    picks(s, t, 3); // a 11, b 12, a 21
    t.down('a').report('a', 1);
    expect(s.inFlight(t.node('a'))).toBe(0);
    expect(s.choose(t.projection)?.id).toBe('a');
  });

  it('capacity: effective load / capacity; a node of capacity 3 takes three answers for each one of capacity 1', () => {
    const s = new Selector({ policy: 'capacity', compensation: 1 });
    const t = new Table().report('a', 0).report('b', 0, { capacity: 3 });
    expect(picks(s, t, 8)).toEqual(['a', 'b', 'b', 'b', 'a', 'b', 'b', 'b']);
    t.report('b', 0, { capacity: 3 });
    expect(s.choose(t.projection)?.id).toBe('b');
  });

  it('p2c: the two are compared on effective load', () => {
    const s = new Selector({ policy: 'p2c', compensation: 1, random: seededRandom(9) });
    const t = new Table().report('a', 10).report('b', 10);
    // two nodes: p2c draws both, so it alternates like compensated least-loaded
    expect(picks(s, t, 6)).toEqual(['a', 'b', 'a', 'b', 'a', 'b']);
    t.report('a', 10);
    expect(s.choose(t.projection)?.id).toBe('a');
  });

  it('with a filter: only answers charge, and only the node answered', () => {
    const s = new Selector({ compensation: 1 });
    const t = new Table().report('x', 0, { attrs: { zone: 'x' } }).report('y', 5, { attrs: { zone: 'y' } });
    picks(s, t, 3, 'least-loaded', zone('y'));
    expect(s.inFlight(t.node('y'))).toBe(3);
    expect(s.inFlight(t.node('x'))).toBe(0);
    expect(s.choose(t.projection)?.id).toBe('x');
  });

  it('a new projection (the master rebuilt it after a log failure) starts without compensation', () => {
    const s = new Selector({ compensation: 100 });
    const t1 = new Table().report('a', 1).report('b', 2);
    expect(picks(s, t1, 2)).toEqual(['a', 'b']);
    const t2 = new Table().report('a', 1).report('b', 2);
    expect(s.choose(t2.projection)?.id).toBe('a');
    expect(s.inFlight(t2.node('b'))).toBe(0);
  });
});

describe('Selector options and the policy parameter', () => {
  it('answers are cacheable by seq only for least-loaded and capacity without compensation', () => {
    expect(POLICIES.map((p) => new Selector().deterministic(p))).toEqual([true, false, true]);
    expect(POLICIES.map((p) => new Selector({ compensation: 0.5 }).deterministic(p))).toEqual([false, false, false]);
  });

  it('a bad policy name or compensation is BAD_ARGUMENT', () => {
    expect(thrown(() => new Selector({ policy: 'random' as Policy })).code).toBe(ErrorCode.BAD_ARGUMENT);
    for (const c of [-1, Number.NaN, Number.POSITIVE_INFINITY])
      expect(thrown(() => new Selector({ compensation: c })).code).toBe(ErrorCode.BAD_ARGUMENT);
  });

  it('?policy= is taken out of the attribute filters; absent → the default; unknown or repeated → an error', () => {
    const q = new URLSearchParams('zone=eu-1&policy=p2c');
    expect(takePolicyParam(q, 'least-loaded')).toEqual({ policy: 'p2c' });
    expect(q.toString()).toBe('zone=eu-1');
    expect(takePolicyParam(new URLSearchParams('zone=eu-1'), 'capacity')).toEqual({ policy: 'capacity' });
    expect(takePolicyParam(new URLSearchParams('policy=fastest'), 'least-loaded')).toEqual({
      error: 'policy must be one of least-loaded, p2c, capacity (got "fastest")',
    });
    expect(takePolicyParam(new URLSearchParams('policy=p2c&policy=capacity'), 'least-loaded')).toHaveProperty('error');
  });
});

// ---------------------------------------------------------------- against a brute force

type Op =
  | { k: 'report'; node: number; load: number; capacity: number; zone: 'x' | 'y' }
  | { k: 'down'; node: number }
  | { k: 'restart' }
  | { k: 'query'; policy: Policy; filter: 'x' | 'y' | null };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      k: fc.constant('report' as const),
      node: fc.nat(5),
      load: fc.oneof(fc.integer({ min: 0, max: 4 }), fc.double({ min: 0, max: 50, noNaN: true, noDefaultInfinity: true })),
      capacity: fc.constantFrom(1, 2, 4, 0.5),
      zone: fc.constantFrom('x' as const, 'y' as const),
    }),
  },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('down' as const), node: fc.nat(5) }) },
  { weight: 1, arbitrary: fc.constant<Op>({ k: 'restart' }) },
  {
    weight: 8,
    arbitrary: fc.record({
      k: fc.constant('query' as const),
      policy: fc.constantFrom(...POLICIES),
      filter: fc.constantFrom(null, 'x' as const, 'y' as const),
    }),
  },
);

describe('the policies against a brute force (property)', () => {
  it('least-loaded and capacity answer the minimum by (effective rank, id); p2c an eligible matching node that is not the strict maximum; charges reset at each report', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 120, size: 'max' }), fc.constantFrom(0, 1, 2.5), fc.nat(), (ops, compensation, seed) => {
        const t = new Table();
        const s = new Selector({ compensation, random: seededRandom(seed) });
        // the model's charges, reset from the events themselves (not from reportSeq)
        const charges = new Map<string, number>();
        const up = new Set<string>();
        for (const op of ops) {
          if (op.k === 'report') {
            const id = `n${op.node}`;
            t.report(id, op.load, { capacity: op.capacity, attrs: { zone: op.zone } });
            charges.delete(id);
            up.add(id);
          } else if (op.k === 'down') {
            const id = `n${op.node}`;
            if (up.delete(id)) t.down(id);
          } else if (op.k === 'restart') {
            t.restart();
            up.clear();
          } else {
            const eff = (n: NodeEntry): number => n.load + (charges.get(n.id) ?? 0) * compensation;
            const rank = (n: NodeEntry): number => (op.policy === 'capacity' ? eff(n) / n.capacity : eff(n));
            const candidates = [...t.projection.nodes.values()]
              .filter((n) => n.state === 'PUSH_LOAD_INFO' && (op.filter === null || n.attrs['zone'] === op.filter))
              .sort((a, b) => rank(a) - rank(b) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
            const got = s.choose(t.projection, op.policy, op.filter === null ? undefined : zone(op.filter));
            if (candidates.length === 0) {
              expect(got).toBeUndefined();
              continue;
            }
            expect(got).toBeDefined();
            if (op.policy === 'p2c') {
              expect(candidates).toContain(got);
              const last = candidates[candidates.length - 1]!;
              if (candidates.length > 1 && rank(last) > rank(candidates[candidates.length - 2]!)) expect(got).not.toBe(last);
            } else {
              expect(got!.id).toBe(candidates[0]!.id);
            }
            if (compensation > 0) charges.set(got!.id, (charges.get(got!.id) ?? 0) + 1);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
