import type { Attrs } from '../protocol/messages.js';

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
