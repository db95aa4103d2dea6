import type { LedgerEvent } from '../src/events.js';
import { ErrorCode, LoadLedgerError } from '../src/errors.js';
import { nodeDocument, type NodeDocument } from '../src/projection/document.js';
import { damagedSeqs, formatSeconds } from '../src/projection/evolve.js';
import { foldTo, type FoldOptions } from './fold.js';
import type { EventSource } from './source.js';
import { effectiveTs } from '../src/events.js';
import { formatNumber, printable } from '../src/format/text.js';
import type { Projection, SlaveState } from '../src/projection/state.js';

/** One change of a node's state, with the event that caused it. */
export interface Transition {
  seq: number;
  ts: number;
  from: SlaveState | 'ABSENT';
  /** ABSENT: the entry a drain made for a node that never reported went with the undrain. */
  to: SlaveState | 'ABSENT';
  cause: string;
  /** Set when an operator drained or undrained the node (its state may stay the same). */
  drain?: 'drained' | 'undrained';
  /** The event type that caused it. */
  event: LedgerEvent['type'];
  /** Kept eligible by mass-failure protection after it (its connection had timed out). */
  protected?: true;
  /** It was protected before. */
  wasProtected?: true;
}

/** ms → "03:12:04.120" (UTC). */
export function clock(ms: number): string {
  return new Date(ms).toISOString().slice(11, 23);
}

/**
 * Watches one node while a log is folded and writes down each change of its state and
 * why. Feed it every event twice: `before` (state not yet changed) and `after`.
 */
export class NodeExplainer {
  readonly transitions: Transition[] = [];
  /** ts of the last HELLO received on each connection (of this node or not yet bound). */
  private readonly lastHello = new Map<number, number>();
  private prev: SlaveState | 'ABSENT' = 'ABSENT';
  private prevConn: number | null = null;
  private prevDrained = false;
  private prevProtected = false;
  private remoteOf = new Map<number, string>();
  seen = false;

  constructor(readonly node: string) {}

  before(state: Projection, e: LedgerEvent): void {
    const n = state.nodes.get(this.node);
    this.prev = n ? n.state : 'ABSENT';
    this.prevConn = n ? n.conn : null;
    this.prevDrained = n?.drained !== undefined;
    this.prevProtected = n?.protected === true;
    if (e.type === 'SlaveConnected') this.remoteOf.set(e.conn, e.identity !== undefined ? `${e.remote} as ${e.identity}` : e.remote);
    if (e.type === 'HelloReceived') this.lastHello.set(e.conn, e.ts);
  }

  after(state: Projection, e: LedgerEvent): void {
    const n = state.nodes.get(this.node);
    if (e.type === 'NodeDrained' || e.type === 'NodeUndrained') {
      if (e.node !== this.node) return;
      const drained = n?.drained !== undefined;
      if (drained === this.prevDrained) return; // drained twice: nothing changed
      this.seen = true;
      this.transitions.push({
        seq: e.seq,
        ts: e.ts,
        from: this.prev,
        to: n ? n.state : 'ABSENT',
        cause: this.drainCause(e, n === undefined),
        event: e.type,
        drain: drained ? 'drained' : 'undrained',
      });
      return;
    }
    if (!n) return;
    this.seen = true;
    const prot = n.protected === true;
    // mass-failure protection changes no state when it keeps an eligible node eligible: its flag is the change
    if (n.state === this.prev && prot === this.prevProtected) return;
    // a stop recorded late (after a log outage) took effect at `since`
    const ts = e.type === 'MasterCrashed' ? e.lastAt : effectiveTs(e);
    const t: Transition = { seq: e.seq, ts, from: this.prev, to: n.state, cause: this.cause(e, n.load, prot), event: e.type };
    if (prot) t.protected = true;
    if (this.prevProtected) t.wasProtected = true;
    this.transitions.push(t);
    if (
      e.type === 'SlaveTimedOut' ||
      e.type === 'SlaveDisconnected' ||
      e.type === 'ProtocolViolated' ||
      e.type === 'SlaveSuperseded' ||
      e.type === 'SlaveLeft'
    ) {
      this.lastHello.delete(e.conn);
      this.remoteOf.delete(e.conn);
    }
  }

  private drainCause(e: LedgerEvent & { type: 'NodeDrained' | 'NodeUndrained' }, removed: boolean): string {
    if (e.type === 'NodeUndrained') {
      if (removed) return 'undrained by an operator: it never reported, so it leaves the table';
      return this.prev === 'PUSH_LOAD_INFO'
        ? 'undrained by an operator: eligible again'
        : 'undrained by an operator (eligible once it reports)';
    }
    const why = e.reason !== undefined ? ` (${e.reason})` : '';
    if (this.prev === 'ABSENT') return `drained by an operator before it ever reported${why}: it will not be eligible when it connects`;
    return `drained by an operator${why}: not eligible, still ${this.prev === 'PUSH_LOAD_INFO' ? 'connected and reporting' : this.prev}`;
  }

  private cause(e: LedgerEvent, load: number, prot: boolean): string {
    const conn = this.prevConn;
    const hello = conn !== null ? this.lastHello.get(conn) : undefined;
    const last = `last HELLO ${hello !== undefined ? clock(hello) : 'never'}, last load ${formatNumber(load)}`;
    switch (e.type) {
      case 'LoadPushed': {
        const from = this.remoteOf.get(e.conn) ?? 'unknown';
        return this.prev === 'ABSENT'
          ? `first PUSH_LOAD_INFO, from ${from} (connection ${e.conn}), load ${formatNumber(e.load)}`
          : `reconnected from ${from} (connection ${e.conn}), load ${formatNumber(e.load)}${this.prevProtected ? ' (mass-failure protection had kept it eligible)' : ''}`;
      }
      case 'SlaveTimedOut':
        return `no frame for ${formatSeconds(e.silentMs)} (${last})${prot ? '; mass-failure protection is on: kept eligible with its last load' : ''}`;
      case 'ProtectionStarted':
        return `mass-failure protection: ${e.timedOut} of ${e.eligible} eligible nodes timed out within one dead-after window (a partition at the master?); kept eligible with its last load ${formatNumber(load)} until ${clock(e.until)} at the latest`;
      case 'ProtectionEnded':
        return `mass-failure protection ended (${e.reason}) before it reconnected`;
      case 'SlaveDisconnected':
        return `connection ${e.conn} ${e.reason} (${last})`;
      case 'ProtocolViolated':
        return `protocol violation ${e.code}: ${e.reason} (connection ${e.conn} closed)`;
      case 'SlaveSuperseded':
        return `superseded by connection ${e.by}${this.remoteOf.has(e.by) ? ` from ${this.remoteOf.get(e.by)!}` : ''} (a restarted slave took its addr)`;
      case 'SlaveLeft':
        return `left: connection ${e.conn} said GOODBYE${e.reason !== undefined ? ` (${e.reason})` : ''} (${last})`;
      case 'MasterStarted':
        return `master restarted (epoch ${e.epoch}): not eligible until it reconnects`;
      case 'LeaderElected':
        return `the master changed at ${clock(e.ts)}: ${e.node} leads (term ${e.term}); not eligible until it reconnects to the new leader`;
      case 'MasterStopped':
        return `master stopped (${e.reason})${e.since !== undefined ? ` (recorded at ${clock(e.ts)})` : ''}`;
      case 'MasterCrashed':
        return `master crashed: its last event was seq ${e.lastSeq} at ${clock(e.lastAt)}, the next start came at ${clock(e.ts)}; not eligible until it reconnects`;
      case 'LogDamaged':
        return `event log damaged (${damagedSeqs(e.from, e.to)}): ${e.reason}; the master started anyway (--accept-damage)`;
      default:
        return e.type;
    }
  }
}

/** What an explanation of a node at a point says (`replay --explain NODE --at P --json`). */
export interface Explanation {
  node: string;
  /** The point: its seq and the ts of the event at it (0 when none). */
  at: { seq: number; ts: number };
  /** The node's document at the point; null while it is not in the table. */
  state: NodeDocument | null;
  /** Its changes up to and including the point, oldest first. */
  history: Transition[];
  /** Its changes after the point, to the end of the source. */
  next: Transition[];
}

/**
 * Explains `node` at seq `target`: folds the whole source (from its oldest base) with a
 * NodeExplainer, so the history starts where the source does and `next` runs to its end.
 * `before` sees every event too (with the state before it), for callers that collect the
 * node's raw events in the same pass. NOT_FOUND when the node appears nowhere in the source.
 */
export async function explainNode(
  source: EventSource,
  node: string,
  target: number,
  opts: Pick<FoldOptions, 'onProgress' | 'before'> = {},
): Promise<Explanation> {
  const explainer = new NodeExplainer(node);
  const state = await source.base(source.firstSeq - 1);
  let atDoc: NodeDocument | undefined;
  let atTs = 0;
  const docOf = (s: Projection): NodeDocument | undefined => {
    const n = s.nodes.get(node);
    return n ? nodeDocument(n) : undefined;
  };
  // The node may already be in the base (an export file's or retained log's snapshot).
  const inBase = docOf(state);
  if (target === state.seq) {
    atTs = state.ts;
    atDoc = inBase;
  }
  const fold: FoldOptions = {
    before: (s, e) => {
      opts.before?.(s, e);
      explainer.before(s, e);
    },
    after: (s, e) => {
      explainer.after(s, e);
      if (e.seq === target) {
        atTs = e.ts;
        atDoc = docOf(s);
      }
    },
  };
  if (opts.onProgress) fold.onProgress = opts.onProgress;
  await foldTo(source, state, source.lastSeq, fold);
  if (!explainer.seen && !inBase) throw new LoadLedgerError(ErrorCode.NOT_FOUND, `node ${node} does not appear in ${source.describe}`);
  return {
    node,
    at: { seq: target, ts: atTs },
    state: atDoc ?? null,
    history: explainer.transitions.filter((t) => t.seq <= target),
    next: explainer.transitions.filter((t) => t.seq > target),
  };
}

/** A transition's change in words: `DOWN → PUSH_LOAD_INFO`, `(new) → …`, or the state alone when it stays. */
export function transitionWhat(t: Transition): string {
  const from = t.from === 'ABSENT' ? '(new)' : `${t.from}${t.wasProtected ? ' (protected)' : ''}`;
  const to = `${t.to === 'ABSENT' ? '(removed)' : t.to}${t.protected ? ' (protected)' : ''}`;
  return from === to ? to : `${from} → ${to}`;
}

/** Formats transitions as lines; a date line whenever the day changes. */
export function formatTransitions(ts: Transition[], indent = '  '): string {
  let out = '';
  let day = '';
  for (const t of ts) {
    const d = new Date(t.ts).toISOString().slice(0, 10);
    if (d !== day) {
      day = d;
      out += `${indent}${d} (UTC)\n`;
    }
    out += `${indent}${clock(t.ts)} ${transitionWhat(t)}: ${printable(t.cause)}  [seq ${t.seq}]\n`;
  }
  return out;
}
