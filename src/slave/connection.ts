/**
 * The slave at work: one TCP (or TLS) connection to the master at a time, kept alive per
 * the protocol's "Liveness" (docs/protocol.md).
 *
 * - On connect it says HELLO and pushes its current load (with capacity and attributes) at
 *   once: a master it has never talked to (a new leader) has its whole state at once; then
 *   every `interval` it sends HELLO and pushes its load again (sampled by load-loop.ts).
 * - It answers the master's HELLO with HELLO_ACK. Any frame from the master is a sign of
 *   life; after `deadAfter` of silence the master is declared dead and the slave
 *   reconnects: to every master of its list once right away, then in passes with
 *   exponential backoff and jitter (backoff.ts). A master that refuses it (a standby:
 *   refused, or closed before it says anything) sends it on to the next.
 * - A failing load source stops the pushes (HELLOs go on), so the master sees the stale
 *   load time out to DOWN instead of being given a made-up number.
 * - It never queues writes behind a socket that is not draining: while the kernel buffer
 *   is full, HELLOs and pushes are skipped, not buffered.
 */
import { EventEmitter } from 'node:events';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { LoadLedgerError } from '../errors.js';
import { FrameDecoder, HELLO_ACK_FRAME, HELLO_FRAME, encodeGoodbye, encodePush, type DecodeError, type Frame } from '../protocol/index.js';
import type { HostPort } from '../util/hostport.js';
import type { TimerHandle } from '../clock.js';
import type { CloseOptions, Slave, SlaveEvents, SlaveStats } from './api.js';
import { ReconnectSchedule } from './backoff.js';
import { LoadSampler } from './load-loop.js';
import type { ResolvedOptions } from './options.js';
import { TLS_CLOSED_AT_ONCE, TLS_NO_HANDSHAKE, tlsFailure } from './tls.js';

/** One TCP connection and everything that dies with it. */
interface Conn {
  readonly socket: Socket;
  readonly decoder: FrameDecoder;
  established: boolean;
  /** The TCP connection is up (with TLS, the handshake may still be running). */
  tcp: boolean;
  /** The master sent at least one frame: it is really talking to us. */
  heardFrom: boolean;
  /** When it was established (scheduler ms): one that worked long enough resets the backoff. */
  since: number;
  lastRx: number;
  /** Why we are dropping it (set before destroy), else the socket error, if any. */
  reason: string | undefined;
  tick: TimerHandle | undefined;
  dead: TimerHandle | undefined;
  connectTimer: TimerHandle | undefined;
}

/** A connection the master talked on for this long (or an interval, if shorter) worked: the backoff starts over. */
const WORKED_MS = 1000;
/** How long close() waits for the master to acknowledge our FIN before destroying. */
const CLOSE_GRACE_MS = 1000;

export class SlaveImpl extends EventEmitter<SlaveEvents> implements Slave {
  private conn: Conn | undefined;
  private closing: Promise<void> | undefined;
  private readonly abort = new AbortController();
  private reconnectTimer: TimerHandle | undefined;
  private readonly schedule: ReconnectSchedule;
  private readonly counters: SlaveStats = { connects: 0, pushes: 0, skippedWrites: 0, loadErrors: 0 };
  private readonly loads: LoadSampler;

  constructor(private readonly opts: ResolvedOptions) {
    super();
    this.schedule = new ReconnectSchedule(opts.masters.length, opts.backoff, opts.random);
    this.loads = new LoadSampler(opts.source, this.abort.signal, {
      stopped: () => this.closing !== undefined,
      failed: (err, changed) => {
        this.counters.loadErrors++;
        if (changed) this.emit('loadError', err);
      },
      recovered: (load) => this.emit('loadRecovered', load),
    });
    this.open();
  }

  get connected(): boolean {
    return this.conn?.established === true;
  }

  get stats(): SlaveStats {
    return { ...this.counters };
  }

  get master(): Readonly<HostPort> {
    return this.opts.masters[this.schedule.index]!;
  }

  get masters(): readonly Readonly<HostPort>[] {
    return this.opts.masters;
  }

  close(options: CloseOptions = {}): Promise<void> {
    this.closing ??= this.shutdown(typeof options.reason === 'string' ? options.reason : undefined);
    return this.closing;
  }

  private async shutdown(reason: string | undefined): Promise<void> {
    this.abort.abort();
    this.opts.scheduler.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const conn = this.conn;
    if (!conn) return;
    this.stopTimers(conn);
    conn.reason = 'slave closed';
    const { socket } = conn;
    if (socket.closed) return;
    await new Promise<void>((resolve) => {
      socket.once('close', () => resolve());
      // GOODBYE and a FIN; the master closes its side once the GOODBYE is in its log. If it
      // does not in time (an old master skips GOODBYE as an unknown type, but still sees the
      // FIN), cut it. Written even behind a full buffer: it is the last thing we send.
      const grace = this.opts.scheduler.setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
      socket.once('close', () => this.opts.scheduler.clearTimeout(grace));
      if (conn.established && socket.writable) socket.end(encodeGoodbye(reason));
      else socket.destroy();
    });
  }

  private open(): void {
    const { host, port } = this.master;
    const tls = this.opts.tls?.[this.schedule.index];
    const socket = tls ? tlsConnect({ host, port, ...tls.connect }) : netConnect({ host, port });
    socket.setNoDelay(true);
    const conn: Conn = {
      socket,
      decoder: new FrameDecoder({
        frame: (f) => this.onFrame(conn, f),
        error: (e) => this.onProtocolError(conn, e),
      }),
      established: false,
      tcp: false,
      heardFrom: false,
      since: 0,
      lastRx: 0,
      reason: undefined,
      tick: undefined,
      dead: undefined,
      connectTimer: this.opts.scheduler
        .setTimeout(
          () => this.drop(conn, tls && conn.tcp ? TLS_NO_HANDSHAKE : `connect timed out after ${this.opts.connectTimeout} ms`),
          this.opts.connectTimeout,
        )
        .unref(),
    };
    this.conn = conn;

    socket.on('connect', () => {
      conn.tcp = true;
      if (!tls) this.onConnect(conn);
    });
    if (tls) socket.on('secureConnect', () => this.onConnect(conn));
    socket.on('data', (chunk: Buffer) => conn.decoder.push(chunk));
    socket.on('error', (err: Error) => {
      conn.reason ??=
        (tls && tlsFailure(err, { tcp: conn.tcp, secure: conn.established }, tls.servername)) || `socket error: ${err.message}`;
      this.emitError(err);
    });
    socket.on('close', () => this.onClose(conn));
  }

  private onConnect(conn: Conn): void {
    if (this.conn !== conn || this.closing) return;
    this.opts.scheduler.clearTimeout(conn.connectTimer);
    conn.connectTimer = undefined;
    conn.established = true;
    this.counters.connects++;
    conn.lastRx = conn.since = this.opts.scheduler.now();
    const { socket } = conn;
    this.emit('connect', {
      host: this.master.host,
      port: this.master.port,
      localAddress: socket.localAddress,
      localPort: socket.localPort,
    });
    if (this.conn !== conn || this.closing) return; // a listener may have closed us
    // The socket keeps the process alive while connected; these timers need not.
    conn.tick = this.opts.scheduler.setInterval(() => this.onTick(conn), this.opts.interval).unref();
    conn.dead = this.opts.scheduler.setTimeout(() => this.checkDead(conn), this.opts.deadAfter).unref();
    // Our whole state at once: to a master that has never seen us (a new leader), HELLO and
    // the push with load, capacity and attributes, without waiting for the first tick.
    this.write(conn, HELLO_FRAME);
    void this.pushLoad();
  }

  private onTick(conn: Conn): void {
    if (this.conn !== conn) return;
    this.write(conn, HELLO_FRAME);
    void this.pushLoad();
  }

  private checkDead(conn: Conn): void {
    if (this.conn !== conn) return;
    const silent = this.opts.scheduler.now() - conn.lastRx;
    if (silent >= this.opts.deadAfter) {
      conn.dead = undefined;
      const ms = Math.round(silent);
      this.emit('masterDead', ms);
      this.drop(conn, `master dead: nothing received for ${ms} ms`);
      return;
    }
    conn.dead = this.opts.scheduler.setTimeout(() => this.checkDead(conn), Math.ceil(this.opts.deadAfter - silent)).unref();
  }

  private onFrame(conn: Conn, frame: Frame): void {
    if (this.conn !== conn) return;
    // PROTOCOL.md: any frame is a sign of life (a trickle of partial bytes is not).
    conn.lastRx = this.opts.scheduler.now();
    conn.heardFrom = true;
    switch (frame.type) {
      case 'HELLO':
        this.write(conn, HELLO_ACK_FRAME);
        return;
      case 'HELLO_ACK':
      case 'UNKNOWN': // reserved/private types: skipped, still a sign of life
      case 'PUSH_LOAD_INFO': // not meant for slaves; harmless, ignored
      case 'GOODBYE': // slave → master only; ignored
      case 'QUERY': // client → master only; ignored
      case 'QUERY_REPLY': // never decoded here (the slave asks nothing)
        return;
      default: {
        const never: never = frame;
        return never;
      }
    }
  }

  private onProtocolError(conn: Conn, e: DecodeError): void {
    const reason = `protocol error from master: ${e.code}: ${e.reason}`;
    this.emitError(new LoadLedgerError(e.code, reason));
    this.drop(conn, reason);
  }

  /**
   * Reads the load and pushes it on the current connection, unless a read is still
   * running (a slow source: skip this round rather than pile up reads; the running read
   * pushes when done, on whatever connection is then up) or the source fails.
   */
  private async pushLoad(): Promise<void> {
    const load = await this.loads.sample();
    if (load === undefined) return;
    const conn = this.conn;
    if (!conn) return; // between connections: the next one pushes at once
    const { addr, capacity, attrs } = this.opts;
    const frame = encodePush({
      load,
      ...(addr !== undefined && { addr }),
      ...(capacity !== undefined && { capacity }),
      ...(attrs && { attrs }),
    });
    if (this.write(conn, frame)) {
      this.counters.pushes++;
      this.emit('push', load);
    }
  }

  /** Writes unless the socket is not draining; false when skipped. */
  private write(conn: Conn, frame: Buffer): boolean {
    const { socket } = conn;
    if (!conn.established || socket.destroyed || !socket.writable) return false;
    if (socket.writableNeedDrain) {
      this.counters.skippedWrites++;
      return false;
    }
    socket.write(frame);
    return true;
  }

  /** Drops the connection for `reason`; onClose reconnects. */
  private drop(conn: Conn, reason: string): void {
    if (this.conn !== conn) return;
    conn.reason ??= reason;
    this.stopTimers(conn);
    conn.socket.destroy();
  }

  private onClose(conn: Conn): void {
    this.stopTimers(conn);
    conn.decoder.close();
    if (this.conn !== conn) return;
    this.conn = undefined;
    const reason =
      conn.reason ??
      (conn.established ? (this.opts.tls && !conn.heardFrom ? TLS_CLOSED_AT_ONCE : 'master closed the connection') : 'connection closed');
    if (conn.established) this.emit('disconnect', reason);
    if (this.closing) return;
    // It worked: the master talked, and for a second (or a HELLO period, if shorter) at
    // least: one that takes us and drops us at once, again and again, must not make us
    // reconnect in a tight loop.
    if (conn.heardFrom && this.opts.scheduler.now() - conn.since >= Math.min(this.opts.interval, WORKED_MS)) this.schedule.worked();
    const { delay, attempt } = this.schedule.ended();
    this.emit('reconnecting', { delay, attempt, reason, master: { ...this.master } });
    if (this.closing) return; // a listener may have closed us
    // Not unref'd: while the master is away this timer is what keeps a slave process alive.
    this.reconnectTimer = this.opts.scheduler.setTimeout(() => {
      this.reconnectTimer = undefined;
      if (!this.closing) this.open();
    }, delay);
  }

  private stopTimers(conn: Conn): void {
    this.opts.scheduler.clearInterval(conn.tick);
    this.opts.scheduler.clearTimeout(conn.dead);
    this.opts.scheduler.clearTimeout(conn.connectTimer);
    conn.tick = conn.dead = conn.connectTimer = undefined;
  }

  private emitError(err: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }
}
