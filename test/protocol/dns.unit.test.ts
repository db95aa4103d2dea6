/**
 * The DNS wire format of the DNS interface (src/protocol/dns.ts): a query read strictly, an
 * answer written with compression, TC when it does not fit; a table of packets refused;
 * random bytes and mutated queries (fast-check) never throw.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DnsType,
  encodeAnswer,
  ipv4Bytes,
  ipv6Bytes,
  parseQuery,
  udpLimit,
  type DnsAnswer,
  type DnsQuery,
  type DnsRecord,
} from '../../src/protocol/dns.js';
import { query, readAnswer } from '../helpers/dns.js';

function parsed(b: Uint8Array): DnsQuery {
  const q = parseQuery(b);
  if ('error' in q) throw new Error(q.error);
  return q;
}

describe('parseQuery', () => {
  it('reads the question (lower case), RD, the id and EDNS (size, version, options)', () => {
    expect(parsed(query('Least.LoadLedger', DnsType.A))).toEqual({
      id: 0x1234,
      rd: true,
      cd: false,
      question: { name: 'least.loadledger', type: DnsType.A, class: 1 },
    });
    expect(parsed(query('_nodes._tcp.loadledger', DnsType.SRV, { udpSize: 4096, cookie: true })).edns).toEqual({
      udpSize: 4096,
      version: 0,
      do: false,
    });
    expect(parsed(query('', DnsType.SOA)).question.name).toBe('');
  });

  it('refuses what no resolver sends, with a reason', () => {
    const ok = query('least.loadledger', DnsType.A);
    const edit = (f: (b: Uint8Array) => void, from = ok): Uint8Array => {
      const b = Uint8Array.from(from);
      f(b);
      return b;
    };
    const bad: [string, Uint8Array][] = [
      ['empty', new Uint8Array(0)],
      ['header only', ok.subarray(0, 12)],
      ['cut in the name', ok.subarray(0, 16)],
      ['cut in the type', ok.subarray(0, ok.length - 3)],
      ['a response', edit((b) => (b[2]! |= 0x80))],
      ['opcode 2', edit((b) => (b[2]! |= 0x10))],
      ['two questions', edit((b) => (b[5] = 2))],
      ['no question', edit((b) => (b[5] = 0))],
      ['an answer record', edit((b) => (b[7] = 1))],
      ['additional count without the record', edit((b) => (b[11] = 1))],
      ['a pointer in the question', Uint8Array.from([...ok.subarray(0, 12), 0xc0, 0x0c, 0, 1, 0, 1])],
      ['label length 64', Uint8Array.from([...ok.subarray(0, 12), 64, ...new Array<number>(64).fill(97), 0, 0, 1, 0, 1])],
      ['class CH', edit((b) => (b[b.length - 1] = 3))],
      ['trailing byte', Uint8Array.from([...ok, 0])],
      ['too long', new Uint8Array(2000)],
    ];
    for (const [why, b] of bad) expect(parseQuery(b), why).toHaveProperty('error');
    // a name over 255 bytes
    expect(parseQuery(query(Array.from({ length: 5 }, () => 'x'.repeat(60)).join('.'), DnsType.A))).toHaveProperty('error');
  });

  it('never throws, on random bytes or on valid queries with bytes changed, cut or added', () => {
    const valid = [query('least.loadledger', DnsType.A), query('_nodes._tcp.api.loadledger', DnsType.SRV, { udpSize: 1232, cookie: true })];
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (b) => {
        const r = parseQuery(b);
        expect(typeof r).toBe('object');
      }),
      { numRuns: 5000 },
    );
    fc.assert(
      fc.property(
        fc.constantFrom(...valid),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
        fc.option(fc.nat(), { nil: undefined }),
        (base, edits, cut) => {
          let b = Uint8Array.from(base);
          for (const [at, v] of edits) b[at % b.length] = v;
          if (cut !== undefined) b = b.subarray(0, cut % (b.length + 1));
          const r = parseQuery(b);
          if (!('error' in r)) expect(r.question.name.length).toBeLessThanOrEqual(255 * 4);
        },
      ),
      { numRuns: 5000 },
    );
  });
});

describe('encodeAnswer', () => {
  const srv = (i: number): DnsRecord => ({
    name: '_nodes._tcp.loadledger',
    ttl: 1,
    type: 'SRV',
    priority: 0,
    weight: 50,
    port: 8080,
    target: `10-0-${i >> 8}-${i & 255}.addr.loadledger`,
  });
  const glue = (i: number): DnsRecord => ({
    name: `10-0-${i >> 8}-${i & 255}.addr.loadledger`,
    ttl: 1,
    type: 'A',
    address: [10, 0, i >> 8, i & 255],
  });
  const many = (n: number): DnsAnswer => ({
    rcode: 'NOERROR',
    answers: Array.from({ length: n }, (_, i) => srv(i)),
    authorities: [],
    additionals: Array.from({ length: n }, (_, i) => glue(i)),
  });

  it('echoes id, RD and the question; sets QR, AA and the rcode (NXDOMAIN in the header, not lost)', () => {
    const q = parsed(query('nope.loadledger', DnsType.A, { id: 77 }));
    const { bytes, truncated } = encodeAnswer(
      q,
      { rcode: 'NXDOMAIN', answers: [], authorities: [], additionals: [] },
      { limit: 512, authoritative: true },
    );
    expect(truncated).toBe(false);
    expect(readAnswer(bytes)).toEqual({ id: 77, rcode: 3, aa: true, tc: false, counts: [1, 0, 0, 0] });
    // flags: QR AA RD, rcode 3
    expect([...bytes.subarray(2, 4)]).toEqual([0x85, 0x03]);
  });

  it('compresses names: a second record of the question name is a 2-byte pointer', () => {
    const q = parsed(query('_nodes._tcp.loadledger', DnsType.SRV));
    const one = encodeAnswer(q, many(1), { limit: 65535, authoritative: true }).bytes.length;
    const two = encodeAnswer(q, many(2), { limit: 65535, authoritative: true }).bytes.length;
    // SRV: pointer (2) + 10 + 6 + its uncompressed target (10-0-0-1.addr.loadledger: 26); A: 9-byte label + pointer + 10 + 4
    expect(two - one).toBe(2 + 10 + 6 + 26 + (1 + 8 + 2 + 10 + 4));
  });

  it('too large for the limit: without the additional section first, then TC with the question only', () => {
    const q = parsed(query('_nodes._tcp.loadledger', DnsType.SRV, { udpSize: 4096 }));
    expect(udpLimit(q)).toBe(4096);
    expect(udpLimit(parsed(query('x', DnsType.A)))).toBe(512);
    expect(udpLimit(parsed(query('x', DnsType.A, { udpSize: 100 })))).toBe(512);
    expect(udpLimit(parsed(query('x', DnsType.A, { udpSize: 65000 })))).toBe(4096);
    const small = encodeAnswer(q, many(8), { limit: 512, authoritative: true });
    expect(readAnswer(small.bytes)).toMatchObject({ tc: false, counts: [1, 8, 0, 1] }); // OPT only in additional
    const big = encodeAnswer(q, many(40), { limit: 512, authoritative: true });
    expect(big.truncated).toBe(true);
    expect(readAnswer(big.bytes)).toMatchObject({ tc: true, counts: [1, 0, 0, 1] });
    expect(big.bytes.length).toBeLessThanOrEqual(512);
    const roomy = encodeAnswer(q, many(40), { limit: 4096, authoritative: true });
    expect(readAnswer(roomy.bytes)).toMatchObject({ tc: false, counts: [1, 40, 0, 41] });
    // over TCP (partial): the answer records that fit, with TC
    const huge = encodeAnswer(q, many(2000), { limit: 65535, authoritative: true, partial: true });
    const fit = readAnswer(huge.bytes);
    expect(huge.truncated).toBe(true);
    expect(fit.tc).toBe(true);
    expect(fit.counts[1]).toBeGreaterThan(1000);
    expect(fit.counts[1]).toBeLessThan(2000);
    expect(huge.bytes.length).toBeLessThanOrEqual(65535);
    expect(huge.bytes.length + 2 + 26 + 18).toBeGreaterThan(65535); // one more SRV record would not have fit
  });
});

describe('addresses', () => {
  it('IPv4 and IPv6 text → bytes, refusing what is not one', () => {
    expect(ipv4Bytes('10.0.0.5')).toEqual([10, 0, 0, 5]);
    for (const bad of ['10.0.0', '10.0.0.256', '010.0.0.1', 'a.b.c.d', '']) expect(ipv4Bytes(bad)).toBeUndefined();
    expect(ipv6Bytes('::1')).toEqual([...new Array<number>(15).fill(0), 1]);
    expect(ipv6Bytes('fd00::7')).toEqual([0xfd, 0, ...new Array<number>(13).fill(0), 7]);
    expect(ipv6Bytes('::ffff:10.0.0.5')).toEqual([...new Array<number>(10).fill(0), 0xff, 0xff, 10, 0, 0, 5]);
    expect(ipv6Bytes('1:2:3:4:5:6:7:8')).toEqual([0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8]);
    for (const bad of ['1::2::3', '1:2:3:4:5:6:7:8:9', 'fe80::1%eth0', '12345::', 'host', '1:2:3:4:5:6:7::8'])
      expect(ipv6Bytes(bad), bad).toBeUndefined();
  });
});
