import type { ConnEntry, MasterEntry, NodeEntry, Projection, ProtectionEntry, TermEntry } from './state.js';
import { createProjection } from './state.js';

/**
 * A projection as plain data, for the snapshot store and export files. The load index is
 * not stored: it is rebuilt from the nodes, so a snapshot cannot disagree with it.
 */
/** A node as snapshots hold it: without `reportSeq`, which only the live projection needs. */
export type SnapshotNode = Omit<NodeEntry, 'reportSeq'>;

export interface ProjectionSnapshot {
  v: 1;
  seq: number;
  ts: number;
  master: MasterEntry;
  nodes: SnapshotNode[];
  conns: ConnEntry[];
  lastConn: number;
  /** Mass-failure protection, only while it lasts (absent in older snapshots: none). */
  protection?: ProtectionEntry;
  /** Leadership terms (absent in older snapshots and for a master running alone: none). */
  terms?: TermEntry[];
  /** Between a LeaderElected and its term's MasterStarted (absent: not). */
  takingOver?: true;
}

export function toSnapshot(p: Projection): ProjectionSnapshot {
  const s: ProjectionSnapshot = {
    v: 1,
    seq: p.seq,
    ts: p.ts,
    master: { ...p.master },
    nodes: Array.from(p.nodes.values(), ({ reportSeq: _, ...n }) => n),
    conns: Array.from(p.conns.values(), (c) => ({ ...c })),
    lastConn: p.lastConn,
  };
  if (p.protection) s.protection = { ...p.protection, nodes: [...p.protection.nodes] };
  if (p.terms.length > 0) s.terms = p.terms.map((t) => ({ ...t }));
  if (p.takingOver) s.takingOver = true;
  return s;
}

export function fromSnapshot(s: ProjectionSnapshot): Projection {
  const p = createProjection();
  p.seq = s.seq;
  p.ts = s.ts;
  p.master = { ...s.master };
  p.lastConn = s.lastConn;
  if (s.protection) p.protection = { ...s.protection, nodes: [...s.protection.nodes] };
  if (s.terms) p.terms = s.terms.map((t) => ({ ...t }));
  p.takingOver = s.takingOver === true;
  for (const n of s.nodes) {
    const node: NodeEntry = { ...n, attrs: { ...n.attrs }, reportSeq: 0 };
    if (n.drained) node.drained = { ...n.drained };
    p.nodes.set(node.id, node);
    p.index.touch(node);
  }
  for (const c of s.conns) p.conns.set(c.conn, { ...c });
  return p;
}
