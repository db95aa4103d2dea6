import { ErrorCode } from '../errors.js';
import type { AttrValue, Attrs, LoadInfo, PushLimits } from './messages.js';
import { printable } from '../format/text.js';
import { controlProblem, isSafeName } from './names.js';

/** Why a payload was refused: a stable code and a reason for the violation event. */
export interface PushRejection {
  code: ErrorCode;
  reason: string;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Strict UTF-8 (invalid bytes throw). Keys and addresses are nearly always ASCII, which
 * is also valid UTF-8 and Buffer decodes at half the cost of the fatal TextDecoder.
 */
function decodeUtf8(buf: Buffer, start: number, end: number): string {
  for (let i = start; i < end; i++) if (buf[i]! > 0x7f) return utf8.decode(buf.subarray(start, end));
  return buf.toString('latin1', start, end);
}

class Reject {
  constructor(
    readonly code: ErrorCode,
    readonly reason: string,
  ) {}
}

// host or host:port; IPv6 in brackets. Deliberately loose on the host (names, IPv4, IPv6),
// strict on what would break a client: whitespace, empty parts, a port out of range.
const ADDR_RE = /^(?:\[[0-9A-Fa-f:.%\w-]+\]|[^\s:[\]/]+)(?::(\d{1,5}))?$/;

/**
 * The one attribute key refused everywhere (wire, encoder, slave options, CLI): msgpackr,
 * which the event log is written with, decodes a "__proto__" key as "__proto_".
 */
export const FORBIDDEN_KEY = '__proto__';

/** The keys of a push that are fields, not attributes. */
const FIELDS: ReadonlySet<string> = new Set(['load', 'addr', 'capacity']);

/** A value echoed in a reason (which is logged and printed): JSON, escaped. */
const echo = (v: unknown): string => printable(JSON.stringify(v));

/**
 * The header of a MessagePack map at the start of `buf` (fixmap, map16, map32): its entry
 * count and where the entries start; 'short' when the header is cut; the first byte when it
 * is not a map. Shared by the strict readers (push, GOODBYE).
 */
export function mapHeader(buf: Buffer): { count: number; pos: number } | 'short' | number {
  const first = buf[0]!;
  if (first >= 0x80 && first <= 0x8f) return { count: first & 0x0f, pos: 1 };
  if (first === 0xde) return buf.length < 3 ? 'short' : { count: buf.readUInt16BE(1), pos: 3 };
  if (first === 0xdf) return buf.length < 5 ? 'short' : { count: buf.readUInt32BE(1), pos: 5 };
  return first;
}

/** host or host:port (IPv6 in brackets), with no control or bidi character (src/protocol/names.ts). */
export function isValidAddr(addr: string): boolean {
  return hasAddrShape(addr) && isSafeName(addr);
}

/** host or host:port, whatever characters the host holds. */
function hasAddrShape(addr: string): boolean {
  const m = ADDR_RE.exec(addr);
  if (!m) return false;
  return m[1] === undefined || Number(m[1]) <= 65535;
}

/**
 * Decodes and validates a PUSH_LOAD_INFO payload: a MessagePack map with string keys
 * (fixmap, map16 or map32), values string / number / boolean, within `limits`.
 * A small strict reader rather than a general MessagePack decoder: it checks every
 * length against the limits before touching the bytes, refuses trailing bytes, duplicate
 * keys and nested values, and never builds objects it is going to refuse.
 */
export function decodePush(buf: Uint8Array, limits: PushLimits): LoadInfo | PushRejection {
  try {
    return readPush(buf, limits);
  } catch (e) {
    if (e instanceof Reject) return { code: e.code, reason: e.reason };
    throw e;
  }
}

export function isRejection(x: LoadInfo | PushRejection): x is PushRejection {
  return (x as PushRejection).code !== undefined;
}

function readPush(bytes: Uint8Array, limits: PushLimits): LoadInfo {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let pos = 0;
  const need = (n: number): void => {
    if (pos + n > buf.length) throw new Reject(ErrorCode.PUSH_MALFORMED, 'MessagePack data ends early');
  };
  if (buf.length === 0) throw new Reject(ErrorCode.PUSH_NOT_MAP, 'payload is empty, expected a MessagePack map');
  const head = mapHeader(buf);
  if (head === 'short') throw new Reject(ErrorCode.PUSH_MALFORMED, 'MessagePack data ends early');
  if (typeof head === 'number')
    throw new Reject(ErrorCode.PUSH_NOT_MAP, `payload is not a MessagePack map (first byte 0x${head.toString(16).padStart(2, '0')})`);
  const count = head.count;
  pos = head.pos;
  // Each entry takes at least two bytes: refuse an absurd count before looping over it.
  if (count * 2 > buf.length - pos) throw new Reject(ErrorCode.PUSH_MALFORMED, `map claims ${count} entries, more than the payload holds`);

  /** `of`: the key whose value this is (for the reason of a refusal). */
  const readStr = (what: 'key' | 'value', max: number, of?: string): string => {
    need(1);
    const b = buf[pos]!;
    let len: number;
    if (b >= 0xa0 && b <= 0xbf) {
      len = b & 0x1f;
      pos += 1;
    } else if (b === 0xd9) {
      need(2);
      len = buf[pos + 1]!;
      pos += 2;
    } else if (b === 0xda) {
      need(3);
      len = view.getUint16(pos + 1);
      pos += 3;
    } else if (b === 0xdb) {
      need(5);
      len = view.getUint32(pos + 1);
      pos += 5;
    } else {
      throw new Reject(ErrorCode.PUSH_BAD_KEY, `map key is not a string (byte 0x${b.toString(16).padStart(2, '0')})`);
    }
    if (len > max) {
      throw new Reject(
        what === 'key' ? ErrorCode.PUSH_KEY_TOO_LONG : ErrorCode.PUSH_VALUE_TOO_LONG,
        `${what} of ${len} bytes exceeds the limit of ${max}`,
      );
    }
    need(len);
    let s: string;
    try {
      s = decodeUtf8(buf, pos, pos + len);
    } catch {
      throw new Reject(ErrorCode.PUSH_MALFORMED, `${what} is not valid UTF-8`);
    }
    pos += len;
    // No name in the table may hold a control character: it would reach operators' terminals.
    // (The fields are checked for their type and shape first: a string load, a tab in addr,
    // were always PUSH_BAD_LOAD, PUSH_BAD_ADDR.)
    if (!(of !== undefined && FIELDS.has(of)) && !isSafeName(s))
      throw new Reject(
        ErrorCode.PUSH_CONTROL_CHARACTER,
        controlProblem(s, of === undefined ? 'a key' : `the value of ${JSON.stringify(of)}`)!,
      );
    return s;
  };

  const readValue = (key: string): AttrValue => {
    need(1);
    const b = buf[pos]!;
    if (b <= 0x7f) return (pos++, b);
    if (b >= 0xe0) return (pos++, b - 0x100);
    if ((b >= 0xa0 && b <= 0xbf) || (b >= 0xd9 && b <= 0xdb)) {
      // readStr reports the type byte; values are checked against the value limit
      return readStr('value', limits.maxStringBytes, key);
    }
    pos += 1;
    switch (b) {
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xca:
        need(4);
        pos += 4;
        return view.getFloat32(pos - 4);
      case 0xcb:
        need(8);
        pos += 8;
        return view.getFloat64(pos - 8);
      case 0xcc:
        need(1);
        pos += 1;
        return view.getUint8(pos - 1);
      case 0xcd:
        need(2);
        pos += 2;
        return view.getUint16(pos - 2);
      case 0xce:
        need(4);
        pos += 4;
        return view.getUint32(pos - 4);
      case 0xcf:
        need(8);
        pos += 8;
        return Number(view.getBigUint64(pos - 8));
      case 0xd0:
        need(1);
        pos += 1;
        return view.getInt8(pos - 1);
      case 0xd1:
        need(2);
        pos += 2;
        return view.getInt16(pos - 2);
      case 0xd2:
        need(4);
        pos += 4;
        return view.getInt32(pos - 4);
      case 0xd3:
        need(8);
        pos += 8;
        return Number(view.getBigInt64(pos - 8));
      default:
        throw new Reject(
          key === 'load'
            ? ErrorCode.PUSH_BAD_LOAD
            : key === 'capacity'
              ? ErrorCode.PUSH_BAD_CAPACITY
              : key === 'addr'
                ? ErrorCode.PUSH_BAD_ADDR
                : ErrorCode.PUSH_BAD_ATTR,
          `value of "${key}" must be a string, number or boolean (byte 0x${b.toString(16).padStart(2, '0')})`,
        );
    }
  };

  let load: number | undefined;
  let addr: string | undefined;
  let capacity: number | undefined;
  const attrs: Attrs = Object.create(null) as Attrs;
  const seen = new Set<string>();
  let nAttrs = 0;
  for (let i = 0; i < count; i++) {
    const key = readStr('key', limits.maxKeyBytes);
    // The log's MessagePack decoder (msgpackr) reads a "__proto__" key back as "__proto_",
    // so a replay would differ from the live state: refuse it on the wire.
    if (key === FORBIDDEN_KEY) throw new Reject(ErrorCode.PUSH_BAD_KEY, `key "${FORBIDDEN_KEY}" is not allowed`);
    if (seen.has(key)) throw new Reject(ErrorCode.PUSH_MALFORMED, `duplicate key "${key}"`);
    seen.add(key);
    const value = readValue(key);
    if (key === 'load') {
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
        throw new Reject(ErrorCode.PUSH_BAD_LOAD, `"load" must be a finite number ≥ 0, got ${echo(value)}`);
      }
      load = value + 0; // -0 → 0, as the log would give it back on replay
    } else if (key === 'capacity') {
      if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
        throw new Reject(ErrorCode.PUSH_BAD_CAPACITY, `"capacity" must be a finite number > 0, got ${echo(value)}`);
      }
      capacity = value;
    } else if (key === 'addr') {
      if (typeof value !== 'string' || !hasAddrShape(value)) {
        throw new Reject(ErrorCode.PUSH_BAD_ADDR, `"addr" must be host or host:port, got ${echo(value)}`);
      }
      if (!isSafeName(value)) throw new Reject(ErrorCode.PUSH_CONTROL_CHARACTER, controlProblem(value, '"addr"')!);
      addr = value;
    } else {
      if (++nAttrs > limits.maxAttrs) throw new Reject(ErrorCode.PUSH_TOO_MANY_ATTRS, `more than ${limits.maxAttrs} attributes`);
      if (typeof value === 'number' && !Number.isFinite(value)) {
        throw new Reject(ErrorCode.PUSH_BAD_ATTR, `attribute "${key}" is not a finite number`);
      }
      attrs[key] = typeof value === 'number' ? value + 0 : value; // -0 → 0, as for load
    }
  }
  if (pos !== buf.length) throw new Reject(ErrorCode.PUSH_MALFORMED, `${buf.length - pos} bytes after the map`);
  if (load === undefined) throw new Reject(ErrorCode.PUSH_BAD_LOAD, '"load" is missing');
  const info: LoadInfo = { load, attrs };
  if (addr !== undefined) info.addr = addr;
  if (capacity !== undefined) info.capacity = capacity;
  return info;
}
