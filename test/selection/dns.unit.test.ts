/**
 * The DNS zone as a pure function (src/selection/dns.ts): a question and a view of the
 * registry → records and rcode. The table goes through the real reducer (Table), the
 * weights through the shared board, the picks through the master's Selector (seeded).
 */
import { describe, expect, it } from 'vitest';
import { WeightBoard } from '../../src/ledger/weights.js';
import { DnsType, type DnsQuestion } from '../../src/protocol/dns.js';
import { dnsAnswer, nodeAddress, normalizeZone, targetName, type DnsView } from '../../src/selection/dns.js';
import { Selector } from '../../src/selection/selector.js';
import { ev } from '../helpers/events.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { Table } from './table.js';

const ZONE = { zone: 'loadledger', ttl: 1 };
const q = (name: string, type: number = DnsType.A): DnsQuestion => ({ name, type, class: 1 });

function setup(build: (t: Table) => void = () => {}) {
  const t = new Table();
  build(t);
  const weights = new WeightBoard(t, {
    scheduler: new ManualClock(),
    interval: 1000,
    policy: { min: 10, step: 100 },
    serviceKey: 'service',
  });
  weights.start();
  const selector = new Selector({ policy: 'p2c' });
  let degraded = false;
  const view: DnsView = {
    nodes: () => t.projection.nodes.values(),
    pick: (f) => selector.choose(t.projection, 'p2c', f),
    weight: (n) => weights.weight(n),
    serviceOf: (n) => weights.serviceOf(n),
    hasService: (s) => [...t.projection.nodes.values()].some((n) => weights.serviceOf(n).toLowerCase() === s),
    get degraded() {
      return degraded;
    },
    get serial() {
      return t.projection.seq;
    },
  };
  return { t, weights, view, degrade: (on: boolean) => (degraded = on) };
}

const three = (t: Table) =>
  t
    .report('10.0.0.5:8080', 0, { attrs: { service: 'api' } })
    .report('10.0.0.6:8080', 50, { attrs: { service: 'api' } })
    .report('[fd00::7]:9000', 50, { attrs: { service: 'Web' } });

describe('dnsAnswer', () => {
  it('least.Z A: the node p2c picks among the IPv4 ones; AAAA among the IPv6 ones; least.S.Z within a service', () => {
    const { view } = setup(three);
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const r = dnsAnswer(q('least.loadledger'), view, ZONE);
      expect(r).toMatchObject({ rcode: 'NOERROR', authoritative: true, authorities: [] });
      expect(r.answers).toHaveLength(1);
      const a = r.answers[0]!;
      if (a.type !== 'A') throw new Error(a.type);
      seen.add(a.address.join('.'));
    }
    // p2c over two IPv4 nodes picks the less loaded of the pair: always .5 (the AAAA node is never drawn for A)
    expect([...seen]).toEqual(['10.0.0.5']);
    expect(dnsAnswer(q('least.loadledger', DnsType.AAAA), view, ZONE).answers).toEqual([
      { name: 'least.loadledger', ttl: 1, type: 'AAAA', address: [0xfd, 0, ...new Array<number>(13).fill(0), 7] },
    ]);
    expect(dnsAnswer(q('least.web.loadledger', DnsType.AAAA), view, ZONE).answers).toHaveLength(1);
    // a service with no IPv4 node: NOERROR, no answer, the SOA for negative caching
    const none = dnsAnswer(q('least.web.loadledger'), view, ZONE);
    expect(none).toMatchObject({ rcode: 'NOERROR', answers: [] });
    expect(none.authorities[0]).toMatchObject({ type: 'SOA', name: 'loadledger', minimum: 1 });
  });

  it('_nodes._tcp SRV: every eligible node with its weight, port and a target that resolves (glue in the additional section)', () => {
    const { view } = setup(three);
    const r = dnsAnswer(q('_nodes._tcp.loadledger', DnsType.SRV), view, ZONE);
    expect(r.rcode).toBe('NOERROR');
    expect(r.answers).toEqual([
      { name: '_nodes._tcp.loadledger', ttl: 1, type: 'SRV', priority: 0, weight: 100, port: 8080, target: '10-0-0-5.addr.loadledger' },
      { name: '_nodes._tcp.loadledger', ttl: 1, type: 'SRV', priority: 0, weight: 33, port: 8080, target: '10-0-0-6.addr.loadledger' },
      {
        name: '_nodes._tcp.loadledger',
        ttl: 1,
        type: 'SRV',
        priority: 0,
        weight: 100,
        port: 9000,
        target: 'fd000000000000000000000000000007.addr.loadledger',
      },
    ]);
    expect(r.additionals.map((x) => [x.name, x.type])).toEqual([
      ['10-0-0-5.addr.loadledger', 'A'],
      ['10-0-0-6.addr.loadledger', 'A'],
      ['fd000000000000000000000000000007.addr.loadledger', 'AAAA'],
    ]);
    // each target resolves on its own
    expect(dnsAnswer(q('10-0-0-6.addr.loadledger'), view, ZONE).answers).toEqual([
      { name: '10-0-0-6.addr.loadledger', ttl: 1, type: 'A', address: [10, 0, 0, 6] },
    ]);
    expect(dnsAnswer(q('fd000000000000000000000000000007.addr.loadledger', DnsType.AAAA), view, ZONE).answers).toHaveLength(1);
    expect(dnsAnswer(q('10-0-0-9.addr.loadledger'), view, ZONE).rcode).toBe('NXDOMAIN');
    // one service (the attribute Web, asked as the parser gives names: lower case)
    expect(dnsAnswer(q('_nodes._tcp.web.loadledger', DnsType.SRV), view, ZONE).answers.map((x) => x.type === 'SRV' && x.port)).toEqual([
      9000,
    ]);
  });

  it('a drained or DOWN node is in no answer; a service with none eligible is NOERROR with no answer; an unknown one NXDOMAIN', () => {
    const { t, weights, view } = setup(three);
    t.apply(ev.drained('10.0.0.5:8080'));
    t.down('10.0.0.6:8080');
    weights.step();
    expect(dnsAnswer(q('least.api.loadledger'), view, ZONE)).toMatchObject({ rcode: 'NOERROR', answers: [] });
    expect(dnsAnswer(q('_nodes._tcp.api.loadledger', DnsType.SRV), view, ZONE)).toMatchObject({ rcode: 'NOERROR', answers: [] });
    expect(dnsAnswer(q('_nodes._tcp.loadledger', DnsType.SRV), view, ZONE).answers).toHaveLength(1);
    expect(dnsAnswer(q('least.db.loadledger'), view, ZONE).rcode).toBe('NXDOMAIN');
    expect(dnsAnswer(q('_nodes._tcp.db.loadledger', DnsType.SRV), view, ZONE).rcode).toBe('NXDOMAIN');
  });

  it('a node whose host is a name: CNAME from least., its own name as SRV target, no glue', () => {
    const { view } = setup((t) => t.report('gw1.Example.com:8443', 1, { attrs: { service: 'edge' } }));
    expect(dnsAnswer(q('least.edge.loadledger'), view, ZONE).answers).toEqual([
      { name: 'least.edge.loadledger', ttl: 1, type: 'CNAME', target: 'gw1.example.com' },
    ]);
    expect(dnsAnswer(q('least.edge.loadledger', DnsType.AAAA), view, ZONE).answers[0]).toMatchObject({ type: 'CNAME' });
    const srv = dnsAnswer(q('_nodes._tcp.edge.loadledger', DnsType.SRV), view, ZONE);
    expect(srv.answers).toEqual([
      { name: '_nodes._tcp.edge.loadledger', ttl: 1, type: 'SRV', priority: 0, weight: 100, port: 8443, target: 'gw1.example.com' },
    ]);
    expect(srv.additionals).toEqual([]);
  });

  it('NXDOMAIN for other names of the zone, REFUSED outside it, NODATA for a type a name lacks, the SOA at the apex', () => {
    const { view } = setup(three);
    for (const name of [
      'nope.loadledger',
      'x.least.loadledger.example',
      'least.api.x.loadledger',
      '_nodes.loadledger',
      'a.b.addr.loadledger',
    ]) {
      const r = dnsAnswer(q(name), view, ZONE);
      if (name.endsWith('example')) expect(r).toMatchObject({ rcode: 'REFUSED', authoritative: false });
      else expect(r.rcode, name).toBe('NXDOMAIN');
    }
    expect(dnsAnswer(q('example.com'), view, ZONE).rcode).toBe('REFUSED');
    expect(dnsAnswer(q('least.loadledger', DnsType.SRV), view, ZONE)).toMatchObject({ rcode: 'NOERROR', answers: [] });
    expect(dnsAnswer(q('_nodes._tcp.loadledger', DnsType.A), view, ZONE)).toMatchObject({ rcode: 'NOERROR', answers: [] });
    const soa = dnsAnswer(q('loadledger', DnsType.SOA), view, ZONE);
    expect(soa.answers[0]).toMatchObject({ type: 'SOA', mname: 'ns.loadledger', rname: 'hostmaster.loadledger', minimum: 1 });
  });

  it('while the log cannot be written: SERVFAIL for every name of the zone (REFUSED outside it still)', () => {
    const { view, degrade } = setup(three);
    degrade(true);
    expect(dnsAnswer(q('least.loadledger'), view, ZONE)).toMatchObject({ rcode: 'SERVFAIL', answers: [] });
    expect(dnsAnswer(q('_nodes._tcp.loadledger', DnsType.SRV), view, ZONE).rcode).toBe('SERVFAIL');
    expect(dnsAnswer(q('example.com'), view, ZONE).rcode).toBe('REFUSED');
    degrade(false);
    expect(dnsAnswer(q('least.loadledger'), view, ZONE).rcode).toBe('NOERROR');
  });
});

describe('names', () => {
  it('zones, node addresses and target names', () => {
    expect(normalizeZone('LoadLedger.')).toBe('loadledger');
    expect(normalizeZone('svc.example.')).toBe('svc.example');
    for (const bad of ['.', '', 'a..b', 'bad zone', '-x']) expect(normalizeZone(bad)).toHaveProperty('error');
    expect(nodeAddress('10.0.0.5:8080')).toEqual({ family: 4, bytes: [10, 0, 0, 5], host: '10.0.0.5', port: 8080 });
    expect(nodeAddress('10.0.0.5')).toMatchObject({ family: 4, port: undefined });
    expect(nodeAddress('[::1]:53')).toMatchObject({ family: 6, port: 53 });
    expect(nodeAddress('fd00::1')).toMatchObject({ family: 6, port: undefined });
    expect(nodeAddress('GW.example:80')).toEqual({ family: 'name', host: 'gw.example', port: 80 });
    expect(nodeAddress('bad host:80')).toBeUndefined();
    expect(targetName(nodeAddress('[::1]:53')!, 'z')).toBe('00000000000000000000000000000001.addr.z');
  });
});
