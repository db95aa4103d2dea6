import { Packr } from 'msgpackr';
import { controlProblem } from './names.js';
import { FORBIDDEN_KEY } from './push.js';
import {
  GOODBYE_MAX_REASON_BYTES,
  HEADER_SIZE,
  MAX_WIRE_PAYLOAD,
  MsgType,
  type AttrValue,
  type Attrs,
  type QueryReply,
} from './messages.js';

// Plain MessagePack maps on the wire: no msgpackr records/extensions, so a C agent can read them.
const wirePackr = new Packr({ useRecords: false, variableMapSize: true });

export function encodeFrame(type: number, payload?: Uint8Array): Buffer {
  const len = payload?.length ?? 0;
  if (len > MAX_WIRE_PAYLOAD) throw new RangeError(`payload of ${len} bytes does not fit a frame`);
  const buf = Buffer.allocUnsafe(HEADER_SIZE + len);
  buf.writeUInt16BE(type, 0);
  buf.writeUInt16BE(len, 2);
  if (payload) buf.set(payload, HEADER_SIZE);
  return buf;
}

export const HELLO_FRAME: Buffer = encodeFrame(MsgType.HELLO);
export const HELLO_ACK_FRAME: Buffer = encodeFrame(MsgType.HELLO_ACK);
/** GOODBYE without a reason: `00 03 00 00`. */
export const GOODBYE_FRAME: Buffer = encodeFrame(MsgType.GOODBYE);

/**
 * A GOODBYE, with `{reason}` as its payload when a reason is given (docs/protocol.md
 * "GOODBYE"). A reason longer than GOODBYE_MAX_REASON_BYTES is cut at a character
 * boundary: a master would refuse it whole.
 */
export function encodeGoodbye(reason?: string): Buffer {
  if (reason === undefined) return GOODBYE_FRAME;
  return encodeFrame(MsgType.GOODBYE, wirePackr.pack({ reason: truncateUtf8(reason, GOODBYE_MAX_REASON_BYTES) }));
}

/** The longest prefix of `s` whose UTF-8 fits in `max` bytes. */
export function truncateUtf8(s: string, max: number): string {
  if (Buffer.byteLength(s) <= max) return s;
  let out = '';
  let bytes = 0;
  for (const ch of s) {
    const n = Buffer.byteLength(ch);
    if (bytes + n > max) break;
    out += ch;
    bytes += n;
  }
  return out;
}

export interface PushFields {
  load: number;
  addr?: string;
  capacity?: number;
  attrs?: Attrs;
}

/** A RangeError for a name a master refuses (PUSH_CONTROL_CHARACTER). */
function refuseControl(s: unknown, what: string): void {
  const problem = typeof s === 'string' ? controlProblem(s, what) : undefined;
  if (problem !== undefined) throw new RangeError(`${problem}: a master refuses it`);
}

/**
 * The MessagePack payload of a PUSH_LOAD_INFO: `load` first, then addr, capacity, attributes.
 * Throws a RangeError for what a master would refuse by name: a reserved or `__proto__`
 * attribute key, a control character in addr or an attribute (src/protocol/names.ts).
 */
export function encodePushPayload(p: PushFields): Buffer {
  const entries: [string, unknown][] = [['load', p.load]];
  refuseControl(p.addr, 'addr');
  if (p.addr !== undefined) entries.push(['addr', p.addr]);
  if (p.capacity !== undefined) entries.push(['capacity', p.capacity]);
  if (p.attrs) {
    for (const [k, v] of Object.entries(p.attrs)) {
      if (k === 'load' || k === 'addr' || k === 'capacity') throw new RangeError(`attribute "${k}" would overwrite the field of that name`);
      if (k === FORBIDDEN_KEY) throw new RangeError(`attribute key "${k}" is not allowed (a master refuses it)`);
      refuseControl(k, 'an attribute key');
      refuseControl(v, `attribute ${JSON.stringify(k)}`);
      entries.push([k, v]);
    }
  }
  // fromEntries makes own properties for every key (plain assignment would run setters).
  return wirePackr.pack(Object.fromEntries(entries));
}

export function encodePush(p: PushFields): Buffer {
  return encodeFrame(MsgType.PUSH_LOAD_INFO, encodePushPayload(p));
}

export interface QueryFields {
  /** Echoed in the reply (a uint32). */
  id?: number;
  policy?: string;
  /** Attribute filters: only nodes whose attribute KEY has this value (compared as text). */
  where?: Readonly<Record<string, AttrValue>>;
}

/** A QUERY frame (docs/protocol.md "QUERY"): `{id?, policy?, where?}`, keys in that order. */
export function encodeQuery(q: QueryFields = {}): Buffer {
  const entries: [string, unknown][] = [];
  if (q.id !== undefined) entries.push(['id', q.id]);
  if (q.policy !== undefined) entries.push(['policy', q.policy]);
  if (q.where !== undefined) {
    const where = Object.entries(q.where);
    for (const [k] of where) if (k === FORBIDDEN_KEY) throw new RangeError(`filter key "${k}" is not allowed (a master refuses it)`);
    entries.push(['where', Object.fromEntries(where)]);
  }
  return encodeFrame(MsgType.QUERY, entries.length === 0 ? undefined : wirePackr.pack(Object.fromEntries(entries)));
}

/** A QUERY_REPLY frame: `{id?, ok, node, seq}` or `{id?, ok, code, error}`, keys in that order. */
export function encodeQueryReply(r: QueryReply): Buffer {
  const entries: [string, unknown][] = [];
  if (r.id !== undefined) entries.push(['id', r.id]);
  if (r.ok) {
    const { id, load, capacity, attrs } = r.node;
    entries.push(['ok', true], ['node', { id, load, capacity, attrs: Object.fromEntries(Object.entries(attrs)) }], ['seq', r.seq]);
  } else {
    entries.push(['ok', false], ['code', r.code], ['error', r.error]);
  }
  return encodeFrame(MsgType.QUERY_REPLY, wirePackr.pack(Object.fromEntries(entries)));
}
