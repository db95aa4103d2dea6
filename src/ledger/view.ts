import type { Duplex } from 'node:stream';
import type { Observable } from 'rxjs';
import type { EventLog } from '../../storage/event-log.js';
import type { Recorder } from '../../storage/recorder.js';
import type { LoadLedgerError } from '../errors.js';
import type { LedgerEvent } from '../events.js';
import type { Projection } from '../projection/state.js';
import type { Selector } from '../selection/selector.js';
import type { AnswerStats } from '../util/answer-stats.js';
import type { WeightsView } from './weights.js';

export type { WeightsView } from './weights.js';

/** What the operator must hear about: the log failed, came back, or the master gave up. */
export type HealthChange =
  | { type: 'degraded'; error: LoadLedgerError; retryFor: number }
  | { type: 'recovered'; downMs: number; epoch: number; seq: number }
  | { type: 'retry-failed'; error: LoadLedgerError; attempts: number }
  | { type: 'gave-up'; error: LoadLedgerError; downMs: number };

/** The master is DOWN for clients because its log cannot be written. */
export interface Degraded {
  /** Wall-clock ms of the failure (the MasterStopped recorded on recovery carries it). */
  since: number;
  /** Monotonic ms of the failure. */
  at: number;
  /** The write that failed first (what the outage is recorded with), and the latest error. */
  cause: LoadLedgerError;
  error: LoadLedgerError;
  attempts: number;
}

/** A master of a cluster, as /v1/cluster lists it. */
export interface ClusterMemberDocument {
  node: string;
  listen: string;
  http: string;
  role: string;
}

/** `GET /v1/cluster` (docs/ha.md). */
export interface ClusterDocument {
  role: 'leader' | 'standby' | 'candidate' | 'standalone';
  /** The term this node knows of (its own while it leads; 0: none). */
  term: number;
  node: string;
  leader: { node: string; listen: string; http: string } | null;
  /** The last seq in this node's log. */
  seq: number;
  /** How far this node is behind the leader: events, and ms since it last had everything. */
  lag: { seq: number; ms: number };
  /** `--ack`, and on the leader the in-sync standbys and whether it acknowledges locally now. */
  ack: { mode: 'local' | 'standby'; inSync: string[]; local: boolean };
  members: ClusterMemberDocument[];
  /** Elections this node has won since it started. */
  elections: number;
}

/** Master HA as the HTTP API sees it (absent: a master running alone). */
export interface ClusterView {
  readonly leading: boolean;
  lag(): { seq: number; ms: number };
  document(): ClusterDocument;
  /** A standby's `GET /v1/cluster/replicate` upgraded to the replication stream. */
  replicate(socket: Duplex): void;
}

/**
 * One interface a consumer reads the registry through (docs/integrations.md), each off
 * unless its flag is given; the ones that are on are listed with where they answer and what
 * they answered (`/v1/cluster`, `/healthz`, `/metrics`).
 */
export interface IntegrationView {
  /** `prometheus-sd`, `envoy-eds`, … (the `interface` label in /metrics). */
  readonly name: string;
  /** Where consumers reach it: `GET /v1/sd/prometheus` on the HTTP API, or a listener's host:port. */
  readonly at: string;
  readonly stats: AnswerStats;
  /**
   * Counts of its own, shown beside requests and errors in /healthz and /v1/cluster and in
   * /metrics as `loadledger_integration_events_total{interface, kind}` (DNS: `dropped`
   * packets, `truncated` answers).
   */
  readonly counts?: () => Readonly<Record<string, number>>;
}

/**
 * A read-only view of a running registry: what the HTTP routes, the binary QUERY and the
 * metrics read. The composition root (src/node/master.ts) is one; a test can pass a literal.
 */
export interface RegistryView {
  /** The committed state (holds only what is in the log). */
  readonly projection: Projection;
  /** Set while the log cannot be written: nothing is answered from the table then. */
  readonly degraded: Degraded | undefined;
  /** Accepting slaves and taking writes. */
  readonly healthy: boolean;
  /** Picks least-loaded answers (its compensation state is not in the log). */
  readonly selector: Selector;
  /** Committed events, in order. */
  readonly events$: Observable<LedgerEvent>;
  /** The log, for reads (`/v1/events`). */
  readonly log: EventLog;
  /** Master HA: role, term, lag (undefined: a master running alone). */
  readonly cluster?: ClusterView | undefined;
  /** The interfaces for consumers that are on (absent or empty: none). */
  readonly integrations?: readonly IntegrationView[] | undefined;
  /**
   * Loads → weights for the interfaces that hand out weights (HAProxy, Envoy, DNS SRV): one
   * table for all, moved by one bounded step per tick (docs/selection.md#weights).
   */
  readonly weights: WeightsView;
}

/** What the operator's endpoints may change, on top of the view. */
export interface RegistryControl extends RegistryView {
  /** The write path (drains are recorded through it). */
  readonly recorder: Recorder;
  /** Writes a snapshot of the projection as it is now. */
  snapshot(): Promise<void>;
}

/** What /metrics reads on top of the view. */
export interface MetricsSource extends RegistryView {
  readonly recorder: Pick<Recorder, 'stats'>;
  readonly counters: {
    readonly refused: number;
    readonly unknownFrames: number;
    readonly flapping: number;
    readonly fdRefused?: number;
    readonly acceptErrors?: ReadonlyMap<string, number>;
  };
  /** The log's directory (its size on disk is reported). */
  readonly options: { readonly data: string };
}
