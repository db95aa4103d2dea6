import { badArgument } from '../errors.js';

/**
 * Loads → weights, the one mapping every interface that hands weights to a proxy or a
 * resolver uses (HAProxy agent-check `N%`, Envoy `load_balancing_weight`, DNS SRV weight;
 * docs/selection.md#weights, docs/integrations.md). Pure: no clock, no randomness; the
 * interval tick is the call (src/ledger/weights.ts calls it once per tick).
 *
 * A weight is an integer in [policy.min, WEIGHT_MAX] = "percent of full weight", 100 being
 * the least-loaded node's. It guards against herding, the failure of least-loaded answers
 * that every proxy acts on at once:
 *
 * - **minimum share**: every eligible node keeps at least `min` (never 0), so no proxy ever
 *   stops sending to a node and no node gets everything: with n nodes a node's share is at
 *   least min / (min + 100 (n − 1)).
 * - **bounded step**: from one tick to the next a weight moves by at most `step`; a node
 *   that newly appears enters from `min` (at most min + step on its first tick) and ramps
 *   up. A node whose load drops to 0 therefore
 *   gains share over (100 − min) / step ticks, while its reports catch up with the traffic
 *   it now gets, instead of taking every proxy's traffic at the next poll.
 * - **lower load → higher weight**: the target is monotone in load / capacity (and, at an
 *   equal ratio, in capacity); stepping keeps the order of nodes that started equal.
 *
 * The target (what the weights converge to while the loads stay put): with r = load /
 * capacity and s the mean r of the nodes given (one service), a node's score is
 * capacity / (r + s), and its target is round(100 × score / best score), clamped to
 * [min, 100]. Scale-invariant (loads in any unit, times any factor, give the same
 * weights); loads 0 / 50 / 50 give 100 / 40 / 40, loads 40 / 49 give 100 / 90; all
 * loads 0 give weights proportional to capacity.
 */

/** The weight of the least-loaded node: weights are percent of full weight. */
export const WEIGHT_MAX = 100;

export interface WeightPolicy {
  /** The lowest weight of an eligible node, 1..100 (its minimum share). */
  readonly min: number;
  /** The most a weight moves per tick, 1..100 (100: no step bound). */
  readonly step: number;
}

export const WEIGHT_DEFAULTS: WeightPolicy = { min: 10, step: 20 };

/** One eligible node as the mapping sees it. */
export interface LoadReport {
  readonly id: string;
  /** The reported load, any unit; negative or not finite counts as 0. */
  readonly load: number;
  /** Relative capacity (> 0, default 1); anything else counts as 1. */
  readonly capacity?: number;
}

/** A policy named by a person (flags, config): BAD_ARGUMENT unless both are integers in 1..100. */
export function checkWeightPolicy(p: Partial<WeightPolicy>, what = { min: '--weight-min', step: '--weight-step' }): WeightPolicy {
  const min = p.min ?? WEIGHT_DEFAULTS.min;
  const step = p.step ?? WEIGHT_DEFAULTS.step;
  for (const [name, v] of [
    [what.min, min],
    [what.step, step],
  ] as const) {
    if (!Number.isInteger(v) || v < 1 || v > WEIGHT_MAX)
      throw badArgument(`${name} must be an integer from 1 to ${WEIGHT_MAX}, got ${JSON.stringify(v)}`);
  }
  return { min, step };
}

const ratioOf = (n: LoadReport): number => {
  const load = Number.isFinite(n.load) && n.load > 0 ? n.load : 0;
  return load / capacityOf(n);
};

const capacityOf = (n: LoadReport): number => (n.capacity !== undefined && Number.isFinite(n.capacity) && n.capacity > 0 ? n.capacity : 1);

const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));

/**
 * Where the weights of `nodes` (the eligible nodes of one service) go while their loads
 * stay as they are: integers in [min, 100], the best node's 100.
 */
export function targetWeights(nodes: readonly LoadReport[], policy: WeightPolicy = WEIGHT_DEFAULTS): Map<string, number> {
  return stepInto(undefined, nodes, policy, new Map());
}

/**
 * One tick: each node's weight moves from `previous` towards its target by at most
 * `policy.step`. A node absent from `previous` moves from `policy.min` (a new node
 * ramps up); a previous weight outside [min, 100] (or not an integer) is first rounded and
 * clamped into it. Nodes in `previous` but not in `nodes` are dropped (not eligible any
 * more: a node that comes back ramps up again from `min`).
 */
export function nextWeights(
  previous: ReadonlyMap<string, number>,
  nodes: readonly LoadReport[],
  policy: WeightPolicy = WEIGHT_DEFAULTS,
): Map<string, number> {
  return stepInto(previous, nodes, policy, new Map());
}

/**
 * nextWeights (or, without `previous`, targetWeights) written into `out`, which is
 * returned: the table of src/ledger/weights.ts fills one map for all its services.
 */
export function stepInto(
  previous: ReadonlyMap<string, number> | undefined,
  nodes: readonly LoadReport[],
  policy: WeightPolicy,
  out: Map<string, number>,
): Map<string, number> {
  const count = nodes.length;
  if (count === 0) return out;
  const scores = new Float64Array(count);
  let sum = 0;
  for (let i = 0; i < count; i++) sum += scores[i] = ratioOf(nodes[i]!);
  const mean = sum / count;
  let best = 0;
  // mean 0: every load is 0, and the score is the capacity alone
  for (let i = 0; i < count; i++) {
    const c = capacityOf(nodes[i]!);
    const score = mean > 0 ? c / (scores[i]! + mean) : c;
    scores[i] = score;
    if (score > best) best = score;
  }
  const usable = Number.isFinite(best) && best > 0;
  for (let i = 0; i < count; i++) {
    const id = nodes[i]!.id;
    const target = clamp(usable ? Math.round((WEIGHT_MAX * scores[i]!) / best) : WEIGHT_MAX, policy.min, WEIGHT_MAX);
    if (previous === undefined) {
      out.set(id, target);
      continue;
    }
    const before = previous.get(id);
    const from = before === undefined || !Number.isFinite(before) ? policy.min : clamp(Math.round(before), policy.min, WEIGHT_MAX);
    out.set(id, clamp(target, from - policy.step, from + policy.step));
  }
  return out;
}

/**
 * Ticks until every weight is at its target, from any previous weights, while the loads
 * stay put: ⌈(100 − min) / step⌉ (at least 1: a new node has a weight after one tick).
 */
export function ticksToSettle(policy: WeightPolicy = WEIGHT_DEFAULTS): number {
  return Math.max(1, Math.ceil((WEIGHT_MAX - policy.min) / policy.step));
}
