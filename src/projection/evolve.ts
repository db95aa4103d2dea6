import type { LedgerEvent } from '../events.js';
import type { ConnEntry, NodeEntry, Projection } from './state.js';

/**
 * The fold: `evolve(state, event)` applies one event and returns the state.
 *
 * Deterministic by construction: it reads nothing but its arguments (no clock, no
 * randomness, no I/O), so folding the same events always yields the same state, which is
 * what makes replay exact. For speed it updates `state` in place and returns it (a log of
 * millions of events cannot afford a copy per event); callers that need an old state keep
 * a snapshot (src/projection/snapshot.ts), never a reference.
 */
export function evolve(state: Projection, event: LedgerEvent): Projection {
  state.seq = event.seq;
  state.ts = event.ts;
  // a term's start is LeaderElected, MasterCrashed or LogDamaged (recorded by the start), MasterStarted
  const takeover = state.takingOver;
  if (takeover && event.type !== 'MasterCrashed' && event.type !== 'LogDamaged') state.takingOver = false;
  switch (event.type) {
    case 'MasterStarted':
      // After a LeaderElected the connections of the log are the previous term's, to a
      // master that is gone: they stay until their slaves re-register here or one
      // dead-after passes (src/decisions/takeover.ts). A restart alone drops them.
      if (!takeover) dropAllConnections(state, event.ts, `master restarted (epoch ${event.epoch})`);
      state.protection = null;
      state.master = { state: 'UP_LISTENING', epoch: event.epoch, since: event.ts };
      break;
    case 'MasterStopped':
      dropAllConnections(state, event.since ?? event.ts, `master stopped (${event.reason})`);
      state.protection = null;
      state.master = { state: 'DOWN', epoch: event.epoch, since: event.since ?? event.ts };
      break;
    case 'MasterCrashed':
      // The evidence of the epoch ends at its last event: DOWN from there, not from the
      // restart. A new leader's takeover of a master that died keeps them (see MasterStarted).
      if (!takeover) dropAllConnections(state, event.lastAt, `master crashed (its last event: seq ${event.lastSeq})`);
      state.protection = null;
      state.master = { state: 'DOWN', epoch: event.epoch, since: event.lastAt, reason: 'crashed' };
      break;
    case 'LogDamaged':
      dropAllConnections(state, event.ts, `event log damaged (${damagedSeqs(event.from, event.to)})`);
      state.protection = null;
      if (state.master.state !== 'DOWN')
        state.master = { state: 'DOWN', epoch: state.master.epoch, since: event.ts, reason: 'event log damaged' };
      break;
    case 'SlaveConnected':
      if (event.conn > state.lastConn) state.lastConn = event.conn;
      state.conns.set(event.conn, { conn: event.conn, remote: event.remote, node: null, since: event.ts, lastSeen: event.ts });
      break;
    case 'SlaveRefused':
      // refused after it was accepted (a flapping hold-down): the connection ends, no node changes
      if (event.conn !== undefined) dropConnection(state, event.conn, event.ts, `refused: ${event.reason}`);
      break;
    case 'HelloAckSent':
    case 'HelloSent':
      break;
    case 'HelloReceived':
    case 'HelloAckReceived':
    case 'UnknownFrameSkipped':
      touch(state, event.conn, event.ts);
      break;
    case 'LoadPushed':
      loadPushed(state, event.conn, event.node, event.load, event.capacity, event.attrs, event.ts);
      break;
    case 'SlaveTimedOut':
      if (state.protection && !event.handshake && keepProtected(state, event.conn, `no frame for ${formatSeconds(event.silentMs)}`)) break;
      dropConnection(
        state,
        event.conn,
        event.ts,
        event.handshake
          ? `no valid frame within ${formatSeconds(event.silentMs)} of connecting`
          : `no frame for ${formatSeconds(event.silentMs)}`,
      );
      break;
    case 'SlaveDisconnected':
      dropConnection(state, event.conn, event.ts, `disconnected (${event.reason})`);
      break;
    case 'ProtocolViolated':
      dropConnection(state, event.conn, event.ts, `protocol violation ${event.code}: ${event.reason}`);
      break;
    case 'SlaveSuperseded':
      dropConnection(state, event.conn, event.ts, `superseded by connection ${event.by}`);
      break;
    case 'SlaveLeft':
      dropConnection(state, event.conn, event.ts, event.reason !== undefined ? `left (${event.reason})` : 'left');
      break;
    case 'NodeDrained':
      drain(state, event.node, event.ts, event.reason);
      break;
    case 'NodeUndrained':
      undrain(state, event.node);
      break;
    case 'ProtectionStarted':
      protectionStarted(state, event.ts, event.until, event.timedOut, event.eligible, event.nodes);
      break;
    case 'ProtectionEnded':
      protectionEnded(state, event.ts, event.reason);
      break;
    case 'LeaderElected':
      // A new leader. The connections of the previous term were to another master; their
      // nodes stay eligible with their last loads until their slaves re-register here or
      // the new leader times them out one dead-after after its term began (its
      // SlaveSuperseded / SlaveTimedOut: src/decisions/takeover.ts), so a failover does not
      // empty the table. Protection starts over: what the old leader saw is not this one's.
      state.protection = null;
      state.takingOver = true;
      state.terms.push({ term: event.term, node: event.node, seq: event.seq, ts: event.ts });
      break;
    default: {
      const unknown: never = event;
      // An event type from a newer version: the log format check should have refused it.
      void unknown;
    }
  }
  return state;
}

/** "seqs 10..20 lost", "seq 10 and after lost". */
export function damagedSeqs(from: number, to: number | undefined): string {
  if (to === undefined) return `seq ${from} and after lost`;
  return to === from ? `seq ${from} lost` : `seqs ${from}..${to} lost`;
}

/** Seconds with one decimal, as operators read them: 3000 → "3.0s". */
export function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

function touch(state: Projection, conn: number, ts: number): ConnEntry | undefined {
  const c = state.conns.get(conn);
  if (!c) return undefined;
  c.lastSeen = ts;
  if (c.node !== null) {
    const n = state.nodes.get(c.node);
    if (n && n.conn === conn) n.lastSeen = ts;
  }
  return c;
}

function loadPushed(
  state: Projection,
  conn: number,
  id: string,
  load: number,
  capacity: number,
  attrs: NodeEntry['attrs'],
  ts: number,
): void {
  const c = state.conns.get(conn);
  if (!c) return; // a push for a connection the log never saw open: nothing to bind
  c.lastSeen = ts;
  c.node = id;
  let n = state.nodes.get(id);
  if (!n) {
    n = {
      id,
      state: 'DOWN',
      load,
      capacity,
      attrs,
      lastSeen: ts,
      since: ts,
      conn: null,
      epoch: state.master.epoch,
      reason: '',
      reportSeq: 0,
    };
    state.nodes.set(id, n);
  } else if (n.conn !== null && n.conn !== conn) {
    // The recorder writes SlaveSuperseded first; this only guards a hand-made log.
    const old = state.conns.get(n.conn);
    if (old) old.node = null;
  }
  if (n.protected) {
    // back from a timeout that protection covered: an ordinary eligible node again
    delete n.protected;
    n.reason = '';
  }
  if (n.state === 'PUSH_LOAD_INFO') {
    if (n.load !== load) {
      n.load = load;
      state.index.touch(n);
    } else {
      state.index.reported(n);
    }
  } else {
    n.load = load;
    n.state = 'PUSH_LOAD_INFO';
    n.since = ts;
    n.reason = '';
    state.index.touch(n);
  }
  n.capacity = capacity;
  n.attrs = attrs;
  n.conn = conn;
  n.epoch = state.master.epoch;
  n.lastSeen = ts;
  n.reportSeq = state.seq;
}

function markDown(state: Projection, n: NodeEntry, ts: number, reason: string): void {
  if (n.state === 'PUSH_LOAD_INFO') state.index.touch(n);
  n.state = 'DOWN';
  n.since = ts;
  n.conn = null;
  n.reason = reason;
  if (n.protected) delete n.protected;
}

/**
 * Mass-failure protection begins: the nodes of the trigger that are DOWN already (their
 * SlaveTimedOut came first) are eligible again with their last load; the others are still
 * up, and their SlaveTimedOut, folded next, keeps them so (`keepProtected`).
 */
function protectionStarted(
  state: Projection,
  ts: number,
  until: number,
  timedOut: number,
  eligible: number,
  nodes: readonly string[],
): void {
  state.protection = { since: ts, until, timedOut, eligible, nodes: [...nodes].sort() };
  for (const id of nodes) {
    const n = state.nodes.get(id);
    if (!n || n.state !== 'DOWN') continue;
    n.state = 'PUSH_LOAD_INFO';
    n.since = ts;
    n.protected = true; // n.reason still says why it timed out
    state.index.touch(n);
  }
}

/**
 * A timeout while protection lasts: the connection is gone, the node stays eligible with
 * its last load, marked protected. False when the connection bound no eligible node.
 */
function keepProtected(state: Projection, conn: number, reason: string): boolean {
  const c = state.conns.get(conn);
  if (!c || c.node === null) return false;
  const n = state.nodes.get(c.node);
  if (!n || n.conn !== conn || n.state !== 'PUSH_LOAD_INFO') return false;
  state.conns.delete(conn);
  n.conn = null;
  n.protected = true;
  n.reason = reason;
  const p = state.protection!;
  if (!p.nodes.includes(n.id)) {
    p.nodes.push(n.id);
    p.nodes.sort();
  }
  return true;
}

/** Protection is over: the protected nodes that did not reconnect go DOWN now. */
function protectionEnded(state: Projection, ts: number, reason: string): void {
  const p = state.protection;
  if (!p) return;
  for (const id of p.nodes) {
    const n = state.nodes.get(id);
    if (n?.protected) markDown(state, n, ts, `${n.reason}; kept eligible by mass-failure protection until it ended (${reason})`);
  }
  state.protection = null;
}

function dropConnection(state: Projection, conn: number, ts: number, reason: string): void {
  const c = state.conns.get(conn);
  if (!c) return;
  state.conns.delete(conn);
  if (c.node === null) return;
  const n = state.nodes.get(c.node);
  if (n && n.conn === conn) markDown(state, n, ts, reason);
}

function dropAllConnections(state: Projection, ts: number, reason: string): void {
  for (const c of state.conns.values()) {
    if (c.node === null) continue;
    const n = state.nodes.get(c.node);
    if (n && n.conn === c.conn) markDown(state, n, ts, reason);
  }
  state.conns.clear();
  // Nodes of an earlier epoch whose connection was never closed in the log (the master
  // crashed): not eligible until they reconnect.
  for (const n of state.nodes.values()) if (n.state !== 'DOWN') markDown(state, n, ts, reason);
}

/** Why a node that was drained before it ever reported is DOWN. */
export const NEVER_REPORTED = 'never reported';

/** An entry made by a drain, for a node that never pushed: it has no epoch and was never seen. */
export function neverReported(n: NodeEntry): boolean {
  return n.epoch === 0 && n.lastSeen === 0 && n.conn === null;
}

function drain(state: Projection, id: string, ts: number, reason: string | undefined): void {
  let n = state.nodes.get(id);
  if (!n) {
    // Drained before it ever reported (maintenance planned ahead): an entry, so that its
    // first push finds it drained and it never becomes eligible.
    n = {
      id,
      state: 'DOWN',
      load: 0,
      capacity: 1,
      attrs: {},
      lastSeen: 0,
      since: ts,
      conn: null,
      epoch: 0,
      reason: NEVER_REPORTED,
      reportSeq: 0,
    };
    state.nodes.set(id, n);
  } else if (n.drained) {
    return; // already drained: the first drain stands (the master records no second one)
  }
  n.drained = reason !== undefined ? { since: ts, reason } : { since: ts };
  state.index.touch(n);
}

function undrain(state: Projection, id: string): void {
  const n = state.nodes.get(id);
  if (!n?.drained) return;
  delete n.drained;
  // The entry existed only for the drain: the table is as if it had never been drained.
  if (neverReported(n)) state.nodes.delete(id);
  else state.index.touch(n);
}

/** Folds `events` into `state` (in place) and returns it. */
export function foldEvents(state: Projection, events: Iterable<LedgerEvent>): Projection {
  for (const e of events) evolve(state, e);
  return state;
}
