import { badArgument } from '../errors.js';

/**
 * How the master picks "the least-loaded node" (src/selection/selector.ts):
 *
 * - `least-loaded`: the lowest load, ties by id (the original design's).
 * - `p2c`: the power of two choices: two distinct eligible nodes at random, the less loaded
 *   of the two (ties by id). Robust to load reports that are up to a second old, where
 *   least-loaded sends every client that asks between two reports to the same node.
 * - `capacity`: the lowest load / capacity, ties by id.
 */
export const POLICIES = ['least-loaded', 'p2c', 'capacity'] as const;
export type Policy = (typeof POLICIES)[number];

export const DEFAULT_POLICY: Policy = 'least-loaded';

export function isPolicy(s: string): s is Policy {
  return (POLICIES as readonly string[]).includes(s);
}

function policyMessage(what: string, given: string): string {
  return `${what} must be one of ${POLICIES.join(', ')} (got ${JSON.stringify(given)})`;
}

/** A policy named by a person (`--policy`); anything else is BAD_ARGUMENT. */
export function parsePolicy(s: string, what = '--policy'): Policy {
  if (!isPolicy(s)) throw badArgument(policyMessage(what, s));
  return s;
}

/** `--compensation`: the predicted load of one answer, a finite number ≥ 0 (0: off). */
export function checkCompensation(n: number, what = '--compensation'): number {
  if (!Number.isFinite(n) || n < 0) throw badArgument(`${what} must be a number ≥ 0 (0: off), got ${JSON.stringify(n)}`);
  return n;
}

/**
 * The `policy` parameter of `/v1/least-loaded`, taken out of `params` (it is reserved: the
 * rest are attribute filters). `fallback` when absent; `error` when it names no policy or
 * is given twice.
 */
export function takePolicyParam(params: URLSearchParams, fallback: Policy): { policy: Policy } | { error: string } {
  const given = params.getAll('policy');
  if (given.length === 0) return { policy: fallback };
  params.delete('policy');
  if (given.length > 1) return { error: `policy given ${given.length} times; give it once` };
  const s = given[0]!;
  return isPolicy(s) ? { policy: s } : { error: policyMessage('policy', s) };
}
