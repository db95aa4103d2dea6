/**
 * The slave: one TCP connection to the master, kept alive per PROTOCOL.md "Liveness".
 *
 * - On connect it pushes its current load at once; then every `interval` it sends HELLO
 *   and pushes its load again.
 * - It answers the master's HELLO with HELLO_ACK. Any frame from the master is a sign of
 *   life; after `deadAfter` of silence the master is declared dead and the slave
 *   reconnects, with exponential backoff and jitter.
 * - A failing load source stops the pushes (HELLOs go on), so the master sees the stale
 *   load time out to DOWN instead of being given a made-up number.
 * - It never queues writes behind a socket that is not draining: while the kernel buffer
 *   is full, HELLOs and pushes are skipped, not buffered.
 */
import { EventEmitter } from 'node:events';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { ErrorCode, LoadLedgerError, badArgument } from '../errors.js';
import {
  DEFAULT_LIMITS,
  FORBIDDEN_KEY,
  FrameDecoder,
  HELLO_ACK_FRAME,
  HELLO_FRAME,
  encodeGoodbye,
  encodePush,
  isValidAddr,
  type Attrs,
  type DecodeError,
  type Frame,
} from '../protocol/index.js';
import { parseDuration } from '../util/duration.js';
import { errMessage } from '../util/err.js';
import { parseHostPort, type HostPort } from '../util/hostport.js';
import { parseLoadSource, type LoadSource } from './load-sources.js';
import { TLS_CLOSED_AT_ONCE, TLS_NO_HANDSHAKE, resolveTls, tlsFailure, type SlaveTlsOptions } from './tls.js';
import type { Clock, TimerHandle } from '../clock.js';
import { systemClock } from '../util/system-clock.js';

export type { SlaveTlsOptions } from './tls.js';

/** PROTOCOL.md "Transport": default master port for slaves. */
export const DEFAULT_MASTER_PORT = 7400;

export interface BackoffOptions {
  /** First reconnect delay, ms. Default 100. */
  initial?: number;
  /** Cap of the doubling delay, ms. Default 5000. */
  max?: number;
  /** Fraction of each delay that is random, 0–1: delay ∈ (base·(1−jitter), base]. Default 0.5. */
  jitter?: number;
}

/** A duration: milliseconds, or a string for parseDuration (`500ms`, `3s`, …). */
export type DurationInput = number | string;

export type LoadFunction = () => number | Promise<number>;

export interface SlaveOptions {
  /** `host:port` (`[::1]:7400`; the port defaults to 7400) or `{ host, port }`. */
  master: string | HostPort;
  /** The address clients are given for this node (`host` or `host:port`). Default: the master uses our IP. */
  addr?: string;
  /** Where the load comes from: a function, a LoadSource, or a spec for parseLoadSource. */
  load: LoadFunction | LoadSource | string;
  /** Extra attributes pushed with every load (e.g. `{ zone: 'eu-1' }`). */
  attrs?: Attrs;
  /** Relative capacity, finite > 0. Default: not sent (the master assumes 1). */
  capacity?: number;
  /** Period of HELLO and of pushes. Default 1000 ms. */
  interval?: DurationInput;
  /** Silence from the master after which it is declared dead. Default 3000 ms; must exceed `interval`. */
  deadAfter?: DurationInput;
  /** Reconnect backoff. Default 100 ms doubling to 5 s, jitter 0.5. */
  backoff?: BackoffOptions;
  /** Give up a connection attempt after this long. Default: `deadAfter`. */
  connectTimeout?: DurationInput;
  /** Talk TLS to the master (which requires a client certificate: `cert` and `key`). Default: plain TCP. */
  tls?: SlaveTlsOptions;
  /** Monotonic time and timers (HELLO ticks, dead-master check, connect timeout, backoff); tests drive a manual one. Default: the real ones. */
  scheduler?: Clock;
}

export interface ConnectInfo {
  host: string;
  port: number;
  localAddress: string | undefined;
  localPort: number | undefined;
}

export interface ReconnectInfo {
  /** Delay before the next attempt, ms. */
  delay: number;
  /** Consecutive attempts that have failed (or connections that never proved alive). */
  attempt: number;
  /** Why the previous connection or attempt ended. */
  reason: string;
}

/** Events of a Slave, with their arguments. */
export interface SlaveEvents {
  /** A connection to the master is established (a push follows at once). */
  connect: [info: ConnectInfo];
  /** An established connection ended; the slave reconnects unless it was closed. */
  disconnect: [reason: string];
  /** A PUSH_LOAD_INFO was written. */
  push: [load: number];
  /** The load source failed (emitted when it starts failing or its reason changes). Pushes stop until it recovers. */
  loadError: [err: LoadLedgerError];
  /** The load source works again after a failure; pushes resume. */
  loadRecovered: [load: number];
  /** Nothing came from the master for `deadAfter`: the connection is dropped. */
  masterDead: [silentMs: number];
  /** A reconnect is scheduled. */
  reconnecting: [info: ReconnectInfo];
  /**
   * A connection-level error (refused, reset, protocol error in the master's bytes). The
   * slave recovers by itself; this is only emitted when someone listens, so an unhandled
   * 'error' never crashes the process.
   */
  error: [err: Error];
}

/** Counters since the slave was created. */
export interface SlaveStats {
  /** Connections established. */
  connects: number;
  /** PUSH_LOAD_INFO frames written. */
  pushes: number;
  /** HELLO, HELLO_ACK or pushes not written because the socket was not draining. */
  skippedWrites: number;
  /** Load reads that failed. */
  loadErrors: number;
}

export interface Slave extends EventEmitter<SlaveEvents> {
  /** True while a connection to the master is established. */
  readonly connected: boolean;
  /** Counters (a copy). */
  readonly stats: SlaveStats;
  /** The master this slave talks to. */
  readonly master: Readonly<HostPort>;
  /**
   * Leaves: stops all timers, says GOODBYE (with `reason`, if given) so that the master marks
   * the node DOWN at once, and closes the connection; resolves once the socket is closed
   * (at most about a second when the master does not answer). Idempotent: a second call
   * returns the first one's promise.
   */
  close(options?: CloseOptions): Promise<void>;
}

export interface CloseOptions {
  /** Sent with the GOODBYE and recorded by the master (e.g. `SIGTERM`, `drained for deploy`); cut to 256 bytes. */
  reason?: string;
}

interface ResolvedOptions {
  master: HostPort;
  addr: string | undefined;
  capacity: number | undefined;
  attrs: Attrs | undefined;
  source: LoadSource;
  interval: number;
  deadAfter: number;
  connectTimeout: number;
  backoff: Required<BackoffOptions>;
  tls: { connect: ConnectionOptions; servername: string } | undefined;
  scheduler: Clock;
}

/** One TCP connection and everything that dies with it. */
interface Conn {
  readonly socket: Socket;
  readonly decoder: FrameDecoder;
  established: boolean;
  /** The TCP connection is up (with TLS, the handshake may still be running). */
  tcp: boolean;
  /** The master sent at least one frame: it is really talking to us, so backoff resets. */
  heardFrom: boolean;
  lastRx: number;
  /** Why we are dropping it (set before destroy), else the socket error, if any. */
  reason: string | undefined;
  tick: TimerHandle | undefined;
  dead: TimerHandle | undefined;
  connectTimer: TimerHandle | undefined;
}

const MAX_TIMER_MS = 2 ** 31 - 1;
/** How long close() waits for the master to acknowledge our FIN before destroying. */
const CLOSE_GRACE_MS = 1000;

/**
 * Creates a slave and starts connecting at once.
 *
 * @throws LoadLedgerError BAD_ARGUMENT for an invalid option (one line naming it).
 */
export function createSlave(options: SlaveOptions): Slave {
  return new SlaveImpl(resolveOptions(options));
}

class SlaveImpl extends EventEmitter<SlaveEvents> implements Slave {
  private conn: Conn | undefined;
  private closing: Promise<void> | undefined;
  private readonly abort = new AbortController();
  private reconnectTimer: TimerHandle | undefined;
  private attempt = 0;
  private reading = false;
  /** Message of the current load failure, or undefined while the source works. */
  private loadFailure: string | undefined;
  private readonly counters: SlaveStats = { connects: 0, pushes: 0, skippedWrites: 0, loadErrors: 0 };

  constructor(private readonly opts: ResolvedOptions) {
    super();
    this.open();
  }

  get connected(): boolean {
    return this.conn?.established === true;
  }

  get stats(): SlaveStats {
    return { ...this.counters };
  }

  get master(): Readonly<HostPort> {
    return this.opts.master;
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
    const { host, port } = this.opts.master;
    const tls = this.opts.tls;
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
      lastRx: 0,
      reason: undefined,
      tick: undefined,
      dead: undefined,
      connectTimer: this.opts.scheduler.setTimeout(() => this.drop(conn, tls && conn.tcp ? TLS_NO_HANDSHAKE : `connect timed out after ${this.opts.connectTimeout} ms`), this.opts.connectTimeout).unref(),
    };
    this.conn = conn;

    socket.on('connect', () => {
      conn.tcp = true;
      if (!tls) this.onConnect(conn);
    });
    if (tls) socket.on('secureConnect', () => this.onConnect(conn));
    socket.on('data', (chunk: Buffer) => conn.decoder.push(chunk));
    socket.on('error', (err: Error) => {
      conn.reason ??= (tls && tlsFailure(err, { tcp: conn.tcp, secure: conn.established }, tls.servername)) || `socket error: ${err.message}`;
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
    conn.lastRx = this.opts.scheduler.now();
    const { socket } = conn;
    this.emit('connect', {
      host: this.opts.master.host,
      port: this.opts.master.port,
      localAddress: socket.localAddress,
      localPort: socket.localPort,
    });
    if (this.conn !== conn || this.closing) return; // a listener may have closed us
    // The socket keeps the process alive while connected; these timers need not.
    conn.tick = this.opts.scheduler.setInterval(() => this.onTick(conn), this.opts.interval).unref();
    conn.dead = this.opts.scheduler.setTimeout(() => this.checkDead(conn), this.opts.deadAfter).unref();
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
    if (this.reading) return;
    this.reading = true;
    let load: number;
    try {
      load = await readLoad(this.opts.source, this.abort.signal);
    } catch (e) {
      this.reading = false;
      if (this.closing) return;
      this.counters.loadErrors++;
      const err = e instanceof LoadLedgerError && e.code === ErrorCode.LOAD_SOURCE_FAILED
        ? e
        : new LoadLedgerError(ErrorCode.LOAD_SOURCE_FAILED, `load source ${this.opts.source.describe}: ${errMessage(e)}`, { cause: e });
      if (err.message !== this.loadFailure) {
        this.loadFailure = err.message;
        this.emit('loadError', err);
      }
      return;
    }
    this.reading = false;
    if (this.closing) return;
    if (this.loadFailure !== undefined) {
      this.loadFailure = undefined;
      this.emit('loadRecovered', load);
    }
    const conn = this.conn;
    if (!conn) return; // between connections: the next one pushes at once
    const { addr, capacity, attrs } = this.opts;
    const frame = encodePush({ load, ...(addr !== undefined && { addr }), ...(capacity !== undefined && { capacity }), ...(attrs && { attrs }) });
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
    const reason = conn.reason ?? (conn.established ? (this.opts.tls && !conn.heardFrom ? TLS_CLOSED_AT_ONCE : 'master closed the connection') : 'connection closed');
    if (conn.established) this.emit('disconnect', reason);
    if (this.closing) return;
    if (conn.heardFrom) this.attempt = 0;
    const delay = backoffDelay(this.opts.backoff, this.attempt);
    this.attempt++;
    this.emit('reconnecting', { delay, attempt: this.attempt, reason });
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

async function readLoad(source: LoadSource, signal: AbortSignal): Promise<number> {
  const load = await source.read(signal);
  if (typeof load !== 'number' || !Number.isFinite(load) || load < 0) {
    throw new LoadLedgerError(ErrorCode.LOAD_SOURCE_FAILED, `load source ${source.describe}: gave ${String(load)}, expected a finite number ≥ 0`);
  }
  return load;
}

/** base = min(max, initial·2^attempt); a `jitter` fraction of it is random. */
export function backoffDelay(b: Required<BackoffOptions>, attempt: number): number {
  const base = Math.min(b.max, b.initial * 2 ** Math.min(attempt, 31));
  return Math.round(base * (1 - b.jitter * Math.random()));
}

function functionSource(fn: LoadFunction): LoadSource {
  return {
    describe: fn.name ? `function ${fn.name}` : 'function',
    async read() {
      try {
        return await fn();
      } catch (e) {
        throw new LoadLedgerError(ErrorCode.LOAD_SOURCE_FAILED, `load source ${fn.name ? `function ${fn.name}` : 'function'}: ${errMessage(e)}`, { cause: e });
      }
    },
  };
}

function resolveOptions(o: SlaveOptions): ResolvedOptions {
  if (typeof o !== 'object' || o === null) throw badArgument('slave options: expected an object');
  const master = resolveMaster(o.master);

  if (o.addr !== undefined) {
    if (typeof o.addr !== 'string' || !isValidAddr(o.addr)) {
      throw badArgument(`addr: expected host or host:port (IPv6 as [::1]:8080), got ${JSON.stringify(o.addr)}`);
    }
    if (Buffer.byteLength(o.addr) > DEFAULT_LIMITS.maxStringBytes) throw badArgument(`addr: longer than ${DEFAULT_LIMITS.maxStringBytes} bytes`);
  }
  if (o.capacity !== undefined && (typeof o.capacity !== 'number' || !Number.isFinite(o.capacity) || o.capacity <= 0)) {
    throw badArgument(`capacity: expected a finite number > 0, got ${String(o.capacity)}`);
  }
  const attrs = o.attrs === undefined ? undefined : resolveAttrs(o.attrs);

  let source: LoadSource;
  if (typeof o.load === 'function') source = functionSource(o.load);
  else if (typeof o.load === 'string') source = parseLoadSource(o.load, { flag: 'load' });
  else if (typeof o.load === 'object' && o.load !== null && typeof o.load.read === 'function') source = o.load;
  else throw badArgument('load: expected a function, a LoadSource or a load-source spec');

  const interval = duration(o.interval, 1000, 'interval');
  const deadAfter = duration(o.deadAfter, 3000, 'deadAfter');
  if (deadAfter <= interval) {
    throw badArgument(`deadAfter: must be longer than interval (${interval} ms), got ${deadAfter} ms; the master answers HELLO once per interval`);
  }
  const connectTimeout = duration(o.connectTimeout, deadAfter, 'connectTimeout');

  const b = o.backoff ?? {};
  if (typeof b !== 'object' || b === null) throw badArgument('backoff: expected { initial, max, jitter }');
  const initial = duration(b.initial, 100, 'backoff.initial');
  const max = duration(b.max, 5000, 'backoff.max');
  if (max < initial) throw badArgument(`backoff.max: must be ≥ backoff.initial (${initial} ms), got ${max} ms`);
  const jitter = b.jitter ?? 0.5;
  if (typeof jitter !== 'number' || !(jitter >= 0 && jitter <= 1)) throw badArgument(`backoff.jitter: expected a number from 0 to 1, got ${String(jitter)}`);

  // The master refuses an oversized payload: fail here, not on every push.
  const sample = encodePush({ load: Number.MAX_VALUE, ...(o.addr !== undefined && { addr: o.addr }), ...(o.capacity !== undefined && { capacity: o.capacity }), ...(attrs && { attrs }) });
  if (sample.length - 4 > DEFAULT_LIMITS.maxPayload) {
    throw badArgument(`attrs: a push would be ${sample.length - 4} bytes, more than the ${DEFAULT_LIMITS.maxPayload} a master accepts`);
  }

  const tls = o.tls === undefined ? undefined : { connect: resolveTls(o.tls, master.host), servername: o.tls.servername ?? master.host };
  return { master, addr: o.addr, capacity: o.capacity, attrs, source, interval, deadAfter, connectTimeout, backoff: { initial, max, jitter }, tls, scheduler: o.scheduler ?? systemClock };
}

function resolveMaster(m: SlaveOptions['master']): HostPort {
  if (typeof m === 'string') return parseHostPort(m, 'master', { defaultPort: DEFAULT_MASTER_PORT });
  if (typeof m === 'object' && m !== null) {
    const { host, port } = m;
    if (typeof host !== 'string' || host.trim() === '' || /\s/.test(host)) throw badArgument(`master.host: expected a host name or IP, got ${JSON.stringify(host)}`);
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
      throw badArgument(`master.port: expected an integer 1-65535, got ${String(port)}`);
    }
    // Accept a bracketed IPv6 as people write it; net.connect wants it bare.
    const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
    return { host: bare, port };
  }
  throw badArgument('master: expected host:port or { host, port }');
}

const RESERVED_KEYS = new Set(['load', 'addr', 'capacity']);

function resolveAttrs(a: Attrs): Attrs {
  if (typeof a !== 'object' || a === null || Array.isArray(a)) throw badArgument('attrs: expected an object of string, number or boolean values');
  const out: Attrs = Object.create(null) as Attrs;
  const entries = Object.entries(a);
  if (entries.length > DEFAULT_LIMITS.maxAttrs) throw badArgument(`attrs: at most ${DEFAULT_LIMITS.maxAttrs} attributes, got ${entries.length}`);
  for (const [k, v] of entries) {
    if (RESERVED_KEYS.has(k)) throw badArgument(`attrs: "${k}" is not an attribute; use the ${k} option`);
    if (k === FORBIDDEN_KEY) throw badArgument(`attrs: key "${k}" is not allowed (a master refuses it)`);
    if (Buffer.byteLength(k) > DEFAULT_LIMITS.maxKeyBytes) throw badArgument(`attrs: key "${k.slice(0, 20)}…" is longer than ${DEFAULT_LIMITS.maxKeyBytes} bytes`);
    if (typeof v === 'string') {
      if (Buffer.byteLength(v) > DEFAULT_LIMITS.maxStringBytes) throw badArgument(`attrs.${k}: longer than ${DEFAULT_LIMITS.maxStringBytes} bytes`);
    } else if (typeof v === 'number') {
      if (!Number.isFinite(v)) throw badArgument(`attrs.${k}: expected a finite number, got ${v}`);
    } else if (typeof v !== 'boolean') {
      throw badArgument(`attrs.${k}: expected a string, number or boolean, got ${v === null ? 'null' : typeof v}`);
    }
    out[k] = v;
  }
  return out;
}

function duration(v: DurationInput | undefined, dflt: number, name: string): number {
  if (v === undefined) return dflt;
  const ms = typeof v === 'string' ? parseDuration(v, name) : v;
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0 || ms > MAX_TIMER_MS) {
    throw badArgument(`${name}: expected a duration > 0 and at most ${MAX_TIMER_MS} ms, got ${JSON.stringify(v)}`);
  }
  return ms;
}
