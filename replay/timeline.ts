import type { EventType, LedgerEvent } from '../src/events.js';
import { damagedSeqs } from '../src/projection/evolve.js';
import { formatAttrs, formatNumber, printable } from '../src/format/text.js';
import type { Projection } from '../src/projection/state.js';

/** The node an event concerns, as known just before it is folded (connections bind on push). */
export function eventNode(state: Projection, e: LedgerEvent): string | null {
  switch (e.type) {
    case 'LoadPushed':
    case 'SlaveSuperseded':
    case 'NodeDrained':
    case 'NodeUndrained':
      return e.node;
    case 'SlaveRefused':
      return e.node ?? null; // refused at accept time: no node yet
    case 'MasterStarted':
    case 'MasterStopped':
    case 'LeaderElected':
    case 'MasterCrashed':
    case 'LogDamaged':
    case 'ProtectionEnded':
      return null;
    case 'ProtectionStarted':
      return null; // many nodes: `matches` looks in e.nodes
    default:
      return state.conns.get(e.conn)?.node ?? null;
  }
}

/**
 * What an event says, beyond its type, in a few words: numbers as people write them, and
 * every string from the log escaped (printable: a name or reason in an older log may hold
 * anything).
 */
export function eventDetails(e: LedgerEvent): string {
  return printable(details(e));
}

function details(e: LedgerEvent): string {
  switch (e.type) {
    case 'MasterStarted':
      return `epoch ${e.epoch}, slaves on ${e.listen}${e.http ? `, HTTP on ${e.http}` : ''}, pid ${e.pid}, dead-after ${e.deadAfter}ms`;
    case 'MasterStopped':
      return `epoch ${e.epoch}, ${e.reason}${e.since !== undefined ? ` (DOWN since ${new Date(e.since).toISOString()})` : ''}`;
    case 'MasterCrashed':
      return `epoch ${e.epoch} ended without a stop: its last event was seq ${e.lastSeq} at ${new Date(e.lastAt).toISOString()} (DOWN since then)`;
    case 'LogDamaged':
      return `${damagedSeqs(e.from, e.to)}: ${e.reason} (started anyway: --accept-damage)`;
    case 'SlaveConnected':
      return `from ${e.remote}${e.identity !== undefined ? `, certificate ${e.identity}` : ''}`;
    case 'SlaveRefused':
      return `${e.remote}: ${e.reason}`;
    case 'LoadPushed': {
      const attrs = formatAttrs(e.attrs);
      return `load ${formatNumber(e.load)}${e.capacity !== 1 ? ` capacity ${formatNumber(e.capacity)}` : ''}${attrs ? ` ${attrs}` : ''}`;
    }
    case 'UnknownFrameSkipped':
      return `type ${e.code}, ${e.length} bytes`;
    case 'SlaveTimedOut':
      return e.handshake ? `no valid frame ${e.silentMs}ms after connecting` : `silent ${e.silentMs}ms`;
    case 'SlaveDisconnected':
      return e.reason;
    case 'ProtocolViolated':
      return `${e.code}: ${e.reason}`;
    case 'SlaveSuperseded':
      return `by connection ${e.by}`;
    case 'SlaveLeft':
      return e.reason !== undefined ? `GOODBYE: ${e.reason}` : 'GOODBYE';
    case 'NodeDrained':
      return e.reason !== undefined ? `drained by an operator: ${e.reason}` : 'drained by an operator';
    case 'NodeUndrained':
      return 'undrained by an operator';
    case 'ProtectionStarted':
      return `mass-failure protection: ${e.timedOut} of ${e.eligible} eligible nodes timed out within one dead-after window; kept eligible until ${new Date(e.until).toISOString()} at the latest: ${e.nodes.join(', ')}`;
    case 'ProtectionEnded':
      return `mass-failure protection ended (${e.reason})`;
    case 'LeaderElected':
      return `${e.node} leads, term ${e.term}`;
    default:
      return '';
  }
}

export interface TimelineFilter {
  node?: string;
  types?: ReadonlySet<EventType>;
  sinceMs?: number;
  untilMs?: number;
  fromSeq?: number;
  toSeq?: number;
}

export function matches(f: TimelineFilter, e: LedgerEvent, node: string | null): boolean {
  if (f.types && !f.types.has(e.type)) return false;
  if (f.node !== undefined && node !== f.node && !(e.type === 'ProtectionStarted' && e.nodes.includes(f.node))) return false;
  if (f.sinceMs !== undefined && e.ts < f.sinceMs) return false;
  if (f.untilMs !== undefined && e.ts > f.untilMs) return false;
  if (f.fromSeq !== undefined && e.seq < f.fromSeq) return false;
  if (f.toSeq !== undefined && e.seq > f.toSeq) return false;
  return true;
}
