import type { LoadIndex, RankView } from '../projection/load-index.js';
import type { NodeEntry, Projection } from '../projection/state.js';
import { checkCompensation, DEFAULT_POLICY, parsePolicy, type Policy } from './policy.js';
import { seededRandom } from './random.js';

/** The seed of p2c's draws when no `random` is passed in (the core reads no randomness of its own). */
const DEFAULT_SEED = 0x10adbeef;

export interface SelectorOptions {
  /** The policy of queries that name none (default least-loaded). */
  policy?: Policy;
  /**
   * The load one answer is predicted to add to the node it names, counted in its effective
   * load until its next report (0: off, the default).
   */
  compensation?: number;
  /**
   * Uniform in [0, 1), for p2c's choices. The master passes Math.random (src/node/), as does
   * the Selector of the public API (src/node/selector.ts); without one, a seeded sequence.
   */
  random?: () => number;
}

/** Answers charged to a node since its report `reportSeq` (NodeEntry.reportSeq). */
interface Charge {
  count: number;
  reportSeq: number;
}

/**
 * With a filter, p2c draws among all eligible nodes and skips those that do not match
 * (uniform among the matching ones); a filter so rare that this many draws did not find
 * two falls back to a scan of the eligible nodes.
 */
const P2C_DRAWS = 64;

/**
 * Picks the node a query is answered with, by policy (src/selection/policy.ts), with
 * in-flight compensation: the master's own state, next to the projection, never in it.
 *
 * Not in the log, on purpose: selections come at tens of thousands a second and would
 * dominate the log and the disk, and neither p2c's random draws nor the compensation they
 * lead to are facts about the slaves. The projection stays a pure fold; replay answers
 * "what was the table at 03:12", not "which node did each client get".
 *
 * Compensation: each answer adds `compensation` to the chosen node's effective load, until
 * the node reports again. A charge remembers the node's `reportSeq` (the seq of its last
 * LoadPushed, kept by the projection); once the node's `reportSeq` has moved on, the
 * charge is stale and counts 0. Nothing has to subscribe to the commit path for it.
 *
 * Indexes: least-loaded without compensation reads the projection's load index (O(log n)),
 * p2c draws from its array of eligible nodes (O(1)). The other orders are `RankView`s of
 * that index, further lazy B+trees fed from its changes, created on first use:
 * load / capacity, load + compensation, and (load + compensation) / capacity. An answer
 * re-keys the one node it charged (O(log n)); a report re-keys the node too (the index
 * hands its views every node that reported), which drops its charge. So compensated
 * least-loaded stays O(log n) per query however many nodes carry charges, where walking the
 * load order past the charged nodes would cost O(charged nodes): with more queries than
 * nodes between two reports, that is all of them.
 */
export class Selector {
  readonly policy: Policy;
  readonly compensation: number;
  private readonly random: () => number;
  private projection: Projection | undefined;
  private readonly charges = new Map<NodeEntry, Charge>();
  private byRatio: RankView | undefined;
  private byEffectiveLoad: RankView | undefined;
  private byEffectiveRatio: RankView | undefined;

  constructor(opts: SelectorOptions = {}) {
    this.policy = parsePolicy(opts.policy ?? DEFAULT_POLICY);
    this.compensation = checkCompensation(opts.compensation ?? 0);
    this.random = opts.random ?? seededRandom(DEFAULT_SEED);
  }

  /**
   * True when an answer under `policy` is a function of the projection alone (no draws, no
   * compensation): an unfiltered one can be cached by seq.
   */
  deterministic(policy: Policy = this.policy): boolean {
    return this.compensation === 0 && policy !== 'p2c';
  }

  /**
   * The node to answer with among the eligible ones (state PUSH_LOAD_INFO) that pass
   * `filter`, or undefined when there is none. Charges it with the compensation.
   */
  choose(p: Projection, policy: Policy = this.policy, filter?: (n: NodeEntry) => boolean): NodeEntry | undefined {
    this.attach(p);
    const compensated = this.compensation > 0;
    let n: NodeEntry | undefined;
    switch (policy) {
      case 'least-loaded':
        n = compensated ? (this.byEffectiveLoad ??= p.index.view((x) => this.effectiveLoad(x))).least(filter) : p.index.least(filter);
        break;
      case 'capacity':
        n = compensated
          ? (this.byEffectiveRatio ??= p.index.view((x) => this.effectiveLoad(x) / x.capacity)).least(filter)
          : (this.byRatio ??= p.index.view((x) => x.load / x.capacity)).least(filter);
        break;
      case 'p2c':
        n = this.p2c(p.index, filter);
        break;
      default: {
        const unknown: never = policy;
        throw new Error(`unknown policy ${String(unknown)}`);
      }
    }
    if (n && compensated) this.charge(n);
    return n;
  }

  /** Answers charged to `n` since its last report. */
  inFlight(n: NodeEntry): number {
    const c = this.charges.get(n);
    if (!c) return 0;
    if (c.reportSeq !== n.reportSeq) {
      this.charges.delete(n);
      return 0;
    }
    return c.count;
  }

  /** The load `n` is ranked by: its reported load plus the compensation of its answers since. */
  effectiveLoad(n: NodeEntry): number {
    return this.compensation > 0 ? n.load + this.inFlight(n) * this.compensation : n.load;
  }

  private charge(n: NodeEntry): void {
    const c = this.charges.get(n);
    if (c && c.reportSeq === n.reportSeq) c.count++;
    else this.charges.set(n, { count: 1, reportSeq: n.reportSeq });
    this.byEffectiveLoad?.touch(n);
    this.byEffectiveRatio?.touch(n);
  }

  /** A master that recovers from a log failure rebuilds its projection: start afresh. */
  private attach(p: Projection): void {
    if (this.projection === p) return;
    this.projection = p;
    this.charges.clear();
    this.byRatio = this.byEffectiveLoad = this.byEffectiveRatio = undefined;
  }

  private p2c(index: LoadIndex, filter?: (n: NodeEntry) => boolean): NodeEntry | undefined {
    const size = index.size;
    if (size === 0) return undefined;
    if (!filter) {
      if (size === 1) return index.at(0);
      const i = this.draw(size);
      let j = this.draw(size - 1);
      if (j >= i) j++;
      return this.better(index.at(i)!, index.at(j)!);
    }
    let first: NodeEntry | undefined;
    for (let k = 0; k < P2C_DRAWS; k++) {
      const n = index.at(this.draw(size))!;
      if (n === first || !filter(n)) continue;
      if (!first) first = n;
      else return this.better(first, n);
    }
    const matching: NodeEntry[] = [];
    for (let i = 0; i < size; i++) {
      const n = index.at(i)!;
      if (filter(n)) matching.push(n);
    }
    if (matching.length <= 1) return matching[0];
    const i = this.draw(matching.length);
    let j = this.draw(matching.length - 1);
    if (j >= i) j++;
    return this.better(matching[i]!, matching[j]!);
  }

  /** The less (effectively) loaded of two, ties by id. */
  private better(a: NodeEntry, b: NodeEntry): NodeEntry {
    const la = this.effectiveLoad(a);
    const lb = this.effectiveLoad(b);
    if (la !== lb) return la < lb ? a : b;
    return a.id < b.id ? a : b;
  }

  /** An integer in [0, n). */
  private draw(n: number): number {
    return Math.min(n - 1, Math.floor(this.random() * n));
  }
}
