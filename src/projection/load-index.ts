import BTreeModule from 'sorted-btree';
import type { NodeEntry } from './state.js';

// sorted-btree is CommonJS with the class on `exports.default`: Node's ESM loader hands us
// the whole exports object, bundlers (vitest) the class itself. Accept both.
type BTreeClass = typeof BTreeModule.default;
const BTreeCtor: BTreeClass =
  typeof BTreeModule === 'function' ? (BTreeModule as unknown as BTreeClass) : BTreeModule.default;

/** A node's place in the tree: its load when it was (re)inserted, so the key never moves. */
interface Key {
  readonly load: number;
  readonly id: string;
  readonly node: NodeEntry;
}

function compare(a: Key, b: Key): number {
  if (a.load !== b.load) return a.load < b.load ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * The eligible nodes (state PUSH_LOAD_INFO) ordered by (load, id), in a B+tree: a
 * least-loaded query is O(log n) plus the nodes changed since the last query.
 *
 * Lazy: the reducer only `touch`es a node whose load or state changed; the tree catches
 * up when someone reads it. A slave pushes every second but clients may ask far less
 * often, and a node pushed ten times between two queries costs one tree update, not ten.
 * The ingest path pays a Set insertion per push.
 */
export class LoadIndex {
  private readonly tree = new BTreeCtor<Key, undefined>(undefined, compare);
  private readonly keys = new Map<NodeEntry, Key>();
  private readonly dirty = new Set<NodeEntry>();
  private live = true;

  /** Number of eligible nodes. */
  get size(): number {
    this.sync();
    return this.tree.size;
  }

  /** The node's load or state may have changed. */
  touch(node: NodeEntry): void {
    if (this.live) this.dirty.add(node);
  }

  /**
   * Bulk folds (replay, restart) do not track changes at all: suspended, the index ignores
   * them, and `resume` marks every node for the next read.
   */
  suspend(): void {
    this.live = false;
    this.tree.clear();
    this.keys.clear();
    this.dirty.clear();
  }

  resume(nodes: Iterable<NodeEntry>): void {
    if (this.live) return;
    this.live = true;
    for (const n of nodes) this.dirty.add(n);
  }

  /** The least-loaded eligible node, ties by id; with a filter, the first that matches. */
  least(filter?: (n: NodeEntry) => boolean): NodeEntry | undefined {
    this.sync();
    if (!filter) return this.tree.minKey()?.node;
    for (const k of this.tree.keys()) if (filter(k.node)) return k.node;
    return undefined;
  }

  /** Eligible nodes in (load, id) order. */
  *ordered(): IterableIterator<NodeEntry> {
    this.sync();
    for (const k of this.tree.keys()) yield k.node;
  }

  private sync(): void {
    if (!this.live) throw new Error('LoadIndex read while suspended');
    if (this.dirty.size === 0) return;
    for (const n of this.dirty) {
      const old = this.keys.get(n);
      const eligible = n.state === 'PUSH_LOAD_INFO';
      if (old && eligible && old.load === n.load) continue;
      if (old) {
        this.tree.delete(old);
        this.keys.delete(n);
      }
      if (eligible) {
        const key: Key = { load: n.load, id: n.id, node: n };
        this.tree.set(key, undefined);
        this.keys.set(n, key);
      }
    }
    this.dirty.clear();
  }
}
