/**
 * The herd-guarding mapping from loads to weights (src/selection/weights.ts), property by
 * property over generated services: the minimum share, the bounded step, lower load →
 * higher weight, integer weights in [min, 100], convergence to the target, scale
 * invariance; and the worked examples docs/selection.md quotes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import {
  checkWeightPolicy,
  nextWeights,
  targetWeights,
  ticksToSettle,
  WEIGHT_DEFAULTS,
  WEIGHT_MAX,
  type LoadReport,
  type WeightPolicy,
} from '../../src/selection/weights.js';
import { thrown } from '../helpers/errors.js';

const policyArb: fc.Arbitrary<WeightPolicy> = fc.record({ min: fc.integer({ min: 1, max: 100 }), step: fc.integer({ min: 1, max: 100 }) });

// loads 0 or ≥ 1e-6 (a subnormal load times 0.001 underflows to 0: not a unit anyone reports in)
const loadArb = fc.oneof(fc.constant(0), fc.double({ min: 1e-6, max: 1e6, noNaN: true }), fc.integer({ min: 0, max: 1000 }));

/** 1..30 nodes with distinct ids, some with a capacity. */
const nodesArb = (withCapacity = true): fc.Arbitrary<LoadReport[]> =>
  fc
    .array(
      fc.record({
        load: loadArb,
        capacity: withCapacity ? fc.option(fc.double({ min: 0.01, max: 100, noNaN: true }), { nil: undefined }) : fc.constant(undefined),
      }),
      { minLength: 1, maxLength: 30 },
    )
    .map((xs) =>
      xs.map((x, i) => (x.capacity === undefined ? { id: `n${i}`, load: x.load } : { id: `n${i}`, load: x.load, capacity: x.capacity })),
    );

/** Previous weights for some of the nodes (anything, including out of range). */
const previousArb = (nodes: readonly LoadReport[]): fc.Arbitrary<Map<string, number>> =>
  fc
    .array(fc.option(fc.integer({ min: -50, max: 200 }), { nil: undefined }), { minLength: nodes.length, maxLength: nodes.length })
    .map((ws) => {
      const m = new Map<string, number>();
      ws.forEach((w, i) => {
        if (w !== undefined) m.set(nodes[i]!.id, w);
      });
      return m;
    });

const scenario = fc
  .tuple(policyArb, nodesArb())
  .chain(([policy, nodes]) => previousArb(nodes).map((previous) => ({ policy, nodes, previous })));

describe('nextWeights (properties)', () => {
  it('every eligible node gets an integer weight in [min, 100]: it keeps a minimum share', () => {
    fc.assert(
      fc.property(scenario, ({ policy, nodes, previous }) => {
        const w = nextWeights(previous, nodes, policy);
        expect([...w.keys()].sort()).toEqual(nodes.map((n) => n.id).sort());
        for (const v of w.values()) {
          expect(Number.isInteger(v)).toBe(true);
          expect(v).toBeGreaterThanOrEqual(policy.min);
          expect(v).toBeLessThanOrEqual(WEIGHT_MAX);
        }
        // the share bound docs/selection.md states
        const total = [...w.values()].reduce((a, b) => a + b, 0);
        for (const v of w.values())
          expect(v / total).toBeGreaterThanOrEqual(policy.min / (policy.min + WEIGHT_MAX * (nodes.length - 1)) - 1e-12);
      }),
      { numRuns: 400 },
    );
  });

  it('a weight moves at most one step per tick (from its previous weight clamped into range; a new node from min)', () => {
    fc.assert(
      fc.property(scenario, ({ policy, nodes, previous }) => {
        const w = nextWeights(previous, nodes, policy);
        for (const [id, v] of w) {
          const before = previous.get(id);
          const from = before === undefined ? policy.min : Math.min(WEIGHT_MAX, Math.max(policy.min, before));
          expect(Math.abs(v - from)).toBeLessThanOrEqual(policy.step);
        }
      }),
      { numRuns: 400 },
    );
  });

  it('lower load → higher (or equal) weight, for nodes of equal capacity that start from the same weight', () => {
    fc.assert(
      fc.property(policyArb, nodesArb(false), fc.option(fc.integer({ min: 1, max: 100 }), { nil: undefined }), (policy, nodes, start) => {
        const previous = new Map(start === undefined ? [] : nodes.map((n) => [n.id, start] as const));
        for (const w of [targetWeights(nodes, policy), nextWeights(previous, nodes, policy)]) {
          for (const a of nodes) for (const b of nodes) if (a.load < b.load) expect(w.get(a.id)!).toBeGreaterThanOrEqual(w.get(b.id)!);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('at an equal ratio load / capacity, more capacity → higher (or equal) target', () => {
    fc.assert(
      fc.property(
        policyArb,
        fc.double({ min: 0, max: 100, noNaN: true }),
        fc.array(fc.double({ min: 0.1, max: 10, noNaN: true }), { minLength: 2, maxLength: 10 }),
        fc.array(loadArb, { maxLength: 10 }),
        (policy, ratio, caps, others) => {
          const nodes: LoadReport[] = [
            ...caps.map((c, i) => ({ id: `c${i}`, load: ratio * c, capacity: c })),
            ...others.map((l, i) => ({ id: `o${i}`, load: l })),
          ];
          const t = targetWeights(nodes, policy);
          caps.forEach((a, i) => caps.forEach((b, j) => a < b && expect(t.get(`c${i}`)!).toBeLessThanOrEqual(t.get(`c${j}`)! + 1)));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('with steady loads the weights reach their target within ticksToSettle ticks and stay there', () => {
    fc.assert(
      fc.property(scenario, ({ policy, nodes, previous }) => {
        const target = targetWeights(nodes, policy);
        let w: Map<string, number> = previous;
        for (let i = 0; i < ticksToSettle(policy); i++) w = nextWeights(w, nodes, policy);
        expect(w).toEqual(target);
        expect(nextWeights(w, nodes, policy)).toEqual(target);
      }),
      { numRuns: 300 },
    );
  });

  it('the least-loaded node of a service has the full weight (100) as target; the unit of load does not matter', () => {
    fc.assert(
      fc.property(policyArb, nodesArb(), fc.double({ min: 1e-3, max: 1e3, noNaN: true }), (policy, nodes, factor) => {
        const t = targetWeights(nodes, policy);
        expect(Math.max(...t.values())).toBe(WEIGHT_MAX);
        const scaled = targetWeights(
          nodes.map((n) => ({ ...n, load: n.load * factor })),
          policy,
        );
        for (const [id, v] of t) expect(Math.abs(scaled.get(id)! - v)).toBeLessThanOrEqual(1); // rounding
      }),
      { numRuns: 300 },
    );
  });

  it('nodes no longer given are dropped; bad loads and capacities count as 0 and 1', () => {
    const w = nextWeights(
      new Map([
        ['gone', 50],
        ['a', 50],
      ]),
      [
        { id: 'a', load: Number.NaN },
        { id: 'b', load: -5, capacity: 0 },
      ],
    );
    expect([...w.keys()].sort()).toEqual(['a', 'b']);
    expect(
      targetWeights([
        { id: 'a', load: Number.POSITIVE_INFINITY },
        { id: 'b', load: 0, capacity: -1 },
      ]),
    ).toEqual(
      new Map([
        ['a', 100],
        ['b', 100],
      ]),
    );
  });
});

describe('the worked examples (docs/selection.md#weights)', () => {
  const t = (loads: number[]) => [...targetWeights(loads.map((load, i) => ({ id: `n${i}`, load }))).values()];

  it('targets', () => {
    expect(t([0, 50, 50])).toEqual([100, 40, 40]);
    expect(t([40, 49])).toEqual([100, 90]);
    expect(t([10, 10, 10])).toEqual([100, 100, 100]);
    expect(t([0, 0])).toEqual([100, 100]);
    expect(t([0, 1000, 1000, 1000, 1000])).toEqual([100, 44, 44, 44, 44]);
    expect(t([0, 1000])).toEqual([100, 33]);
    expect(t([1, 1000])).toEqual([100, 33]);
    expect(t([0, ...Array<number>(19).fill(100)])).toEqual([100, ...Array<number>(19).fill(49)]);
    expect(
      targetWeights([
        { id: 'a', load: 0, capacity: 4 },
        { id: 'b', load: 0, capacity: 1 },
      ]),
    ).toEqual(
      new Map([
        ['a', 100],
        ['b', 25],
      ]),
    );
    expect(
      targetWeights([
        { id: 'a', load: 0, capacity: 40 },
        { id: 'b', load: 0, capacity: 1 },
      ]),
    ).toEqual(
      new Map([
        ['a', 100],
        ['b', WEIGHT_DEFAULTS.min],
      ]),
    );
  });

  it("one node's load drops to 0 among three at 50: its weight holds, the others' fall 20 a tick to 40", () => {
    const nodes = (a: number) => [
      { id: 'a', load: a },
      { id: 'b', load: 50 },
      { id: 'c', load: 50 },
    ];
    let w = new Map([
      ['a', 100],
      ['b', 100],
      ['c', 100],
    ]);
    const seen: number[][] = [];
    for (let i = 0; i < 4; i++) seen.push([...(w = nextWeights(w, nodes(0))).values()]);
    expect(seen).toEqual([
      [100, 80, 80],
      [100, 60, 60],
      [100, 40, 40],
      [100, 40, 40],
    ]);
  });

  it('a node that appears enters from min and ramps up a step a tick', () => {
    let w = new Map([['a', 100]]);
    const seen: number[] = [];
    for (let i = 0; i < 6; i++)
      seen.push(
        (w = nextWeights(w, [
          { id: 'a', load: 5 },
          { id: 'new', load: 0 },
        ])).get('new')!,
      );
    expect(seen).toEqual([30, 50, 70, 90, 100, 100]);
    expect(ticksToSettle()).toBe(5);
    expect(ticksToSettle({ min: 100, step: 1 })).toBe(1);
  });
});

describe('checkWeightPolicy', () => {
  it('defaults, and one line naming the flag for anything outside 1..100', () => {
    expect(checkWeightPolicy({})).toEqual(WEIGHT_DEFAULTS);
    expect(checkWeightPolicy({ min: 1, step: 100 })).toEqual({ min: 1, step: 100 });
    for (const bad of [0, 101, 2.5, Number.NaN]) {
      const e = thrown(() => checkWeightPolicy({ min: bad }));
      expect(e.code).toBe(ErrorCode.BAD_ARGUMENT);
      expect(e.message).toMatch(/^--weight-min must be an integer from 1 to 100/);
    }
    expect(thrown(() => checkWeightPolicy({ step: 0 })).message).toMatch(/^--weight-step/);
  });
});
