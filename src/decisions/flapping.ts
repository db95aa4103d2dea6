import { formatDuration } from '../util/duration.js';

/**
 * Flapping: one node id taken over again and again — two slaves with the same `--addr`,
 * each reconnecting and superseding the other for ever, with `least-loaded` alternating
 * between their loads. A takeover is a connection's first push for a node that another live
 * connection holds (the master supersedes the holder: right for a restarted slave whose old
 * connection is half-open, wrong for two slaves claiming one id).
 *
 * More than `takeovers` takeovers of one node within `window` is flapping. The policy: the
 * connection that holds the node keeps it, and for `holdDown` every other connection that
 * pushes for it while the holder is alive is refused (the edge records a `SlaveRefused` with
 * the reason and closes it). Once the holder is gone (its slave stopped, it timed out), a
 * newcomer binds the node as usual: that is not a takeover. Each detection is returned once,
 * with `warn` set at most once per `window` per node (the operator's warning names both peers).
 *
 * Pure: time (monotonic ms) is passed in; tests drive it on a manual clock.
 */
export interface FlappingOptions {
  /** More than this many takeovers of one node within `window` is flapping (0: off). */
  takeovers: number;
  /** ms. */
  window: number;
  /** How long the holder keeps the node once flapping is detected (ms). */
  holdDown: number;
}

export const FLAPPING_DEFAULTS: FlappingOptions = { takeovers: 5, window: 60_000, holdDown: 300_000 };

/** A connection as the decision names it. */
export interface Peer {
  readonly conn: number;
  readonly remote: string;
}

/** Flapping detected on a node (a hold-down begins). */
export interface FlappingDetected {
  readonly node: string;
  /** Takeovers within the window, this one included. */
  readonly takeovers: number;
  readonly window: number;
  /** The connection that keeps the node, and the one refused. */
  readonly holder: Peer;
  readonly newcomer: Peer;
  /** Monotonic ms when the hold-down ends. */
  readonly until: number;
  readonly holdDown: number;
  /** The first detection on this node within `window`: the operator is warned. */
  readonly warn: boolean;
}

export type TakeoverVerdict =
  { readonly take: true } | { readonly take: false; readonly reason: string; readonly detected?: FlappingDetected };

interface NodeHistory {
  /** Monotonic ms of the takeovers within the window, oldest first. */
  takeovers: number[];
  /** Monotonic ms when the hold-down ends (0: none). */
  holdUntil: number;
  /** Monotonic ms of the last warning (-Infinity: never). */
  warnedAt: number;
}

const TAKE: TakeoverVerdict = { take: true };

export class FlapGuard {
  private readonly nodes = new Map<string, NodeHistory>();
  private prunedAt = Number.NEGATIVE_INFINITY;

  constructor(readonly options: FlappingOptions) {}

  /** `newcomer` pushed for `node`, which the live connection `holder` holds, at `now`: may it take the node? */
  takeover(node: string, holder: Peer, newcomer: Peer, now: number): TakeoverVerdict {
    const { takeovers, window, holdDown } = this.options;
    if (takeovers <= 0) return TAKE;
    this.prune(now);
    let h = this.nodes.get(node);
    if (h && now < h.holdUntil) {
      return {
        take: false,
        reason: `node ${node} is flapping: it stays with connection ${holder.conn} from ${holder.remote} for another ${formatDuration(h.holdUntil - now)}`,
      };
    }
    if (!h) {
      h = { takeovers: [], holdUntil: 0, warnedAt: Number.NEGATIVE_INFINITY };
      this.nodes.set(node, h);
    }
    while (h.takeovers.length > 0 && now - h.takeovers[0]! >= window) h.takeovers.shift();
    h.takeovers.push(now);
    if (h.takeovers.length <= takeovers) return TAKE;
    const count = h.takeovers.length;
    h.takeovers = [];
    h.holdUntil = now + holdDown;
    const warn = now - h.warnedAt >= window;
    if (warn) h.warnedAt = now;
    return {
      take: false,
      reason: `node ${node} is flapping (taken over ${count} times within ${formatDuration(window)}, by connections from ${holder.remote} and ${newcomer.remote}): it stays with connection ${holder.conn} from ${holder.remote}, others are refused for ${formatDuration(holdDown)}`,
      detected: { node, takeovers: count, window, holder, newcomer, until: h.holdUntil, holdDown, warn },
    };
  }

  /** Nodes with a takeover or a hold-down still in force (for tests and metrics). */
  get tracked(): number {
    return this.nodes.size;
  }

  /** Forgets nodes with nothing in force any more, at most once per window (bounded memory). */
  private prune(now: number): void {
    const { window } = this.options;
    if (now - this.prunedAt < window) return;
    this.prunedAt = now;
    for (const [node, h] of this.nodes) {
      const last = h.takeovers.at(-1) ?? Number.NEGATIVE_INFINITY;
      if (now >= h.holdUntil && now - last >= window && now - h.warnedAt >= window) this.nodes.delete(node);
    }
  }
}
