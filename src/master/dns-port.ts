import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { createServer, isIPv6, type Server, type Socket } from 'node:net';
import { Subject } from 'rxjs';
import type { Clock, TimerHandle } from '../clock.js';
import { ErrorCode, LoadLedgerError } from '../errors.js';
import type { Degraded } from '../ledger/view.js';
import type { WeightsView } from '../ledger/weights.js';
import type { Projection } from '../projection/state.js';
import { DNS_MAX_QUERY, encodeAnswer, parseQuery, udpLimit, type DnsQuery, type DnsQuestion } from '../protocol/dns.js';
import { dnsAnswer, type DnsResult, type DnsView } from '../selection/dns.js';
import type { Policy } from '../selection/policy.js';
import type { Selector } from '../selection/selector.js';
import type { AnswerStats } from '../util/answer-stats.js';
import type { HostPort } from '../util/hostport.js';

export interface DnsPortOptions {
  listen: HostPort;
  /** Lower case, without the final dot (src/selection/dns.ts normalizeZone). */
  zone: string;
  /** Seconds every record may be cached. */
  ttl: number;
  /** The policy `least.` is answered with. */
  policy: Policy;
  scheduler: Clock;
  /** A TCP client that sends nothing this long is closed (ms; RFC 7766 6.2.3 suggests 10 s). */
  idleTimeout?: number;
  /** TCP clients served at once; more are closed as they arrive. */
  maxConnections?: number;
  /** Answers written to a TCP client and not read yet, in bytes: past this it is closed (it does not read). */
  maxPending?: number;
}

/** What the DNS interface reads of the registry: the projection, the shared weights, the selector, whether the log takes writes. */
export interface DnsHost {
  readonly projection: Projection;
  readonly weights: WeightsView;
  readonly selector: Selector;
  readonly degraded: Degraded | undefined;
}

const BADVERS: DnsResult = { rcode: 'BADVERS', answers: [], authorities: [], additionals: [], authoritative: false };

/** The largest answer over TCP (its length prefix is 16 bits). */
const TCP_MAX_ANSWER = 65535;
/** A TCP client never has more than one query's worth (with its length prefix) buffered. */
const TCP_MAX_BUFFERED = DNS_MAX_QUERY + 2;

/**
 * The DNS interface on UDP and TCP (`--dns HOST:PORT`, docs/integrations.md#dns): a thin
 * socket adapter over `parseQuery`/`encodeAnswer` (src/protocol/dns.ts) and `dnsAnswer`
 * (src/selection/dns.ts), like src/master/agent-port.ts for HAProxy.
 *
 * - A packet that is not a query this server takes is dropped and counted (`dropped`,
 *   and in `stats` as an error), never answered and never thrown: over TCP the connection
 *   is closed too.
 * - UDP answers fit in 512 bytes, or the client's EDNS size (at most 4096); a larger one
 *   goes without its additional section, or with TC and only the question, and the client
 *   asks again over TCP, where an answer takes up to 64 KiB (past that: the SRV records
 *   that fit, by node id, with TC).
 * - Memory per TCP client is bounded: at most one query (1 KiB) buffered, at most
 *   `maxPending` of answers it has not read, closed after `idleTimeout` without a query.
 * - Every answer is counted in `stats` (SERVFAIL and dropped packets as errors), with its
 *   time; the first SERVFAIL of an outage (the log cannot be written) is announced on
 *   `servfail$`, for the operator's log line.
 */
export class DnsPort {
  private udp: UdpSocket | undefined;
  private tcp: Server | undefined;
  private readonly sockets = new Set<Socket>();
  /** Packets dropped: not a query this server takes. */
  dropped = 0;
  /** UDP answers truncated (TC: only the question, the client asks again over TCP). */
  truncated = 0;
  /** The first SERVFAIL while the log cannot be written (once per outage). */
  readonly servfail$ = new Subject<{ since: number; error: string }>();
  private servfailing = false;
  /** What lookup() keeps for one moment (see there). */
  private moment:
    | {
        projection: Projection;
        tick: number;
        generation: number;
        epoch: number;
        eligible: number;
        degraded: boolean;
        services: Set<string> | undefined;
        srv: Map<string, DnsResult>;
        encoded: Map<DnsResult, Map<string, { bytes: Uint8Array; truncated: boolean }>>;
      }
    | undefined;

  constructor(
    private readonly options: DnsPortOptions,
    private readonly host: DnsHost,
    readonly stats: AnswerStats,
  ) {}

  get address(): HostPort {
    const a = this.tcp?.address();
    return a && typeof a === 'object' ? { host: a.address, port: a.port } : this.options.listen;
  }

  /** Binds TCP, then UDP on the same port (port 0: a port free for both, a few tries). */
  async listen(): Promise<void> {
    const { host, port } = this.options.listen;
    for (let attempt = 0; ; attempt++) {
      const tcp = createServer({ noDelay: true }, (s) => this.serve(s));
      await bind(tcp, host, port);
      const bound = (tcp.address() as { port: number }).port;
      const udp = createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4' });
      try {
        await new Promise<void>((resolve, reject) => {
          udp.once('error', reject);
          udp.bind(bound, host, () => {
            udp.off('error', reject);
            resolve();
          });
        });
      } catch (e) {
        udp.close();
        await new Promise<void>((r) => tcp.close(() => r()));
        if (port === 0 && attempt < 10) continue;
        throw listenError(host, port, e as NodeJS.ErrnoException);
      }
      tcp.on('error', () => {}); // a failed accept(): the client asks again
      udp.on('error', () => {}); // a failed send: the client asks again
      udp.on('message', (msg, rinfo) => this.onUdp(udp, msg, rinfo));
      this.tcp = tcp;
      this.udp = udp;
      return;
    }
  }

  /** The answer to one packet, as bytes, or undefined to drop it; counts it either way. */
  answer(packet: Uint8Array, transport: 'udp' | 'tcp'): Uint8Array | undefined {
    const clock = this.options.scheduler;
    const started = clock.now();
    const query = parseQuery(packet);
    if ('error' in query) {
      this.dropped++;
      this.stats.record((clock.now() - started) / 1000, true);
      return undefined;
    }
    const host = this.host;
    const result = query.edns && query.edns.version > 0 ? BADVERS : this.lookup(query.question);
    if (result.rcode === 'SERVFAIL') {
      if (!this.servfailing && host.degraded) this.servfail$.next({ since: host.degraded.since, error: host.degraded.error.message });
      this.servfailing = true;
    } else if (result.rcode !== 'REFUSED') this.servfailing = false;
    const limit = transport === 'udp' ? udpLimit(query) : TCP_MAX_ANSWER;
    const { bytes, truncated } = this.encode(query, result, limit);
    if (truncated) this.truncated++;
    this.stats.record((clock.now() - started) / 1000, result.rcode === 'SERVFAIL' || result.rcode === 'BADVERS');
    return bytes;
  }

  /**
   * dnsAnswer over the registry, with what costs O(nodes) kept for one moment: the services
   * of the table, and each SRV answer (every eligible node: 17 ms for 1,000 nodes, 180 ms for
   * 10,000, too much to pay per packet on the master's one thread). A moment ends at the
   * next weights tick (they move once per --weight-interval anyway), when the number of
   * eligible nodes changes, with a new epoch or projection, or with the log's health. `least.`
   * is never kept: each answer is its own pick.
   */
  private lookup(question: DnsQuestion): DnsResult {
    const host = this.host;
    const p = host.projection;
    const moment = this.moment;
    const same =
      moment !== undefined &&
      moment.projection === p &&
      moment.tick === host.weights.tick &&
      moment.generation === host.weights.generation &&
      moment.epoch === p.master.epoch &&
      moment.eligible === p.index.size &&
      moment.degraded === (host.degraded !== undefined);
    if (!same) {
      this.moment = {
        projection: p,
        tick: host.weights.tick,
        generation: host.weights.generation,
        epoch: p.master.epoch,
        eligible: p.index.size,
        degraded: host.degraded !== undefined,
        services: undefined,
        srv: new Map(),
        encoded: new Map(),
      };
    }
    const m = this.moment!;
    const view: DnsView = {
      nodes: () => p.nodes.values(),
      pick: (filter) => host.selector.choose(p, this.options.policy, filter),
      weight: (n) => host.weights.weight(n),
      serviceOf: (n) => host.weights.serviceOf(n),
      hasService: (s) => {
        if (!m.services) {
          m.services = new Set();
          for (const n of p.nodes.values()) m.services.add(host.weights.serviceOf(n).toLowerCase());
        }
        return m.services.has(s);
      },
      degraded: m.degraded,
      serial: p.seq,
    };
    const zone = { zone: this.options.zone, ttl: this.options.ttl };
    if (!question.name.startsWith('_nodes._tcp')) return dnsAnswer(question, view, zone);
    const key = `${question.type} ${question.name}`;
    let r = m.srv.get(key);
    if (!r) {
      r = dnsAnswer(question, view, zone);
      // only names of the data: a flood of made-up names must not fill the map
      if (r.rcode === 'NOERROR' && m.srv.size < 1024) {
        m.srv.set(key, r);
        m.encoded.set(r, new Map());
      }
    }
    return r;
  }

  /**
   * encodeAnswer, and for an answer lookup() keeps, its bytes kept with it (per size limit
   * and EDNS): a hit costs a copy with the query's id and RD/CD bits written in.
   */
  private encode(query: DnsQuery, result: DnsResult, limit: number): { bytes: Uint8Array; truncated: boolean } {
    const kept = this.moment?.encoded.get(result);
    const key = `${limit} ${query.edns ? (query.edns.do ? 2 : 1) : 0}`;
    const hit = kept?.get(key);
    if (hit) {
      const bytes = Uint8Array.from(hit.bytes);
      bytes[0] = query.id >>> 8;
      bytes[1] = query.id & 0xff;
      bytes[2] = (bytes[2]! & ~0x01) | (query.rd ? 0x01 : 0);
      bytes[3] = (bytes[3]! & ~0x10) | (query.cd ? 0x10 : 0);
      return { bytes, truncated: hit.truncated };
    }
    const out = encodeAnswer(query, result, { limit, authoritative: result.authoritative, partial: limit === TCP_MAX_ANSWER });
    if (kept && kept.size < 16) kept.set(key, out);
    return out;
  }

  private onUdp(udp: UdpSocket, msg: Buffer, rinfo: RemoteInfo): void {
    const reply = this.answer(msg, 'udp');
    if (reply) udp.send(reply, rinfo.port, rinfo.address);
  }

  private serve(socket: Socket): void {
    if (this.sockets.size >= (this.options.maxConnections ?? 256)) return void socket.destroy();
    this.sockets.add(socket);
    const clock = this.options.scheduler;
    const idle = this.options.idleTimeout ?? 10_000;
    const maxPending = this.options.maxPending ?? 256 * 1024;
    let timer: TimerHandle | undefined;
    const arm = (): void => {
      clock.clearTimeout(timer);
      timer = clock.setTimeout(() => socket.destroy(), idle);
    };
    arm();
    let buffered: Buffer = Buffer.alloc(0);
    socket.on('close', () => {
      this.sockets.delete(socket);
      clock.clearTimeout(timer);
    });
    socket.on('error', () => {}); // 'close' follows
    socket.on('data', (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2) {
        const len = buffered.readUInt16BE(0);
        if (len === 0 || len > DNS_MAX_QUERY) {
          this.dropped++;
          this.stats.record(0, true);
          return void socket.destroy();
        }
        if (buffered.length < 2 + len) break;
        const packet = buffered.subarray(2, 2 + len);
        buffered = buffered.subarray(2 + len);
        arm();
        const reply = this.answer(packet, 'tcp');
        if (!reply) return void socket.destroy();
        const prefix = Buffer.alloc(2);
        prefix.writeUInt16BE(reply.length);
        socket.write(Buffer.concat([prefix, reply]));
        if (socket.writableLength > maxPending) return void socket.destroy();
      }
      // what is left is part of one query (at most TCP_MAX_BUFFERED): copied out of its chunk
      if (buffered.length > TCP_MAX_BUFFERED) {
        this.dropped++;
        this.stats.record(0, true);
        return void socket.destroy();
      }
      if (buffered.length > 0) buffered = Buffer.from(buffered);
    });
  }

  /** Stops listening and closes every connection. */
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.servfail$.complete();
    const udp = this.udp;
    const tcp = this.tcp;
    this.udp = this.tcp = undefined;
    await Promise.all([
      new Promise<void>((r) => (udp ? udp.close(() => r()) : r())),
      new Promise<void>((r) => (tcp?.listening ? tcp.close(() => r()) : r())),
    ]);
  }
}

function bind(server: Server, host: string, port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(listenError(host, port, e)));
    server.listen(port, host, () => resolve());
  });
}

function listenError(host: string, port: number, e: NodeJS.ErrnoException): LoadLedgerError {
  const inUse = e.code === 'EADDRINUSE';
  return new LoadLedgerError(
    inUse ? ErrorCode.ADDRESS_IN_USE : ErrorCode.BAD_ARGUMENT,
    `--dns ${host}:${port}: ${inUse ? 'address already in use' : e.message}`,
    { cause: e },
  );
}
