import type { NodeDocument, StateDocument } from '../src/projection/document.js';

export interface StateDiff {
  from: { seq: number };
  to: { seq: number };
  /** Not in the table at A, in it at B; or not eligible at A (DOWN, drained) and eligible at B. */
  appeared: { id: string; was: string; now: NodeDocument }[];
  /** Eligible at A, not eligible at B. */
  disappeared: { id: string; was: NodeDocument; now: NodeDocument }[];
  /** Any other change of state, or of the drain. */
  changed: { id: string; was: NodeDocument; now: NodeDocument }[];
  /** Eligible at both, load moved by more than the threshold. */
  load: { id: string; was: number; now: number; delta: number }[];
  /** The master changed between A and B (master HA): the leadership term at each. */
  term?: { was: { term: number; node: string } | null; now: { term: number; node: string } };
}

const UP = 'PUSH_LOAD_INFO';

/** What a client could be answered with: reporting and not drained by an operator. */
function eligible(n: NodeDocument): boolean {
  return n.state === UP && !n.drained;
}

/** A node's state as the diff shows it: `PUSH_LOAD_INFO (drained)` while drained. */
export function stateOf(n: NodeDocument): string {
  return n.drained ? `${n.state} (drained)` : n.state;
}

/** Compares two state documents node by node. */
export function diffStates(a: StateDocument, b: StateDocument, threshold: number): StateDiff {
  const before = new Map(a.nodes.map((n) => [n.id, n]));
  const d: StateDiff = { from: { seq: a.seq }, to: { seq: b.seq }, appeared: [], disappeared: [], changed: [], load: [] };
  if (b.term && b.term.term !== a.term?.term)
    d.term = { was: a.term ? { term: a.term.term, node: a.term.node } : null, now: { term: b.term.term, node: b.term.node } };
  for (const now of b.nodes) {
    const was = before.get(now.id);
    if (!was) {
      d.appeared.push({ id: now.id, was: 'absent', now });
      continue;
    }
    if (!eligible(was) && eligible(now)) d.appeared.push({ id: now.id, was: stateOf(was), now });
    else if (eligible(was) && !eligible(now)) d.disappeared.push({ id: now.id, was, now });
    else if (was.state !== now.state || (was.drained ?? false) !== (now.drained ?? false)) d.changed.push({ id: now.id, was, now });
    else if (eligible(was) && Math.abs(now.load - was.load) > threshold)
      d.load.push({ id: now.id, was: was.load, now: now.load, delta: now.load - was.load });
  }
  return d;
}
