/**
 * QUERY and QUERY_REPLY (README "Binary queries"): the bytes in the README, any
 * segmentation, the table of payloads a master refuses (closed) or answers BAD_ARGUMENT
 * (kept), and encode→decode round trips.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import { FrameDecoder, type DecodeError } from '../../src/protocol/decoder.js';
import { encodeQuery, encodeQueryReply } from '../../src/protocol/encoder.js';
import { QUERY_MAX_PAYLOAD, type AttrValue, type Frame, type Query, type QueryReply } from '../../src/protocol/messages.js';
import { decodeQuery, decodeQueryReply, isQueryRejection } from '../../src/protocol/query.js';
import { byteByByte, bytes, decodeAll, decodeChunks, frame, hex, mp, outcome, splitAt } from './helpers.js';

const QUERY_HEX = '00 04 00 21 83 a2 69 64 07 a6 70 6f 6c 69 63 79 a3 70 32 63 a5 77 68 65 72 65 81 a4 7a 6f 6e 65 a4 65 75 2d 31';
const REPLY_OK_HEX =
  '00 05 00 46 84 a2 69 64 07 a2 6f 6b c3 a4 6e 6f 64 65 84 a2 69 64 ad 31 30 2e 30 2e 30 2e 36 3a 38 30 38 30 a4 6c 6f 61 64 0a a8 63 61 70 61 63 69 74 79 01 a5 61 74 74 72 73 81 a4 7a 6f 6e 65 a4 65 75 2d 31 a3 73 65 71 2a';
const REPLY_ERR_HEX =
  '00 05 00 49 84 a2 69 64 08 a2 6f 6b c2 a4 63 6f 64 65 b0 4e 4f 5f 45 4c 49 47 49 42 4c 45 5f 4e 4f 44 45 a5 65 72 72 6f 72 d9 22 6e 6f 20 65 6c 69 67 69 62 6c 65 20 6e 6f 64 65 20 6d 61 74 63 68 65 73 20 7a 6f 6e 65 3d 75 73 2d 31';

const REPLY_OK: QueryReply = { id: 7, ok: true, node: { id: '10.0.0.6:8080', load: 10, capacity: 1, attrs: { zone: 'eu-1' } }, seq: 42 };
const REPLY_ERR: QueryReply = { id: 8, ok: false, code: 'NO_ELIGIBLE_NODE', error: 'no eligible node matches zone=us-1' };

function query(payload: Uint8Array): Query {
  const q = decodeQuery(payload);
  if (isQueryRejection(q)) throw new Error(`refused: ${q.code} ${q.reason}`);
  return q;
}

/** A client's decoder (QUERY_REPLY decoded). */
function decodeReplies(chunks: Iterable<Uint8Array>): { frames: Frame[]; errors: DecodeError[] } {
  const frames: Frame[] = [];
  const errors: DecodeError[] = [];
  const d = new FrameDecoder({ frame: (f) => frames.push(f), error: (e) => errors.push(e) }, {}, { replies: true });
  for (const c of chunks) d.push(c);
  return { frames, errors };
}

describe('QUERY and QUERY_REPLY bytes (README)', () => {
  it('encodes QUERY {id: 7, policy: "p2c", where: {zone: "eu-1"}} as in the README', () => {
    expect(encodeQuery({ id: 7, policy: 'p2c', where: { zone: 'eu-1' } }).toString('hex')).toBe(hex(QUERY_HEX).toString('hex'));
    expect(encodeQuery().toString('hex')).toBe('00040000');
  });

  it('encodes both QUERY_REPLY examples as in the README', () => {
    expect(encodeQueryReply(REPLY_OK).toString('hex')).toBe(hex(REPLY_OK_HEX).toString('hex'));
    expect(encodeQueryReply(REPLY_ERR).toString('hex')).toBe(hex(REPLY_ERR_HEX).toString('hex'));
  });

  it('decodes the README QUERY on the master, and an empty QUERY as "the master\'s policy, no filters"', () => {
    expect(decodeAll(hex(QUERY_HEX)).frames).toEqual([{ type: 'QUERY', query: { id: 7, policy: 'p2c', where: [['zone', 'eu-1']] } }]);
    expect(decodeAll(hex('00 04 00 00')).frames).toEqual([{ type: 'QUERY', query: { where: [] } }]);
  });

  it('decodes the README replies on a client, and skips QUERY_REPLY on the master as an unknown frame', () => {
    expect(decodeReplies([hex(REPLY_OK_HEX), hex(REPLY_ERR_HEX)]).frames).toEqual([
      { type: 'QUERY_REPLY', reply: REPLY_OK },
      { type: 'QUERY_REPLY', reply: REPLY_ERR },
    ]);
    expect(decodeAll(hex(REPLY_OK_HEX)).frames).toEqual([{ type: 'UNKNOWN', code: 5, length: 0x46 }]);
  });
});

describe('any segmentation', () => {
  const stream = bytes(
    hex('00 01 00 00'),
    hex(QUERY_HEX),
    encodeQuery(),
    encodeQuery({ id: 1, where: { n: 3, up: true } }),
    hex('00 01 00 00'),
  );
  const whole = outcome(decodeAll(stream));
  const replies = bytes(hex(REPLY_OK_HEX), hex('00 01 00 00'), hex(REPLY_ERR_HEX));
  const wholeReplies = decodeReplies([replies]).frames;

  it('decodes QUERY frames one byte at a time', () => {
    expect(whole).toHaveLength(5);
    expect(outcome(decodeChunks(byteByByte(stream)))).toEqual(whole);
    expect(decodeReplies(byteByByte(replies)).frames).toEqual(wholeReplies);
  });

  it('decodes QUERY and QUERY_REPLY frames split into two at every position', () => {
    for (let i = 0; i <= stream.length; i++) expect(outcome(decodeChunks(splitAt(stream, [i])))).toEqual(whole);
    for (let i = 0; i <= replies.length; i++) expect(decodeReplies(splitAt(replies, [i])).frames).toEqual(wholeReplies);
  });

  it('refuses a QUERY longer than 8 KiB from its header, before its payload arrives', () => {
    const r = decodeAll(hex(`00 04 ${(QUERY_MAX_PAYLOAD + 1).toString(16).padStart(4, '0')}`));
    expect(r.errors.map((e) => e.code)).toEqual([ErrorCode.FRAME_TOO_LARGE]);
    const ok = decodeAll(
      frame(
        4,
        mp.map([
          ['where', mp.map([['k', mp.str8('x'.repeat(200))]])],
          ['id', mp.str16('y'.repeat(QUERY_MAX_PAYLOAD - 230))],
        ]),
      ),
    );
    expect(ok.errors).toEqual([]);
    expect(ok.frames[0]!.type).toBe('QUERY');
  });
});

describe('decodeQuery', () => {
  const where = (...entries: Array<readonly [string, Uint8Array]>): Buffer => mp.map([['where', mp.map(entries)]]);

  it.each([
    {
      name: 'map16 and map32 headers, str8 keys, every number encoding',
      payload: bytes(
        mp.map16Header(2),
        mp.str8('id'),
        mp.uint32(0xffffffff),
        mp.str('where'),
        mp.map32Header(3),
        mp.str('a'),
        mp.float32(1.5),
        mp.str('b'),
        mp.int64(-3n),
        mp.str('c'),
        mp.false,
      ),
      q: {
        id: 0xffffffff,
        where: [
          ['a', 1.5],
          ['b', -3],
          ['c', false],
        ],
      },
    },
    { name: 'policy only', payload: mp.map([['policy', mp.str('capacity')]]), q: { policy: 'capacity', where: [] } },
    {
      name: 'an unknown policy is read (the master refuses it)',
      payload: mp.map([['policy', mp.str('round-robin')]]),
      q: { policy: 'round-robin', where: [] },
    },
    { name: 'an empty where', payload: where(), q: { where: [] } },
    {
      name: 'a filter of 256 bytes, a key of 64',
      payload: where(['k'.repeat(64), mp.str('v'.repeat(256))]),
      q: { where: [['k'.repeat(64), 'v'.repeat(256)]] },
    },
    { name: '-0 as 0', payload: where(['n', mp.float64(-0)]), q: { where: [['n', 0]] } },
  ])('reads $name', ({ payload, q }) => {
    expect(query(payload)).toEqual(q);
  });

  // Well-formed MessagePack asking for something that cannot be answered: BAD_ARGUMENT, connection kept.
  const INVALID: ReadonlyArray<{ name: string; payload: Buffer; id?: number; reason: RegExp }> = [
    {
      name: 'an unknown key (a typo must not mean "no filter")',
      payload: mp.map([
        ['id', mp.fixint(3)],
        ['wher', mp.map([])],
      ]),
      id: 3,
      reason: /keys id, policy and where .*"wher"/,
    },
    { name: 'a negative id', payload: mp.map([['id', mp.fixint(-1)]]), reason: /"id" must be an integer/ },
    { name: 'an id over 2^32 - 1', payload: mp.map([['id', mp.uint64(2n ** 32n)]]), reason: /"id"/ },
    { name: 'a fractional id', payload: mp.map([['id', mp.float64(1.5)]]), reason: /"id"/ },
    { name: 'a string id', payload: mp.map([['id', mp.str('7')]]), reason: /"id"/ },
    {
      name: 'a policy that is not a string',
      payload: mp.map([
        ['policy', mp.fixint(1)],
        ['id', mp.fixint(9)],
      ]),
      id: 9,
      reason: /"policy" must be a string/,
    },
    {
      name: 'where that is not a map',
      payload: mp.map([['where', mp.fixarray(mp.str('zone'))]]),
      reason: /"where" must be a map .*an array/,
    },
    { name: 'a nil filter', payload: where(['zone', mp.nil]), reason: /filter "zone" .*nil/ },
    { name: 'a nested filter', payload: where(['zone', mp.map([['a', mp.fixint(1)]])]), reason: /filter "zone" .*a map/ },
    { name: 'a bin filter', payload: where(['zone', mp.bin8([1, 2])]), reason: /bin/ },
    { name: 'an ext filter', payload: where(['zone', mp.fixext1(1, 2)]), reason: /ext/ },
    { name: 'an infinite filter', payload: where(['n', mp.float64(Infinity)]), reason: /finite/ },
    { name: 'a NaN filter', payload: where(['n', mp.float32(NaN)]), reason: /finite/ },
    { name: 'a __proto__ filter', payload: where(['__proto__', mp.str('x')]), reason: /__proto__/ },
    { name: 'a __proto__ key', payload: mp.map([['__proto__', mp.map([])]]), reason: /__proto__/ },
    { name: '33 filters', payload: where(...Array.from({ length: 33 }, (_, i) => [`k${i}`, mp.fixint(i)] as const)), reason: /33 filters/ },
    { name: 'a key of 65 bytes', payload: where(['k'.repeat(65), mp.fixint(1)]), reason: /key of 65 bytes/ },
    { name: 'a string of 257 bytes', payload: where(['k', mp.str('v'.repeat(257))]), reason: /257 bytes/ },
    // no attribute holds a control or bidi character (a master refuses them in pushes)
    {
      name: 'a filter key holding ESC',
      payload: where(['zo\x1bne', mp.str('a')]),
      reason: /a filter key holds the control character U\+001B/,
    },
    {
      name: 'a filter value holding U+202E',
      payload: where(['zone', mp.str('eu\u202e')]),
      reason: /filter "zone" holds the control character U\+202E/,
    },
    {
      name: 'the first problem is named, the id still echoed',
      payload: mp.map([
        ['policy', mp.nil],
        ['where', mp.nil],
        ['id', mp.fixint(5)],
      ]),
      id: 5,
      reason: /"policy"/,
    },
  ];

  it.each(INVALID)('answers BAD_ARGUMENT to $name', ({ payload, id, reason }) => {
    const q = query(payload);
    expect(q.invalid).toMatch(reason);
    expect(q.id).toBe(id);
    expect(q.policy).toBeUndefined();
  });

  // Bytes that are not a readable QUERY: a violation, the connection closed.
  const MALFORMED: ReadonlyArray<{ name: string; payload: Buffer }> = [
    { name: 'not a map', payload: mp.fixarray() },
    { name: 'a string', payload: mp.str('least-loaded') },
    { name: 'nil', payload: mp.nil },
    { name: 'cut in the header of a map16', payload: bytes([0xde, 0x00]) },
    { name: 'cut in a key', payload: bytes([0x81, 0xa5, 0x77, 0x68]) },
    { name: 'cut in a value', payload: bytes(mp.fixmapHeader(1), mp.str('id'), [0xcd, 0x01]) },
    { name: 'a map claiming more entries than the bytes hold', payload: bytes(mp.map32Header(0xffffffff), mp.str('id'), mp.fixint(1)) },
    {
      name: 'an array claiming more items than the bytes hold',
      payload: bytes(mp.fixmapHeader(1), mp.str('x'), [0xdd, 0xff, 0xff, 0xff, 0xff]),
    },
    { name: 'bytes after the map', payload: bytes(mp.map([['id', mp.fixint(1)]]), [0xc0]) },
    {
      name: 'a duplicate key',
      payload: mp.map([
        ['id', mp.fixint(1)],
        ['id', mp.fixint(2)],
      ]),
    },
    { name: 'a duplicate filter', payload: where(['z', mp.fixint(1)], ['z', mp.fixint(2)]) },
    { name: 'a key that is not a string', payload: bytes(mp.fixmapHeader(1), mp.fixint(1), mp.fixint(2)) },
    {
      name: 'a filter key that is not a string',
      payload: bytes(mp.fixmapHeader(1), mp.str('where'), mp.fixmapHeader(1), mp.true, mp.fixint(2)),
    },
    { name: 'invalid UTF-8 in a key', payload: bytes(mp.fixmapHeader(1), mp.rawstr([0xff, 0xfe]), mp.fixint(1)) },
    { name: 'invalid UTF-8 in a filter', payload: where(['z', mp.rawstr([0xc3, 0x28])]) },
    { name: 'the never-used byte 0xc1', payload: bytes(mp.fixmapHeader(1), mp.str('x'), [0xc1]) },
    { name: 'arrays nested 9 deep', payload: bytes(mp.fixmapHeader(1), mp.str('x'), Array(9).fill(0x91), [0x01]) },
  ];

  it.each(MALFORMED)('refuses $name as QUERY_MALFORMED', ({ payload }) => {
    const q = decodeQuery(payload);
    expect(isQueryRejection(q) && q.code).toBe(ErrorCode.QUERY_MALFORMED);
    const r = decodeAll(bytes(frame(4, payload), hex('00 01 00 00')));
    expect(r.errors.map((e) => e.code)).toEqual([ErrorCode.QUERY_MALFORMED]);
    expect(r.frames).toEqual([]); // nothing after the violation
  });

  it('never throws on random payloads, and only refuses with QUERY_MALFORMED', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 64 }),
          fc.tuple(fc.integer({ min: 0x80, max: 0x8f }), fc.uint8Array({ maxLength: 64 })).map(([h, r]) => bytes([h], r)),
        ),
        (payload) => {
          const q = decodeQuery(payload);
          if (isQueryRejection(q)) expect(q.code).toBe(ErrorCode.QUERY_MALFORMED);
          else expect(Array.isArray(q.where)).toBe(true);
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe('round trips', () => {
  const key = fc.string({ minLength: 1, maxLength: 12 }).filter((k) => k !== '__proto__');
  const attr: fc.Arbitrary<AttrValue> = fc.oneof(
    fc.string({ maxLength: 40 }),
    fc.boolean(),
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => d + 0),
  );

  it('decodeQuery(encodeQuery(q)) gives q back', () => {
    fc.assert(
      fc.property(
        fc.record(
          {
            id: fc.integer({ min: 0, max: 0xffffffff }),
            policy: fc.string({ maxLength: 20 }),
            where: fc.dictionary(key, attr, { maxKeys: 32 }),
          },
          { requiredKeys: [] },
        ),
        (q) => {
          const f = encodeQuery(q);
          const r = decodeAll(f);
          expect(r.errors).toEqual([]);
          const expected: Query = { where: Object.entries(q.where ?? {}) };
          if (q.id !== undefined) expected.id = q.id;
          if (q.policy !== undefined) expected.policy = q.policy;
          expect(r.frames).toEqual([{ type: 'QUERY', query: expected }]);
        },
      ),
    );
  });

  it('decodeQueryReply(encodeQueryReply(r)) gives r back', () => {
    const id = fc.option(fc.integer({ min: 0, max: 0xffffffff }), { nil: undefined });
    const reply: fc.Arbitrary<QueryReply> = fc
      .oneof(
        fc.record({
          id,
          ok: fc.constant(true as const),
          node: fc.record({
            id: fc.string({ maxLength: 30 }),
            load: fc.double({ min: 0, noNaN: true, noDefaultInfinity: true }).map((d) => d + 0),
            capacity: fc.double({ min: 0.01, max: 100, noNaN: true }),
            attrs: fc.dictionary(key, attr, { maxKeys: 32 }),
          }),
          seq: fc.nat(),
        }),
        fc.record({
          id,
          ok: fc.constant(false as const),
          code: fc.constantFrom('NO_ELIGIBLE_NODE' as const, 'MASTER_DOWN' as const, 'BAD_ARGUMENT' as const),
          error: fc.string(),
        }),
      )
      .map((r) => {
        if (r.id === undefined) delete r.id;
        return r;
      });
    fc.assert(
      fc.property(reply, (r) => {
        const f = encodeQueryReply(r);
        expect(decodeQueryReply(f.subarray(4))).toEqual(r);
        expect(decodeReplies([f]).frames).toEqual([{ type: 'QUERY_REPLY', reply: r }]);
      }),
    );
  });

  it('refuses replies that are not the documented shape', () => {
    for (const bad of [
      mp.fixarray(),
      mp.map([['ok', mp.str('yes')]]),
      mp.map([['ok', mp.true]]),
      mp.map([
        ['ok', mp.false],
        ['code', mp.str('NOPE')],
        ['error', mp.str('')],
      ]),
      bytes([0xc1]),
    ]) {
      const r = decodeQueryReply(bad);
      expect(isQueryRejection(r) && r.code).toBe(ErrorCode.QUERY_MALFORMED);
    }
  });
});
