import type { Attrs } from '../protocol/messages.js';
import { LoadIndex } from './load-index.js';

/** The original design's names (lb_master_state, lb_slave_state). */
export type MasterState = 'UP_LISTENING' | 'DOWN';
export type SlaveState = 'CONNECTED' | 'PUSH_LOAD_INFO' | 'DOWN';

export interface NodeEntry {
  /** The key in the load table: the slave's `addr`, or its remote IP when it sent none. */
  readonly id: string;
  state: SlaveState;
  load: number;
  capacity: number;
  attrs: Attrs;
  /** ts of the last frame received from this node's connection. */
  lastSeen: number;
  /** ts of the last state change. */
  since: number;
  /** The connection bound to this node, or null when DOWN. */
  conn: number | null;
  /** Epoch in which it last reported. */
  epoch: number;
  /** Why it is DOWN (empty while up). */
  reason: string;
  /**
   * seq of its last LoadPushed: tells one report from the next even when the load is the
   * same (what resets in-flight compensation, src/selection/). In memory only: snapshots
   * leave it out and load it as 0, since only its changes matter.
   */
  reportSeq: number;
  /**
   * Set while an operator has drained the node (NodeDrained, until NodeUndrained): it keeps
   * its connection and its reports, but is never eligible. Absent otherwise (so snapshots
   * of undrained nodes are as before).
   */
  drained?: Drain;
  /**
   * Set while mass-failure protection keeps it eligible though its connection timed out
   * (state PUSH_LOAD_INFO, `conn` null, `reason` why it timed out). Absent otherwise.
   */
  protected?: true;
}

/** A node's drain: when it took effect (ts of the NodeDrained) and the operator's reason. */
export interface Drain {
  readonly since: number;
  readonly reason?: string;
}

/** A live TCP connection as the log knows it. */
export interface ConnEntry {
  readonly conn: number;
  readonly remote: string;
  /** Bound by its first PUSH_LOAD_INFO; null while CONNECTED. */
  node: string | null;
  since: number;
  lastSeen: number;
}

export interface MasterEntry {
  state: MasterState;
  epoch: number;
  since: number;
}

/** Mass-failure protection while it lasts (ProtectionStarted until ProtectionEnded). */
export interface ProtectionEntry {
  /** ts of ProtectionStarted. */
  since: number;
  /** Wall-clock ms when it expires at the latest. */
  until: number;
  timedOut: number;
  eligible: number;
  /** Every node it has kept eligible (sorted): those of the trigger, then any that timed out during it. */
  nodes: string[];
}

export interface Projection {
  /** seq of the last event folded in (0 for an empty log). */
  seq: number;
  /** ts of the last event folded in. */
  ts: number;
  master: MasterEntry;
  nodes: Map<string, NodeEntry>;
  conns: Map<number, ConnEntry>;
  /** Highest conn number used so far: a restarted master continues after it. */
  lastConn: number;
  /** Mass-failure protection, while it lasts; null otherwise. */
  protection: ProtectionEntry | null;
  /** Eligible nodes by (load, id). Derived; rebuilt from `nodes` when loading a snapshot. */
  readonly index: LoadIndex;
}

export function createProjection(): Projection {
  return {
    seq: 0,
    ts: 0,
    master: { state: 'DOWN', epoch: 0, since: 0 },
    nodes: new Map(),
    conns: new Map(),
    lastConn: 0,
    protection: null,
    index: new LoadIndex(),
  };
}
