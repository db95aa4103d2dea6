import { LoadIndex } from './load-index.js';
import type { MasterState, NodeEntry } from './node.js';

/** The node table's types live in ./node.ts (the LoadIndex needs them without the projection). */
export type { MasterState, SlaveState, NodeEntry, Drain } from './node.js';

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
  /** Why it is DOWN, where the log says more than "stopped": 'crashed' (MasterCrashed), 'event log damaged' (LogDamaged). */
  reason?: string;
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

/** A leadership term as the log records it (LeaderElected), in seq order. */
export interface TermEntry {
  term: number;
  node: string;
  /** seq and ts of its LeaderElected. */
  seq: number;
  ts: number;
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
  /**
   * Every leadership term in the log (LeaderElected events), oldest first; empty for a log
   * written by a master running alone. The last one is the current term. A standby compares
   * these with the leader's to find where the two logs diverge (src/decisions/ha.ts).
   */
  terms: TermEntry[];
  /**
   * Master HA: a LeaderElected was folded and its term's MasterStarted not yet. The events
   * of a term's start (MasterCrashed for the previous leader that died, MasterStarted) keep
   * the previous term's connections: the new leader gives their slaves one dead-after to
   * re-register (src/decisions/takeover.ts) rather than having them DOWN at the takeover.
   */
  takingOver: boolean;
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
    terms: [],
    takingOver: false,
    index: new LoadIndex(),
  };
}
