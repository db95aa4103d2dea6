/**
 * Many slaves against one master, in this process: healthy ones speaking the protocol as
 * fast as their ACKs allow (or on an interval), and misbehaving ones — a HELLO flooder, a
 * client that never reads, one sending random bytes, one flapping connect/disconnect, one
 * that connects and says nothing. Used by the crash test (test/master/crash.int.test.ts)
 * and `npm run soak` (bench/soak.ts).
 *
 * Every connection is recorded with the remote address the master will log for it
 * (SlaveConnected.remote) and the HELLO_ACKs it received, so that after a crash the log can
 * be checked for every acknowledged HELLO (bench/lib/crash.ts, AckCheck).
 */
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { HELLO_ACK_FRAME, HELLO_FRAME, encodePush } from '../../src/protocol/encoder.js';
import { FrameDecoder } from '../../src/protocol/decoder.js';
import { backoffDelay } from '../../src/slave/backoff.js';
import { LIST_BACKOFF_MAX_MS } from '../../src/slave/options.js';
import type { Samples } from './stats.js';

/** A slave's backoff between passes over its masters, as `createSlave` sets it for a list. */
const LIST_BACKOFF = { initial: 100, max: LIST_BACKOFF_MAX_MS, jitter: 0.5 };

export type ClientKind = 'healthy' | 'flapper' | 'flooder' | 'deaf' | 'noise' | 'silent';

/** One TCP connection a client made. */
export interface ConnRecord {
  readonly kind: ClientKind;
  /** `127.0.0.1:PORT`, as the master records it in SlaveConnected.remote. */
  readonly remote: string;
  /** HELLO_ACKs received on this connection (the deaf client never reads: always 0). */
  acks: number;
  /** HELLOs written. */
  hellos: number;
  /** The master's port it connected to (one of SwarmOptions.ports). */
  readonly port: number;
  /** performance.now() when it connected. */
  readonly at: number;
  /** Which client of its kind made it (0 … count-1): a healthy slave's connections share its slot. */
  readonly slot: number;
}

export interface SwarmOptions {
  /** The master's slave port (127.0.0.1). */
  port: number;
  /**
   * Master HA: the slave ports of every master (127.0.0.1), `port` among them. A healthy
   * slave whose connection ends tries the next one at once, each once per pass, then backs
   * off (100 ms doubling to 1 s, half of it random) like the product's slave with a list.
   */
  ports?: number[];
  rng: () => number;
  healthy: number;
  /** Healthy slaves: 0 (default) = closed loop, the next PUSH+HELLO when the ACK comes; else ms between them. */
  healthyIntervalMs?: number;
  flappers?: number;
  flooders?: number;
  deaf?: number;
  noise?: number;
  silent?: number;
  /** HELLO→ACK round trips of the healthy slaves are added here (ms). */
  latency?: Samples;
}

const FLOOD_CHUNK = Buffer.concat(Array.from({ length: 2048 }, () => HELLO_FRAME));
const DEAF_CHUNK = Buffer.concat(Array.from({ length: 16 }, () => HELLO_FRAME));

export class Swarm {
  readonly conns: ConnRecord[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;

  constructor(private readonly opts: SwarmOptions) {}

  /** Starts every client; each reconnects on its own until `stop()`. */
  start(): this {
    const o = this.opts;
    for (let i = 0; i < o.healthy; i++) this.healthy(i);
    for (let i = 0; i < (o.flappers ?? 0); i++) this.flapper(i);
    for (let i = 0; i < (o.flooders ?? 0); i++) this.flooder(i);
    for (let i = 0; i < (o.deaf ?? 0); i++) this.deaf(i);
    for (let i = 0; i < (o.noise ?? 0); i++) this.noise(i);
    for (let i = 0; i < (o.silent ?? 0); i++) this.silent();
    return this;
  }

  /** Total HELLO_ACKs received so far. */
  get acks(): number {
    let n = 0;
    for (const c of this.conns) n += c.acks;
    return n;
  }

  /** Stops reconnecting, closes every socket and waits until all are closed. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const open = [...this.sockets];
    await Promise.all(
      open.map(
        (s) =>
          new Promise<void>((resolve) => {
            if (s.closed) return resolve();
            s.once('close', () => resolve());
            s.destroy();
          }),
      ),
    );
  }

  private later(ms: number, fn: () => void): void {
    if (this.stopped) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.stopped) fn();
    }, ms);
    this.timers.add(t);
  }

  /**
   * Opens one connection. `onOpen` runs once connected, with its record; `onClose` when it
   * is gone (whoever closed it). A refused connection (the master is down) retries later.
   */
  private open(
    kind: ClientKind,
    onOpen: (s: Socket, rec: ConnRecord) => void,
    onClose: (rec: ConnRecord | undefined) => void,
    slot = 0,
    port = this.opts.port,
  ): void {
    if (this.stopped) return;
    const s = connect({ host: '127.0.0.1', port, noDelay: true });
    this.sockets.add(s);
    let rec: ConnRecord | undefined;
    s.on('error', () => {}); // resets and refusals end in 'close'
    s.once('connect', () => {
      rec = { kind, remote: `127.0.0.1:${s.localPort}`, acks: 0, hellos: 0, port, at: performance.now(), slot };
      this.conns.push(rec);
      if (!this.stopped) onOpen(s, rec);
    });
    s.once('close', () => {
      this.sockets.delete(s);
      if (!this.stopped) onClose(rec);
    });
  }

  /** Reads frames off `s`: counts HELLO_ACKs (calling `onAck`), answers the master's HELLO. */
  private read(s: Socket, rec: ConnRecord, onAck?: () => void): void {
    const decoder = new FrameDecoder({
      frame: (f) => {
        if (f.type === 'HELLO_ACK') {
          rec.acks++;
          onAck?.();
        } else if (f.type === 'HELLO' && !s.destroyed) s.write(HELLO_ACK_FRAME);
      },
      error: () => s.destroy(),
    });
    s.on('data', (chunk: Buffer) => decoder.push(chunk));
  }

  private push(i: number, prefix: string): Buffer {
    return encodePush({ load: Math.floor(this.opts.rng() * 1000), addr: `${prefix}${i}.swarm.test:8080`, attrs: { zone: `z${i % 4}` } });
  }

  /**
   * Healthy slaves whose latest connection to `port` opened at or after `since` (performance.now())
   * and got a HELLO_ACK there: re-registered with the master on that port.
   */
  registered(port: number, since: number): number {
    const slots = new Set<number>();
    for (const c of this.conns) if (c.kind === 'healthy' && c.port === port && c.at >= since && c.acks > 0) slots.add(c.slot);
    return slots.size;
  }

  /** Master HA: the next port to try after a connection to `port` ended, and after how long. */
  private next(port: number, acked: boolean, pass: { misses: number }): { port: number; delay: number } {
    const ports = this.opts.ports ?? [port];
    const nextPort = ports[(ports.indexOf(port) + 1) % ports.length]!;
    if (ports.length === 1 || acked) {
      pass.misses = 0;
      return { port: nextPort, delay: 5 + this.opts.rng() * 20 };
    }
    pass.misses++;
    if (pass.misses % ports.length !== 0) return { port: nextPort, delay: 0 };
    // the real slave's schedule (src/slave/backoff.ts) with its defaults for a list of masters
    return { port: nextPort, delay: backoffDelay(LIST_BACKOFF, pass.misses / ports.length - 1, this.opts.rng) };
  }

  /** PUSH_LOAD_INFO + HELLO, then again on each ACK (or every healthyIntervalMs); reconnects at once (with `ports`: to the next). */
  private healthy(i: number, port = this.opts.port, pass = { misses: 0 }): void {
    const interval = this.opts.healthyIntervalMs ?? 0;
    this.open(
      'healthy',
      (s, rec) => {
        const sentAt: number[] = [];
        const beat = (): void => {
          if (s.destroyed) return;
          sentAt.push(performance.now());
          rec.hellos++;
          s.write(Buffer.concat([this.push(i, 'h'), HELLO_FRAME]));
        };
        this.read(s, rec, () => {
          const t = sentAt.shift();
          if (t !== undefined) this.opts.latency?.push(performance.now() - t);
          if (interval === 0) beat();
        });
        beat();
        if (interval > 0) {
          const timer = setInterval(beat, interval);
          s.once('close', () => clearInterval(timer));
        }
      },
      (rec) => {
        const { port: to, delay } = this.next(port, (rec?.acks ?? 0) > 0, pass);
        this.later(delay, () => this.healthy(i, to, pass));
      },
      i,
      port,
    );
  }

  /** Connects, pushes and HELLOs, closes within 0–20 ms, again at once. */
  private flapper(i: number): void {
    this.open(
      'flapper',
      (s, rec) => {
        this.read(s, rec);
        rec.hellos++;
        s.write(Buffer.concat([this.push(i, 'f'), HELLO_FRAME]));
        this.later(this.opts.rng() * 20, () => s.destroy());
      },
      (rec) => (rec ? this.flapper(i) : this.later(10, () => this.flapper(i))),
    );
  }

  /** Pushes once, then writes HELLOs as fast as the socket takes them; reads its ACKs. */
  private flooder(i: number): void {
    this.open(
      'flooder',
      (s, rec) => {
        this.read(s, rec);
        s.write(this.push(i, 'flood'));
        const pump = (): void => {
          while (!s.destroyed) {
            rec.hellos += 2048;
            if (!s.write(FLOOD_CHUNK)) return void s.once('drain', pump);
          }
        };
        pump();
      },
      () => this.later(50, () => this.flooder(i)),
    );
  }

  /** Pushes, then HELLOs every millisecond and never reads an ACK; reconnects after 2 s or when cut off. */
  private deaf(i: number): void {
    this.open(
      'deaf',
      (s, rec) => {
        s.pause(); // never read: the ACKs pile up in the kernel, then in the master
        s.write(this.push(i, 'deaf'));
        const timer = setInterval(() => {
          rec.hellos += 16;
          s.write(DEAF_CHUNK);
        }, 1);
        s.once('close', () => clearInterval(timer));
        this.later(2000, () => s.destroy());
      },
      () => this.later(50, () => this.deaf(i)),
    );
  }

  /** Random bytes in random bursts; reconnects after 1 s or when the master closes it. */
  private noise(i: number): void {
    this.open(
      'noise',
      (s, rec) => {
        this.read(s, rec);
        const timer = setInterval(() => {
          const n = 1 + Math.floor(this.opts.rng() * 512);
          const b = Buffer.allocUnsafe(n);
          for (let k = 0; k < n; k++) b[k] = Math.floor(this.opts.rng() * 256);
          s.write(b);
        }, 5);
        s.once('close', () => clearInterval(timer));
        this.later(1000, () => s.destroy());
      },
      () => this.later(20, () => this.noise(i)),
    );
  }

  /** Connects and says nothing, not even to the master's HELLO: it times out. */
  private silent(): void {
    this.open(
      'silent',
      (s) => s.resume(),
      () => this.later(20, () => this.silent()),
    );
  }
}
