/**
 * The DNS interface (`--dns`, src/master/dns-port.ts) on a real master on loopback, asked
 * by real resolvers: Node's own (c-ares: `dns.promises.Resolver`) and `dig`. A, SRV with
 * glue, NXDOMAIN (ENOTFOUND), a service with none eligible (ENODATA), REFUSED outside the
 * zone, UDP truncation (TC) with many nodes and the whole set over TCP, EDNS buffer sizes,
 * SERVFAIL while the log cannot be written, malformed packets dropped and counted, and the
 * counts in /healthz, /v1/cluster and /metrics.
 */
import { createSocket } from 'node:dgram';
import { promises as dnsPromises } from 'node:dns';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Master } from '../../src/node/master.js';
import { DnsType } from '../../src/protocol/dns.js';
import type { Attrs } from '../../src/protocol/messages.js';
import { Cleanup } from '../helpers/cleanup.js';
import { faultyStorage } from '../helpers/faulty-storage.js';
import { dig, digAvailable, header, section } from '../helpers/dig.js';
import { dnsmasqAvailable, dnsmasqForward, startDnsmasq } from '../helpers/dnsmasq.js';
import { readFileSync } from 'node:fs';
import { createLogger } from '../../src/cli/log.js';
import { logMaster } from '../../src/cli/master-log.js';
import { WeightBoard } from '../../src/ledger/weights.js';
import { DnsPort } from '../../src/master/dns-port.js';
import { Selector } from '../../src/selection/selector.js';
import { AnswerStats } from '../../src/util/answer-stats.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { Table } from '../selection/table.js';
import { readAnswer } from '../helpers/dns.js';
import { request } from '../helpers/http.js';
import { api, httpBase, slavePort, startMaster } from '../helpers/master.js';
import { RawClient } from '../helpers/net.js';
import { waitFor } from '../helpers/wait.js';
import { query as dnsQuery } from '../helpers/dns.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const SLOW = { helloInterval: 10_000, deadAfter: 20_000 } as const;
const HAVE_DIG = digAvailable();
const HAVE_DNSMASQ = dnsmasqAvailable();

async function report(master: Master, addr: string, load: number, attrs: Attrs = {}): Promise<RawClient> {
  const cl = await RawClient.connect(slavePort(master), { answerHello: true });
  cleanup.defer(`client ${addr}`, () => cl.destroy());
  cl.push({ addr, load, attrs });
  await waitFor(() => master.projection.nodes.get(addr)?.load === load, { what: `${addr} in the table` });
  return cl;
}

async function dnsMaster(
  opts: Parameters<typeof startMaster>[1] = {},
): Promise<{ m: Master; port: number; resolver: dnsPromises.Resolver }> {
  const m = await startMaster(cleanup, { ...SLOW, dns: { host: '127.0.0.1', port: 0 }, ...opts });
  const port = m.dns!.address.port;
  const resolver = new dnsPromises.Resolver({ timeout: 3000, tries: 3 });
  resolver.setServers([`127.0.0.1:${port}`]);
  return { m, port, resolver };
}

const code = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'resolved',
    (e: NodeJS.ErrnoException) => e.code ?? String(e),
  );

describe('DNS interface', () => {
  it('is off by default: no DNS port, no interface in /healthz', async () => {
    const m = await startMaster(cleanup, SLOW);
    expect(m.dns).toBeUndefined();
    expect((await api(m, '/healthz')).body.integrations).toEqual({});
  });

  it("answers Node's resolver: least. A, SRV with every eligible node, NXDOMAIN (ENOTFOUND), a service with none eligible (ENODATA); counted", async () => {
    const { m, port, resolver } = await dnsMaster();
    await report(m, '127.0.0.11:8080', 10, { service: 'api' });
    await report(m, '127.0.0.12:8081', 20, { service: 'api' });
    const db = await report(m, '127.0.0.13:8082', 30, { service: 'db' });
    const least = await resolver.resolve4('least.loadledger', { ttl: true });
    expect(least).toHaveLength(1);
    expect(['127.0.0.11', '127.0.0.12', '127.0.0.13']).toContain(least[0]!.address);
    expect(least[0]!.ttl).toBe(1);
    expect(await resolver.resolve4('least.db.loadledger')).toEqual(['127.0.0.13']);
    const srv = await resolver.resolveSrv('_nodes._tcp.loadledger');
    expect(srv.map((r) => `${r.name}:${r.port}`).sort()).toEqual([
      '127-0-0-11.addr.loadledger:8080',
      '127-0-0-12.addr.loadledger:8081',
      '127-0-0-13.addr.loadledger:8082',
    ]);
    expect(await code(resolver.resolve6('least.loadledger'))).toBe('ENODATA'); // no IPv6 node yet
    for (const r of srv) {
      expect(r.weight).toBeGreaterThanOrEqual(m.weights.policy.min);
      expect(r.priority).toBe(0);
    }
    expect((await resolver.resolveSrv('_nodes._tcp.api.loadledger')).map((r) => r.port).sort()).toEqual([8080, 8081]);
    // the SRV targets resolve
    expect(await resolver.resolve4('127-0-0-12.addr.loadledger')).toEqual(['127.0.0.12']);
    // IPv6: AAAA, and an SRV target under addr. that resolves to it
    await report(m, '[::1]:8090', 5, { service: 'v6' });
    expect(await resolver.resolve6('least.v6.loadledger')).toEqual(['::1']);
    expect(await code(resolver.resolve4('least.v6.loadledger'))).toBe('ENODATA');
    const v6 = await resolver.resolveSrv('_nodes._tcp.v6.loadledger');
    expect(v6).toEqual([{ name: '00000000000000000000000000000001.addr.loadledger', port: 8090, priority: 0, weight: expect.any(Number) }]);
    expect(await resolver.resolve6(v6[0]!.name)).toEqual(['::1']);
    expect(await code(resolver.resolve4('nope.loadledger'))).toBe('ENOTFOUND');
    expect(await code(resolver.resolve4('least.nosuch.loadledger'))).toBe('ENOTFOUND');
    expect(await code(resolver.resolve4('example.com'))).toBe('EREFUSED');
    // db's only node DOWN: the service is known, with none eligible
    db.destroy();
    await waitFor(() => m.projection.nodes.get('127.0.0.13:8082')?.state === 'DOWN', { what: 'db DOWN' });
    expect(await code(resolver.resolve4('least.db.loadledger'))).toBe('ENODATA');
    expect(await code(resolver.resolveSrv('_nodes._tcp.db.loadledger'))).toBe('ENODATA');

    const at = `udp+tcp 127.0.0.1:${port}`;
    const doc = (await api(m, '/healthz')).body.integrations.dns;
    expect(doc).toMatchObject({ at });
    expect(doc.requests).toBeGreaterThanOrEqual(10);
    expect((await api(m, '/v1/cluster')).body.integrations.dns).toMatchObject({ at });
    const metrics = (await request(httpBase(m) + '/metrics')).text;
    expect(metrics).toMatch(/loadledger_integration_requests_total\{interface="dns"\} \d+/);
    expect(metrics).toContain('loadledger_integration_errors_total{interface="dns"} 0');
    expect(metrics).toMatch(/loadledger_integration_answer_seconds_count\{interface="dns"\} \d+/);
  });

  it('many nodes: the UDP answer is truncated and the resolver gets them all over TCP', async () => {
    const { m, resolver } = await dnsMaster();
    for (let i = 1; i <= 60; i++) await report(m, `127.0.1.${i}:9000`, i);
    const srv = await resolver.resolveSrv('_nodes._tcp.loadledger');
    expect(srv).toHaveLength(60);
    expect(m.dns!.truncated).toBeGreaterThanOrEqual(1);
  });

  it('drops malformed packets (UDP and TCP), counts them, never crashes, and answers the next query', async () => {
    const { m, port, resolver } = await dnsMaster();
    await report(m, '127.0.0.21:80', 1);
    const udp = createSocket('udp4');
    cleanup.defer('udp socket', () => udp.close());
    const junk = [
      Buffer.alloc(0),
      Buffer.from([1, 2, 3]),
      Buffer.alloc(700, 0xff),
      Buffer.from(dnsQuery('least.loadledger', DnsType.A)).subarray(0, 20),
    ];
    const flipped = Buffer.from(dnsQuery('least.loadledger', DnsType.A));
    flipped[2] = flipped[2]! | 0x80; // a response: never answered (no reflection)
    junk.push(flipped);
    for (const b of junk) udp.send(b, port, '127.0.0.1');
    await waitFor(() => m.dns!.dropped >= junk.length, { what: 'UDP junk counted' });
    // TCP: a length prefix over the limit, then a connection that sends a bad packet
    for (const bytes of [Buffer.from([0xff, 0xff, 1, 2, 3]), Buffer.concat([Buffer.from([0, 3]), Buffer.from([9, 9, 9])])]) {
      const s = connect(port, '127.0.0.1');
      s.on('error', () => {});
      s.write(bytes);
      await new Promise<void>((r) => s.on('close', () => r()));
    }
    expect(m.dns!.dropped).toBe(junk.length + 2);
    expect(await resolver.resolve4('least.loadledger')).toEqual(['127.0.0.21']);
    expect((await api(m, '/healthz')).body.integrations.dns).toMatchObject({
      errors: junk.length + 2,
      dropped: junk.length + 2,
      truncated: 0,
    });
    const metrics = (await request(httpBase(m) + '/metrics')).text;
    expect(metrics).toContain(`loadledger_integration_events_total{interface="dns",kind="dropped"} ${junk.length + 2}`);
    expect(metrics).toContain(`loadledger_integration_errors_total{interface="dns"} ${junk.length + 2}`);
  });

  it('SERVFAIL while the log cannot be written (once announced), answers again after it recovers', async () => {
    const { disk, openLog } = faultyStorage();
    const { m, resolver } = await dnsMaster({ openLog, logRetryInterval: 100 });
    const announced: unknown[] = [];
    m.dns!.servfail$.subscribe((x) => announced.push(x));
    const lines: { level: string; event?: string; msg: string }[] = [];
    logMaster(
      m,
      createLogger(
        'loadledger master',
        { logLevel: 'info', logFormat: 'json' },
        { write: (l) => lines.push(JSON.parse(l) as (typeof lines)[number]) },
      ),
      m.options.data,
    );
    expect(lines.find((l) => l.event === 'dns')?.msg).toBe(`DNS on 127.0.0.1:${m.dns!.address.port} (UDP and TCP), zone loadledger.`);
    await report(m, '127.0.0.31:80', 1);
    expect(await resolver.resolve4('least.loadledger')).toEqual(['127.0.0.31']);
    disk.full = true;
    const cl = await RawClient.connect(slavePort(m), { answerHello: true });
    cleanup.defer('client 127.0.0.32', () => cl.destroy());
    cl.push({ addr: '127.0.0.32:80', load: 2 }); // the write that fails
    await waitFor(() => m.degraded !== undefined, { what: 'degraded' });
    expect(await code(resolver.resolve4('least.loadledger'))).toBe('ESERVFAIL');
    expect(await code(resolver.resolveSrv('_nodes._tcp.loadledger'))).toBe('ESERVFAIL');
    expect(announced).toHaveLength(1);
    expect(announced[0]).toMatchObject({ error: expect.stringContaining('ENOSPC') });
    // the operator's line, once for the outage (two SERVFAILs so far)
    const servfail = lines.filter((l) => l.event === 'dns-servfail');
    expect(servfail).toHaveLength(1);
    expect(servfail[0]).toMatchObject({
      level: 'error',
      msg: expect.stringMatching(/^DNS: answering SERVFAIL while the event log cannot be written \(.*ENOSPC/),
    });
    disk.full = false;
    await waitFor(() => m.degraded === undefined, { what: 'recovered' });
    // a recovered master starts a new epoch: its nodes are DOWN until their slaves report again
    // (these test clients were dropped), so the answer is an empty NOERROR, no longer SERVFAIL
    const after = await waitFor(
      async () => {
        const c = await code(resolver.resolve4('least.loadledger'));
        return c !== 'ESERVFAIL' && c;
      },
      { what: 'answers again' },
    );
    expect(after).toBe('ENODATA');
    expect(announced).toHaveLength(1);
  });
});

describe.runIf(HAVE_DIG)('DNS interface, asked by dig', () => {
  it('least. A and _nodes._tcp. SRV with glue; NXDOMAIN; a host name is a CNAME', async () => {
    const { m, port } = await dnsMaster();
    await report(m, '127.0.0.41:8080', 0);
    await report(m, '127.0.0.42:8080', 50);
    await report(m, '127.0.0.43:8080', 50);
    const a = await dig(port, 'least.loadledger.', 'A');
    expect(header(a)).toEqual({ status: 'NOERROR', flags: ['qr', 'aa'] });
    expect(section(a, 'ANSWER')).toHaveLength(1);
    expect(section(a, 'ANSWER')[0]).toMatch(/^least\.loadledger\.\s+1\s+IN\s+A\s+127\.0\.0\.4[123]$/);
    const srv = await dig(port, '_nodes._tcp.loadledger.', 'SRV');
    expect(section(srv, 'ANSWER').map((l) => l.replace(/\s+/g, ' ').replace(/ SRV 0 \d+ /, ' SRV 0 W '))).toEqual([
      '_nodes._tcp.loadledger. 1 IN SRV 0 W 8080 127-0-0-41.addr.loadledger.',
      '_nodes._tcp.loadledger. 1 IN SRV 0 W 8080 127-0-0-42.addr.loadledger.',
      '_nodes._tcp.loadledger. 1 IN SRV 0 W 8080 127-0-0-43.addr.loadledger.',
    ]);
    expect(section(srv, 'ADDITIONAL').map((l) => l.replace(/\s+/g, ' '))).toEqual([
      '127-0-0-41.addr.loadledger. 1 IN A 127.0.0.41',
      '127-0-0-42.addr.loadledger. 1 IN A 127.0.0.42',
      '127-0-0-43.addr.loadledger. 1 IN A 127.0.0.43',
    ]);
    const nx = await dig(port, 'nope.loadledger.', 'A');
    expect(header(nx).status).toBe('NXDOMAIN');
    expect(section(nx, 'AUTHORITY')[0]).toMatch(
      /^loadledger\.\s+1\s+IN\s+SOA\s+ns\.loadledger\. hostmaster\.loadledger\. \d+ 3600 600 86400 1$/,
    );
    await report(m, 'localhost:8443', 1, { service: 'edge' });
    const cname = await dig(port, 'least.edge.loadledger.', 'A');
    expect(section(cname, 'ANSWER').map((l) => l.replace(/\s+/g, ' '))).toEqual(['least.edge.loadledger. 1 IN CNAME localhost.']);
  });

  it('many nodes: TC over UDP, all of them with +tcp, and with +bufsize=4096 without TC', async () => {
    const { m, port } = await dnsMaster({ dnsZone: 'LB.Example.' });
    for (let i = 1; i <= 60; i++) await report(m, `127.0.2.${i}:9000`, i);
    const udp = await dig(port, '_nodes._tcp.lb.example.', 'SRV', '+ignore', '+bufsize=1232');
    expect(header(udp).flags).toContain('tc');
    expect(section(udp, 'ANSWER')).toEqual([]);
    const noEdns = await dig(port, '_nodes._tcp.lb.example.', 'SRV', '+ignore', '+noedns');
    expect(header(noEdns).flags).toContain('tc');
    const tcp = await dig(port, '_nodes._tcp.lb.example.', 'SRV', '+tcp');
    expect(header(tcp).flags).not.toContain('tc');
    expect(section(tcp, 'ANSWER')).toHaveLength(60);
    expect(section(tcp, 'ADDITIONAL')).toHaveLength(60);
    // 60 SRV records fit in 4096 bytes; their glue does not: it is left out, without TC
    const big = await dig(port, '_nodes._tcp.lb.example.', 'SRV', '+ignore', '+bufsize=4096');
    expect(header(big).flags).not.toContain('tc');
    expect(section(big, 'ANSWER')).toHaveLength(60);
    // dig on its own retries over TCP
    const retried = await dig(port, '_nodes._tcp.lb.example.', 'SRV');
    expect(retried).toContain('Truncated, retrying in TCP mode');
    expect(section(retried, 'ANSWER')).toHaveLength(60);
  });
});

describe.runIf(HAVE_DNSMASQ)('DNS interface behind dnsmasq', () => {
  it('a dnsmasq configured as docs/integrations.md says forwards the zone: least. and SRV through it, NXDOMAIN passed on', async () => {
    const { m, port } = await dnsMaster();
    const doc = readFileSync(new URL('../../docs/integrations.md', import.meta.url), 'utf8');
    expect(doc).toContain(dnsmasqForward(5353)); // the documented line, with the port of its example
    await report(m, '127.0.0.51:8080', 1);
    await report(m, '127.0.0.52:8080', 2);
    const forwarder = await startDnsmasq(cleanup, port);
    expect(forwarder.config).toContain(dnsmasqForward(port));
    const resolver = new dnsPromises.Resolver({ timeout: 3000, tries: 3 });
    resolver.setServers([`127.0.0.1:${forwarder.port}`]);
    expect(['127.0.0.51', '127.0.0.52']).toContain((await resolver.resolve4('least.loadledger'))[0]);
    expect((await resolver.resolveSrv('_nodes._tcp.loadledger')).map((r) => r.name).sort()).toEqual([
      '127-0-0-51.addr.loadledger',
      '127-0-0-52.addr.loadledger',
    ]);
    expect(await code(resolver.resolve4('nope.loadledger'))).toBe('ENOTFOUND');
    expect(m.dns!.stats.requests).toBeGreaterThanOrEqual(3);
  });
});

describe('DnsPort over TCP (a manual clock)', () => {
  it('answers pipelined queries in order, closes an idle client after the idle timeout, and one that sends a length over the limit at once', async () => {
    const t = new Table().report('10.0.0.5:8080', 1);
    const clock = new ManualClock();
    const weights = new WeightBoard(t, { scheduler: clock, interval: 1000, policy: { min: 10, step: 20 }, serviceKey: 'service' });
    const port = new DnsPort(
      { listen: { host: '127.0.0.1', port: 0 }, zone: 'loadledger', ttl: 1, policy: 'p2c', scheduler: clock, idleTimeout: 10_000 },
      { projection: t.projection, weights, selector: new Selector({ policy: 'p2c' }), degraded: undefined },
      new AnswerStats(),
    );
    await port.listen();
    cleanup.defer('dns port', () => port.close());
    cleanup.defer('weights', () => weights.stop());
    const framed = (b: Uint8Array) => Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
    const s = connect(port.address.port, '127.0.0.1');
    s.on('error', () => {});
    let got = Buffer.alloc(0);
    s.on('data', (d: Buffer) => (got = Buffer.concat([got, d])));
    const closed = new Promise<void>((r) => s.on('close', () => r()));
    await new Promise<void>((r) => s.once('connect', () => r()));
    // two queries in one write, the second split from a third that arrives byte by byte
    const q1 = framed(dnsQuery('least.loadledger', DnsType.A, { id: 1 }));
    const q2 = framed(dnsQuery('nope.loadledger', DnsType.A, { id: 2 }));
    const q3 = framed(dnsQuery('_nodes._tcp.loadledger', DnsType.SRV, { id: 3 }));
    s.write(Buffer.concat([q1, q2]));
    for (const byte of q3) s.write(Buffer.from([byte]));
    const answers = await waitFor(
      () => {
        const out: Buffer[] = [];
        for (let at = 0; at + 2 <= got.length;) {
          const len = got.readUInt16BE(at);
          if (at + 2 + len > got.length) break;
          out.push(got.subarray(at + 2, at + 2 + len));
          at += 2 + len;
        }
        return out.length === 3 && out;
      },
      { what: 'three answers' },
    );
    expect(answers.map((a) => readAnswer(a)).map((a) => [a.id, a.rcode])).toEqual([
      [1, 0],
      [2, 3],
      [3, 0],
    ]);
    await clock.advance(9_000);
    expect(s.destroyed).toBe(false);
    await clock.advance(1_000);
    await closed;
    const big = connect(port.address.port, '127.0.0.1');
    big.on('error', () => {});
    big.write(Buffer.from([0x10, 0x00])); // 4096 bytes announced: over the 1 KiB a query may take
    await new Promise<void>((r) => big.on('close', () => r()));
    expect(port.dropped).toBe(1);
  });
});
