/**
 * A load table in memory for selection tests: nodes report and go DOWN through the real
 * reducer (each node on its own connection), so the projection, its load index and the
 * nodes' reportSeq are exactly what a master would hold.
 */
import type { NewEvent } from '../../src/events.js';
import { evolve } from '../../src/projection/evolve.js';
import { createProjection, type NodeEntry, type Projection } from '../../src/projection/state.js';
import type { Attrs } from '../../src/protocol/messages.js';
import { Stamper, ev } from '../helpers/events.js';

export class Table {
  readonly projection: Projection = createProjection();
  private readonly clock = new Stamper();
  private readonly conns = new Map<string, number>();
  private lastConn = 0;
  private epoch = 1;

  constructor() {
    this.apply(ev.masterStarted(this.epoch));
  }

  apply(e: NewEvent): void {
    evolve(this.projection, this.clock.stamp(e));
  }

  /** `id` pushes `load` (connecting first if it is not connected). */
  report(id: string, load: number, opts: { capacity?: number; attrs?: Attrs } = {}): this {
    let conn = this.conns.get(id);
    if (conn === undefined) {
      conn = ++this.lastConn;
      this.conns.set(id, conn);
      this.apply(ev.connected(conn));
    }
    this.apply(ev.pushed(conn, id, load, opts));
    return this;
  }

  /** `id`'s connection closes: it is DOWN. */
  down(id: string): this {
    const conn = this.conns.get(id);
    if (conn === undefined) throw new Error(`${id} is not connected`);
    this.conns.delete(id);
    this.apply(ev.disconnected(conn));
    return this;
  }

  /** The master restarts: every node is DOWN until it reports again. */
  restart(): this {
    this.conns.clear();
    this.apply(ev.masterStarted(++this.epoch));
    return this;
  }

  node(id: string): NodeEntry {
    const n = this.projection.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }
}

/** Counts of answers per node id. */
export function tally(ids: Iterable<string>): Map<string, number> {
  const m = new Map<string, number>();
  for (const id of ids) m.set(id, (m.get(id) ?? 0) + 1);
  return m;
}
