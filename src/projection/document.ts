import type { MasterState, NodeEntry, Projection, ProtectionEntry } from './state.js';

/**
 * One node as `GET /v1/state`, `GET /v1/nodes` and `replay --json` show it: the projection's
 * fields of the same names (NodeEntry, node.ts), `addr` (the id, as clients are given it),
 * and the notes below where they apply.
 */
export interface NodeDocument extends Pick<NodeEntry, 'id' | 'state' | 'load' | 'capacity' | 'attrs' | 'lastSeen' | 'since' | 'epoch'> {
  addr: string;
  /** Why the node is DOWN, or why it would be when `protected`; absent while it is up. */
  reason?: string;
  /** Present (true) while an operator has drained the node: it is not eligible, whatever its state. */
  drained?: true;
  /** When it was drained (ms since the epoch), while drained. */
  drainedSince?: number;
  /** The reason the operator gave for the drain, if any. */
  drainReason?: string;
  /**
   * Kept eligible by mass-failure protection: its connection timed out (`reason`), it is
   * answered with its last load until it reconnects or the protection ends.
   */
  protected?: true;
}

/** A connection that has not pushed its load yet (slave state CONNECTED). */
export interface PendingDocument {
  conn: number;
  remote: string;
  state: 'CONNECTED';
  since: number;
  lastSeen: number;
}

/**
 * Mass-failure protection while it lasts: since when, until when at the latest, how many
 * of how many eligible nodes timed out, and the nodes it keeps eligible (sorted).
 */
export interface ProtectionDocument {
  since: number;
  until: number;
  timedOut: number;
  eligible: number;
  nodes: string[];
}

/** The `/v1/state` document. `replay --json` prints exactly this for the same seq. */
export interface StateDocument {
  seq: number;
  /** `reason` only while the master is DOWN for a failed log (served live, never in the log). */
  master: { state: MasterState; epoch: number; since: number; reason?: string; protection?: ProtectionDocument };
  nodes: NodeDocument[];
  pending: PendingDocument[];
  /** The leadership term at this seq (master HA; absent for a master running alone). */
  term?: { term: number; node: string; since: number };
}

export function nodeDocument(n: NodeEntry): NodeDocument {
  const d: NodeDocument = {
    id: n.id,
    addr: n.id,
    state: n.state,
    load: n.load,
    capacity: n.capacity,
    attrs: { ...n.attrs },
    lastSeen: n.lastSeen,
    since: n.since,
    epoch: n.epoch,
  };
  if (n.state === 'DOWN') d.reason = n.reason;
  if (n.drained) {
    d.drained = true;
    d.drainedSince = n.drained.since;
    if (n.drained.reason !== undefined) d.drainReason = n.drained.reason;
  }
  if (n.protected) {
    d.reason = n.reason;
    d.protected = true;
  }
  return d;
}

const byId = (a: { id: string }, b: { id: string }): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

export function stateDocument(p: Projection): StateDocument {
  const nodes = Array.from(p.nodes.values(), nodeDocument).sort(byId);
  const pending: PendingDocument[] = [];
  for (const c of p.conns.values()) {
    if (c.node === null) pending.push({ conn: c.conn, remote: c.remote, state: 'CONNECTED', since: c.since, lastSeen: c.lastSeen });
  }
  pending.sort((a, b) => a.conn - b.conn);
  const master: StateDocument['master'] = { ...p.master };
  if (p.protection) master.protection = protectionDocument(p.protection);
  const doc: StateDocument = { seq: p.seq, master, nodes, pending };
  const t = p.terms[p.terms.length - 1];
  if (t) doc.term = { term: t.term, node: t.node, since: t.ts };
  return doc;
}

export function protectionDocument(p: ProtectionEntry): ProtectionDocument {
  return { since: p.since, until: p.until, timedOut: p.timedOut, eligible: p.eligible, nodes: [...p.nodes] };
}
