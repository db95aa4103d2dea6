/**
 * PUSH_LOAD_INFO payloads: encode→decode round trips, every MessagePack encoding
 * PROTOCOL.md says must be accepted, and the table of payloads it says must be refused.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import { FrameDecoder } from '../../src/protocol/decoder.js';
import { encodePush, encodePushPayload, type PushFields } from '../../src/protocol/encoder.js';
import { DEFAULT_LIMITS, MAX_WIRE_PAYLOAD, type AttrValue, type Frame, type LoadInfo } from '../../src/protocol/messages.js';
import { isSafeName } from '../../src/protocol/names.js';
import { decodePush, isRejection, isValidAddr, type PushRejection } from '../../src/protocol/push.js';
import { BAD_PAYLOADS, bytes, hex, mp } from './helpers.js';

const decode = (payload: Uint8Array, limits = DEFAULT_LIMITS): LoadInfo | PushRejection => decodePush(payload, { ...limits });

function accepted(payload: Uint8Array): LoadInfo {
  const r = decode(payload);
  if (isRejection(r)) throw new Error(`refused with ${r.code}: ${r.reason}`);
  return r;
}

const utf8Length = (s: string): number => Buffer.byteLength(s, 'utf8');
const RESERVED_KEYS = new Set(['load', 'addr', 'capacity']);
const load1 = ['load', mp.fixint(1)] as const;

describe('decodePush', () => {
  describe('accepts any valid MessagePack encoding', () => {
    const ACCEPTED: ReadonlyArray<{ name: string; payload: Buffer; info: LoadInfo }> = [
      { name: 'fixmap, fixstr key, positive fixint load', payload: hex('81 a4 6c 6f 61 64 2a'), info: { load: 42, attrs: {} } },
      { name: 'map16 header', payload: bytes(mp.map16Header(1), mp.str('load'), mp.fixint(3)), info: { load: 3, attrs: {} } },
      {
        name: 'map16 header with 20 entries',
        payload: mp.map([load1, ...Array.from({ length: 19 }, (_, i) => [`k${i}`, mp.fixint(i)] as const)]),
        info: { load: 1, attrs: Object.fromEntries(Array.from({ length: 19 }, (_, i) => [`k${i}`, i])) },
      },
      {
        name: 'map32 header',
        payload: bytes(mp.map32Header(2), mp.str('load'), mp.fixint(3), mp.str('zone'), mp.str('a')),
        info: { load: 3, attrs: { zone: 'a' } },
      },
      {
        name: 'map16 header for a small map',
        payload: bytes(mp.map16Header(2), mp.str('capacity'), mp.fixint(2), mp.str('load'), mp.fixint(0)),
        info: { load: 0, capacity: 2, attrs: {} },
      },
      { name: 'str8 key', payload: bytes(mp.fixmapHeader(1), mp.str8('load'), mp.fixint(5)), info: { load: 5, attrs: {} } },
      { name: 'str16 key', payload: bytes(mp.fixmapHeader(1), mp.str16('load'), mp.fixint(5)), info: { load: 5, attrs: {} } },
      { name: 'str32 key', payload: bytes(mp.fixmapHeader(1), mp.str32('load'), mp.fixint(5)), info: { load: 5, attrs: {} } },
      {
        name: 'str8, str16 and str32 values',
        payload: mp.map([load1, ['a', mp.str8('x')], ['b', mp.str16('y')], ['addr', mp.str32('h:1')]]),
        info: { load: 1, addr: 'h:1', attrs: { a: 'x', b: 'y' } },
      },
      { name: 'empty string attribute', payload: mp.map([load1, ['zone', mp.str('')]]), info: { load: 1, attrs: { zone: '' } } },
      { name: 'load 0', payload: mp.map([['load', mp.fixint(0)]]), info: { load: 0, attrs: {} } },
      { name: 'load positive fixint 127', payload: mp.map([['load', mp.fixint(127)]]), info: { load: 127, attrs: {} } },
      { name: 'load uint8', payload: mp.map([['load', mp.uint8(200)]]), info: { load: 200, attrs: {} } },
      { name: 'load uint8 holding a small number', payload: mp.map([['load', mp.uint8(1)]]), info: { load: 1, attrs: {} } },
      { name: 'load uint16', payload: mp.map([['load', mp.uint16(65535)]]), info: { load: 65535, attrs: {} } },
      { name: 'load uint32', payload: mp.map([['load', mp.uint32(0xffffffff)]]), info: { load: 0xffffffff, attrs: {} } },
      { name: 'load uint64', payload: mp.map([['load', mp.uint64(2n ** 40n)]]), info: { load: 2 ** 40, attrs: {} } },
      {
        name: 'load uint64 2^53-1',
        payload: mp.map([['load', mp.uint64(BigInt(Number.MAX_SAFE_INTEGER))]]),
        info: { load: Number.MAX_SAFE_INTEGER, attrs: {} },
      },
      {
        name: 'load uint64 max (rounded to a double)',
        payload: mp.map([['load', mp.uint64(2n ** 64n - 1n)]]),
        info: { load: 2 ** 64, attrs: {} },
      },
      { name: 'load int8', payload: mp.map([['load', mp.int8(100)]]), info: { load: 100, attrs: {} } },
      { name: 'load int8 0', payload: mp.map([['load', mp.int8(0)]]), info: { load: 0, attrs: {} } },
      { name: 'load int16', payload: mp.map([['load', mp.int16(30000)]]), info: { load: 30000, attrs: {} } },
      { name: 'load int32', payload: mp.map([['load', mp.int32(2 ** 31 - 1)]]), info: { load: 2 ** 31 - 1, attrs: {} } },
      { name: 'load int64', payload: mp.map([['load', mp.int64(2n ** 50n)]]), info: { load: 2 ** 50, attrs: {} } },
      { name: 'load float32', payload: mp.map([['load', mp.float32(1.5)]]), info: { load: 1.5, attrs: {} } },
      {
        name: 'load float32 0.1 (as float32 rounds it)',
        payload: mp.map([['load', mp.float32(0.1)]]),
        info: { load: Math.fround(0.1), attrs: {} },
      },
      { name: 'load float64', payload: mp.map([['load', mp.float64(0.1)]]), info: { load: 0.1, attrs: {} } },
      { name: 'load float64 max', payload: mp.map([['load', mp.float64(Number.MAX_VALUE)]]), info: { load: Number.MAX_VALUE, attrs: {} } },
      {
        name: 'load float64 smallest subnormal',
        payload: mp.map([['load', mp.float64(Number.MIN_VALUE)]]),
        info: { load: Number.MIN_VALUE, attrs: {} },
      },
      { name: 'load -0.0 (not below zero; stored as 0)', payload: mp.map([['load', mp.float64(-0)]]), info: { load: 0, attrs: {} } },
      { name: 'capacity as float', payload: mp.map([load1, ['capacity', mp.float64(0.5)]]), info: { load: 1, capacity: 0.5, attrs: {} } },
      { name: 'capacity as uint16', payload: mp.map([load1, ['capacity', mp.uint16(1000)]]), info: { load: 1, capacity: 1000, attrs: {} } },
      {
        name: 'capacity smallest subnormal',
        payload: mp.map([load1, ['capacity', mp.float64(Number.MIN_VALUE)]]),
        info: { load: 1, capacity: Number.MIN_VALUE, attrs: {} },
      },
      {
        name: 'load last',
        payload: mp.map([['zone', mp.str('a')], ['addr', mp.str('h')], load1]),
        info: { load: 1, addr: 'h', attrs: { zone: 'a' } },
      },
      {
        name: 'attributes of every scalar type',
        payload: mp.map([
          load1,
          ['s', mp.str('x')],
          ['t', mp.true],
          ['f', mp.false],
          ['neg', mp.fixint(-32)],
          ['i8', mp.int8(-128)],
          ['i16', mp.int16(-30000)],
          ['i32', mp.int32(-(2 ** 31))],
          ['i64', mp.int64(-(2n ** 53n) + 1n)],
          ['u64', mp.uint64(123n)],
          ['f32', mp.float32(-2.5)],
          ['f64', mp.float64(-1e300)],
        ]),
        info: {
          load: 1,
          attrs: {
            s: 'x',
            t: true,
            f: false,
            neg: -32,
            i8: -128,
            i16: -30000,
            i32: -(2 ** 31),
            i64: -(2 ** 53) + 1,
            u64: 123,
            f32: -2.5,
            f64: -1e300,
          },
        },
      },
      {
        name: 'key of exactly 64 bytes',
        payload: mp.map([load1, ['k'.repeat(64), mp.true]]),
        info: { load: 1, attrs: { ['k'.repeat(64)]: true } },
      },
      {
        name: 'key of 64 bytes in 32 two-byte characters',
        payload: mp.map([load1, ['é'.repeat(32), mp.true]]),
        info: { load: 1, attrs: { ['é'.repeat(32)]: true } },
      },
      {
        name: 'string value of exactly 256 bytes',
        payload: mp.map([load1, ['zone', mp.str('v'.repeat(256))]]),
        info: { load: 1, attrs: { zone: 'v'.repeat(256) } },
      },
      {
        name: 'string value of 256 bytes in 64 four-byte characters',
        payload: mp.map([load1, ['zone', mp.str('😀'.repeat(64))]]),
        info: { load: 1, attrs: { zone: '😀'.repeat(64) } },
      },
      {
        name: '32 attributes besides load, addr and capacity',
        payload: mp.map([
          load1,
          ['addr', mp.str('h:1')],
          ['capacity', mp.fixint(2)],
          ...Array.from({ length: 32 }, (_, i) => [`a${i}`, mp.fixint(i)] as const),
        ]),
        info: { load: 1, addr: 'h:1', capacity: 2, attrs: Object.fromEntries(Array.from({ length: 32 }, (_, i) => [`a${i}`, i])) },
      },
      {
        name: 'keys that are names on Object.prototype (but "__proto__")',
        payload: mp.map([load1, ['constructor', mp.true], ['toString', mp.fixint(1)], ['valueOf', mp.str('x')]]),
        info: { load: 1, attrs: { constructor: true, toString: 1, valueOf: 'x' } },
      },
      { name: 'the empty key', payload: mp.map([load1, ['', mp.true]]), info: { load: 1, attrs: { '': true } } },
      {
        name: 'keys differing only in case from load, addr and capacity',
        payload: mp.map([load1, ['Load', mp.fixint(2)], ['ADDR', mp.str('x y')], ['Capacity', mp.fixint(0)]]),
        info: { load: 1, attrs: { Load: 2, ADDR: 'x y', Capacity: 0 } },
      },
      {
        name: 'non-ASCII in keys and values',
        payload: mp.map([load1, ['zöne', mp.str('ünïcødé ✓ 😀')]]),
        info: { load: 1, attrs: { zöne: 'ünïcødé ✓ 😀' } },
      },
      // Refused are controls and bidi controls only: format characters that are neither, and
      // whitespace other than the controls, stay (human output escapes the invisible ones).
      {
        name: 'a zero-width joiner, a zero-width space, a no-break space, U+2028',
        payload: mp.map([load1, ['flag', mp.str('🏳️\u200d🌈\u200b\u00a0\u2028')]]),
        info: { load: 1, attrs: { flag: '🏳️\u200d🌈\u200b\u00a0\u2028' } },
      },
      {
        name: 'an addr with a backslash and a non-ASCII host',
        payload: mp.map([load1, ['addr', mp.str('bücher\\x08.example:80')]]),
        info: { load: 1, addr: 'bücher\\x08.example:80', attrs: {} },
      },
    ];

    it.each(ACCEPTED)('$name', ({ payload, info }) => {
      const r = decode(payload);
      expect(isRejection(r)).toBe(false);
      expect(r).toEqual(info);
      // Absent optional fields are absent, not undefined.
      expect(Object.keys(r).sort()).toEqual(Object.keys(info).sort());
    });

    it('keeps attribute keys as own properties, whatever their name', () => {
      const r = accepted(mp.map([load1, ['constructor', mp.str('x')], ['hasOwnProperty', mp.true]]));
      expect(Object.getOwnPropertyNames(r.attrs).sort()).toEqual(['constructor', 'hasOwnProperty']);
      expect(Object.getPrototypeOf(r)).toBe(Object.prototype);
    });

    // The event log (msgpackr) would read -0 back as 0: the live state must hold what a replay gives.
    it('stores a load or numeric attribute of -0 as 0', () => {
      const r = accepted(
        mp.map([
          ['load', mp.float64(-0)],
          ['t', mp.float32(-0)],
        ]),
      );
      expect(Object.is(r.load, 0)).toBe(true);
      expect(Object.is(r.attrs['t'], 0)).toBe(true);
    });
  });

  describe('refuses what PROTOCOL.md refuses', () => {
    it.each(BAD_PAYLOADS)('$name → $code', ({ payload, code }) => {
      const r = decode(payload);
      expect(isRejection(r)).toBe(true);
      expect((r as PushRejection).code).toBe(code);
      expect((r as PushRejection).reason).toEqual(expect.any(String));
    });

    // The event log (msgpackr) reads a "__proto__" key back as "__proto_": a replay would differ from the live state.
    it('refuses the key "__proto__" wherever it is, with a reason naming it', () => {
      for (const payload of [
        mp.map([load1, ['__proto__', mp.str('x')]]),
        mp.map([['__proto__', mp.fixint(1)], load1]),
        mp.map([load1, [mp.str8('__proto__'), mp.true]]),
      ]) {
        expect(decode(payload)).toEqual({ code: ErrorCode.PUSH_BAD_KEY, reason: 'key "__proto__" is not allowed' });
      }
      // Only that exact key: its neighbours are ordinary attributes.
      expect(accepted(mp.map([load1, ['__proto_', mp.true], ['__proto__x', mp.true], ['__PROTO__', mp.true]])).attrs).toEqual({
        __proto_: true,
        __proto__x: true,
        __PROTO__: true,
      });
    });

    it('does not read past the payload slice it is given', () => {
      // A valid push followed, in the same underlying memory, by bytes that would make it malformed.
      const backing = bytes(mp.map([load1]), [0x00, 0xff]);
      expect(decode(backing.subarray(0, 7))).toEqual({ load: 1, attrs: {} });
      expect((decode(backing) as PushRejection).code).toBe(ErrorCode.PUSH_MALFORMED);
      // And a truncated push is not rescued by bytes beyond its slice.
      const full = mp.map([['load', mp.float64(2)]]);
      expect((decode(full.subarray(0, full.length - 1)) as PushRejection).code).toBe(ErrorCode.PUSH_MALFORMED);
    });

    it('never throws on arbitrary bytes after a map header', () => {
      fc.assert(
        fc.property(
          fc.oneof(
            fc.integer({ min: 0x80, max: 0x8f }).map((h) => [h]),
            fc.constant([0xde, 0x00, 0x03]),
            fc.constant([0xdf, 0x00, 0x00, 0x00, 0x02]),
          ),
          fc.uint8Array({ maxLength: 128 }),
          (head, rest) => {
            const r = decode(bytes(head, rest));
            if (isRejection(r)) expect(Object.values(ErrorCode)).toContain(r.code);
            else expect(r.load).toBeGreaterThanOrEqual(0);
          },
        ),
        { numRuns: 5000 },
      );
    });
  });

  describe('isValidAddr', () => {
    it.each([
      'host',
      'host:8080',
      'node-1.example.com',
      'node-1.example.com:7400',
      '10.0.0.1',
      '10.0.0.1:0',
      'h:65535',
      '[::1]',
      '[::1]:8080',
      '[fe80::1%eth0]:80',
      '[2001:db8::ff00:42:8329]:443',
    ])('accepts %j', (a) => expect(isValidAddr(a)).toBe(true));

    it.each([
      '',
      ' ',
      'my host',
      'host ',
      ' host',
      'host\n',
      'host:',
      ':80',
      'host:70000',
      'host:65536',
      'host:123456',
      'host:-1',
      'host:http',
      '::1',
      '[::1',
      '::1]',
      '[::1]:',
      'a:b:c',
      'http://host',
      'host/path',
    ])('refuses %j', (a) => expect(isValidAddr(a)).toBe(false));
  });
});

describe('encodePush', () => {
  it('writes load first, then addr, capacity and the attributes in order', () => {
    expect(encodePushPayload({ load: 1, addr: 'h', capacity: 2, attrs: { z: true } }).toString('hex')).toBe(
      bytes([0x84], mp.str('load'), [0x01], mp.str('addr'), mp.str('h'), mp.str('capacity'), [0x02], mp.str('z'), mp.true).toString('hex'),
    );
    expect(
      encodePushPayload({ capacity: 2, attrs: { z: true }, addr: 'h', load: 1 })
        .subarray(1, 6)
        .equals(mp.str('load')),
    ).toBe(true);
  });

  it('writes a frame header around the payload', () => {
    const p = { load: 1.25, addr: '[::1]:1', attrs: { zone: 'eu' } };
    const f = encodePush(p);
    expect(f.readUInt16BE(0)).toBe(0);
    expect(f.readUInt16BE(2)).toBe(f.length - 4);
    expect(f.subarray(4).equals(encodePushPayload(p))).toBe(true);
  });

  it('writes plain MessagePack maps a C agent can read (no msgpackr records or extensions)', () => {
    const payload = encodePushPayload({ load: 1, attrs: Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, `v${i}`])) });
    expect(payload[0]).toBe(0xde); // map16, 21 entries
    expect(payload.readUInt16BE(1)).toBe(21);
    expect(accepted(payload).attrs['k19']).toBe('v19');
  });

  // A master refuses the key (PUSH_BAD_KEY): the encoder does not write what would be refused.
  it('refuses an attribute named "__proto__"', () => {
    const attrs = JSON.parse('{"__proto__":"x","zone":"a"}') as Record<string, AttrValue>;
    expect(() => encodePushPayload({ load: 1, attrs })).toThrow(RangeError);
    expect(() => encodePushPayload({ load: 1, attrs })).toThrow(/"__proto__"/);
  });

  it('keeps attributes named after other Object.prototype properties', () => {
    const attrs = { constructor: 'x', toString: 1, hasOwnProperty: true };
    expect(accepted(encodePushPayload({ load: 1, attrs })).attrs).toEqual(attrs);
  });

  it('refuses attributes that would overwrite load, addr or capacity', () => {
    for (const k of ['load', 'addr', 'capacity']) {
      expect(() => encodePushPayload({ load: 5, attrs: { [k]: 7 } })).toThrow(RangeError);
    }
  });
});

describe('encode → decode round trip', () => {
  // Strings of any code point (no lone surrogates: they have no UTF-8 form), by UTF-8 length.
  // Without control and bidi characters: a master refuses them (the table of refusals has them).
  const stringOfBytes = (maxBytes: number, maxChars: number): fc.Arbitrary<string> =>
    fc
      .oneof(
        fc.string({ maxLength: maxBytes }),
        fc.string({ unit: 'binary', maxLength: maxChars }),
        fc.string({ unit: 'grapheme', maxLength: maxChars / 2 }),
      )
      .filter((s) => utf8Length(s) <= maxBytes && isSafeName(s));
  const finite = fc.double({ noNaN: true, noDefaultInfinity: true });
  const attrKey = stringOfBytes(DEFAULT_LIMITS.maxKeyBytes, 32)
    // the reserved keys are fields, not attributes, and "__proto__" is refused (the encoder refuses them in attrs)
    .filter((k) => !RESERVED_KEYS.has(k) && k !== '__proto__');
  const attrValue: fc.Arbitrary<AttrValue> = fc.oneof(
    stringOfBytes(DEFAULT_LIMITS.maxStringBytes, 128),
    finite,
    fc.integer(),
    fc.maxSafeInteger(),
    fc.boolean(),
  );
  const port = fc.integer({ min: 0, max: 65535 });
  const addr = fc
    .oneof(
      fc.domain(),
      fc.ipV4(),
      fc.tuple(fc.oneof(fc.domain(), fc.ipV4()), port).map(([h, p]) => `${h}:${p}`),
      fc.ipV6().map((h) => `[${h}]`),
      fc.tuple(fc.ipV6(), port).map(([h, p]) => `[${h}]:${p}`),
    )
    .filter((a) => utf8Length(a) <= DEFAULT_LIMITS.maxStringBytes);
  const pushFields: fc.Arbitrary<PushFields> = fc.record(
    {
      load: fc.oneof(fc.nat(), fc.maxSafeNat(), fc.double({ min: 0, noNaN: true, noDefaultInfinity: true })),
      addr,
      capacity: fc.oneof(fc.integer({ min: 1 }), fc.double({ min: Number.MIN_VALUE, noNaN: true, noDefaultInfinity: true })),
      attrs: fc.dictionary(attrKey, attrValue, { maxKeys: DEFAULT_LIMITS.maxAttrs }),
    },
    { requiredKeys: ['load'] },
  );

  // msgpackr writes -0 as the integer 0; the wire has no way to tell them apart for integers.
  const norm = <T>(v: T): T => (Object.is(v, -0) ? (0 as T) : v);
  const expectedInfo = (p: PushFields): LoadInfo => {
    const info: LoadInfo = { load: norm(p.load), attrs: Object.fromEntries(Object.entries(p.attrs ?? {}).map(([k, v]) => [k, norm(v)])) };
    if (p.addr !== undefined) info.addr = p.addr;
    if (p.capacity !== undefined) info.capacity = p.capacity;
    return info;
  };

  it('decodes every valid push back to what was encoded', () => {
    fc.assert(
      fc.property(pushFields, (p) => {
        const payload = encodePushPayload(p);
        expect(payload.length).toBeLessThanOrEqual(MAX_WIRE_PAYLOAD);
        const expected = expectedInfo(p);

        const direct = decode(payload);
        expect(direct).toEqual(expected);
        expect('addr' in direct).toBe(p.addr !== undefined);
        expect('capacity' in direct).toBe(p.capacity !== undefined);

        // And through the frame decoder, whose default maxPayload (8 KiB) a push of 32 long
        // attributes can exceed: allow the full u16 range here.
        const frames: Frame[] = [];
        const d = new FrameDecoder(
          { frame: (f) => frames.push(f), error: (e) => expect.fail(`${e.code}: ${e.reason}`) },
          { maxPayload: MAX_WIRE_PAYLOAD },
        );
        d.push(encodePush(p));
        expect(frames).toEqual([{ type: 'PUSH_LOAD_INFO', info: expected }]);
      }),
      { numRuns: 500 },
    );
  });

  it('decodes the same LoadInfo from any valid encoding of the same map', () => {
    // Re-encode a decoded push with randomly chosen (valid, not necessarily shortest) headers,
    // widths and entry order: the result must not change.
    const encodings = (n: number): Buffer[] => {
      if (!Number.isInteger(n) || Object.is(n, -0))
        return Math.fround(n) === n || Number.isNaN(n) ? [mp.float64(n), mp.float32(n)] : [mp.float64(n)];
      const out: Buffer[] = [mp.float64(n)];
      if (Math.fround(n) === n) out.push(mp.float32(n));
      if (n >= 0 && n <= 0x7f) out.push(mp.fixint(n));
      if (n >= -32 && n < 0) out.push(mp.fixint(n));
      if (n >= 0 && n <= 0xff) out.push(mp.uint8(n));
      if (n >= 0 && n <= 0xffff) out.push(mp.uint16(n));
      if (n >= 0 && n <= 0xffffffff) out.push(mp.uint32(n));
      if (n >= 0 && n < 2 ** 64) out.push(mp.uint64(BigInt(n)));
      if (n >= -128 && n <= 127) out.push(mp.int8(n));
      if (n >= -32768 && n <= 32767) out.push(mp.int16(n));
      if (n >= -(2 ** 31) && n < 2 ** 31) out.push(mp.int32(n));
      if (n >= -(2 ** 63) && n < 2 ** 63) out.push(mp.int64(BigInt(n)));
      return out;
    };
    const strEncodings = (s: string): Buffer[] => {
      const len = utf8Length(s);
      const out = [mp.str16(s), mp.str32(s)];
      if (len < 32) out.push(mp.str(s));
      if (len < 256) out.push(mp.str8(s));
      return out;
    };
    const valueEncodings = (v: AttrValue): Buffer[] =>
      typeof v === 'boolean' ? [v ? mp.true : mp.false] : typeof v === 'string' ? strEncodings(v) : encodings(v);

    fc.assert(
      fc.property(pushFields, fc.gen(), (p, g) => {
        const info = accepted(encodePushPayload(p));
        const entries: Array<[string, AttrValue]> = [['load', info.load]];
        if (info.addr !== undefined) entries.push(['addr', info.addr]);
        if (info.capacity !== undefined) entries.push(['capacity', info.capacity]);
        entries.push(...Object.entries(info.attrs));
        const pick = <T>(xs: readonly T[]): T => xs[g(fc.nat, { max: xs.length - 1 })]!;
        const order = entries
          .map((e) => [g(fc.double, { noNaN: true }), e] as const)
          .sort((a, b) => a[0] - b[0])
          .map(([, e]) => e);
        const n = order.length;
        const header = pick([...(n < 16 ? [mp.fixmapHeader(n)] : []), mp.map16Header(n), mp.map32Header(n)]);
        const payload = bytes(header, ...order.flatMap(([k, v]) => [pick(strEncodings(k)), pick(valueEncodings(v))]));
        expect(decode(payload)).toEqual(info);
      }),
      { numRuns: 300 },
    );
  });
});
