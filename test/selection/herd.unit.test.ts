/**
 * The herd effect, simulated in memory (issue 6; Mitzenmacher, "How useful is old
 * information?"): 10 nodes with equal-ish loads (40–49), then 1,000 queries before any of
 * them reports again. Least-loaded answers every one of them with the same node, whose real
 * load then jumps by 1,000 requests; p2c and in-flight compensation spread them.
 *
 * Prints the spread table (the README and the closing note quote it) for seed 1,
 * and checks the bounds on 20 seeds:
 *
 * - least-loaded, capacity (no compensation): one node gets 100%: the answer is a function
 *   of the table, which does not change between two reports.
 * - p2c: the least-loaded node wins whenever it is one of the two distinct nodes drawn,
 *   probability 2/n = 20% for n = 10 (the node of rank k wins with 2(n − k)/(n(n − 1))); the
 *   standard deviation over 1,000 queries is 1.3 points, so ≤ 25% is ~4σ. The most loaded
 *   node loses every comparison: 0%.
 * - least-loaded + compensation 1: water filling. Every node answered ends within one
 *   increment of the same effective load L, so a node's share is (L − load)/Q + at most
 *   1/Q: ≤ 1/n + (max load − min load + 1)/Q ≤ 10% + 1.1% → bound 12%. Same for capacity
 *   (all capacities 1 here) + compensation.
 * - p2c + compensation 1: two choices over effective loads keep them within a few
 *   increments of each other (balanced allocations: the gap above the mean stays
 *   O(log log n) increments however many answers), so a share is ≤ 1/n + (10 + a few)/Q;
 *   bound 13%.
 */
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/selection/random.js';
import { Selector, type SelectorOptions } from '../../src/selection/selector.js';
import type { Policy } from '../../src/selection/policy.js';
import { Table } from './table.js';

const NODES = 10;
const QUERIES = 1000;

interface Variant {
  name: string;
  policy: Policy;
  compensation: number;
  /** The most-chosen node's share is at most this (fraction of QUERIES). */
  maxShare: number;
}

const VARIANTS: Variant[] = [
  { name: 'least-loaded', policy: 'least-loaded', compensation: 0, maxShare: 1 },
  { name: 'p2c', policy: 'p2c', compensation: 0, maxShare: 0.25 },
  { name: 'capacity', policy: 'capacity', compensation: 0, maxShare: 1 },
  { name: 'least-loaded +comp 1', policy: 'least-loaded', compensation: 1, maxShare: 0.12 },
  { name: 'p2c +comp 1', policy: 'p2c', compensation: 1, maxShare: 0.13 },
  { name: 'capacity +comp 1', policy: 'capacity', compensation: 1, maxShare: 0.12 },
];

interface Run {
  loads: number[];
  /** answers per node, per variant */
  counts: number[][];
}

function simulate(seed: number): Run {
  const random = seededRandom(seed);
  // loads 40.0–49.9, one decimal: equal-ish, like gateways behind one VIP
  const loads = Array.from({ length: NODES }, () => 40 + Math.floor(random() * 100) / 10);
  const ids = loads.map((_, i) => `n${i}`);
  const counts = VARIANTS.map((v) => {
    const t = new Table();
    ids.forEach((id, i) => t.report(id, loads[i]!));
    const opts: SelectorOptions = { policy: v.policy, compensation: v.compensation, random: seededRandom(seed * 7919 + 1) };
    const s = new Selector(opts);
    const c = new Array<number>(NODES).fill(0);
    for (let q = 0; q < QUERIES; q++) {
      const n = s.choose(t.projection);
      if (!n) throw new Error('no eligible node');
      c[ids.indexOf(n.id)]!++;
    }
    return c;
  });
  return { loads, counts };
}

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;

function spreadTable(run: Run, seed: number): string {
  const heads = ['node', 'load', ...VARIANTS.map((v) => v.name)];
  const rows: string[][] = run.loads.map((load, i) => [`n${i}`, load.toFixed(1), ...run.counts.map((c) => pct(c[i]! / QUERIES))]);
  rows.push(['max share', '', ...run.counts.map((c) => pct(Math.max(...c) / QUERIES))]);
  rows.push(['mean share', '', ...run.counts.map((c) => pct(c.reduce((a, b) => a + b, 0) / c.length / QUERIES))]);
  rows.push(['nodes answered', '', ...run.counts.map((c) => String(c.filter((x) => x > 0).length))]);
  rows.push(['bound (max)', '', ...VARIANTS.map((v) => (v.maxShare === 1 ? '-' : `≤ ${pct(v.maxShare)}`))]);
  const widths = heads.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [
    `herd: ${NODES} nodes, ${QUERIES} queries between two load reports (seed ${seed}; compensation increment 1 = one load unit per answer)`,
    line(heads),
    ...rows.map(line),
  ].join('\n');
}

describe('the herd effect (simulation)', () => {
  it(`prints how ${QUERIES} answers between two reports spread over ${NODES} nodes, per policy`, () => {
    const run = simulate(1);
    console.log(spreadTable(run, 1));
    const byName = (name: string): number[] => run.counts[VARIANTS.findIndex((v) => v.name === name)]!;
    const least = run.loads.indexOf(Math.min(...run.loads));
    // least-loaded and capacity: the herd, all on the least-loaded node
    expect(byName('least-loaded')[least]).toBe(QUERIES);
    expect(byName('capacity')[least]).toBe(QUERIES);
    // p2c: the most loaded node loses every comparison
    expect(byName('p2c')[run.loads.indexOf(Math.max(...run.loads))]).toBe(0);
    // compensation: every node gets answers
    for (const name of ['least-loaded +comp 1', 'p2c +comp 1', 'capacity +comp 1']) expect(byName(name).every((c) => c > 0)).toBe(true);
  });

  it('on 20 seeds: least-loaded sends 100% to one node; p2c and compensation keep the most-chosen share under their bounds', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const run = simulate(seed);
      VARIANTS.forEach((v, i) => {
        const max = Math.max(...run.counts[i]!) / QUERIES;
        if (v.maxShare === 1) expect({ seed, variant: v.name, max }).toEqual({ seed, variant: v.name, max: 1 });
        else expect(max, `seed ${seed}, ${v.name}: max share ${pct(max)} > ${pct(v.maxShare)}`).toBeLessThanOrEqual(v.maxShare);
      });
    }
  });
});
