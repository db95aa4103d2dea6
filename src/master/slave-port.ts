import { createServer, type Server, type Socket } from 'node:net';
import { Subject } from 'rxjs';
import type { Recorder } from '../../storage/recorder.js';
import { ErrorCode, LoadLedgerError } from '../errors.js';
import type { PushLimits } from '../protocol/messages.js';
import type { Projection } from '../projection/state.js';
import type { Selector } from '../selection/selector.js';
import type { HostPort } from '../util/hostport.js';
import type { Clock } from '../clock.js';
import type { Descriptors } from '../util/descriptors.js';
import { RefusalLog, type Refusal } from '../util/refusals.js';
import { FlapGuard, type FlappingDetected } from '../decisions/flapping.js';
import { Admission } from './admission.js';
import { SlaveConnection, formatAddr, normalizeIp, type ConnectionHost } from './connection.js';
import { createSlaveTlsServer, type MasterTlsOptions, type TlsPeer } from './tls.js';

export interface SlavePortOptions {
  listen: HostPort;
  maxSlaves: number;
  /** A connection that sends no valid frame this long after it was accepted is closed (ms). */
  handshakeTimeout: number;
  /** Frames read per second per connection (0: no limit). */
  maxFrameRate: number;
  /** CIDR ranges allowed to connect (empty: everyone). */
  allow: string[];
  connectRate: number;
  connectBurst: number;
  limits: Partial<PushLimits>;
  tls?: MasterTlsOptions | undefined;
  /** Flapping: more than flapTakeovers takeovers of a node within flapWindow; the holder keeps it for flapHoldDown (ms). */
  flapTakeovers: number;
  flapWindow: number;
  flapHoldDown: number;
  /** Monotonic time and timers (tests drive a manual one: test/helpers/manual-clock.ts). */
  scheduler: Clock;
  /** Connections the port could not take (accept failed, descriptors), at most once per window: the operator's log. */
  onRefusal?: ((r: Refusal) => void) | undefined;
  /** The process's file descriptors: connections are refused (and recorded) before none are left. */
  descriptors?: Descriptors | undefined;
}

/** What the slave port writes to and reads from: the ledger's write path and state. */
export interface SlavePortLedger {
  readonly recorder: Recorder;
  readonly projection: Projection;
  readonly degraded: unknown;
  /** False once the log failed or the node is stopping: new connections are closed. */
  readonly writable: boolean;
}

/**
 * The slave port: the listener (plain TCP or TLS with client certificates), the queue of
 * connections that arrive before MasterStarted is committed, accept/refuse (--allow,
 * connect rate, max-slaves), and the live connections with the node each is bound to
 * (a takeover of a node that flaps is refused: src/decisions/flapping.ts).
 */
export class SlavePort implements ConnectionHost {
  readonly conns = new Map<number, SlaveConnection>();
  private readonly bindings = new Map<string, SlaveConnection>();
  private nextConn: number;
  private server: Server | undefined;
  /** Connections that arrived before MasterStarted was committed: accepted right after. */
  private early: Array<{ socket: Socket; peer?: TlsPeer; refusal?: string }> | null = [];
  private closing = false;
  readonly admission: Admission;
  /** Unknown frame types skipped, connections refused (of them: for descriptors), accept() failures by code, flapping detected: for /metrics. */
  readonly counters = { unknownFrames: 0, refused: 0, fdRefused: 0, acceptErrors: new Map<string, number>(), flapping: 0 };
  private readonly refusals: RefusalLog;
  private readonly flaps: FlapGuard;
  /** Flapping detected (a hold-down begins): for the operator's warning (`warn`: once per window). */
  readonly flapping$ = new Subject<FlappingDetected>();

  constructor(
    private readonly options: SlavePortOptions,
    private readonly ledger: SlavePortLedger,
    readonly selector: Selector,
    firstConn: number,
  ) {
    this.nextConn = firstConn;
    this.admission = new Admission({ allow: options.allow, rate: options.connectRate, burst: options.connectBurst });
    this.refusals = new RefusalLog(options.scheduler, (r) => this.acceptFailures(r));
    this.flaps = new FlapGuard({ takeovers: options.flapTakeovers, window: options.flapWindow, holdDown: options.flapHoldDown });
  }

  get recorder(): Recorder {
    return this.ledger.recorder;
  }

  get projection(): Projection {
    return this.ledger.projection;
  }

  get degraded(): unknown {
    return this.ledger.degraded;
  }

  get frameRate(): number {
    return this.options.maxFrameRate;
  }

  now(): number {
    return this.options.scheduler.now();
  }

  get scheduler(): Clock {
    return this.options.scheduler;
  }

  /** The address actually bound (port 0 in the options means any free port). */
  get address(): HostPort {
    const a = this.server?.address();
    return a && typeof a === 'object' ? { host: a.address, port: a.port } : this.options.listen;
  }

  get listening(): boolean {
    return this.server?.listening ?? false;
  }

  /**
   * Binds the port. Sockets start paused and wait in a queue until `open()` (called once
   * MasterStarted is in the log): a slave's events must never come before the start they
   * belong to (the start ends the old epoch).
   */
  async listen(): Promise<void> {
    const tls = this.options.tls;
    const server = tls
      ? createSlaveTlsServer(tls, this.options.handshakeTimeout, {
          // --allow and the connection rate come before the handshake: they are cheap, it is not
          admit: (tcp) => this.descriptorVerdict() ?? this.admission.admit(normalizeIp(tcp.remoteAddress ?? 'unknown'), this.now()),
          secure: (socket, peer) => (this.early ? this.early.push({ socket, peer }) : this.accept(socket, peer)),
          refused: (socket, refusal) => (this.early ? this.early.push({ socket, refusal }) : this.refuse(socket, refusal)),
        })
      : createServer({ noDelay: true, pauseOnConnect: true }, (socket) => (this.early ? this.early.push({ socket }) : this.accept(socket)));
    this.server = server;
    const { host, port } = this.options.listen;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) =>
        reject(
          new LoadLedgerError(
            e.code === 'EADDRINUSE' ? ErrorCode.ADDRESS_IN_USE : ErrorCode.BAD_ARGUMENT,
            `--listen ${host}:${port}: ${e.code === 'EADDRINUSE' ? 'address already in use' : e.message}`,
            { cause: e },
          ),
        ),
      );
      server.listen(port, host, () => resolve());
    });
    // After listening, an error is a connection the kernel gave us that we could not take.
    server.on('error', (e: NodeJS.ErrnoException) => this.acceptFailed(e));
  }

  /**
   * accept() failed: with descriptors exhausted (EMFILE, ENFILE) Node resets the connection
   * it could not take, before we learn its peer. Counted (refused, and by code), and
   * reported at most once per window: one SlaveRefused with how many, and a log line.
   */
  acceptFailed(e: NodeJS.ErrnoException): void {
    const code = e.code ?? 'UNKNOWN';
    this.counters.refused++;
    this.counters.acceptErrors.set(code, (this.counters.acceptErrors.get(code) ?? 0) + 1);
    const fds =
      code === 'EMFILE' || code === 'ENFILE'
        ? ' (out of file descriptors: raise ulimit -n, or lower --max-slaves / --max-http-connections)'
        : '';
    this.refusals.note('slave', 'accept-failed', `accept failed: ${code}${fds}`);
  }

  /** A refusal when one more connection would leave too few file descriptors (src/util/descriptors.ts). */
  private descriptorVerdict(): { ok: false; reason: string } | undefined {
    const d = this.options.descriptors;
    if (!d?.exhausted()) return undefined;
    this.counters.fdRefused++;
    const reason = `out of file descriptors: ${d.inUse} of ${d.limit} open (ulimit -n), ${d.reserve} kept for the log; raise ulimit -n, or lower --max-slaves / --max-http-connections`;
    this.refusals.note('slave', 'descriptors', reason);
    return { ok: false, reason };
  }

  private acceptFailures(r: Refusal): void {
    // (a refusal for descriptors is recorded per peer, as every refusal of a connection)
    if (r.kind === 'accept-failed' && this.ledger.writable) {
      const reason = r.count > 1 ? `${r.reason}; ${r.count} connections not taken since the last record` : r.reason;
      this.recorder.record({ type: 'SlaveRefused', remote: 'unknown', reason });
    }
    this.options.onRefusal?.(r);
  }

  /** MasterStarted is committed: the queued connections are taken (or refused), new ones directly. */
  open(): void {
    const early = this.early ?? [];
    this.early = null;
    for (const e of early) {
      if (e.refusal !== undefined) this.refuse(e.socket, e.refusal);
      else this.accept(e.socket, e.peer);
    }
  }

  /** `peer`: a TLS slave's verified certificate (admitted before its handshake). */
  private accept(socket: Socket, peer?: TlsPeer): void {
    if (this.closing || !this.ledger.writable) {
      socket.destroy();
      return;
    }
    const verdict = peer
      ? { ok: true as const }
      : (this.descriptorVerdict() ?? this.admission.admit(normalizeIp(socket.remoteAddress ?? 'unknown'), this.now()));
    if (!verdict.ok) {
      this.refuse(socket, verdict.reason);
      return;
    }
    if (this.conns.size >= this.options.maxSlaves) {
      this.refuse(socket, `max-slaves (${this.options.maxSlaves}) reached`);
      return;
    }
    const c = new SlaveConnection(this.nextConn++, socket, this, this.options.limits, peer);
    this.conns.set(c.conn, c);
    this.recorder.record({ type: 'SlaveConnected', conn: c.conn, remote: c.remote, ...(peer && { identity: peer.identity }) });
    socket.resume();
  }

  /**
   * Refuses a connection (--allow, rate limit, max-slaves, TLS) and closes it. Recorded as
   * a SlaveRefused event, at most one per second per peer: a peer hammering the port
   * cannot grow the log; the next event counts the refusals that were not recorded.
   */
  refuse(socket: Socket, reason: string): void {
    this.counters.refused++;
    socket.destroy();
    const ip = normalizeIp(socket.remoteAddress ?? 'unknown');
    const { record, unrecorded } = this.admission.refusal(ip, this.now());
    if (!record) return;
    const remote = formatAddr(ip, socket.remotePort ?? 0);
    this.recorder.record({
      type: 'SlaveRefused',
      remote,
      reason: unrecorded > 0 ? `${reason} (and ${unrecorded} more refused from ${ip} since the last record)` : reason,
    });
  }

  bind(c: SlaveConnection, node: string): boolean {
    const holder = this.bindings.get(node);
    if (holder && holder !== c) {
      const verdict = this.flaps.takeover(
        node,
        { conn: holder.conn, remote: holder.remote },
        { conn: c.conn, remote: c.remote },
        this.now(),
      );
      if (!verdict.take) {
        this.counters.refused++;
        if (verdict.detected) {
          this.counters.flapping++;
          this.flapping$.next(verdict.detected);
        }
        c.refused(node, verdict.reason);
        return false;
      }
      holder.superseded(c.conn);
    }
    c.node = node;
    this.bindings.set(node, c);
    return true;
  }

  forget(c: SlaveConnection): void {
    this.conns.delete(c.conn);
    if (c.node !== null && this.bindings.get(c.node) === c) this.bindings.delete(c.node);
  }

  /** Drops every connection (the log failed, or the node stops). */
  dropAll(): void {
    for (const c of this.conns.values()) c.drop();
  }

  /**
   * Stops accepting and drops every connection (queued ones too); resolves once the
   * listener has closed.
   */
  close(): Promise<void> {
    this.closing = true;
    this.refusals.close();
    // close() only calls back once every connection is gone, so they are dropped first.
    const closed = new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.dropAll();
    for (const e of this.early ?? []) e.socket.destroy();
    return closed;
  }

  /** After a failed start: closes what is open without waiting. */
  abort(): void {
    if (this.server?.listening) this.server.close();
    this.dropAll();
  }
}
