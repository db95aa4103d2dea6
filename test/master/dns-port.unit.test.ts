/**
 * The DNS adapter's one entry for a packet (DnsPort.answer, src/master/dns-port.ts), in
 * memory: whatever bytes arrive — random, or a valid query with bytes changed, cut or
 * added — nothing throws out of it; a packet that is not a query is dropped (undefined)
 * and counted, as a dropped packet and as an error of the interface.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WeightBoard } from '../../src/ledger/weights.js';
import { DnsPort } from '../../src/master/dns-port.js';
import { DnsType, parseQuery } from '../../src/protocol/dns.js';
import { Selector } from '../../src/selection/selector.js';
import { AnswerStats } from '../../src/util/answer-stats.js';
import { query, readAnswer } from '../helpers/dns.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { Table } from '../selection/table.js';

function port() {
  const t = new Table().report('10.0.0.5:8080', 1).report('10.0.0.6:8080', 2, { attrs: { service: 'api' } });
  const clock = new ManualClock();
  const weights = new WeightBoard(t, { scheduler: clock, interval: 1000, policy: { min: 10, step: 20 }, serviceKey: 'service' });
  const stats = new AnswerStats();
  const dns = new DnsPort(
    { listen: { host: '127.0.0.1', port: 0 }, zone: 'loadledger', ttl: 1, policy: 'p2c', scheduler: clock },
    { projection: t.projection, weights, selector: new Selector({ policy: 'p2c' }), degraded: undefined },
    stats,
  );
  return { dns, stats, weights, t };
}

describe('DnsPort.answer', () => {
  it('answers a query, drops and counts what is none', () => {
    const { dns, stats, weights } = port();
    const a = dns.answer(query('least.loadledger', DnsType.A, { id: 9 }), 'udp');
    expect(a && readAnswer(a)).toEqual({ id: 9, rcode: 0, aa: true, tc: false, counts: [1, 1, 0, 0] });
    expect(dns.answer(new Uint8Array([1, 2, 3]), 'udp')).toBeUndefined();
    expect({ dropped: dns.dropped, requests: stats.requests, errors: stats.errors }).toEqual({ dropped: 1, requests: 2, errors: 1 });
    // EDNS version 1: BADVERS (extended rcode 16: 1 in the OPT record, 0 in the header)
    const v1 = dns.answer(query('least.loadledger', DnsType.A, { udpSize: 1232, version: 1 }), 'udp')!;
    expect(readAnswer(v1)).toMatchObject({ rcode: 0, counts: [1, 0, 0, 1] });
    expect(v1[v1.length - 11 + 5]).toBe(1);
    weights.stop();
  });

  it('keeps an SRV answer for the moment (same bytes, the id and RD of each query), and drops it when the eligible nodes change', () => {
    const { dns, weights, t } = port();
    const ask = (id: number) => dns.answer(query('_nodes._tcp.loadledger', DnsType.SRV, { id, udpSize: 1232 }), 'udp')!;
    const a = ask(1);
    const b = ask(2);
    expect(readAnswer(a)).toMatchObject({ id: 1, counts: [1, 2, 0, 3] });
    expect(readAnswer(b)).toMatchObject({ id: 2, counts: [1, 2, 0, 3] });
    expect([...b.subarray(2)]).toEqual([...a.subarray(2)]);
    t.down('10.0.0.6:8080');
    expect(readAnswer(ask(3))).toMatchObject({ id: 3, counts: [1, 1, 0, 2] });
    weights.stop();
  });

  it('never throws, whatever the bytes; every packet that is not a query is counted as dropped', () => {
    const { dns, stats, weights } = port();
    const valid = [
      query('least.loadledger', DnsType.A),
      query('_nodes._tcp.api.loadledger', DnsType.SRV, { udpSize: 4096, cookie: true }),
      query('10-0-0-5.addr.loadledger', DnsType.ANY, { udpSize: 512 }),
    ];
    let expectedDrops = 0;
    const check = (b: Uint8Array, transport: 'udp' | 'tcp') => {
      const before = dns.dropped;
      const r = dns.answer(b, transport);
      const isQuery = !('error' in parseQuery(b));
      if (!isQuery) expectedDrops++;
      expect(r === undefined).toBe(!isQuery);
      expect(dns.dropped - before).toBe(isQuery ? 0 : 1);
      if (r) expect(readAnswer(r).id).toBe((b[0]! << 8) | b[1]!);
    };
    fc.assert(fc.property(fc.uint8Array({ maxLength: 1200 }), fc.constantFrom<'udp' | 'tcp'>('udp', 'tcp'), check), { numRuns: 3000 });
    fc.assert(
      fc.property(
        fc.constantFrom(...valid),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
        fc.option(fc.nat(), { nil: undefined }),
        fc.uint8Array({ maxLength: 8 }),
        fc.constantFrom<'udp' | 'tcp'>('udp', 'tcp'),
        (base, edits, cut, extra, transport) => {
          let b = Uint8Array.from(base);
          for (const [at, v] of edits) b[at % b.length] = v;
          if (cut !== undefined) b = b.subarray(0, cut % (b.length + 1));
          check(Uint8Array.from([...b, ...extra]), transport);
        },
      ),
      { numRuns: 3000 },
    );
    expect(dns.dropped).toBe(expectedDrops);
    expect(expectedDrops).toBeGreaterThan(3000); // nearly every random packet, and most mutated ones
    expect(stats.requests).toBe(6000);
    weights.stop();
  });
});
