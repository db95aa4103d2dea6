import type { Observable } from 'rxjs';
import type { EventLog } from '../../storage/event-log.js';
import type { Recorder } from '../../storage/recorder.js';
import type { LoadLedgerError } from '../errors.js';
import type { LedgerEvent } from '../events.js';
import type { Projection } from '../projection/state.js';
import type { Selector } from '../selection/selector.js';

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
  readonly counters: { readonly refused: number; readonly unknownFrames: number; readonly flapping: number; readonly fdRefused?: number; readonly acceptErrors?: ReadonlyMap<string, number> };
  /** The log's directory (its size on disk is reported). */
  readonly options: { readonly data: string };
}
