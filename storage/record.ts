import { isEventType, type LedgerEvent } from '../src/events.js';
import type { ProjectionSnapshot } from '../src/projection/snapshot.js';
import { crc32c } from './crc32c.js';
import { logPackr } from './format.js';

/**
 * Framed records (the layout is in storage/format.ts): every value of the log but the two
 * plain meta keys carries a 20-byte header with its kind, encoding, count and seq, and a
 * CRC-32C over the header and the payload, checked on every read.
 *
 * The decoders here throw RecordDamage, a reason without a place; storage/event-log.ts
 * names the log and the seq range in the LOG_CORRUPT it raises.
 */
export const FRAME_MARK = 0xc1;
export const HEADER_SIZE = 20;
export const RecordKind = { EVENTS: 0x45, SNAPSHOT: 0x53, META: 0x4d } as const;
export type RecordKind = (typeof RecordKind)[keyof typeof RecordKind];
/** Payload encodings: 1 = msgpack (logPackr). A faster layout takes the next number. */
export const ENCODING_MSGPACK = 1;

export class RecordDamage extends Error {
  override readonly name = 'RecordDamage';
}

export function isFramed(value: Uint8Array): boolean {
  return value.length > 0 && value[0] === FRAME_MARK;
}

function frame(kind: RecordKind, seq: number, count: number, payload: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(HEADER_SIZE + payload.length);
  b[0] = FRAME_MARK;
  b[1] = kind;
  b[2] = ENCODING_MSGPACK;
  b[3] = 0;
  b.writeUInt32BE(count, 4);
  b.writeBigUInt64BE(BigInt(seq), 8);
  b.set(payload, HEADER_SIZE);
  b.writeUInt32BE(checksum(b), 16);
  return b;
}

function checksum(b: Uint8Array): number {
  return crc32c(b, crc32c(b, 0, 0, 16), HEADER_SIZE);
}

export function encodeEvents(events: readonly LedgerEvent[]): Buffer {
  return frame(RecordKind.EVENTS, events[0]!.seq, events.length, logPackr.pack(events));
}

export function encodeSnapshot(snapshot: ProjectionSnapshot): Buffer {
  return frame(RecordKind.SNAPSHOT, snapshot.seq, 0, logPackr.pack(snapshot));
}

export function encodeMeta(value: unknown): Buffer {
  return frame(RecordKind.META, 0, 0, logPackr.pack(value));
}

interface Header {
  kind: number;
  count: number;
  seq: number;
}

/** The checked header of a framed value (RecordDamage when it is not one this code reads). */
export function readHeader(value: Uint8Array, kind: RecordKind): Header {
  if (value.length < HEADER_SIZE || value[0] !== FRAME_MARK) throw new RecordDamage(`not a framed record (${value.length} bytes)`);
  const b = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (b.readUInt32BE(16) !== checksum(b)) throw new RecordDamage('the record fails its checksum (CRC-32C)');
  if (b[1] !== kind) throw new RecordDamage(`a record of kind 0x${b[1]!.toString(16)} where 0x${kind.toString(16)} belongs`);
  if (b[2] !== ENCODING_MSGPACK || b[3] !== 0) throw new RecordDamage(`a record in encoding ${b[2]}, which this loadledger does not read`);
  return { kind: b[1], count: b.readUInt32BE(4), seq: Number(b.readBigUInt64BE(8)) };
}

function unpack(value: Uint8Array, start: number): unknown {
  try {
    // (a start offset, not a subarray: msgpackr caches its DataView on the buffer it is given)
    return logPackr.unpack(value, { start });
  } catch (e) {
    throw new RecordDamage(`the record does not decode (${(e as Error).message})`);
  }
}

/**
 * The events of the record stored under `seq`: framed (checksum, count and seq checked), or
 * plain msgpack where `legacy` allows a format 1 record. Every event must carry the next
 * seq, a finite ts and a type this version knows: an unknown type is damage, never skipped.
 */
export function decodeEvents(value: Uint8Array, seq: number, legacy: boolean): LedgerEvent[] {
  let count: number | undefined;
  let events: unknown;
  if (isFramed(value)) {
    const h = readHeader(value, RecordKind.EVENTS);
    if (h.seq !== seq) throw new RecordDamage(`the record under seq ${seq} says it starts at seq ${h.seq}`);
    count = h.count;
    events = unpack(value, HEADER_SIZE);
  } else if (legacy) {
    events = unpack(value, 0);
  } else {
    throw new RecordDamage('a record without its checksum header, where every record has one');
  }
  if (!Array.isArray(events) || events.length === 0) throw new RecordDamage('the record is not a list of events');
  if (count !== undefined && events.length !== count)
    throw new RecordDamage(`the record holds ${events.length} events, its header says ${count}`);
  for (let i = 0; i < events.length; i++) {
    const e = events[i] as Partial<LedgerEvent> | null;
    if (typeof e !== 'object' || e === null) throw new RecordDamage(`item ${i} is not an event`);
    if (typeof e.type !== 'string' || !isEventType(e.type))
      throw new RecordDamage(`item ${i} has an unknown type ${JSON.stringify(e.type)}`);
    if (typeof e.ts !== 'number' || !Number.isFinite(e.ts)) throw new RecordDamage(`item ${i} (${e.type}) has no valid ts`);
    if (e.seq !== seq + i) throw new RecordDamage(`item ${i} (${e.type}) has seq ${String(e.seq)}, expected ${seq + i}`);
  }
  return events as LedgerEvent[];
}

/** Events in the record under `seq`, from its header where it has one (no payload decode). */
export function eventCount(value: Uint8Array, seq: number, legacy: boolean): number {
  if (isFramed(value)) {
    const h = readHeader(value, RecordKind.EVENTS);
    if (h.seq !== seq) throw new RecordDamage(`the record under seq ${seq} says it starts at seq ${h.seq}`);
    if (h.count === 0) throw new RecordDamage('the record says it holds no events');
    return h.count;
  }
  return decodeEvents(value, seq, legacy).length;
}

export function decodeSnapshot(value: Uint8Array, seq: number, legacy: boolean): ProjectionSnapshot {
  let s: unknown;
  if (isFramed(value)) {
    const h = readHeader(value, RecordKind.SNAPSHOT);
    if (h.seq !== seq) throw new RecordDamage(`the snapshot under seq ${seq} says seq ${h.seq}`);
    s = unpack(value, HEADER_SIZE);
  } else if (legacy) {
    s = unpack(value, 0);
  } else {
    throw new RecordDamage('a snapshot without its checksum header');
  }
  const snap = s as Partial<ProjectionSnapshot> | null;
  if (
    !snap ||
    typeof snap !== 'object' ||
    snap.seq !== seq ||
    !Array.isArray(snap.nodes) ||
    !Array.isArray(snap.conns) ||
    typeof snap.master !== 'object'
  ) {
    throw new RecordDamage(`the snapshot under seq ${seq} is not a projection at that seq`);
  }
  return snap as ProjectionSnapshot;
}

export function decodeMeta(value: Uint8Array): unknown {
  readHeader(value, RecordKind.META);
  return unpack(value, HEADER_SIZE);
}
