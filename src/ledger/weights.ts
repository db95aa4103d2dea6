import type { Clock, TimerHandle } from '../clock.js';
import type { NodeEntry, Projection } from '../projection/state.js';
import { stepInto, type WeightPolicy } from '../selection/weights.js';

/** The attribute that names a node's service by default (`--service-key`). */
export const DEFAULT_SERVICE_KEY = 'service';

/** How often the weights move by default (`--weight-interval`, ms). */
export const DEFAULT_WEIGHT_INTERVAL = 1000;

/**
 * The weights every interface hands out (HAProxy agent-check, Envoy EDS, DNS SRV,
 * Prometheus SD labels), on the read view (`RegistryView.weights`): at one moment, every
 * interface gives a node the same weight. docs/selection.md#weights.
 */
export interface WeightsView {
  /** The attribute that names a node's service (`--service-key`, default `service`). */
  readonly serviceKey: string;
  readonly policy: WeightPolicy;
  /** Ms between two ticks. */
  readonly interval: number;
  /** Ticks so far (the first one at start). */
  readonly tick: number;
  /** Bumped by each tick that changed a weight (or the set of nodes): with the log's seq, a version for Envoy. */
  readonly generation: number;
  /** The service `n` belongs to: its service attribute as text, or '' when it has none. */
  serviceOf(n: Pick<NodeEntry, 'attrs'>): string;
  /**
   * The weight of `n` now, an integer in [policy.min, 100]: undefined unless it is eligible
   * (state PUSH_LOAD_INFO, not drained). A node that became eligible since the last tick
   * has `policy.min` until the next one (it ramps up from there).
   */
  weight(n: NodeEntry): number | undefined;
}

export interface WeightBoardOptions {
  scheduler: Clock;
  interval: number;
  policy: WeightPolicy;
  serviceKey: string;
}

const eligible = (n: NodeEntry): boolean => n.state === 'PUSH_LOAD_INFO' && !n.drained;

/**
 * Keeps the current weights of every service and moves them once per `interval`
 * (src/selection/weights.ts, `nextWeights`, per service: a node's weight is relative to
 * the nodes of its own service). Reads the projection it is given each tick (a master that
 * recovers from a log failure has a new one; a standby reads its own). O(nodes) per tick
 * (a few ms at 10,000 nodes), nothing per answer; and only while something reads it: the
 * table starts ticking at its first read (`weight()`), so a master with no interface on
 * does no work for it. A first read sees the table of that first tick.
 */
export class WeightBoard implements WeightsView {
  readonly serviceKey: string;
  readonly policy: WeightPolicy;
  readonly interval: number;
  tick = 0;
  generation = 0;
  private weights = new Map<string, number>();
  private timer: TimerHandle | undefined;
  private stopped = false;

  constructor(
    private readonly source: { readonly projection: Projection },
    private readonly opts: WeightBoardOptions,
  ) {
    this.serviceKey = opts.serviceKey;
    this.policy = opts.policy;
    this.interval = opts.interval;
  }

  serviceOf(n: Pick<NodeEntry, 'attrs'>): string {
    return Object.hasOwn(n.attrs, this.serviceKey) ? String(n.attrs[this.serviceKey]) : '';
  }

  weight(n: NodeEntry): number | undefined {
    if (!this.timer && !this.stopped) this.start();
    if (!eligible(n)) return undefined;
    return this.weights.get(n.id) ?? this.policy.min;
  }

  /** Ticks now, then every `interval` (a first read does it; a stopped table stays stopped). */
  start(): void {
    if (this.timer || this.stopped) return;
    this.step();
    this.timer = this.opts.scheduler.setInterval(() => this.step(), this.interval).unref();
  }

  stop(): void {
    this.stopped = true;
    this.opts.scheduler.clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One tick: every eligible node's weight moves one bounded step towards its target. */
  step(): void {
    const services = new Map<string, NodeEntry[]>();
    for (const n of this.source.projection.nodes.values()) {
      if (!eligible(n)) continue;
      const s = this.serviceOf(n);
      let list = services.get(s);
      if (!list) services.set(s, (list = []));
      list.push(n); // a LoadReport: id, load, capacity
    }
    const next = new Map<string, number>();
    for (const list of services.values()) stepInto(this.weights, list, this.policy, next);
    this.tick++;
    if (!sameWeights(this.weights, next)) this.generation++;
    this.weights = next;
  }
}

function sameWeights(a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}
