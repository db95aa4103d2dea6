import type { NewEvent } from '../events.js';
import type { Projection } from '../projection/state.js';

/**
 * The slaves of the previous term, on a master that has just begun to lead (master HA: a
 * failover; docs/ha.md#the-slaves-of-the-previous-term). The log it took over still holds
 * their connections — to the master that led before, which is gone — with the nodes bound
 * to them, eligible with their last loads. Their slaves are reconnecting, to this master as
 * their lists say. This decides what becomes of those connections; the reducer folds what
 * it records, and nothing else.
 *
 * - A node that re-registered (a connection of this term pushed for it): its old connection
 *   is recorded as `SlaveSuperseded` by the new one, at the next tick.
 * - One that did not, one `deadAfter` after the term began: `SlaveTimedOut`, as if the
 *   connection had gone silent on this master when the term began. Its node goes DOWN then,
 *   not at the takeover: until then clients are answered with the nodes they had, rather
 *   than nothing, or every client with the first few slaves that reconnected.
 *
 * Those timeouts are not handed to mass-failure protection (src/decisions/protection.ts):
 * every connection of a failed master ends at once by design, and the ones still missing
 * after a dead-after are slaves that did not come to this master, not a partition it sees.
 * The caller records them directly and resets the protection window when the term begins.
 *
 * A master that starts alone has nothing here: its MasterStarted is folded as a restart,
 * which drops every connection of the log (the nodes are DOWN "master restarted" before
 * any slave can connect; none times out, so protection never counts them either).
 *
 * Pure: time (monotonic `now`, wall `wallNow`) is passed in; tests drive it on a manual clock.
 */
export class ReconnectGrace {
  /** Connection of the previous term → the node it held at the takeover (null: none yet). */
  private readonly waiting = new Map<number, string | null>();
  private deadline = 0;

  constructor(readonly options: { deadAfter: number }) {}

  /**
   * A term began at `now`: every connection in the projection that is not this master's
   * (`live`) is the previous term's and waits for its slave. Returns how many.
   */
  begin(now: number, p: Projection, live: (conn: number) => boolean): number {
    this.waiting.clear();
    for (const c of p.conns.values()) if (!live(c.conn)) this.waiting.set(c.conn, c.node);
    this.deadline = now + this.options.deadAfter;
    return this.waiting.size;
  }

  /** Connections still waiting for their slave. */
  get active(): boolean {
    return this.waiting.size > 0;
  }

  /** A connection of the previous term that this decides on (liveness and protection leave it be). */
  covers(conn: number): boolean {
    return this.waiting.has(conn);
  }

  /** When the ones that did not re-register time out (monotonic ms; 0 before any term). */
  get until(): number {
    return this.deadline;
  }

  /**
   * On every liveness tick: the events to record now, in this order. A connection is
   * decided once (it leaves the set as its event is returned), so an event recorded but not
   * committed yet is never returned twice.
   */
  due(now: number, wallNow: number, p: Projection): NewEvent[] {
    const out: NewEvent[] = [];
    for (const [conn, node] of this.waiting) {
      const c = p.conns.get(conn);
      if (!c) {
        this.waiting.delete(conn); // closed in the log already
        continue;
      }
      const holder = node === null ? null : (p.nodes.get(node)?.conn ?? null);
      if (node !== null && holder !== null && holder !== conn) {
        out.push({ type: 'SlaveSuperseded', conn, node, by: holder });
        this.waiting.delete(conn);
      } else if (now >= this.deadline) {
        out.push({ type: 'SlaveTimedOut', conn, silentMs: Math.max(0, Math.round(wallNow - c.lastSeen)) });
        this.waiting.delete(conn);
      }
    }
    return out;
  }

  /** The master stopped leading, or the projection was rebuilt: nothing waits any more. */
  reset(): void {
    this.waiting.clear();
  }
}
