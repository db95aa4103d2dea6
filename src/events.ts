import type { Attrs } from './protocol/messages.js';

/**
 * Everything that happens to the master, as facts in the past tense. The log is a
 * sequence of these; the projections are folds over them (src/projection/evolve.ts).
 *
 * `seq` is gapless from 1; `ts` is the master's wall clock (ms since the epoch) when the
 * event was recorded. Both are assigned by the recorder, never by the reducer.
 * `conn` numbers are unique over the whole log (they continue across restarts).
 */
export type Event<Type extends string, Data extends object> = Readonly<{ seq: number; ts: number; type: Type } & Data>;

export type MasterStarted = Event<
  'MasterStarted',
  { epoch: number; listen: string; http: string; pid: number; helloInterval: number; deadAfter: number }
>;
/**
 * `since`: when the stop took effect, where that is earlier than `ts` — after a log write
 * failure the master was DOWN from the failure, but could record it only once the log
 * took writes again.
 */
export type MasterStopped = Event<'MasterStopped', { epoch: number; reason: string; since?: number }>;
/**
 * The previous epoch ended without MasterStopped (the master was killed, crashed, or lost
 * its machine): recorded by the next start, before its MasterStarted. `lastSeq`/`lastAt`:
 * the last event that epoch left, where its evidence ends. Replay takes the master as DOWN
 * from just after `lastAt`, not from this event's `ts` (the restart).
 */
export type MasterCrashed = Event<'MasterCrashed', { epoch: number; lastSeq: number; lastAt: number }>;
/**
 * A master started on a damaged log because an operator said so (`--accept-damage`): seqs
 * `from`..`to` (`to` absent when how many is unknown: the next events follow seq from - 1)
 * could not be read back; `reason`: what was found. Recorded before MasterStarted. The
 * connections of the epoch before are gone with it.
 */
export type LogDamaged = Event<'LogDamaged', { from: number; to?: number; reason: string }>;
/** `identity`: the certificate a TLS slave presented (its CN); absent without TLS and in logs older than TLS. */
export type SlaveConnected = Event<'SlaveConnected', { conn: number; remote: string; identity?: string }>;
/**
 * A connection was refused: at accept time (--allow, rate limit, max-slaves, a failed TLS
 * handshake: no `conn`, it never had one), or, with `conn` and `node`, at its first push,
 * for a node that another live connection holds through a flapping hold-down
 * (src/decisions/flapping.ts): that connection ends here, the holder keeps the node. Logs
 * from before the hold-down have no `conn`: they fold as before.
 */
export type SlaveRefused = Event<'SlaveRefused', { remote: string; reason: string; conn?: number; node?: string }>;
export type HelloReceived = Event<'HelloReceived', { conn: number }>;
export type HelloAckSent = Event<'HelloAckSent', { conn: number }>;
/** The master pinged a quiet slave. */
export type HelloSent = Event<'HelloSent', { conn: number }>;
export type HelloAckReceived = Event<'HelloAckReceived', { conn: number }>;
export type LoadPushed = Event<'LoadPushed', { conn: number; node: string; load: number; capacity: number; attrs: Attrs }>;
export type UnknownFrameSkipped = Event<'UnknownFrameSkipped', { conn: number; code: number; length: number }>;
/** No frame for dead-after; `handshake`: not one valid frame within the handshake timeout. */
export type SlaveTimedOut = Event<'SlaveTimedOut', { conn: number; silentMs: number; handshake?: true }>;
export type SlaveDisconnected = Event<'SlaveDisconnected', { conn: number; reason: string }>;
export type ProtocolViolated = Event<'ProtocolViolated', { conn: number; code: string; reason: string }>;
/**
 * The slave said GOODBYE (it is leaving on purpose: stopped, drained for a deploy) and the
 * master closed the connection. `reason`: what the slave gave, if anything.
 */
export type SlaveLeft = Event<'SlaveLeft', { conn: number; reason?: string }>;
/** `conn` lost its node to the newer connection `by`, and was closed. */
export type SlaveSuperseded = Event<'SlaveSuperseded', { conn: number; node: string; by: number }>;
/**
 * An operator drained `node` (`POST /v1/nodes/{id}/drain`, `loadledger drain`): it keeps its
 * connection and its reports but is not eligible until NodeUndrained. A node not yet in the
 * table gets an entry (DOWN, never reported), so that it does not become eligible when it
 * first connects. `reason`: what the operator gave, at most 256 bytes.
 */
export type NodeDrained = Event<'NodeDrained', { node: string; reason?: string }>;
/** An operator undrained `node`: eligible again while it is in PUSH_LOAD_INFO. */
export type NodeUndrained = Event<'NodeUndrained', { node: string }>;
/**
 * Mass-failure protection (src/decisions/protection.ts): more than the --protect-share of the
 * eligible nodes timed out within one dead-after window — a partition at the master, not
 * dead nodes. `timedOut` of `eligible` nodes did; `nodes` (sorted) are they, kept eligible
 * with their last load: those already DOWN are restored, those whose SlaveTimedOut follows
 * stay up, and so does any node that times out while protection lasts. `until`: wall-clock
 * ms when it expires at the latest.
 */
export type ProtectionStarted = Event<'ProtectionStarted', { timedOut: number; eligible: number; until: number; nodes: string[] }>;
/**
 * Protection is over: `expired` (its bound passed) or `recovered` (every protected node
 * reconnected). The protected nodes that did not reconnect go DOWN with it.
 */
export type ProtectionEnded = Event<'ProtectionEnded', { reason: 'expired' | 'recovered' }>;

/**
 * Master HA (docs/ha.md): `node` (its --node-id) won the election on etcd and leads term
 * `term` — the etcd create revision of the leader key, which only grows. The first event a
 * leader writes in its term; a log without one was written by a master running alone.
 */
export type LeaderElected = Event<'LeaderElected', { term: number; node: string }>;

export type LedgerEvent =
  | MasterStarted
  | MasterStopped
  | MasterCrashed
  | LogDamaged
  | SlaveConnected
  | SlaveRefused
  | HelloReceived
  | HelloAckSent
  | HelloSent
  | HelloAckReceived
  | LoadPushed
  | UnknownFrameSkipped
  | SlaveTimedOut
  | SlaveDisconnected
  | ProtocolViolated
  | SlaveSuperseded
  | SlaveLeft
  | NodeDrained
  | NodeUndrained
  | ProtectionStarted
  | ProtectionEnded
  | LeaderElected;

export type EventType = LedgerEvent['type'];

/** An event before the recorder stamped it with `seq` and `ts`. */
export type NewEvent = LedgerEvent extends infer E ? (E extends LedgerEvent ? Omit<E, 'seq' | 'ts'> : never) : never;

export const EVENT_TYPES: readonly EventType[] = [
  'MasterStarted',
  'MasterStopped',
  'MasterCrashed',
  'LogDamaged',
  'SlaveConnected',
  'SlaveRefused',
  'HelloReceived',
  'HelloAckSent',
  'HelloSent',
  'HelloAckReceived',
  'LoadPushed',
  'UnknownFrameSkipped',
  'SlaveTimedOut',
  'SlaveDisconnected',
  'ProtocolViolated',
  'SlaveSuperseded',
  'SlaveLeft',
  'NodeDrained',
  'NodeUndrained',
  'ProtectionStarted',
  'ProtectionEnded',
  'LeaderElected',
];

const TYPES: ReadonlySet<string> = new Set(EVENT_TYPES);

export function isEventType(s: string): s is EventType {
  return TYPES.has(s);
}

/**
 * When an event took effect, where that is earlier than when it was recorded: a stop
 * recorded after a log outage (MasterStopped.since), a crash recorded by the next start
 * (MasterCrashed: just after its epoch's last event). Replay at a time uses this.
 */
export function effectiveTs(e: LedgerEvent): number {
  if (e.type === 'MasterStopped' && e.since !== undefined) return e.since;
  if (e.type === 'MasterCrashed') return e.lastAt + 1;
  return e.ts;
}
