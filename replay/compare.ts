import { toSnapshot, type ProjectionSnapshot } from '../src/projection/snapshot.js';
import type { Projection } from '../src/projection/state.js';

/*
 * Comparing projections and snapshots field by field, for verify (a stored snapshot or the
 * projection a master loads at start, against a fresh fold) and for tests.
 */

/**
 * The first difference between two projections (their data and their load index order),
 * or undefined when they are equal. `a` is the one under test, `b` the fresh fold.
 */
export function diffProjections(a: Projection, b: Projection): string | undefined {
  const d = diffSnapshots(toSnapshot(a), toSnapshot(b));
  if (d !== undefined) return d;
  const ia = Array.from(a.index.ordered(), (n) => n.id);
  const ib = Array.from(b.index.ordered(), (n) => n.id);
  for (let i = 0; i < Math.max(ia.length, ib.length); i++) {
    if (ia[i] !== ib[i]) return `load index position ${i}: ${String(ia[i])} vs ${String(ib[i])} in the fresh fold`;
  }
  return undefined;
}

/**
 * The first difference between two snapshots, or undefined when equal. Nodes and
 * connections are compared as sets (by id, by conn): the order of a Map is not state.
 * `a` is the snapshot under test, `b` the fresh fold.
 */
export function diffSnapshots(a: ProjectionSnapshot, b: ProjectionSnapshot): string | undefined {
  for (const k of ['v', 'seq', 'ts', 'lastConn'] as const) {
    if (!same(a[k], b[k])) return `${k}: ${show(a[k])} vs ${show(b[k])} in the fresh fold`;
  }
  return (
    firstDiff(a.master, b.master, 'master') ??
    firstDiff(a.protection ?? null, b.protection ?? null, 'protection') ??
    diffKeyed(a.nodes, b.nodes, (n) => n.id, 'node') ??
    diffKeyed(a.conns, b.conns, (c) => String(c.conn), 'connection')
  );
}

function diffKeyed<T>(as: readonly T[], bs: readonly T[], key: (x: T) => string, what: string): string | undefined {
  const am = new Map(as.map((x) => [key(x), x]));
  const bm = new Map(bs.map((x) => [key(x), x]));
  for (const [k, x] of am) {
    const y = bm.get(k);
    if (y === undefined) return `${what} ${k} is not in the fresh fold`;
    const d = firstDiff(x, y, `${what} ${k}`);
    if (d !== undefined) return d;
  }
  for (const k of bm.keys()) if (!am.has(k)) return `${what} ${k} is missing (the fresh fold has it)`;
  if (am.size !== as.length || bm.size !== bs.length) return `a ${what} appears twice`;
  return undefined;
}

function firstDiff(a: unknown, b: unknown, path: string): string | undefined {
  if (same(a, b)) return undefined;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || Array.isArray(a) !== Array.isArray(b)) {
    return `${path}: ${show(a)} vs ${show(b)} in the fresh fold`;
  }
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(ra), ...Object.keys(rb)])].sort();
  for (const k of keys) {
    const d = firstDiff(Object.hasOwn(ra, k) ? ra[k] : undefined, Object.hasOwn(rb, k) ? rb[k] : undefined, `${path}.${k}`);
    if (d !== undefined) return d;
  }
  return undefined;
}

function same(a: unknown, b: unknown): boolean {
  return a === b || (Number.isNaN(a) && Number.isNaN(b));
}

function show(v: unknown): string {
  if (v === undefined) return '(absent)';
  try {
    return JSON.stringify(v);
  } catch {
    // eslint-disable-next-line @typescript-eslint/no-base-to-string -- fallback for what JSON cannot show (cycles, BigInt)
    return String(v);
  }
}
