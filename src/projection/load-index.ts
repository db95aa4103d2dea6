import BTreeModule from 'sorted-btree';
import type { NodeEntry } from './state.js';

// sorted-btree is CommonJS with the class on `exports.default`: Node's ESM loader hands us
// the whole exports object, bundlers (vitest) the class itself. Accept both.
type BTreeClass = typeof BTreeModule.default;
const BTreeCtor: BTreeClass =
  typeof BTreeModule === 'function' ? (BTreeModule as unknown as BTreeClass) : BTreeModule.default;

function compare(a: NodeEntry, b: NodeEntry): number {
  if (a.load !== b.load) return a.load < b.load ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * The eligible nodes (state PUSH_LOAD_INFO) ordered by (load, id): an update and a
 * least-loaded query cost O(log n). The entries themselves are the keys, so the caller
 * must `remove` a node before changing its load and `add` it again afterwards.
 */
export class LoadIndex {
  private readonly tree = new BTreeCtor<NodeEntry, undefined>(undefined, compare);
  private live = true;

  get size(): number {
    return this.tree.size;
  }

  add(node: NodeEntry): void {
    if (this.live) this.tree.set(node, undefined);
  }

  remove(node: NodeEntry): void {
    if (this.live) this.tree.delete(node);
  }

  /**
   * Bulk folds (replay, restart) do not need the index until they are done: suspended, it
   * ignores updates, and `resume` rebuilds it from the nodes in O(n log n) once, instead of
   * two tree operations per load change.
   */
  suspend(): void {
    this.live = false;
    this.tree.clear();
  }

  resume(nodes: Iterable<NodeEntry>): void {
    if (this.live) return;
    this.live = true;
    for (const n of nodes) if (n.state === 'PUSH_LOAD_INFO') this.tree.set(n, undefined);
  }

  /** The least-loaded eligible node, ties by id; with a filter, the first that matches. */
  least(filter?: (n: NodeEntry) => boolean): NodeEntry | undefined {
    if (!this.live) throw new Error('LoadIndex.least() while the index is suspended');
    if (!filter) return this.tree.minKey();
    for (const n of this.tree.keys()) if (filter(n)) return n;
    return undefined;
  }

  /** Eligible nodes in (load, id) order. */
  *ordered(): IterableIterator<NodeEntry> {
    if (!this.live) throw new Error('LoadIndex.ordered() while the index is suspended');
    yield* this.tree.keys();
  }

  clear(): void {
    this.tree.clear();
  }
}
