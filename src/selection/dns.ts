import type { NodeEntry } from '../projection/state.js';
import { DnsType, ipv4Bytes, ipv6Bytes, type DnsAnswer, type DnsQuestion, type DnsRecord } from '../protocol/dns.js';

/**
 * The registry's DNS zone as a pure function (docs/integrations.md#dns): a question and a
 * view of the registry → the records and the response code. src/master/dns-port.ts is the
 * socket adapter around it. The names of zone Z (default `loadledger`):
 *
 * - `least.Z` A/AAAA: the node the policy picks (p2c by default: one name cached by every
 *   resolver for its TTL would send all their clients to one node), among the eligible nodes
 *   whose address is of that family or a host name; a host name is a CNAME to it.
 * - `least.S.Z`: the same within service S (the `--service-key` attribute).
 * - `_nodes._tcp.Z` SRV, `_nodes._tcp.S.Z` SRV: every eligible node (of S) that has a port,
 *   weight from the shared mapping (src/selection/weights.ts), target a name that resolves:
 *   `a-b-c-d.addr.Z` for IPv4, 32 hex digits `.addr.Z` for IPv6 (A/AAAA in the additional
 *   section), or the node's own host name.
 * - `X.addr.Z` A/AAAA: the address of a node of the table.
 * - `Z` SOA, for negative caching (RFC 2308): in the authority section of every empty answer.
 *
 * A name of Z that is none of these, or names a service no node of the table has, is
 * NXDOMAIN; a service whose nodes are none eligible, or a type a name does not have, is
 * NOERROR with no answer. A name outside Z is REFUSED (this server is no resolver). While
 * the log cannot be written (`degraded`), every name of Z is SERVFAIL.
 */
export interface DnsView {
  /** Every node of the table, in any state. */
  nodes(): Iterable<NodeEntry>;
  /** The node the policy picks among the eligible ones that pass `filter` (the master's Selector). */
  pick(filter: (n: NodeEntry) => boolean): NodeEntry | undefined;
  /** The node's weight now (undefined: not eligible). */
  weight(n: NodeEntry): number | undefined;
  /** The node's service ('' none). */
  serviceOf(n: NodeEntry): string;
  /** True when a node of the table (any state) has service `s` (lower case). */
  hasService(s: string): boolean;
  /** True while the log cannot be written: nothing is answered from the table. */
  readonly degraded: boolean;
  /** The SOA serial (the log's seq). */
  readonly serial: number;
}

export interface DnsZone {
  /** Lower case, without the final dot: `loadledger`. */
  readonly zone: string;
  /** Seconds every record may be cached. */
  readonly ttl: number;
}

export interface DnsResult extends DnsAnswer {
  /** AA: a name of the zone (false for REFUSED). */
  readonly authoritative: boolean;
}

/** A zone name as given by a person (`loadledger.`, `Svc.Example`) → its form here, or why not. */
export function normalizeZone(zone: string): string | { error: string } {
  const z = zone.trim().replace(/\.$/, '').toLowerCase();
  if (z === '') return { error: 'the zone must not be the root' };
  if (z.length > 200) return { error: 'the zone is over 200 bytes (its names must fit in 255)' };
  for (const label of z.split('.')) {
    if (!/^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/.test(label))
      return { error: `${JSON.stringify(label)} is not a DNS label (letters, digits, '-', '_'; 1 to 63)` };
  }
  return z;
}

/** Where a node is reached, from its id (`host:port`, `host`, `[v6]:port`, `[v6]`). */
export interface NodeAddress {
  readonly family: 4 | 6 | 'name';
  /** The address bytes (4 or 16), for an IP. */
  readonly bytes?: readonly number[];
  /** The host name, lower case, for a name. */
  readonly host: string;
  readonly port: number | undefined;
}

/** nodeAddress by id, for the ids seen (a table holds at most --max-slaves live ids; cleared past this). */
const addressCache = new Map<string, NodeAddress | undefined>();
const ADDRESS_CACHE_MAX = 100_000;

export function nodeAddress(id: string): NodeAddress | undefined {
  if (addressCache.has(id)) return addressCache.get(id);
  if (addressCache.size >= ADDRESS_CACHE_MAX) addressCache.clear();
  const a = parseNodeAddress(id);
  addressCache.set(id, a);
  return a;
}

function parseNodeAddress(id: string): NodeAddress | undefined {
  let host: string;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(id);
  if (bracketed) {
    host = bracketed[1]!;
    portText = bracketed[2];
  } else if (id.split(':').length === 2) {
    [host, portText] = id.split(':') as [string, string];
  } else {
    host = id;
  }
  const port = portText === undefined ? undefined : Number(portText);
  const usablePort = port !== undefined && Number.isInteger(port) && port > 0 && port <= 65535 ? port : undefined;
  const v4 = ipv4Bytes(host);
  if (v4) return { family: 4, bytes: v4, host, port: usablePort };
  const v6 = ipv6Bytes(host);
  if (v6) return { family: 6, bytes: v6, host, port: usablePort };
  const name = host.toLowerCase().replace(/\.$/, '');
  if (!/^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/.test(name) || name.length > 253)
    return undefined;
  return { family: 'name', host: name, port: usablePort };
}

/** The name of the zone an IP address has (`10-0-0-5.addr.Z`; IPv6: 32 hex digits), or the node's own host name. */
export function targetName(a: NodeAddress, zone: string): string {
  if (a.family === 4) return `${a.bytes!.join('-')}.addr.${zone}`;
  if (a.family === 6) return `${a.bytes!.map((b) => b.toString(16).padStart(2, '0')).join('')}.addr.${zone}`;
  return a.host;
}

const EMPTY: readonly DnsRecord[] = [];

export function dnsAnswer(q: DnsQuestion, view: DnsView, z: DnsZone): DnsResult {
  const zone = z.zone;
  const name = q.name;
  if (name !== zone && !name.endsWith(`.${zone}`))
    return { rcode: 'REFUSED', answers: EMPTY, authorities: EMPTY, additionals: EMPTY, authoritative: false };
  if (view.degraded) return { rcode: 'SERVFAIL', answers: EMPTY, authorities: EMPTY, additionals: EMPTY, authoritative: true };
  const soa: DnsRecord = {
    name: zone,
    ttl: z.ttl,
    type: 'SOA',
    mname: `ns.${zone}`,
    rname: `hostmaster.${zone}`,
    serial: view.serial % 2 ** 32,
    refresh: 3600,
    retry: 600,
    expire: 86400,
    minimum: z.ttl,
  };
  const result = (answers: readonly DnsRecord[], additionals: readonly DnsRecord[] = EMPTY): DnsResult => ({
    rcode: 'NOERROR',
    answers,
    authorities: answers.length === 0 ? [soa] : EMPTY,
    additionals,
    authoritative: true,
  });
  const nxdomain: DnsResult = { rcode: 'NXDOMAIN', answers: EMPTY, authorities: [soa], additionals: EMPTY, authoritative: true };
  const rel = name === zone ? '' : name.slice(0, -(zone.length + 1));
  const type = q.type;
  const any = type === DnsType.ANY;

  if (rel === '') return result(type === DnsType.SOA || any ? [soa] : EMPTY);

  const service = (prefix: string): string | undefined | false => {
    if (rel === prefix) return undefined;
    if (!rel.startsWith(`${prefix}.`)) return false;
    const s = rel.slice(prefix.length + 1);
    return view.hasService(s) ? s : false;
  };
  const inService = (s: string | undefined) => (n: NodeEntry) => s === undefined || view.serviceOf(n).toLowerCase() === s;

  if (rel === 'least' || rel.startsWith('least.')) {
    const s = service('least');
    if (s === false) return nxdomain;
    const family = type === DnsType.A ? 4 : type === DnsType.AAAA ? 6 : any ? 4 : undefined;
    if (family === undefined) return result(EMPTY);
    const of = inService(s);
    const n = view.pick((n) => {
      if (!of(n)) return false;
      const a = nodeAddress(n.id);
      return a !== undefined && (a.family === family || a.family === 'name');
    });
    const a = n && nodeAddress(n.id);
    if (!a) return result(EMPTY);
    if (a.family === 'name') return result([{ name, ttl: z.ttl, type: 'CNAME', target: a.host }]);
    return result([{ name, ttl: z.ttl, type: a.family === 4 ? 'A' : 'AAAA', address: a.bytes! }]);
  }

  if (rel === '_nodes._tcp' || rel.startsWith('_nodes._tcp.')) {
    const s = service('_nodes._tcp');
    if (s === false) return nxdomain;
    if (type !== DnsType.SRV && !any) return result(EMPTY);
    const of = inService(s);
    const srv: { id: string; a: NodeAddress; record: DnsRecord & { type: 'SRV' } }[] = [];
    for (const n of view.nodes()) {
      if (!of(n)) continue;
      const weight = view.weight(n);
      if (weight === undefined) continue;
      const a = nodeAddress(n.id);
      if (!a || a.port === undefined) continue;
      srv.push({ id: n.id, a, record: { name, ttl: z.ttl, type: 'SRV', priority: 0, weight, port: a.port, target: targetName(a, zone) } });
    }
    // by node id, and the glue in the same order: the same table, the same bytes
    srv.sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
    const glue = new Map<string, DnsRecord>();
    for (const { a, record } of srv) {
      if (a.family !== 'name' && !glue.has(record.target))
        glue.set(record.target, { name: record.target, ttl: z.ttl, type: a.family === 4 ? 'A' : 'AAAA', address: a.bytes! });
    }
    return result(
      srv.map((x) => x.record),
      [...glue.values()],
    );
  }

  if (rel.endsWith('.addr') && !rel.slice(0, -5).includes('.')) {
    for (const n of view.nodes()) {
      const a = nodeAddress(n.id);
      if (!a || a.family === 'name' || targetName(a, zone) !== name) continue;
      const want = a.family === 4 ? DnsType.A : DnsType.AAAA;
      return result(type === want || any ? [{ name, ttl: z.ttl, type: a.family === 4 ? 'A' : 'AAAA', address: a.bytes! }] : EMPTY);
    }
    return nxdomain;
  }
  return nxdomain;
}
