import type { NewEvent } from '../events.js';
import type { Projection } from '../projection/state.js';

export interface ProtectionOptions {
  /** More than this share (0..1) of the eligible nodes timing out within one dead-after window starts protection (0: off). */
  share: number;
  /** How long protection lasts at most (ms). */
  forMs: number;
  /** Below this many eligible nodes it never starts (one of two nodes dying is no partition). */
  minNodes: number;
  /** The window the timeouts are counted in (the master's --dead-after, ms). */
  deadAfter: number;
}

export const PROTECTION_DEFAULTS = { share: 0.5, forMs: 120_000, minNodes: 3 } as const;

/**
 * Mass-failure protection, the master's side: it DECIDES when protection starts and ends;
 * the reducer only folds the facts (ProtectionStarted, ProtectionEnded) it records.
 *
 * The master's liveness timer hands it the nodes that time out in each tick *before* their
 * SlaveTimedOut events are recorded. It remembers the nodes that timed out within the last
 * dead-after window; when they (with this tick's) are more than `share` of the nodes that
 * were eligible (eligible now, plus those of the window that are DOWN), it returns a
 * ProtectionStarted to record first: the window's nodes already DOWN are restored by it,
 * this tick's stay eligible. Nodes frozen at once usually time out in the same tick: no
 * flap at all; spread over the window, the earlier ones are DOWN until the trigger.
 *
 * It ends on the liveness timer too: `expired` once the bound passed (wall clock, as the
 * event's `until` is), `recovered` once no node is protected any more (every one of them
 * reconnected, or went DOWN for another reason).
 *
 * Everything it decides from is the committed projection plus its own window; a decision
 * recorded but not yet committed (`pendingSeq`) blocks the next one.
 */
export class ProtectionGuard {
  /** Node → when (monotonic ms) and on which connection it timed out, within the last dead-after window. */
  private readonly recent = new Map<string, { at: number; conn: number }>();
  private pendingSeq = 0;

  constructor(readonly options: ProtectionOptions) {}

  get enabled(): boolean {
    return this.options.share > 0 && this.options.forMs > 0;
  }

  /**
   * `timingOut`: the nodes whose connections time out in this tick (bound, eligible ones).
   * Returns the ProtectionStarted to record before their timeouts, or undefined.
   */
  timeouts(now: number, wallNow: number, p: Projection, timingOut: readonly { node: string; conn: number }[]): NewEvent | undefined {
    if (!this.enabled || timingOut.length === 0) return undefined;
    if (p.protection || p.seq < this.pendingSeq) return undefined; // protection keeps them itself
    const { share, forMs, minNodes, deadAfter } = this.options;
    for (const [id, t] of this.recent) {
      const n = p.nodes.get(id);
      // out of the window, or back on a new connection: not part of a mass failure now
      if (now - t.at > deadAfter || (n && n.conn !== null && n.conn !== t.conn)) this.recent.delete(id);
    }
    for (const t of timingOut) this.recent.set(t.node, { at: now, conn: t.conn });
    let gone = 0;
    for (const id of this.recent.keys()) if (p.nodes.get(id)?.state !== 'PUSH_LOAD_INFO') gone++;
    const eligible = p.index.size + gone;
    const timedOut = this.recent.size;
    if (eligible < minNodes || timedOut <= share * eligible) return undefined;
    const nodes = [...this.recent.keys()].sort();
    this.recent.clear();
    return { type: 'ProtectionStarted', timedOut, eligible, until: wallNow + forMs, nodes };
  }

  /** The ProtectionEnded to record now, or undefined. */
  ending(wallNow: number, p: Projection): NewEvent | undefined {
    const on = p.protection;
    if (!on || p.seq < this.pendingSeq) return undefined;
    if (wallNow >= on.until) return { type: 'ProtectionEnded', reason: 'expired' };
    if (on.nodes.every((id) => p.nodes.get(id)?.protected !== true)) return { type: 'ProtectionEnded', reason: 'recovered' };
    return undefined;
  }

  /** A decision was recorded as `seq`: none until it is committed. */
  recorded(seq: number | undefined): void {
    if (seq !== undefined) this.pendingSeq = seq;
  }

  /** The projection was rebuilt (log recovery): what was pending may never be committed. */
  reset(): void {
    this.pendingSeq = 0;
    this.recent.clear();
  }
}
