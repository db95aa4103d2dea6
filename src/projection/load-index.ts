import BTreeModule from 'sorted-btree';
import type { NodeEntry } from './node.js';

// sorted-btree is CommonJS with the class on `exports.default`: Node's ESM loader hands us
// the whole exports object, bundlers (vitest) the class itself. Accept both.
type BTreeClass = typeof BTreeModule.default;
const BTreeCtor: BTreeClass = typeof BTreeModule === 'function' ? BTreeModule : BTreeModule.default;

/** What orders a tree: lower first, ties by id. */
export type Rank = (n: NodeEntry) => number;

/** A node's place in a tree: its rank when it was (re)inserted, so the key never moves. */
interface Key {
  readonly rank: number;
  readonly id: string;
  readonly node: NodeEntry;
}

function compare(a: Key, b: Key): number {
  if (a.rank !== b.rank) return a.rank < b.rank ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Reporting (PUSH_LOAD_INFO) and not drained by an operator. */
function eligible(n: NodeEntry): boolean {
  return n.state === 'PUSH_LOAD_INFO' && n.drained === undefined;
}

/** Eligible nodes in a B+tree by (rank, id). */
class RankTree {
  private readonly tree = new BTreeCtor<Key, undefined>(undefined, compare);
  private readonly keys = new Map<NodeEntry, Key>();

  constructor(private readonly rankOf: Rank) {}

  get size(): number {
    return this.tree.size;
  }

  /** Puts `n` where it belongs now: +1 it entered the tree, -1 it left, 0 neither. */
  update(n: NodeEntry): -1 | 0 | 1 {
    const old = this.keys.get(n);
    if (!eligible(n)) {
      if (!old) return 0;
      this.tree.delete(old);
      this.keys.delete(n);
      return -1;
    }
    const rank = this.rankOf(n);
    if (old) {
      if (old.rank === rank) return 0;
      this.tree.delete(old);
    }
    const key: Key = { rank, id: n.id, node: n };
    this.tree.set(key, undefined);
    this.keys.set(n, key);
    return old ? 0 : 1;
  }

  least(filter?: (n: NodeEntry) => boolean): NodeEntry | undefined {
    if (!filter) return this.tree.minKey()?.node;
    for (const k of this.tree.keys()) if (filter(k.node)) return k.node;
    return undefined;
  }

  *ordered(): IterableIterator<NodeEntry> {
    for (const k of this.tree.keys()) yield k.node;
  }

  clear(): void {
    this.tree.clear();
    this.keys.clear();
  }
}

/**
 * The eligible nodes (state PUSH_LOAD_INFO, not drained) ordered by (load, id), in a B+tree: a
 * least-loaded query is O(log n) plus the nodes changed since the last query.
 *
 * Lazy: the reducer only `touch`es a node whose load or state changed; the tree catches
 * up when someone reads it. A slave pushes every second but clients may ask far less
 * often, and a node pushed ten times between two queries costs one tree update, not ten.
 * The ingest path pays a Set insertion per push that changes the load.
 *
 * Also, for the selection policies (src/selection/): the eligible nodes in an array, for
 * a uniform random pick in O(1) (`at`), and `view`s, further trees over the same nodes in
 * another order (load / capacity, load plus in-flight compensation), fed from this one.
 */
export class LoadIndex {
  private readonly byLoad = new RankTree((n) => n.load);
  private readonly dirty = new Set<NodeEntry>();
  /** Eligible nodes in no order, and where each one is in it (swap-remove). */
  private readonly all: NodeEntry[] = [];
  private readonly pos = new Map<NodeEntry, number>();
  private readonly views: RankView[] = [];
  private live = true;

  /** Number of eligible nodes. */
  get size(): number {
    this.sync();
    return this.byLoad.size;
  }

  /** The node's load or state may have changed. */
  touch(node: NodeEntry): void {
    if (this.live) this.dirty.add(node);
  }

  /**
   * The node reported, but neither its load nor its state changed. Nothing to do for the
   * load order; a view may rank by something else the report changes (its capacity) or
   * resets (compensation). Free while there are no views: the default query path.
   */
  reported(node: NodeEntry): void {
    if (this.live && this.views.length > 0) this.dirty.add(node);
  }

  /**
   * Bulk folds (replay, restart) do not track changes at all: suspended, the index ignores
   * them, and `resume` marks every node for the next read.
   */
  suspend(): void {
    this.live = false;
    this.byLoad.clear();
    this.all.length = 0;
    this.pos.clear();
    this.dirty.clear();
    for (const v of this.views) v.clear();
  }

  resume(nodes: Iterable<NodeEntry>): void {
    if (this.live) return;
    this.live = true;
    for (const n of nodes) this.dirty.add(n);
  }

  /** The least-loaded eligible node, ties by id; with a filter, the first that matches. */
  least(filter?: (n: NodeEntry) => boolean): NodeEntry | undefined {
    this.sync();
    return this.byLoad.least(filter);
  }

  /** Eligible nodes in (load, id) order. */
  ordered(): IterableIterator<NodeEntry> {
    this.sync();
    return this.byLoad.ordered();
  }

  /** The eligible node at position `i` (0 ≤ i < size) of an arbitrary, unstable order. */
  at(i: number): NodeEntry | undefined {
    this.sync();
    return this.all[i];
  }

  /**
   * A second tree over the eligible nodes, by (`rank`, id), kept up to date from this
   * index's changes. `rank` may depend on more than the projection (compensation): call
   * the view's `touch` when that changes.
   */
  view(rank: Rank): RankView {
    this.sync();
    const v = new RankView(this, rank);
    for (const n of this.all) v.touch(n);
    this.views.push(v);
    return v;
  }

  /** @internal Catches up with the reducer's changes (views call it before they read). */
  sync(): void {
    if (!this.live) throw new Error('LoadIndex read while suspended');
    if (this.dirty.size === 0) return;
    for (const v of this.views) for (const n of this.dirty) v.touch(n);
    for (const n of this.dirty) {
      const change = this.byLoad.update(n);
      if (change > 0) {
        this.pos.set(n, this.all.length);
        this.all.push(n);
      } else if (change < 0) {
        const i = this.pos.get(n)!;
        const last = this.all.pop()!;
        if (last !== n) {
          this.all[i] = last;
          this.pos.set(last, i);
        }
        this.pos.delete(n);
      }
    }
    this.dirty.clear();
  }
}

/** Eligible nodes by (rank, id): a LoadIndex's nodes in another order. See `LoadIndex.view`. */
export class RankView {
  private readonly tree: RankTree;
  private readonly dirty = new Set<NodeEntry>();

  constructor(
    private readonly source: LoadIndex,
    rank: Rank,
  ) {
    this.tree = new RankTree(rank);
  }

  /** The node's rank may have changed. */
  touch(node: NodeEntry): void {
    this.dirty.add(node);
  }

  /** The eligible node of lowest rank, ties by id; with a filter, the first that matches. */
  least(filter?: (n: NodeEntry) => boolean): NodeEntry | undefined {
    this.sync();
    return this.tree.least(filter);
  }

  ordered(): IterableIterator<NodeEntry> {
    this.sync();
    return this.tree.ordered();
  }

  /** @internal */
  clear(): void {
    this.tree.clear();
    this.dirty.clear();
  }

  private sync(): void {
    this.source.sync();
    if (this.dirty.size === 0) return;
    for (const n of this.dirty) this.tree.update(n);
    this.dirty.clear();
  }
}
