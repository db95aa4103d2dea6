import { Unpackr } from 'msgpackr';
import { ErrorCode } from '../errors.js';
import { controlProblem } from './names.js';
import { FORBIDDEN_KEY } from './push.js';
import {
  QUERY_MAX_FILTERS,
  QUERY_MAX_KEY_BYTES,
  QUERY_MAX_STRING_BYTES,
  type AttrValue,
  type Attrs,
  type Query,
  type QueryReply,
} from './messages.js';

/** A QUERY (or QUERY_REPLY) payload that is not readable MessagePack of the right shape. */
export interface QueryRejection {
  code: ErrorCode;
  reason: string;
}

export function isQueryRejection<T extends object>(x: T | QueryRejection): x is QueryRejection {
  // `reason`, not `code`: an ok:false QueryReply has a code too
  return (x as QueryRejection).reason !== undefined;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const hex = (b: number): string => `0x${b.toString(16).padStart(2, '0')}`;
/** Nesting deeper than this inside a QUERY is refused as malformed (it is never needed). */
const MAX_DEPTH = 8;
const MAX_ID = 0xffffffff;

/** Bytes that are not a readable QUERY: the connection is closed (QUERY_MALFORMED). */
class Malformed {
  constructor(readonly reason: string) {}
}

/** A value of a kind QUERY never takes (nil, array, nested map, bin, ext): skipped, then refused. */
class Other {
  constructor(readonly kind: string) {}
}
type Value = AttrValue | Other;

const describe = (v: Value): string =>
  v instanceof Other ? v.kind : typeof v === 'string' ? `string ${JSON.stringify(v)}` : `${typeof v} ${String(v)}`;

/**
 * Reads a QUERY payload (docs/protocol.md "QUERY"): empty, or a MessagePack map with string
 * keys `id` (uint32), `policy` (string) and `where` (a map of attribute filters, string
 * keys, string / number / boolean values).
 *
 * Two kinds of wrong, on purpose:
 * - bytes that are not MessagePack, or not a map, or a map with a non-string or duplicate
 *   key, invalid UTF-8, trailing bytes, nesting deeper than 8: a QueryRejection
 *   (QUERY_MALFORMED) — the connection is closed, as for a malformed push;
 * - well-formed MessagePack that asks for something that cannot be answered (a key QUERY
 *   does not take, a value of the wrong type, `__proto__`, a limit broken): a Query with
 *   `invalid` set (the first problem), which the master answers with BAD_ARGUMENT on a
 *   connection that stays. Its `id` is kept when it was valid, so the reply can echo it.
 *
 * Every length is checked against what is left of the payload before a byte is read, and
 * strings over the limits are skipped, never decoded.
 */
export function decodeQuery(bytes: Uint8Array): Query | QueryRejection {
  if (bytes.length === 0) return { where: [] };
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    return new QueryReader(buf).read();
  } catch (e) {
    if (e instanceof Malformed) return { code: ErrorCode.QUERY_MALFORMED, reason: e.reason };
    throw e;
  }
}

class QueryReader {
  private pos = 0;
  private invalid: string | undefined;

  constructor(private readonly buf: Buffer) {}

  read(): Query {
    const first = this.buf[0]!;
    const count = this.mapHeader();
    if (count === undefined) throw new Malformed(`payload is neither empty nor a MessagePack map (first byte ${hex(first)})`);
    let id: number | undefined;
    let policy: string | undefined;
    let where: Array<[string, AttrValue]> = [];
    const seen = new Set<string>();
    for (let i = 0; i < count; i++) {
      const key = this.key(seen);
      if (key === 'where' && this.isMap()) {
        where = this.where();
        continue;
      }
      const v = this.value(0);
      if (key === undefined) continue; // already refused (too long, __proto__)
      if (key === 'id') {
        if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= MAX_ID) id = v;
        else this.refuse(`"id" must be an integer from 0 to ${MAX_ID} (got ${describe(v)})`);
      } else if (key === 'policy') {
        if (typeof v === 'string') policy = v;
        else this.refuse(`"policy" must be a string (got ${describe(v)})`);
      } else if (key === 'where') {
        this.refuse(`"where" must be a map of attribute filters (got ${describe(v)})`);
      } else {
        this.refuse(`QUERY takes the keys id, policy and where (got ${JSON.stringify(key)})`);
      }
    }
    if (this.pos !== this.buf.length) throw new Malformed(`${this.buf.length - this.pos} bytes after the map`);
    const q: Query = { where };
    if (id !== undefined) q.id = id;
    if (this.invalid !== undefined) q.invalid = this.invalid;
    else if (policy !== undefined) q.policy = policy;
    return q;
  }

  private where(): Array<[string, AttrValue]> {
    const count = this.mapHeader()!;
    if (count > QUERY_MAX_FILTERS) this.refuse(`"where" has ${count} filters, more than the limit of ${QUERY_MAX_FILTERS}`);
    const out: Array<[string, AttrValue]> = [];
    const seen = new Set<string>();
    for (let i = 0; i < count; i++) {
      const key = this.key(seen);
      const v = this.value(1);
      if (key === undefined) continue;
      const control =
        controlProblem(key, 'a filter key') ?? (typeof v === 'string' ? controlProblem(v, `filter ${JSON.stringify(key)}`) : undefined);
      if (control !== undefined) this.refuse(control);
      else if (v instanceof Other || (typeof v === 'number' && !Number.isFinite(v))) {
        this.refuse(`filter ${JSON.stringify(key)} must be a string, a finite number or a boolean (got ${describe(v)})`);
      } else {
        out.push([key, typeof v === 'number' ? v + 0 : v]);
      }
    }
    return out;
  }

  /** First problem wins: the reply names one. */
  private refuse(reason: string): void {
    this.invalid ??= reason;
  }

  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new Malformed('MessagePack data ends early');
  }

  private isMap(): boolean {
    this.need(1);
    const b = this.buf[this.pos]!;
    return (b >= 0x80 && b <= 0x8f) || b === 0xde || b === 0xdf;
  }

  /** Reads a map header: its entry count, or undefined (nothing read) when no map is here. */
  private mapHeader(): number | undefined {
    this.need(1);
    const b = this.buf[this.pos]!;
    let count: number;
    if (b >= 0x80 && b <= 0x8f) {
      count = b & 0x0f;
      this.pos += 1;
    } else if (b === 0xde) {
      this.need(3);
      count = this.buf.readUInt16BE(this.pos + 1);
      this.pos += 3;
    } else if (b === 0xdf) {
      this.need(5);
      count = this.buf.readUInt32BE(this.pos + 1);
      this.pos += 5;
    } else {
      return undefined;
    }
    // Each entry takes at least two bytes: refuse an absurd count before looping over it.
    if (count * 2 > this.buf.length - this.pos) throw new Malformed(`map claims ${count} entries, more than the payload holds`);
    return count;
  }

  /** A string's length (header consumed), or undefined (nothing read) when no string is here. */
  private strHeader(): number | undefined {
    this.need(1);
    const b = this.buf[this.pos]!;
    let len: number;
    if (b >= 0xa0 && b <= 0xbf) {
      len = b & 0x1f;
      this.pos += 1;
    } else if (b === 0xd9) {
      this.need(2);
      len = this.buf[this.pos + 1]!;
      this.pos += 2;
    } else if (b === 0xda) {
      this.need(3);
      len = this.buf.readUInt16BE(this.pos + 1);
      this.pos += 3;
    } else if (b === 0xdb) {
      this.need(5);
      len = this.buf.readUInt32BE(this.pos + 1);
      this.pos += 5;
    } else {
      return undefined;
    }
    this.need(len);
    return len;
  }

  private text(len: number, what: string): string {
    try {
      return utf8.decode(this.buf.subarray(this.pos, this.pos + len));
    } catch {
      throw new Malformed(`${what} is not valid UTF-8`);
    } finally {
      this.pos += len;
    }
  }

  /** A map key: undefined when it is refused (too long, `__proto__`) but readable. */
  private key(seen: Set<string>): string | undefined {
    this.need(1);
    const b = this.buf[this.pos]!;
    const len = this.strHeader();
    if (len === undefined) throw new Malformed(`map key is not a string (byte ${hex(b)})`);
    if (len > QUERY_MAX_KEY_BYTES) {
      // Not decoded: a duplicate among over-long keys is not looked for either.
      this.pos += len;
      this.refuse(`key of ${len} bytes exceeds the limit of ${QUERY_MAX_KEY_BYTES}`);
      return undefined;
    }
    const key = this.text(len, 'key');
    if (seen.has(key)) throw new Malformed(`duplicate key ${JSON.stringify(key)}`);
    seen.add(key);
    if (key === FORBIDDEN_KEY) {
      this.refuse(`key "${FORBIDDEN_KEY}" is not allowed`);
      return undefined;
    }
    return key;
  }

  /** Any MessagePack value: scalars as values, anything else skipped as Other. */
  private value(depth: number): Value {
    this.need(1);
    const buf = this.buf;
    const b = buf[this.pos]!;
    if (b <= 0x7f) return (this.pos++, b);
    if (b >= 0xe0) return (this.pos++, b - 0x100);
    const len = this.strHeader();
    if (len !== undefined) {
      if (len > QUERY_MAX_STRING_BYTES) {
        this.pos += len;
        this.refuse(`a string value of ${len} bytes exceeds the limit of ${QUERY_MAX_STRING_BYTES}`);
        return new Other('a string over the limit');
      }
      return this.text(len, 'string value');
    }
    const at = this.pos;
    this.pos += 1;
    const fixed = (n: number): number => (this.need(n), (this.pos += n), this.pos - n);
    switch (b) {
      case 0xc0:
        return new Other('nil');
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xca:
        return buf.readFloatBE(fixed(4));
      case 0xcb:
        return buf.readDoubleBE(fixed(8));
      case 0xcc:
        return buf.readUInt8(fixed(1));
      case 0xcd:
        return buf.readUInt16BE(fixed(2));
      case 0xce:
        return buf.readUInt32BE(fixed(4));
      case 0xcf:
        return Number(buf.readBigUInt64BE(fixed(8)));
      case 0xd0:
        return buf.readInt8(fixed(1));
      case 0xd1:
        return buf.readInt16BE(fixed(2));
      case 0xd2:
        return buf.readInt32BE(fixed(4));
      case 0xd3:
        return Number(buf.readBigInt64BE(fixed(8)));
      case 0xc4:
        return this.skip('bin', buf.readUInt8(fixed(1)));
      case 0xc5:
        return this.skip('bin', buf.readUInt16BE(fixed(2)));
      case 0xc6:
        return this.skip('bin', buf.readUInt32BE(fixed(4)));
      case 0xc7:
        return this.skip('ext', buf.readUInt8(fixed(1)) + 1);
      case 0xc8:
        return this.skip('ext', buf.readUInt16BE(fixed(2)) + 1);
      case 0xc9:
        return this.skip('ext', buf.readUInt32BE(fixed(4)) + 1);
      case 0xd4:
        return this.skip('ext', 2);
      case 0xd5:
        return this.skip('ext', 3);
      case 0xd6:
        return this.skip('ext', 5);
      case 0xd7:
        return this.skip('ext', 9);
      case 0xd8:
        return this.skip('ext', 17);
      default:
        break;
    }
    this.pos = at;
    const isMap = this.isMap();
    let n: number | undefined;
    if (isMap) {
      n = this.mapHeader()! * 2;
    } else if (b >= 0x90 && b <= 0x9f) {
      n = b & 0x0f;
      this.pos += 1;
    } else if (b === 0xdc) {
      this.need(3);
      n = buf.readUInt16BE(this.pos + 1);
      this.pos += 3;
    } else if (b === 0xdd) {
      this.need(5);
      n = buf.readUInt32BE(this.pos + 1);
      this.pos += 5;
    }
    if (n === undefined) throw new Malformed(`byte ${hex(b)} starts no MessagePack value`);
    if (n > buf.length - this.pos) throw new Malformed(`${isMap ? 'map' : 'array'} claims more entries than the payload holds`);
    if (depth >= MAX_DEPTH) throw new Malformed(`values nested deeper than ${MAX_DEPTH}`);
    for (let i = 0; i < n; i++) this.value(depth + 1);
    return new Other(isMap ? 'a map' : 'an array');
  }

  private skip(kind: string, n: number): Other {
    this.need(n);
    this.pos += n;
    return new Other(kind);
  }
}

// ---------------------------------------------------------------------------
// QUERY_REPLY, read by clients (src/client/query-client.ts)

const replyUnpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });
const REPLY_CODES = new Set(['NO_ELIGIBLE_NODE', 'MASTER_DOWN', 'BAD_ARGUMENT']);

const isObject = (x: unknown): x is Record<string, unknown> =>
  typeof x === 'object' && x !== null && !Array.isArray(x) && !(x instanceof Uint8Array);
const isAttr = (x: unknown): x is AttrValue =>
  typeof x === 'string' || typeof x === 'boolean' || (typeof x === 'number' && Number.isFinite(x));

/**
 * Reads a QUERY_REPLY payload (what a master sends; a client trusts its master less than
 * nothing: the shape is checked, and anything else is a QueryRejection).
 */
export function decodeQueryReply(bytes: Uint8Array): QueryReply | QueryRejection {
  const bad = (reason: string): QueryRejection => ({ code: ErrorCode.QUERY_MALFORMED, reason: `QUERY_REPLY ${reason}` });
  let r: unknown;
  try {
    r = replyUnpackr.unpack(bytes);
  } catch (e) {
    return bad(`is not MessagePack (${(e as Error).message})`);
  }
  if (!isObject(r)) return bad('is not a map');
  const id = r.id;
  if (id !== undefined && !(typeof id === 'number' && Number.isInteger(id) && id >= 0 && id <= MAX_ID)) return bad('has a bad "id"');
  const withId = <T extends object>(x: T): T & { id?: number } => (id === undefined ? x : { id, ...x });
  if (r.ok === true) {
    const n = r.node;
    if (!isObject(n) || typeof n.id !== 'string' || typeof n.load !== 'number' || typeof n.capacity !== 'number' || !isObject(n.attrs))
      return bad('has a bad "node"');
    if (typeof r.seq !== 'number') return bad('has a bad "seq"');
    const attrs: Attrs = {};
    for (const [k, v] of Object.entries(n.attrs)) {
      if (!isAttr(v)) return bad(`has a bad attribute ${JSON.stringify(k)}`);
      Object.defineProperty(attrs, k, { value: v, enumerable: true, writable: true, configurable: true });
    }
    return withId({ ok: true as const, node: { id: n.id, load: n.load, capacity: n.capacity, attrs }, seq: r.seq });
  }
  if (r.ok === false) {
    if (typeof r.code !== 'string' || !REPLY_CODES.has(r.code) || typeof r.error !== 'string') return bad('has a bad "code" or "error"');
    return withId({ ok: false as const, code: r.code as 'NO_ELIGIBLE_NODE', error: r.error });
  }
  return bad('has no boolean "ok"');
}
