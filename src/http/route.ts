import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MetricsSource, RegistryControl } from '../ledger/view.js';
import type { Policy } from '../selection/policy.js';
import type { MasterMetrics } from './metrics.js';
import type { Drains } from './drain.js';
import type { Followers } from './followers.js';
import type { TimeTravelGate } from './time-travel.js';

/** What the API serves: a registry it reads, changes (admin) and measures. */
export type ApiHost = RegistryControl & MetricsSource;

/**
 * The state of one HTTP API, per instance (never module-level: two masters in one process
 * must not share it).
 */
export interface ApiState {
  readonly host: ApiHost;
  /** The `/v1/events` streams (the live tails among them capped), ended at close. */
  readonly followers: Followers;
  readonly metrics: MasterMetrics;
  /**
   * Per policy: the last unfiltered /v1/least-loaded answer, valid while its projection is
   * at `seq`. Only for policies whose answer is a function of the projection
   * (Selector.deterministic: least-loaded and capacity without compensation).
   */
  readonly answers: Partial<Record<Policy, { seq: number; body: Buffer | null }>>;
  /** Drains recorded but not yet committed (src/http/drain.ts). */
  readonly drains: Drains;
  /** The time-travel queries being folded (capped: src/http/routes/history.ts). */
  readonly timeTravel: TimeTravelGate;
}

/** One request, with the API it came to. */
export interface Call extends ApiState {
  req: IncomingMessage;
  res: ServerResponse;
  params: URLSearchParams;
}

export interface Route {
  /** The method it answers (GET routes answer HEAD too). */
  method: 'GET' | 'POST';
  /** It changes something: needs the admin token, and is off on a master without one. */
  admin?: true;
  /** Open whatever the token settings: load balancers check health without credentials. */
  open?: true;
  handle(call: Call): void | Promise<void>;
}
