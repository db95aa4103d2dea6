/**
 * FrameDecoder: the wire bytes of PROTOCOL.md, any segmentation, a table of bad
 * input, random input, and the limits a receiver is configured with.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import { FrameDecoder } from '../../src/protocol/decoder.js';
import {
  GOODBYE_FRAME,
  HELLO_ACK_FRAME,
  HELLO_FRAME,
  encodeFrame,
  encodeGoodbye,
  encodePush,
  encodePushPayload,
} from '../../src/protocol/encoder.js';
import {
  DEFAULT_LIMITS,
  GOODBYE_MAX_PAYLOAD,
  MsgType,
  QUERY_MAX_PAYLOAD,
  type Attrs,
  type Frame,
  type LoadInfo,
  type PushLimits,
} from '../../src/protocol/messages.js';
import {
  BAD_PAYLOADS,
  byteByByte,
  bytes,
  decodeAll,
  decodeChunks,
  frame,
  hex,
  mp,
  outcome,
  splitAt,
  type ByteLike,
  type DecodeResult,
} from './helpers.js';

const HELLO: Frame = { type: 'HELLO' };
const HELLO_ACK: Frame = { type: 'HELLO_ACK' };
const push = (info: Omit<LoadInfo, 'attrs'> & { attrs?: Attrs }): Frame => ({
  type: 'PUSH_LOAD_INFO',
  info: { attrs: {}, ...info },
});
const unknown = (code: number, length: number): Frame => ({ type: 'UNKNOWN', code, length });
const GOODBYE: Frame = { type: 'GOODBYE' };
const goodbye = (reason: string): Frame => ({ type: 'GOODBYE', reason });

const PROTOCOL_CODES = new Set<string>([
  ErrorCode.FRAME_TOO_LARGE,
  ErrorCode.QUERY_MALFORMED,
  ErrorCode.PUSH_NOT_MAP,
  ErrorCode.PUSH_MALFORMED,
  ErrorCode.PUSH_BAD_KEY,
  ErrorCode.PUSH_BAD_LOAD,
  ErrorCode.PUSH_BAD_CAPACITY,
  ErrorCode.PUSH_BAD_ADDR,
  ErrorCode.PUSH_BAD_ATTR,
  ErrorCode.PUSH_TOO_MANY_ATTRS,
  ErrorCode.PUSH_KEY_TOO_LONG,
  ErrorCode.PUSH_VALUE_TOO_LONG,
  ErrorCode.PUSH_CONTROL_CHARACTER,
  ErrorCode.GOODBYE_MALFORMED,
]);

/** One attribute entry of exactly `size` bytes (3 ≤ size ≤ 325), its key starting with a character unique to `idx`. */
function attrEntryOfSize(size: number, idx: number): Buffer {
  const strSize = (n: number): number => (n < 32 ? 1 : n < 0x100 ? 2 : 3) + n;
  for (let k = 1; k <= 64; k++) {
    for (let v = 0; v <= 256; v++) {
      if (strSize(k) + strSize(v) === size) {
        return bytes(mp.str(String.fromCharCode(0x41 + idx) + '_'.repeat(k - 1)), mp.str('v'.repeat(v)));
      }
    }
  }
  throw new Error(`no attribute entry of ${size} bytes`);
}

/** A valid PUSH_LOAD_INFO payload of exactly `size` bytes (size ≥ 12): load, then padding attributes within the default limits. */
function pushPayloadOfSize(size: number): Buffer {
  const head = bytes(mp.map16Header(0), mp.str('load'), mp.fixint(1)); // 3 + 5 + 1 bytes
  const entries: Buffer[] = [];
  let left = size - head.length;
  while (left > 0) {
    const take = left <= 325 ? left : left - 325 >= 3 ? 325 : left - 3;
    entries.push(attrEntryOfSize(take, entries.length));
    left -= take;
  }
  const payload = bytes(head, ...entries);
  payload.writeUInt16BE(1 + entries.length, 1);
  if (payload.length !== size) throw new Error(`pushPayloadOfSize(${size}) built ${payload.length} bytes`);
  return payload;
}

describe('FrameDecoder', () => {
  describe('the bytes of PROTOCOL.md', () => {
    const wire = [
      { name: 'HELLO', hex: '00 01 00 00', encoded: () => HELLO_FRAME, frame: HELLO },
      { name: 'HELLO_ACK', hex: '00 02 00 00', encoded: () => HELLO_ACK_FRAME, frame: HELLO_ACK },
      {
        name: 'PUSH_LOAD_INFO {load: 42}',
        hex: '00 00 00 07 81 a4 6c 6f 61 64 2a',
        encoded: () => encodePush({ load: 42 }),
        frame: push({ load: 42 }),
      },
      // README "Extensions to PROTOCOL.md"
      { name: 'GOODBYE', hex: '00 03 00 00', encoded: () => GOODBYE_FRAME, frame: GOODBYE },
      {
        name: 'GOODBYE {reason: "bye"}',
        hex: '00 03 00 0c 81 a6 72 65 61 73 6f 6e a3 62 79 65',
        encoded: () => encodeGoodbye('bye'),
        frame: goodbye('bye'),
      },
    ] as const;

    it('numbers the message types as the original design, then the extensions GOODBYE = 3, QUERY = 4, QUERY_REPLY = 5', () => {
      expect(MsgType).toEqual({ PUSH_LOAD_INFO: 0, HELLO: 1, HELLO_ACK: 2, GOODBYE: 3, QUERY: 4, QUERY_REPLY: 5 });
    });

    it.each(wire)('encodes $name as $hex', ({ hex: h, encoded }) => {
      expect(encoded().toString('hex')).toBe(hex(h).toString('hex'));
    });

    it.each(wire)('decodes $hex as $name', ({ hex: h, frame: f }) => {
      const r = decodeAll(hex(h));
      expect(r.errors).toEqual([]);
      expect(r.frames).toEqual([f]);
      expect(r.decoder.buffered).toBe(0);
    });

    it('writes the header big-endian: type 0x1234 with a 0x0102-byte payload', () => {
      const f = encodeFrame(0x1234, Buffer.alloc(0x0102, 7));
      expect([...f.subarray(0, 4)]).toEqual([0x12, 0x34, 0x01, 0x02]);
      expect(f.length).toBe(4 + 0x0102);
    });

    it('refuses to encode a payload a u16 length cannot describe', () => {
      expect(() => encodeFrame(3, Buffer.alloc(0x10000))).toThrow(RangeError);
      expect(encodeFrame(3, Buffer.alloc(0xffff)).readUInt16BE(2)).toBe(0xffff);
    });
  });

  describe('any segmentation', () => {
    const stream = bytes(
      encodeGoodbye('SIGTERM'),
      encodePush({
        load: 1.5,
        addr: 'node-1.example.com:8080',
        capacity: 4,
        attrs: { zone: 'eu-west-1', version: 3, canary: true, temp: -12 },
      }),
      HELLO_FRAME,
      HELLO_ACK_FRAME,
      GOODBYE_FRAME, // a pure decoder goes on after it: ignoring what follows is the master's rule
      frame(6, Buffer.from('reserved extension payload')),
      frame(0x8001, [0xde, 0xad, 0xbe, 0xef, 0x00, 0x04]),
      frame(MsgType.HELLO, [0x81, 0xa4, 0x6c, 0x6f, 0x61, 0x64, 0x2a]), // a push's payload behind HELLO: ignored
      encodePush({ load: 0, addr: '[::1]:7400' }),
      frame(0xffff, []),
      frame(MsgType.HELLO_ACK, [1, 2, 3]),
      hex('00 00 00 07 81 a4 6c 6f 61 64 2a'),
      frame(0x7fff, Buffer.alloc(300, 0xaa)),
      frame(MsgType.GOODBYE, bytes(mp.map16Header(2), mp.str('later'), mp.true, mp.str('reason'), mp.str8('drained ✓'))),
      frame(MsgType.GOODBYE, mp.map([])),
      encodePush({ load: 7, capacity: 0.25, attrs: { region: 'ünïcødé ✓' } }),
    );
    const expected: Frame[] = [
      goodbye('SIGTERM'),
      push({ load: 1.5, addr: 'node-1.example.com:8080', capacity: 4, attrs: { zone: 'eu-west-1', version: 3, canary: true, temp: -12 } }),
      HELLO,
      HELLO_ACK,
      GOODBYE,
      unknown(6, 26),
      unknown(0x8001, 6),
      HELLO,
      push({ load: 0, addr: '[::1]:7400' }),
      unknown(0xffff, 0),
      HELLO_ACK,
      push({ load: 42 }),
      unknown(0x7fff, 300),
      goodbye('drained ✓'),
      GOODBYE,
      push({ load: 7, capacity: 0.25, attrs: { region: 'ünïcødé ✓' } }),
    ];

    const expectAllFrames = (r: DecodeResult): void => {
      expect(r.errors).toEqual([]);
      expect(r.frames).toEqual(expected);
      expect(r.decoder.buffered).toBe(0);
      expect(r.decoder.closed).toBe(false);
    };

    it('decodes the stream fed in one chunk', () => {
      expectAllFrames(decodeAll(stream));
    });

    it('decodes the stream fed one byte at a time', () => {
      expectAllFrames(decodeChunks(byteByByte(stream)));
    });

    it('decodes the stream split into two chunks at every position', () => {
      for (let i = 0; i <= stream.length; i++) {
        expectAllFrames(decodeChunks(splitAt(stream, [i])));
      }
    });

    it('decodes the stream split into three chunks at every pair of positions in its first 80 bytes', () => {
      for (let i = 0; i <= 80; i++) {
        for (let j = i; j <= 80; j++) expectAllFrames(decodeChunks(splitAt(stream, [i, j])));
      }
    });

    it('decodes the stream under any random segmentation', () => {
      fc.assert(
        fc.property(fc.array(fc.integer({ min: 0, max: stream.length }), { maxLength: 40 }), (cuts) => {
          expectAllFrames(decodeChunks(splitAt(stream, cuts)));
        }),
      );
    });

    it('decodes plain Uint8Array views (not Buffers) at an offset in a larger ArrayBuffer', () => {
      const backing = new ArrayBuffer(stream.length + 10);
      new Uint8Array(backing).set(stream, 5);
      const view = new Uint8Array(backing, 5, stream.length);
      expectAllFrames(decodeChunks([view]));
      expectAllFrames(decodeChunks(splitAt(stream, [3, 50, 51, 120]).map((b) => new Uint8Array(b))));
    });

    it('ignores empty chunks', () => {
      const [a, b] = splitAt(stream, [13]);
      expectAllFrames(decodeChunks([new Uint8Array(0), a!, Buffer.alloc(0), b!, new Uint8Array(0)]));
    });

    it('copies a partial frame instead of holding on to the caller’s chunk', () => {
      const f = encodePush({ load: 3, attrs: { zone: 'a' } });
      const events: Frame[] = [];
      const d = new FrameDecoder({ frame: (x) => events.push(x), error: () => expect.fail('no error expected') });
      const first = Buffer.from(f.subarray(0, 9));
      d.push(first);
      first.fill(0); // the caller reuses its read buffer
      d.push(f.subarray(9));
      expect(events).toEqual([push({ load: 3, attrs: { zone: 'a' } })]);
    });

    it('skips the payload of unknown types as it streams past, without buffering it', () => {
      const big = frame(0x9000, Buffer.alloc(0xffff, 0x55)); // far over maxPayload: not a PUSH, so only skipped
      const s = bytes(big, HELLO_FRAME);
      for (const size of [1, 3, 7, 1000, 0x10003]) {
        const chunks = Array.from({ length: Math.ceil(s.length / size) }, (_, i) => s.subarray(i * size, (i + 1) * size));
        const r = decodeChunks(chunks);
        expect(r.errors).toEqual([]);
        expect(r.frames).toEqual([unknown(0x9000, 0xffff), HELLO]);
        expect(r.maxBuffered).toBeLessThan(4);
      }
    });

    it('reports a HELLO as soon as its header is in, before its payload has arrived', () => {
      const r = decodeChunks([frame(MsgType.HELLO, [1, 2, 3]).subarray(0, 5)]);
      expect(r.frames).toEqual([HELLO]);
      expect(r.decoder.buffered).toBe(0);
    });

    it('holds an incomplete push until the last byte arrives', () => {
      const f = encodePush({ load: 5 });
      const events: Frame[] = [];
      const d = new FrameDecoder({ frame: (x) => events.push(x), error: () => expect.fail('no error expected') });
      d.push(f.subarray(0, f.length - 1));
      expect(events).toEqual([]);
      expect(d.buffered).toBe(f.length - 1);
      d.push(f.subarray(f.length - 1));
      expect(events).toEqual([push({ load: 5 })]);
      expect(d.buffered).toBe(0);
    });
  });

  describe('the payload limit', () => {
    it('accepts a push of exactly maxPayload bytes', () => {
      const payload = pushPayloadOfSize(DEFAULT_LIMITS.maxPayload);
      const r = decodeChunks(byteByByte(frame(0, payload)));
      expect(r.errors).toEqual([]);
      expect(r.frames).toHaveLength(1);
      expect(r.maxBuffered).toBeLessThanOrEqual(4 + DEFAULT_LIMITS.maxPayload);
    });

    it.each([
      { len: DEFAULT_LIMITS.maxPayload + 1, split: false },
      { len: DEFAULT_LIMITS.maxPayload + 1, split: true },
      { len: 0xffff, split: false },
      { len: 0xffff, split: true },
    ])('reports FRAME_TOO_LARGE for a $len-byte push from the header alone (split header: $split)', ({ len, split }) => {
      const header = Buffer.alloc(4);
      header.writeUInt16BE(MsgType.PUSH_LOAD_INFO, 0);
      header.writeUInt16BE(len, 2);
      const r = decodeChunks(split ? [header.subarray(0, 2), header.subarray(2)] : [header]);
      expect(r.frames).toEqual([]);
      expect(r.errors.map((e) => e.code)).toEqual([ErrorCode.FRAME_TOO_LARGE]);
      expect(r.decoder.buffered).toBe(0);
      expect(r.maxBuffered).toBeLessThanOrEqual(2);
      expect(r.decoder.closed).toBe(true);
      // the payload that follows is never looked at
      r.decoder.push(Buffer.alloc(len, 0x80));
      expect(r.events).toHaveLength(1);
      expect(r.decoder.buffered).toBe(0);
    });

    it('delivers the frames before an oversized push, then stops', () => {
      const oversized = Buffer.from([0x00, 0x00, 0x20, 0x01]);
      const r = decodeAll(bytes(HELLO_FRAME, encodePush({ load: 1 }), oversized, Buffer.alloc(100), HELLO_FRAME));
      expect(outcome(r)).toEqual([HELLO, push({ load: 1 }), { error: ErrorCode.FRAME_TOO_LARGE }]);
    });
  });

  describe('bad pushes', () => {
    const before = bytes(HELLO_FRAME, encodePush({ load: 1, addr: 'a:1' }), frame(5, [9, 9]));
    const framesBefore: Frame[] = [HELLO, push({ load: 1, addr: 'a:1' }), unknown(5, 2)];
    const after = bytes(HELLO_FRAME, encodePush({ load: 2 }), HELLO_ACK_FRAME);

    it.each(BAD_PAYLOADS)('$name → $code, after the frames before it, and nothing after', ({ payload, code }) => {
      const s = bytes(before, frame(MsgType.PUSH_LOAD_INFO, payload), after);
      for (const r of [decodeAll(s), decodeChunks(byteByByte(s)), decodeChunks(splitAt(s, [before.length + 2]))]) {
        expect(outcome(r)).toEqual([...framesBefore, { error: code }]);
        expect(r.decoder.closed).toBe(true);
        expect(r.decoder.buffered).toBe(0);
        r.decoder.push(after);
        r.decoder.push(frame(MsgType.PUSH_LOAD_INFO, payload));
        expect(r.events).toHaveLength(framesBefore.length + 1);
      }
    });

    it('gives each error a reason for the violation record', () => {
      for (const { payload } of BAD_PAYLOADS) {
        const [e] = decodeAll(frame(0, payload)).errors;
        expect(typeof e?.reason).toBe('string');
        expect(e?.reason.length).toBeGreaterThan(0);
      }
    });

    it.each([
      { first: 'HELLO', chunk: bytes(HELLO_FRAME, HELLO_ACK_FRAME, encodePush({ load: 1 }), HELLO_FRAME.subarray(0, 2)), frame: HELLO },
      {
        first: 'PUSH_LOAD_INFO',
        chunk: bytes(encodePush({ load: 1 }), HELLO_ACK_FRAME, encodePush({ load: 2 }), HELLO_FRAME.subarray(0, 2)),
        frame: push({ load: 1 }),
      },
      { first: 'UNKNOWN', chunk: bytes(frame(9, [1]), HELLO_ACK_FRAME, HELLO_FRAME.subarray(0, 2)), frame: unknown(9, 1) },
      {
        first: 'GOODBYE',
        chunk: bytes(encodeGoodbye('x'), encodePush({ load: 1 }), GOODBYE_FRAME, HELLO_FRAME.subarray(0, 2)),
        frame: goodbye('x'),
      },
    ])('stops in the middle of a chunk when the sink closes it from the $first callback', ({ chunk, frame: f }) => {
      const seen: Frame[] = [];
      const d: FrameDecoder = new FrameDecoder({
        frame: (x) => {
          seen.push(x);
          d.close();
        },
        error: () => expect.fail('no error expected'),
      });
      d.push(chunk);
      d.push(HELLO_FRAME);
      expect(seen).toEqual([f]);
      expect(d.closed).toBe(true);
      expect(d.buffered).toBe(0);
    });
  });

  describe('GOODBYE (README "Extensions to PROTOCOL.md")', () => {
    const gb = (payload: ByteLike): Buffer => frame(MsgType.GOODBYE, payload);
    const reason = (v: Buffer): Buffer => mp.map([['reason', v]]);
    /** A valid GOODBYE payload of exactly GOODBYE_MAX_PAYLOAD bytes: a 256-byte reason and a padding key. */
    const fullPayload = (): Buffer =>
      bytes(mp.map16Header(2), mp.str('reason'), mp.str16('r'.repeat(256)), mp.str('pad'), mp.str8('p'.repeat(237)));

    it.each([
      { name: 'empty payload', payload: [], frame: GOODBYE },
      { name: 'empty fixmap', payload: mp.map([]), frame: GOODBYE },
      { name: 'empty map32', payload: mp.map32Header(0), frame: GOODBYE },
      { name: 'reason as str16', payload: reason(mp.str16('bye')), frame: goodbye('bye') },
      { name: 'reason as str32', payload: reason(mp.str32('bye')), frame: goodbye('bye') },
      { name: 'empty reason', payload: reason(mp.str('')), frame: goodbye('') },
      { name: 'reason of 256 bytes in 128 two-byte characters', payload: reason(mp.str('é'.repeat(128))), frame: goodbye('é'.repeat(128)) },
      {
        name: 'keys of later versions (ignored) around the reason',
        payload: mp.map([
          ['at', mp.uint32(7)],
          ['reason', mp.str('deploy')],
          ['drain', mp.true],
          ['w', mp.float64(0.5)],
          ['n', mp.int64(-3n)],
          ['s', mp.str('x')],
        ]),
        frame: goodbye('deploy'),
      },
      { name: 'only keys of later versions', payload: mp.map([['x', mp.fixint(-1)]]), frame: GOODBYE },
      { name: `a payload of exactly ${GOODBYE_MAX_PAYLOAD} bytes`, payload: fullPayload(), frame: goodbye('r'.repeat(256)) },
    ])('accepts $name', ({ payload, frame: f }) => {
      const s = bytes(gb(payload), HELLO_FRAME);
      for (const r of [decodeAll(s), decodeChunks(byteByByte(s))]) {
        expect(outcome(r)).toEqual([f, HELLO]);
        expect(r.decoder.buffered).toBe(0);
      }
    });

    it('has its own payload limit, whatever maxPayload the pushes get', () => {
      expect(fullPayload().length).toBe(GOODBYE_MAX_PAYLOAD);
      expect(outcome(decodeAll(gb(fullPayload()), { maxPayload: 0 }))).toEqual([goodbye('r'.repeat(256))]);
    });

    it.each([false, true])(
      `reports FRAME_TOO_LARGE for a GOODBYE of ${GOODBYE_MAX_PAYLOAD + 1} bytes from the header alone (split header: %s)`,
      (split) => {
        const header = gb(bytes(fullPayload(), [0])).subarray(0, 4);
        const r = decodeChunks(split ? [header.subarray(0, 3), header.subarray(3)] : [header]);
        expect(outcome(r)).toEqual([{ error: ErrorCode.FRAME_TOO_LARGE }]);
        expect(r.maxBuffered).toBeLessThanOrEqual(3);
        expect(r.decoder.closed).toBe(true);
      },
    );

    it('holds an incomplete GOODBYE until its last byte arrives', () => {
      const f = encodeGoodbye('SIGTERM');
      const r = decodeChunks([f.subarray(0, f.length - 1)]);
      expect(r.events).toEqual([]);
      expect(r.decoder.buffered).toBe(f.length - 1);
      r.decoder.push(f.subarray(f.length - 1));
      expect(r.events).toEqual([{ frame: goodbye('SIGTERM') }]);
      expect(r.decoder.buffered).toBe(0);
    });

    const BAD_GOODBYES: ReadonlyArray<{ name: string; payload: Buffer }> = [
      { name: 'a string', payload: mp.str('bye') },
      { name: 'a fixint', payload: mp.fixint(0) },
      { name: 'nil', payload: mp.nil },
      { name: 'true', payload: mp.true },
      { name: 'an array', payload: mp.fixarray(mp.str('bye')) },
      { name: 'reason as a number', payload: reason(mp.fixint(1)) },
      { name: 'reason nil', payload: reason(mp.nil) },
      { name: 'reason true', payload: reason(mp.true) },
      { name: 'reason as a map', payload: reason(mp.map([])) },
      { name: 'reason as bin', payload: reason(mp.bin8(Buffer.from('bye'))) },
      { name: 'reason of 257 bytes', payload: reason(mp.str('r'.repeat(257))) },
      { name: 'reason of 258 bytes in 129 two-byte characters', payload: reason(mp.str('é'.repeat(129))) },
      { name: 'reason of invalid UTF-8', payload: reason(mp.rawstr([0x62, 0xff])) },
      { name: 'an integer key', payload: mp.map([[mp.fixint(1), mp.str('bye')]]) },
      { name: 'key "__proto__"', payload: mp.map([['__proto__', mp.str('x')]]) },
      { name: 'a key of 65 bytes', payload: mp.map([['k'.repeat(65), mp.true]]) },
      {
        name: 'a duplicate reason',
        payload: mp.map([
          ['reason', mp.str('a')],
          ['reason', mp.str('b')],
        ]),
      },
      {
        name: 'a duplicate other key',
        payload: mp.map([
          ['x', mp.true],
          ['x', mp.true],
        ]),
      },
      { name: 'a nested map under another key', payload: mp.map([['x', mp.map([])]]) },
      { name: 'nil under another key', payload: mp.map([['x', mp.nil]]) },
      { name: 'NaN under another key', payload: mp.map([['x', mp.float64(NaN)]]) },
      { name: 'Infinity (float32) under another key', payload: mp.map([['x', mp.float32(Infinity)]]) },
      { name: 'a fixmap claiming 2 entries holding 1', payload: bytes([0x82], mp.str('reason'), mp.str('a')) },
      { name: 'a key cut short', payload: bytes([0x81, 0xa6], Buffer.from('rea')) },
      { name: 'a reason cut short', payload: bytes([0x81], mp.str('reason'), [0xa5, 0x61]) },
      { name: 'a uint32 cut short', payload: bytes([0x81], mp.str('x'), mp.uint32(1).subarray(0, 3)) },
      { name: 'a map16 header cut short', payload: bytes([0xde, 0x00]) },
      { name: 'one trailing byte', payload: bytes(reason(mp.str('a')), [0x00]) },
    ];

    it.each(BAD_GOODBYES)('$name → GOODBYE_MALFORMED, after the frames before it, and nothing after', ({ payload }) => {
      const s = bytes(HELLO_FRAME, gb(payload), HELLO_ACK_FRAME, GOODBYE_FRAME);
      for (const r of [decodeAll(s), decodeChunks(byteByByte(s)), decodeChunks(splitAt(s, [6]))]) {
        expect(outcome(r)).toEqual([HELLO, { error: ErrorCode.GOODBYE_MALFORMED }]);
        expect(r.errors[0]?.reason.length).toBeGreaterThan(0);
        expect(r.decoder.closed).toBe(true);
        expect(r.decoder.buffered).toBe(0);
      }
    });

    it('encodes a reason longer than 256 bytes cut at a character boundary, which a master accepts', () => {
      const long = 'é'.repeat(200); // 400 bytes
      const r = decodeAll(encodeGoodbye(long));
      expect(r.errors).toEqual([]);
      expect(r.frames).toEqual([goodbye('é'.repeat(128))]);
      expect(decodeAll(encodeGoodbye('x'.repeat(300))).frames).toEqual([goodbye('x'.repeat(256))]);
    });
  });

  describe('random input', () => {
    const validFrame = fc.oneof(
      fc.constant(HELLO_FRAME),
      fc.constant(HELLO_ACK_FRAME),
      fc.record({ load: fc.nat(), capacity: fc.option(fc.integer({ min: 1, max: 9 }), { nil: undefined }) }).map((p) => encodePush(p)),
    );
    // Frames with any type, honest or lying lengths, and payloads that start like a map
    // so the push reader gets past its first byte.
    const anyFrame = fc
      .record({
        type: fc.oneof(fc.constantFrom(0, 0, 0, 1, 2, 3, 0x7fff, 0x8000, 0xffff), fc.integer({ min: 0, max: 0xffff })),
        payload: fc.oneof(
          fc.uint8Array({ maxLength: 64 }),
          fc.tuple(fc.integer({ min: 0x80, max: 0x8f }), fc.uint8Array({ maxLength: 64 })).map(([h, rest]) => bytes([h], rest)),
        ),
        lie: fc.option(fc.integer({ min: 0, max: 0xffff }), { nil: undefined }),
      })
      .map(({ type, payload, lie }) => {
        const f = frame(type, payload);
        if (lie !== undefined) f.writeUInt16BE(lie, 2);
        return f;
      });
    // A valid push payload with a few bytes overwritten or cut off.
    const mutatedPush = fc
      .tuple(
        fc.record({
          load: fc.double({ min: 0, noNaN: true }),
          addr: fc.constantFrom('h', 'h:1', '[::1]:2'),
          attrs: fc.dictionary(fc.string({ maxLength: 4 }), fc.oneof(fc.string(), fc.boolean(), fc.integer()), { maxKeys: 3 }),
        }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }),
        fc.option(fc.nat(), { nil: undefined }),
      )
      .map(([p, edits, cut]) => {
        const payload = Buffer.from(encodePushPayload(p));
        for (const [at, v] of edits) payload[at % payload.length] = v;
        return frame(0, cut === undefined ? payload : payload.subarray(0, cut % (payload.length + 1)));
      });
    const garbageStream = fc.oneof(
      fc.uint8Array({ maxLength: 512 }),
      fc
        .array(fc.oneof(validFrame, anyFrame, mutatedPush, fc.uint8Array({ maxLength: 8 })), { maxLength: 10 })
        .map((parts) => bytes(...parts)),
    );
    const limitsArb = fc.option(
      fc.record(
        {
          maxPayload: fc.integer({ min: 0, max: 200 }),
          maxAttrs: fc.integer({ min: 0, max: 4 }),
          maxKeyBytes: fc.integer({ min: 0, max: 8 }),
          maxStringBytes: fc.integer({ min: 0, max: 16 }),
        },
        { requiredKeys: [] },
      ),
      { nil: undefined },
    );

    it('never throws, reports at most one error and nothing after it, and never buffers more than header + maxPayload', () => {
      fc.assert(
        fc.property(garbageStream, fc.array(fc.nat(), { maxLength: 20 }), limitsArb, (stream, cuts, limits) => {
          // a GOODBYE and a QUERY are buffered whole too, up to their own limits
          const maxPayload = Math.max({ ...DEFAULT_LIMITS, ...limits }.maxPayload, GOODBYE_MAX_PAYLOAD, QUERY_MAX_PAYLOAD);
          let r!: DecodeResult;
          expect(() => {
            r = decodeChunks(
              splitAt(
                stream,
                cuts.map((c) => c % (stream.length + 1)),
              ),
              limits,
            );
          }).not.toThrow();
          expect(r.errors.length).toBeLessThanOrEqual(1);
          if (r.errors.length === 1) {
            expect('error' in r.events[r.events.length - 1]!).toBe(true);
            expect(PROTOCOL_CODES.has(r.errors[0]!.code)).toBe(true);
          }
          expect(r.decoder.closed).toBe(r.errors.length === 1);
          expect(r.maxBuffered).toBeLessThanOrEqual(4 + maxPayload);
          // What was reported does not depend on how the bytes were cut.
          expect(outcome(r)).toEqual(outcome(decodeAll(stream, limits)));
          for (const f of r.frames) {
            if (f.type !== 'PUSH_LOAD_INFO') continue;
            expect(Number.isFinite(f.info.load) && f.info.load >= 0).toBe(true);
            if (f.info.capacity !== undefined) expect(Number.isFinite(f.info.capacity) && f.info.capacity > 0).toBe(true);
          }
        }),
        { numRuns: 2000 },
      );
    });

    it('ignores all input once it has reported an error', () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 64 }), (more) => {
          const r = decodeAll(frame(0, mp.nil));
          expect(r.errors).toHaveLength(1);
          r.decoder.push(more);
          r.decoder.push(HELLO_FRAME);
          expect(r.events).toHaveLength(1);
          expect(r.decoder.buffered).toBe(0);
        }),
      );
    });

    describe('pause and resume (backpressure)', () => {
      it('pausing after any frames and resuming later changes nothing that is reported', () => {
        fc.assert(
          fc.property(
            garbageStream,
            fc.array(fc.nat(), { maxLength: 20 }),
            fc.array(fc.boolean(), { minLength: 1, maxLength: 32 }),
            (stream, cuts, pauseAfter) => {
              const events: Array<Frame | { error: ErrorCode }> = [];
              let n = 0;
              const decoder: FrameDecoder = new FrameDecoder({
                frame: (f) => {
                  events.push(f);
                  if (pauseAfter[n++ % pauseAfter.length]) decoder.pause();
                },
                error: (e) => events.push({ error: e.code }),
              });
              for (const chunk of splitAt(
                stream,
                cuts.map((c) => c % (stream.length + 1)),
              )) {
                decoder.push(chunk);
                // resume only sometimes before the next chunk: input arrives while paused too
                if (decoder.isPaused && n % 2 === 0) decoder.resume();
              }
              while (decoder.isPaused) decoder.resume();
              expect(events).toEqual(outcome(decodeAll(stream)));
            },
          ),
          { numRuns: 1000 },
        );
      });

      it('stops after the frame that paused it and holds the rest', () => {
        const seen: Frame[] = [];
        const decoder: FrameDecoder = new FrameDecoder({ frame: (f) => (seen.push(f), decoder.pause()), error: () => {} });
        decoder.push(bytes(HELLO_FRAME, HELLO_ACK_FRAME, HELLO_FRAME));
        expect(seen).toEqual([HELLO]);
        expect(decoder.buffered).toBe(8);
        decoder.push(HELLO_ACK_FRAME);
        expect(seen).toEqual([HELLO]);
        decoder.resume();
        expect(seen).toEqual([HELLO, HELLO_ACK]);
        decoder.resume();
        decoder.resume();
        expect(seen).toEqual([HELLO, HELLO_ACK, HELLO, HELLO_ACK]);
      });
    });
  });

  describe('custom limits', () => {
    const codes = (s: Uint8Array, limits?: Partial<PushLimits>): string[] => decodeAll(s, limits).errors.map((e) => e.code);
    const attrsMap = (n: number): Buffer =>
      mp.map([['load', mp.fixint(1)], ...Array.from({ length: n }, (_, i) => [`k${i}`, mp.true] as const)]);

    it('has the defaults of PROTOCOL.md', () => {
      expect(DEFAULT_LIMITS).toEqual({ maxPayload: 8192, maxAttrs: 32, maxKeyBytes: 64, maxStringBytes: 256 });
    });

    it('honours a smaller maxPayload, from the header alone', () => {
      const p16 = pushPayloadOfSize(16);
      const p17 = pushPayloadOfSize(17);
      expect(codes(frame(0, p16), { maxPayload: 16 })).toEqual([]);
      const r = decodeChunks([frame(0, p17).subarray(0, 4)], { maxPayload: 16 });
      expect(r.errors.map((e) => e.code)).toEqual([ErrorCode.FRAME_TOO_LARGE]);
      expect(r.decoder.buffered).toBe(0);
      expect(codes(frame(0, p17))).toEqual([]);
    });

    it('honours a larger maxPayload', () => {
      const big = frame(0, pushPayloadOfSize(9000));
      expect(codes(big)).toEqual([ErrorCode.FRAME_TOO_LARGE]);
      const r = decodeChunks(byteByByte(big), { maxPayload: 0xffff });
      expect(r.errors).toEqual([]);
      expect(r.frames).toHaveLength(1);
    });

    it('honours maxAttrs', () => {
      expect(codes(frame(0, attrsMap(2)), { maxAttrs: 2 })).toEqual([]);
      expect(codes(frame(0, attrsMap(3)), { maxAttrs: 2 })).toEqual([ErrorCode.PUSH_TOO_MANY_ATTRS]);
      expect(codes(frame(0, attrsMap(0)), { maxAttrs: 0 })).toEqual([]);
      expect(codes(frame(0, attrsMap(1)), { maxAttrs: 0 })).toEqual([ErrorCode.PUSH_TOO_MANY_ATTRS]);
      expect(codes(frame(0, attrsMap(40)), { maxAttrs: 40 })).toEqual([]);
      expect(codes(frame(0, attrsMap(40)))).toEqual([ErrorCode.PUSH_TOO_MANY_ATTRS]);
    });

    it('honours maxKeyBytes', () => {
      const withKey = (k: string): Buffer =>
        frame(
          0,
          mp.map([
            ['load', mp.fixint(1)],
            [k, mp.true],
          ]),
        );
      expect(codes(withKey('zone'), { maxKeyBytes: 4 })).toEqual([]);
      expect(codes(withKey('zones'), { maxKeyBytes: 4 })).toEqual([ErrorCode.PUSH_KEY_TOO_LONG]);
      expect(codes(withKey('k'.repeat(100)), { maxKeyBytes: 100 })).toEqual([]);
      expect(codes(withKey('k'.repeat(100)))).toEqual([ErrorCode.PUSH_KEY_TOO_LONG]);
    });

    it('honours maxStringBytes, for attributes and addr', () => {
      const withValue = (k: string, v: string): Buffer =>
        frame(
          0,
          mp.map([
            ['load', mp.fixint(1)],
            [k, mp.str(v)],
          ]),
        );
      expect(codes(withValue('zone', 'abc'), { maxStringBytes: 3 })).toEqual([]);
      expect(codes(withValue('zone', 'abcd'), { maxStringBytes: 3 })).toEqual([ErrorCode.PUSH_VALUE_TOO_LONG]);
      expect(codes(withValue('addr', 'host'), { maxStringBytes: 3 })).toEqual([ErrorCode.PUSH_VALUE_TOO_LONG]);
      expect(codes(withValue('zone', 'v'.repeat(500)), { maxStringBytes: 500 })).toEqual([]);
      expect(codes(withValue('zone', 'v'.repeat(500)))).toEqual([ErrorCode.PUSH_VALUE_TOO_LONG]);
    });

    it('keeps the defaults for the limits it is not given', () => {
      expect(codes(frame(0, attrsMap(33)), { maxKeyBytes: 100 })).toEqual([ErrorCode.PUSH_TOO_MANY_ATTRS]);
      expect(codes(frame(0, pushPayloadOfSize(8193)), { maxAttrs: 100 })).toEqual([ErrorCode.FRAME_TOO_LARGE]);
      expect(
        codes(
          frame(
            0,
            mp.map([
              ['load', mp.fixint(1)],
              ['k'.repeat(65), mp.true],
            ]),
          ),
          { maxPayload: 100 },
        ),
      ).toEqual([ErrorCode.PUSH_KEY_TOO_LONG]);
    });

    it('keeps limits per decoder', () => {
      const strict = decodeAll(frame(0, attrsMap(3)), { maxAttrs: 1 });
      const lenient = decodeAll(frame(0, attrsMap(3)));
      expect(strict.errors.map((e) => e.code)).toEqual([ErrorCode.PUSH_TOO_MANY_ATTRS]);
      expect(lenient.errors).toEqual([]);
      expect(DEFAULT_LIMITS.maxAttrs).toBe(32);
    });
  });
});
