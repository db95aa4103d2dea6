/**
 * Test helpers for the wire codec: a recording sink, a hand-rolled MessagePack
 * builder (so tests can produce encodings msgpackr never emits: map32, str32,
 * int64, float32...), and the table of payloads PROTOCOL.md says a master refuses.
 */
import { ErrorCode } from '../../src/errors.js';
import { FrameDecoder, type DecodeError } from '../../src/protocol/decoder.js';
import type { Frame, PushLimits } from '../../src/protocol/messages.js';

// ---------------------------------------------------------------------------
// Bytes

export type ByteLike = Uint8Array | readonly number[];

export function bytes(...parts: ByteLike[]): Buffer {
  return Buffer.concat(parts.map((p) => (p instanceof Uint8Array ? p : Buffer.from(p))));
}

/** "00 01 00 00" → bytes. */
export function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ''), 'hex');
}

/** A frame with an honest header: u16 type, u16 length, both big-endian. */
export function frame(type: number, payload: ByteLike = []): Buffer {
  const body = bytes(payload);
  const head = Buffer.alloc(4);
  head.writeUInt16BE(type, 0);
  head.writeUInt16BE(body.length, 2);
  return bytes(head, body);
}

/** Splits `buf` at the given offsets (any order, duplicates and out-of-range allowed). */
export function splitAt(buf: Uint8Array, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => Math.max(0, Math.min(buf.length, c))))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let start = 0;
  for (const p of [...points, buf.length]) {
    out.push(Buffer.from(buf.subarray(start, p)));
    start = p;
  }
  return out;
}

export function byteByByte(buf: Uint8Array): Buffer[] {
  return Array.from(buf, (b) => Buffer.from([b]));
}

// ---------------------------------------------------------------------------
// Decoding harness

export type DecodeEvent = { frame: Frame } | { error: DecodeError };

export interface DecodeResult {
  /** Frames and errors in the order the sink saw them. */
  events: DecodeEvent[];
  frames: Frame[];
  errors: DecodeError[];
  /** Largest `decoder.buffered` observed after any push. */
  maxBuffered: number;
  decoder: FrameDecoder;
}

/** Feeds `chunks` to a fresh FrameDecoder, one `push` per chunk, and records what it reports. */
export function decodeChunks(chunks: Iterable<Uint8Array>, limits?: Partial<PushLimits>): DecodeResult {
  const events: DecodeEvent[] = [];
  const decoder = new FrameDecoder(
    {
      frame: (f) => events.push({ frame: f }),
      error: (e) => events.push({ error: e }),
    },
    limits,
  );
  let maxBuffered = 0;
  for (const chunk of chunks) {
    decoder.push(chunk);
    maxBuffered = Math.max(maxBuffered, decoder.buffered);
  }
  return {
    events,
    frames: events.flatMap((e) => ('frame' in e ? [e.frame] : [])),
    errors: events.flatMap((e) => ('error' in e ? [e.error] : [])),
    maxBuffered,
    decoder,
  };
}

export function decodeAll(buf: Uint8Array, limits?: Partial<PushLimits>): DecodeResult {
  return decodeChunks([buf], limits);
}

/** Frames and error codes only: what must not depend on how the bytes were cut. */
export function outcome(r: DecodeResult): Array<Frame | { error: ErrorCode }> {
  return r.events.map((e) => ('frame' in e ? e.frame : { error: e.error.code }));
}

// ---------------------------------------------------------------------------
// A minimal MessagePack writer (spec: github.com/msgpack/msgpack/blob/master/spec.md)

function be(size: 1 | 2 | 4, n: number): Buffer {
  const b = Buffer.alloc(size);
  if (size === 1) b.writeUInt8(n);
  else if (size === 2) b.writeUInt16BE(n);
  else b.writeUInt32BE(n);
  return b;
}

const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');

export const mp = {
  nil: bytes([0xc0]),
  false: bytes([0xc2]),
  true: bytes([0xc3]),
  fixint: (n: number): Buffer => bytes([n & 0xff]), // 0..127 or -32..-1
  uint8: (n: number): Buffer => bytes([0xcc], be(1, n)),
  uint16: (n: number): Buffer => bytes([0xcd], be(2, n)),
  uint32: (n: number): Buffer => bytes([0xce], be(4, n)),
  uint64: (n: bigint): Buffer => {
    const b = Buffer.alloc(9);
    b[0] = 0xcf;
    b.writeBigUInt64BE(n, 1);
    return b;
  },
  int8: (n: number): Buffer => {
    const b = Buffer.alloc(2);
    b[0] = 0xd0;
    b.writeInt8(n, 1);
    return b;
  },
  int16: (n: number): Buffer => {
    const b = Buffer.alloc(3);
    b[0] = 0xd1;
    b.writeInt16BE(n, 1);
    return b;
  },
  int32: (n: number): Buffer => {
    const b = Buffer.alloc(5);
    b[0] = 0xd2;
    b.writeInt32BE(n, 1);
    return b;
  },
  int64: (n: bigint): Buffer => {
    const b = Buffer.alloc(9);
    b[0] = 0xd3;
    b.writeBigInt64BE(n, 1);
    return b;
  },
  float32: (n: number): Buffer => {
    const b = Buffer.alloc(5);
    b[0] = 0xca;
    b.writeFloatBE(n, 1);
    return b;
  },
  float64: (n: number): Buffer => {
    const b = Buffer.alloc(9);
    b[0] = 0xcb;
    b.writeDoubleBE(n, 1);
    return b;
  },
  /** The shortest string header for the UTF-8 bytes of `s`. */
  str: (s: string): Buffer => {
    const b = utf8(s);
    if (b.length < 32) return bytes([0xa0 | b.length], b);
    if (b.length < 0x100) return bytes([0xd9], be(1, b.length), b);
    if (b.length < 0x10000) return bytes([0xda], be(2, b.length), b);
    return bytes([0xdb], be(4, b.length), b);
  },
  str8: (s: string | Uint8Array): Buffer => {
    const b = typeof s === 'string' ? utf8(s) : s;
    return bytes([0xd9], be(1, b.length), b);
  },
  str16: (s: string | Uint8Array): Buffer => {
    const b = typeof s === 'string' ? utf8(s) : s;
    return bytes([0xda], be(2, b.length), b);
  },
  str32: (s: string | Uint8Array): Buffer => {
    const b = typeof s === 'string' ? utf8(s) : s;
    return bytes([0xdb], be(4, b.length), b);
  },
  /** A fixstr around raw bytes, valid UTF-8 or not. */
  rawstr: (b: ByteLike): Buffer => bytes([0xa0 | b.length], b),
  bin8: (b: ByteLike): Buffer => bytes([0xc4, b.length], b),
  fixext1: (type: number, data: number): Buffer => bytes([0xd4, type & 0xff, data]),
  fixmapHeader: (n: number): Buffer => bytes([0x80 | n]),
  map16Header: (n: number): Buffer => bytes([0xde], be(2, n)),
  map32Header: (n: number): Buffer => bytes([0xdf], be(4, n)),
  fixarray: (...items: ByteLike[]): Buffer => bytes([0x90 | items.length], ...items),
  /** A map from [key, value] pairs of pre-encoded bytes, with the shortest header (keys given as strings are encoded with `str`). */
  map: (entries: ReadonlyArray<readonly [string | ByteLike, ByteLike]>): Buffer => {
    const n = entries.length;
    const head = n < 16 ? bytes([0x80 | n]) : n < 0x10000 ? bytes([0xde], be(2, n)) : bytes([0xdf], be(4, n));
    return bytes(head, ...entries.flatMap(([k, v]) => [typeof k === 'string' ? mp.str(k) : k, v]));
  },
};

// ---------------------------------------------------------------------------
// Payloads PROTOCOL.md says a master refuses, with the code the decoder reports.

export interface BadPayload {
  name: string;
  payload: Buffer;
  code: ErrorCode;
}

const load1: readonly [string, Buffer] = ['load', mp.fixint(1)];
/**
 * One character of each class a master refuses in names (src/protocol/names.ts): C0, DEL,
 * C1 and the bidi controls. The test of names.ts holds the exact sets.
 */
export const CONTROL_SAMPLES: ReadonlyArray<readonly [string, string]> = [
  ['NUL', '\u0000'],
  ['BEL', '\u0007'],
  ['BS', '\b'],
  ['TAB', '\t'],
  ['LF', '\n'],
  ['CR', '\r'],
  ['ESC', '\u001b'],
  ['U+001F', '\u001f'],
  ['DEL', '\u007f'],
  ['C1 U+0080', '\u0080'],
  ['C1 NEL U+0085', '\u0085'],
  ['C1 CSI U+009B', '\u009b'],
  ['C1 U+009F', '\u009f'],
  ['ALM U+061C', '\u061c'],
  ['LRM U+200E', '\u200e'],
  ['RLM U+200F', '\u200f'],
  ['LRE U+202A', '\u202a'],
  ['RLO U+202E', '\u202e'],
  ['LRI U+2066', '\u2066'],
  ['PDI U+2069', '\u2069'],
];

const withLoad = (...entries: Array<readonly [string | ByteLike, ByteLike]>): Buffer => mp.map([load1, ...entries]);
const attrs = (n: number): Array<readonly [string, Buffer]> => Array.from({ length: n }, (_, i) => [`a${i}`, mp.fixint(i)] as const);

export const BAD_PAYLOADS: readonly BadPayload[] = [
  // not a map
  { name: 'empty payload', payload: bytes([]), code: ErrorCode.PUSH_NOT_MAP },
  { name: 'array holding a map', payload: mp.fixarray(mp.map([load1])), code: ErrorCode.PUSH_NOT_MAP },
  { name: 'array16', payload: bytes([0xdc, 0x00, 0x01, 0x01]), code: ErrorCode.PUSH_NOT_MAP },
  { name: 'string', payload: mp.str('load'), code: ErrorCode.PUSH_NOT_MAP },
  { name: 'positive fixint', payload: mp.fixint(42), code: ErrorCode.PUSH_NOT_MAP },
  { name: 'uint32', payload: mp.uint32(42), code: ErrorCode.PUSH_NOT_MAP },
  { name: 'nil', payload: mp.nil, code: ErrorCode.PUSH_NOT_MAP },
  { name: 'true', payload: mp.true, code: ErrorCode.PUSH_NOT_MAP },
  { name: 'float64', payload: mp.float64(1), code: ErrorCode.PUSH_NOT_MAP },

  // load
  { name: 'empty map (no load)', payload: mp.map([]), code: ErrorCode.PUSH_BAD_LOAD },
  { name: 'capacity but no load', payload: mp.map([['capacity', mp.fixint(1)]]), code: ErrorCode.PUSH_BAD_LOAD },
  {
    name: 'addr and attributes but no load',
    payload: mp.map([
      ['addr', mp.str('h:1')],
      ['zone', mp.str('a')],
    ]),
    code: ErrorCode.PUSH_BAD_LOAD,
  },
  { name: 'load under another case ("Load")', payload: mp.map([['Load', mp.fixint(1)]]), code: ErrorCode.PUSH_BAD_LOAD },
  { name: 'load -1 (negative fixint)', payload: mp.map([['load', mp.fixint(-1)]]), code: ErrorCode.PUSH_BAD_LOAD },
  { name: 'load -100 (int8)', payload: mp.map([['load', mp.int8(-100)]]), code: ErrorCode.PUSH_BAD_LOAD },
  { name: 'load -70000 (int32)', payload: mp.map([['load', mp.int32(-70000)]]), code: ErrorCode.PUSH_BAD_LOAD },
  { name: 'load -2^40 (int64)', payload: mp.map([['load', mp.int64(-(2n ** 40n))]]), code: ErrorCode.PUSH_BAD_LOAD },
  { name: 'load -0.5 (float64)', payload: mp.map([['load', mp.float64(-0.5)]]), code: ErrorCode.PUSH_BAD_LOAD },
  { name: 'load -tiny (float64)', payload: mp.map([['load', mp.float64(-Number.MIN_VALUE)]]), code: ErrorCode.PUSH_BAD_LOAD },
  { name: 'load NaN (float64)', payload: mp.map([['load', mp.float64(NaN)]]), code: ErrorCode.PUSH_BAD_LOAD },
  { name: 'load NaN (float32)', payload: mp.map([['load', mp.float32(NaN)]]), code: ErrorCode.PUSH_BAD_LOAD },
  { name: 'load +Infinity', payload: mp.map([['load', mp.float64(Infinity)]]), code: ErrorCode.PUSH_BAD_LOAD },
  { name: 'load -Infinity', payload: mp.map([['load', mp.float64(-Infinity)]]), code: ErrorCode.PUSH_BAD_LOAD },
  { name: 'load +Infinity (float32)', payload: mp.map([['load', mp.float32(Infinity)]]), code: ErrorCode.PUSH_BAD_LOAD },
  { name: 'load as string "42"', payload: mp.map([['load', mp.str('42')]]), code: ErrorCode.PUSH_BAD_LOAD },
  { name: 'load nil', payload: mp.map([['load', mp.nil]]), code: ErrorCode.PUSH_BAD_LOAD },
  { name: 'load true', payload: mp.map([['load', mp.true]]), code: ErrorCode.PUSH_BAD_LOAD },
  { name: 'load as a map', payload: mp.map([['load', mp.map([['v', mp.fixint(1)]])]]), code: ErrorCode.PUSH_BAD_LOAD },
  { name: 'load as an array', payload: mp.map([['load', mp.fixarray(mp.fixint(1))]]), code: ErrorCode.PUSH_BAD_LOAD },
  { name: 'load as bin', payload: mp.map([['load', mp.bin8([1])]]), code: ErrorCode.PUSH_BAD_LOAD },

  // capacity
  { name: 'capacity 0', payload: withLoad(['capacity', mp.fixint(0)]), code: ErrorCode.PUSH_BAD_CAPACITY },
  { name: 'capacity 0.0', payload: withLoad(['capacity', mp.float64(0)]), code: ErrorCode.PUSH_BAD_CAPACITY },
  { name: 'capacity -0.0', payload: withLoad(['capacity', mp.float64(-0)]), code: ErrorCode.PUSH_BAD_CAPACITY },
  { name: 'capacity -1', payload: withLoad(['capacity', mp.fixint(-1)]), code: ErrorCode.PUSH_BAD_CAPACITY },
  { name: 'capacity -2.5', payload: withLoad(['capacity', mp.float64(-2.5)]), code: ErrorCode.PUSH_BAD_CAPACITY },
  { name: 'capacity NaN', payload: withLoad(['capacity', mp.float64(NaN)]), code: ErrorCode.PUSH_BAD_CAPACITY },
  { name: 'capacity Infinity', payload: withLoad(['capacity', mp.float64(Infinity)]), code: ErrorCode.PUSH_BAD_CAPACITY },
  { name: 'capacity as string', payload: withLoad(['capacity', mp.str('2')]), code: ErrorCode.PUSH_BAD_CAPACITY },
  { name: 'capacity nil', payload: withLoad(['capacity', mp.nil]), code: ErrorCode.PUSH_BAD_CAPACITY },
  { name: 'capacity as a map', payload: withLoad(['capacity', mp.map([])]), code: ErrorCode.PUSH_BAD_CAPACITY },

  // keys
  { name: 'integer key', payload: withLoad([mp.fixint(1), mp.fixint(1)]), code: ErrorCode.PUSH_BAD_KEY },
  { name: 'nil key', payload: withLoad([mp.nil, mp.fixint(1)]), code: ErrorCode.PUSH_BAD_KEY },
  { name: 'boolean key', payload: withLoad([mp.true, mp.fixint(1)]), code: ErrorCode.PUSH_BAD_KEY },
  { name: 'bin key "load"', payload: mp.map([[mp.bin8(Buffer.from('load')), mp.fixint(1)]]), code: ErrorCode.PUSH_BAD_KEY },
  { name: 'map key', payload: withLoad([mp.map([]), mp.fixint(1)]), code: ErrorCode.PUSH_BAD_KEY },
  { name: 'float key before load', payload: mp.map([[mp.float64(1), mp.fixint(1)], load1]), code: ErrorCode.PUSH_BAD_KEY },
  // msgpackr (the event log) decodes a "__proto__" key as "__proto_": replay would differ from the live state.
  { name: 'key "__proto__"', payload: withLoad(['__proto__', mp.str('x')]), code: ErrorCode.PUSH_BAD_KEY },
  { name: 'key "__proto__" before load', payload: mp.map([['__proto__', mp.fixint(1)], load1]), code: ErrorCode.PUSH_BAD_KEY },
  { name: 'key of 65 ASCII bytes', payload: withLoad(['k'.repeat(65), mp.fixint(1)]), code: ErrorCode.PUSH_KEY_TOO_LONG },
  {
    name: 'key of 66 bytes in 33 two-byte characters',
    payload: withLoad(['é'.repeat(33), mp.fixint(1)]),
    code: ErrorCode.PUSH_KEY_TOO_LONG,
  },
  // The limit is checked on the header, before the (absent) bytes are needed.
  {
    name: 'key claiming 2^32-1 bytes (str32)',
    payload: bytes(mp.fixmapHeader(1), [0xdb, 0xff, 0xff, 0xff, 0xff], [0x01]),
    code: ErrorCode.PUSH_KEY_TOO_LONG,
  },

  // values
  { name: 'string attribute of 257 bytes', payload: withLoad(['zone', mp.str('v'.repeat(257))]), code: ErrorCode.PUSH_VALUE_TOO_LONG },
  {
    name: 'string attribute of 258 bytes in 129 two-byte characters',
    payload: withLoad(['zone', mp.str('é'.repeat(129))]),
    code: ErrorCode.PUSH_VALUE_TOO_LONG,
  },
  { name: 'addr of 257 bytes', payload: withLoad(['addr', mp.str('h'.repeat(257))]), code: ErrorCode.PUSH_VALUE_TOO_LONG },
  {
    name: 'value claiming 2^32-1 bytes (str32)',
    payload: bytes(mp.fixmapHeader(1), mp.str('zone'), [0xdb, 0xff, 0xff, 0xff, 0xff]),
    code: ErrorCode.PUSH_VALUE_TOO_LONG,
  },
  { name: '33 attributes', payload: withLoad(...attrs(33)), code: ErrorCode.PUSH_TOO_MANY_ATTRS },
  {
    name: '33 attributes besides load, addr and capacity',
    payload: withLoad(['addr', mp.str('h')], ['capacity', mp.fixint(1)], ...attrs(33)),
    code: ErrorCode.PUSH_TOO_MANY_ATTRS,
  },
  { name: 'nested map attribute', payload: withLoad(['zone', mp.map([['a', mp.fixint(1)]])]), code: ErrorCode.PUSH_BAD_ATTR },
  { name: 'empty nested map attribute', payload: withLoad(['zone', mp.map([])]), code: ErrorCode.PUSH_BAD_ATTR },
  { name: 'nested array attribute', payload: withLoad(['zones', mp.fixarray(mp.str('a'), mp.str('b'))]), code: ErrorCode.PUSH_BAD_ATTR },
  { name: 'map16 attribute', payload: withLoad(['zone', mp.map16Header(0)]), code: ErrorCode.PUSH_BAD_ATTR },
  { name: 'nil attribute', payload: withLoad(['zone', mp.nil]), code: ErrorCode.PUSH_BAD_ATTR },
  { name: 'bin attribute', payload: withLoad(['zone', mp.bin8([0x61])]), code: ErrorCode.PUSH_BAD_ATTR },
  { name: 'ext attribute', payload: withLoad(['zone', mp.fixext1(1, 0)]), code: ErrorCode.PUSH_BAD_ATTR },
  { name: 'never-used byte 0xc1 as attribute', payload: withLoad(['zone', [0xc1]]), code: ErrorCode.PUSH_BAD_ATTR },
  { name: 'NaN attribute', payload: withLoad(['temp', mp.float64(NaN)]), code: ErrorCode.PUSH_BAD_ATTR },
  { name: 'Infinity attribute', payload: withLoad(['temp', mp.float32(-Infinity)]), code: ErrorCode.PUSH_BAD_ATTR },

  // addr
  { name: 'empty addr', payload: withLoad(['addr', mp.str('')]), code: ErrorCode.PUSH_BAD_ADDR },
  { name: 'addr with a space', payload: withLoad(['addr', mp.str('my host:80')]), code: ErrorCode.PUSH_BAD_ADDR },
  { name: 'addr with a trailing space', payload: withLoad(['addr', mp.str('host ')]), code: ErrorCode.PUSH_BAD_ADDR },
  { name: 'addr with a tab', payload: withLoad(['addr', mp.str('host\t:80')]), code: ErrorCode.PUSH_BAD_ADDR },
  { name: 'addr with port 70000', payload: withLoad(['addr', mp.str('host:70000')]), code: ErrorCode.PUSH_BAD_ADDR },
  { name: 'addr with port 65536', payload: withLoad(['addr', mp.str('10.0.0.1:65536')]), code: ErrorCode.PUSH_BAD_ADDR },
  { name: 'addr with a six-digit port', payload: withLoad(['addr', mp.str('host:123456')]), code: ErrorCode.PUSH_BAD_ADDR },
  { name: 'addr with an empty port', payload: withLoad(['addr', mp.str('host:')]), code: ErrorCode.PUSH_BAD_ADDR },
  { name: 'addr with an empty host', payload: withLoad(['addr', mp.str(':80')]), code: ErrorCode.PUSH_BAD_ADDR },
  { name: 'addr with a non-numeric port', payload: withLoad(['addr', mp.str('host:http')]), code: ErrorCode.PUSH_BAD_ADDR },
  { name: 'addr as an unbracketed IPv6', payload: withLoad(['addr', mp.str('::1')]), code: ErrorCode.PUSH_BAD_ADDR },
  { name: 'addr with an unclosed bracket', payload: withLoad(['addr', mp.str('[::1:80')]), code: ErrorCode.PUSH_BAD_ADDR },
  { name: 'addr as a URL', payload: withLoad(['addr', mp.str('http://host/')]), code: ErrorCode.PUSH_BAD_ADDR },
  { name: 'addr as a number', payload: withLoad(['addr', mp.fixint(42)]), code: ErrorCode.PUSH_BAD_ADDR },
  { name: 'addr as a boolean', payload: withLoad(['addr', mp.true]), code: ErrorCode.PUSH_BAD_ADDR },
  { name: 'addr nil', payload: withLoad(['addr', mp.nil]), code: ErrorCode.PUSH_BAD_ADDR },
  { name: 'addr as an array', payload: withLoad(['addr', mp.fixarray(mp.str('h'))]), code: ErrorCode.PUSH_BAD_ADDR },

  // control and bidi characters (src/protocol/names.ts): each class, in addr, a key and a value
  ...CONTROL_SAMPLES.flatMap(([what, c]) => [
    // whitespace (tab, newline) never had the shape of an addr: that code stays
    {
      name: `${what} in addr`,
      payload: withLoad(['addr', mp.str(`node${c}1:80`)]),
      code: /\s/.test(c) ? ErrorCode.PUSH_BAD_ADDR : ErrorCode.PUSH_CONTROL_CHARACTER,
    },
    { name: `${what} in a key`, payload: withLoad([`zo${c}ne`, mp.str('eu-1')]), code: ErrorCode.PUSH_CONTROL_CHARACTER },
    { name: `${what} in a string value`, payload: withLoad(['zone', mp.str(`eu${c}-1`)]), code: ErrorCode.PUSH_CONTROL_CHARACTER },
  ]),
  {
    name: 'backspaces making one addr display as another',
    payload: withLoad(['addr', mp.str('10.0.0.66\b\b\b\b\b\b\b\b\b10.0.0.5')]),
    code: ErrorCode.PUSH_CONTROL_CHARACTER,
  },
  {
    name: 'a terminal title sequence (ESC ]0;TITLE BEL) in a value',
    payload: withLoad(['zone', mp.str('\x1b]0;owned\x07')]),
    code: ErrorCode.PUSH_CONTROL_CHARACTER,
  },
  {
    name: 'a control character in a str16 value, after 300 safe bytes',
    payload: withLoad(['note', mp.str16(`${'a'.repeat(250)}\x1b`)]),
    code: ErrorCode.PUSH_CONTROL_CHARACTER,
  },
  {
    name: 'a control character in a key before load',
    payload: mp.map([['\u202ez', mp.fixint(1)], load1]),
    code: ErrorCode.PUSH_CONTROL_CHARACTER,
  },
  // a field of the wrong type or shape keeps the code it always had
  { name: 'load as a string holding ESC', payload: mp.map([['load', mp.str('4\x1b2')]]), code: ErrorCode.PUSH_BAD_LOAD },
  { name: 'addr with a newline (not host:port)', payload: withLoad(['addr', mp.str('host\n:80')]), code: ErrorCode.PUSH_BAD_ADDR },

  // malformed MessagePack
  { name: 'fixmap claiming 2 entries holding 1', payload: bytes([0x82], mp.str('load'), mp.fixint(1)), code: ErrorCode.PUSH_MALFORMED },
  { name: 'fixmap with a key and no value', payload: bytes([0x81], mp.str('load')), code: ErrorCode.PUSH_MALFORMED },
  { name: 'map16 header cut short', payload: bytes([0xde, 0x00]), code: ErrorCode.PUSH_MALFORMED },
  { name: 'map32 header cut short', payload: bytes([0xdf, 0x00, 0x00, 0x00]), code: ErrorCode.PUSH_MALFORMED },
  {
    name: 'map32 claiming 2^32-1 entries',
    payload: bytes(mp.map32Header(0xffffffff), mp.str('load'), mp.fixint(1)),
    code: ErrorCode.PUSH_MALFORMED,
  },
  { name: 'key string cut short', payload: bytes([0x81, 0xa4], Buffer.from('lo')), code: ErrorCode.PUSH_MALFORMED },
  { name: 'str8 key header cut short', payload: bytes([0x81, 0xd9]), code: ErrorCode.PUSH_MALFORMED },
  {
    name: 'value string cut short',
    payload: bytes(mp.fixmapHeader(2), mp.str('load'), mp.fixint(1), mp.str('zone'), [0xa5, 0x61]),
    code: ErrorCode.PUSH_MALFORMED,
  },
  { name: 'float64 cut short', payload: bytes([0x81], mp.str('load'), mp.float64(1).subarray(0, 5)), code: ErrorCode.PUSH_MALFORMED },
  { name: 'uint32 cut short', payload: bytes([0x81], mp.str('load'), mp.uint32(1).subarray(0, 3)), code: ErrorCode.PUSH_MALFORMED },
  { name: 'uint64 cut short', payload: bytes([0x81], mp.str('load'), mp.uint64(1n).subarray(0, 8)), code: ErrorCode.PUSH_MALFORMED },
  { name: 'one trailing byte', payload: bytes(mp.map([load1]), [0x00]), code: ErrorCode.PUSH_MALFORMED },
  { name: 'two maps back to back', payload: bytes(mp.map([load1]), mp.map([load1])), code: ErrorCode.PUSH_MALFORMED },
  { name: 'duplicate load', payload: mp.map([load1, ['load', mp.fixint(2)]]), code: ErrorCode.PUSH_MALFORMED },
  { name: 'duplicate attribute', payload: withLoad(['zone', mp.str('a')], ['zone', mp.str('b')]), code: ErrorCode.PUSH_MALFORMED },
  {
    name: 'duplicate key spelled with different string headers',
    payload: withLoad(['zone', mp.str('a')], [mp.str8('zone'), mp.str('a')]),
    code: ErrorCode.PUSH_MALFORMED,
  },
  { name: 'invalid UTF-8 key (0xff)', payload: withLoad([mp.rawstr([0xff]), mp.fixint(1)]), code: ErrorCode.PUSH_MALFORMED },
  {
    name: 'invalid UTF-8 value (truncated sequence)',
    payload: withLoad(['zone', mp.rawstr([0x61, 0xc3])]),
    code: ErrorCode.PUSH_MALFORMED,
  },
  { name: 'overlong UTF-8 (c0 80)', payload: withLoad(['zone', mp.rawstr([0xc0, 0x80])]), code: ErrorCode.PUSH_MALFORMED },
  {
    name: 'UTF-8-encoded surrogate (ed a0 80)',
    payload: withLoad(['zone', mp.rawstr([0xed, 0xa0, 0x80])]),
    code: ErrorCode.PUSH_MALFORMED,
  },
  { name: 'invalid UTF-8 addr', payload: withLoad(['addr', mp.rawstr([0x68, 0xfe])]), code: ErrorCode.PUSH_MALFORMED },
];
