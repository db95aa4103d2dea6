import type { NodeDocument, StateDocument } from '../src/projection/document.js';

export interface StateDiff {
  from: { seq: number };
  to: { seq: number };
  /** Not in the table at A, in it at B; or DOWN at A and eligible at B. */
  appeared: { id: string; was: string; now: NodeDocument }[];
  /** Eligible at A, not eligible at B. */
  disappeared: { id: string; was: NodeDocument; now: NodeDocument }[];
  /** Any other change of state. */
  changed: { id: string; was: NodeDocument; now: NodeDocument }[];
  /** Eligible at both, load moved by more than the threshold. */
  load: { id: string; was: number; now: number; delta: number }[];
}

const UP = 'PUSH_LOAD_INFO';

/** Compares two state documents node by node. */
export function diffStates(a: StateDocument, b: StateDocument, threshold: number): StateDiff {
  const before = new Map(a.nodes.map((n) => [n.id, n]));
  const d: StateDiff = { from: { seq: a.seq }, to: { seq: b.seq }, appeared: [], disappeared: [], changed: [], load: [] };
  for (const now of b.nodes) {
    const was = before.get(now.id);
    if (!was) {
      d.appeared.push({ id: now.id, was: 'absent', now });
      continue;
    }
    if (was.state !== UP && now.state === UP) d.appeared.push({ id: now.id, was: was.state, now });
    else if (was.state === UP && now.state !== UP) d.disappeared.push({ id: now.id, was, now });
    else if (was.state !== now.state) d.changed.push({ id: now.id, was, now });
    else if (was.state === UP && Math.abs(now.load - was.load) > threshold) d.load.push({ id: now.id, was: was.load, now: now.load, delta: now.load - was.load });
  }
  return d;
}
