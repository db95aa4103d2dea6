import type { InSyncRecord } from '../decisions/ha.js';

/** Who leads, as the leader key in etcd says (term: the key's create revision). */
export interface LeaderInfo {
  node: string;
  /** Its slave port and HTTP API, as `host:port` (empty: none). */
  listen: string;
  http: string;
  term: number;
}

/** A master of the cluster, as its member key says (kept alive by its own lease). */
export interface MemberInfo {
  node: string;
  listen: string;
  http: string;
  role: string;
}

/**
 * The election and the cluster's shared facts, behind an interface so the composition
 * root does not know etcd (src/cluster/etcd.ts is the real one). Every call may fail (etcd
 * out of reach): callers retry on their own timers.
 */
export interface Coordinator {
  /**
   * Until when (monotonic ms, the scheduler's clock) this node's session lease is provably
   * alive on etcd: the send time of the last answered keep-alive + the granted TTL − a
   * margin (src/decisions/ha.ts). 0 while there is no lease. A leader reads it before every
   * append and acknowledgement: past it, the lease may be gone and another node may lead.
   */
  readonly deadline: number;
  /** The id of the current session lease ('' while there is none): a term belongs to one. */
  readonly lease: string;
  /** The TTL etcd granted (ms; 0 before the first grant). */
  readonly grantedTtl: number;
  /** Registers this member (with its lease) and keeps the session alive; call again to update the role. */
  register(info: MemberInfo): Promise<void>;
  /** The leader key (null: nobody leads). */
  leader(): Promise<LeaderInfo | null>;
  /**
   * Creates the leader key with this node's lease if nobody holds it and the in-sync record
   * is still the one read (`inSyncRevision`, 0: none): the term on success, null otherwise.
   */
  campaign(info: Omit<LeaderInfo, 'term'>, inSyncRevision: number): Promise<number | null>;
  /** Rewrites the leader key's value (its addresses, once bound) if it is still this term's. */
  publish(term: number, info: Omit<LeaderInfo, 'term'>): Promise<void>;
  /** Gives up the session lease (a fenced leader must not keep its key alive); a new one is granted. */
  abandon(): void;
  /** Deletes the leader key if it is still this term's (a graceful hand-over). */
  resign(term: number): Promise<void>;
  /** The in-sync record and its mod revision (0: none). */
  inSync(): Promise<{ record: InSyncRecord | null; revision: number }>;
  /** Writes the in-sync record if `term` still leads: false when it does not. */
  writeInSync(record: InSyncRecord): Promise<boolean>;
  members(): Promise<MemberInfo[]>;
  /** Ends the session: revokes the lease (its keys go with it) and closes the client. */
  close(): Promise<void>;
}
