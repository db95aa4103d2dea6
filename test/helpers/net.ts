/**
 * A raw TCP client speaking the wire protocol byte for byte: what a C agent, a hung
 * gateway or a hostile peer looks like to the master. It decodes what the master sends
 * with the project's FrameDecoder and remembers every frame.
 */
import { readFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import {
  FrameDecoder,
  HELLO_ACK_FRAME,
  HELLO_FRAME,
  encodePush,
  type DecodeError,
  type Frame,
  type PushFields,
} from '../../src/protocol/index.js';
import type { Clock, TimerHandle } from '../../src/clock.js';
import { systemClock } from '../../src/util/system-clock.js';
import { waitFor } from './wait.js';

export interface RawClientOptions {
  /** Answer the master's HELLO with HELLO_ACK (a live slave does). Default false: silent. */
  answerHello?: boolean;
}

export class RawClient {
  readonly frames: Frame[] = [];
  /** Frames by type, kept as they come: count() is polled while hundreds of thousands arrive. */
  private readonly counts = new Map<Frame['type'], number>();
  readonly errors: DecodeError[] = [];
  /** performance.now() when the socket closed, or undefined while open. */
  closedAt: number | undefined;
  answerHello: boolean;
  /** How the master names this connection's remote end (SlaveConnected.remote). */
  readonly remote: string;
  private readonly decoder: FrameDecoder;
  private heartbeat: TimerHandle | undefined;
  private heartbeatClock: Clock = systemClock;

  private constructor(
    readonly socket: Socket,
    opts: RawClientOptions,
  ) {
    this.answerHello = opts.answerHello ?? false;
    this.remote = `127.0.0.1:${socket.localPort}`;
    this.decoder = new FrameDecoder(
      {
        frame: (f) => {
          this.frames.push(f);
          this.counts.set(f.type, (this.counts.get(f.type) ?? 0) + 1);
          if (f.type === 'HELLO' && this.answerHello) this.send(HELLO_ACK_FRAME);
        },
        error: (e) => this.errors.push(e),
      },
      {},
      { replies: true },
    ); // QUERY_REPLY decoded: a raw client may ask as well
    socket.on('data', (chunk: Buffer) => this.decoder.push(chunk));
    socket.on('error', () => {}); // a reset by the master shows as 'close'
    socket.on('close', () => {
      this.closedAt = performance.now();
      this.stopHeartbeat();
    });
  }

  static async connect(port: number, opts: RawClientOptions = {}): Promise<RawClient> {
    const socket = connect({ host: '127.0.0.1', port, noDelay: true });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawClient(socket, opts);
  }

  get closed(): boolean {
    return this.closedAt !== undefined;
  }

  send(bytes: Uint8Array): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  hello(): void {
    this.send(HELLO_FRAME);
  }

  push(fields: PushFields): void {
    this.send(encodePush(fields));
  }

  count(type: Frame['type']): number {
    return this.counts.get(type) ?? 0;
  }

  /**
   * Behaves like a live slave: HELLO and a push every `intervalMs`, answering HELLO.
   * `freeze()` stops all of it while the socket stays open (a hung agent). `clock`: whose
   * time the interval is in (a ManualClock shared with the master, for fake-time tests).
   */
  startHeartbeat(fields: PushFields, intervalMs: number, clock: Clock = systemClock): void {
    this.answerHello = true;
    this.push(fields);
    this.heartbeatClock = clock;
    this.heartbeat = clock.setInterval(() => {
      this.hello();
      this.push(fields);
    }, intervalMs);
  }

  /** Stops sending anything, answers nothing; the socket stays open and keeps reading. */
  freeze(): void {
    this.stopHeartbeat();
    this.answerHello = false;
  }

  async waitClosed(timeout = 10_000, what = 'the master to close the connection'): Promise<number> {
    return waitFor(() => this.closedAt, { timeout, what });
  }

  destroy(): void {
    this.stopHeartbeat();
    this.socket.destroy();
  }

  private stopHeartbeat(): void {
    this.heartbeatClock.clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }
}

/** A frame with any type and payload, honest header (u16 BE type, u16 BE length). */
export function rawFrame(type: number, payload: Uint8Array = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt16BE(type, 0);
  head.writeUInt16BE(payload.length, 2);
  return Buffer.concat([head, payload]);
}

/**
 * A loopback port that nothing listens on, for a process a test starts on a port of its own
 * (etcd, HAProxy, Prometheus, a child master) or for an address that must refuse.
 *
 * Not from the ephemeral range (ip_local_port_range): there the kernel hands ports out to
 * every listen(0) and every outgoing connection, so with two suites on one machine (one of
 * them holding 10,000 idle connections) a port released here could be taken again before
 * its process binds it, or start answering while a test counts on it refusing. Below that
 * range only tests that ask by number bind: a random port there, checked free by binding
 * it, and never handed out twice by this process.
 */
export async function closedPort(): Promise<number> {
  const [low, high] = TEST_PORTS;
  for (let attempt = 0; ; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low));
    if (handedOut.has(port)) continue;
    if (await bindable(port)) {
      handedOut.add(port);
      return port;
    }
    if (attempt > 200) throw new Error(`no free loopback port in ${low}..${high - 1} after ${attempt} tries`);
  }
}

const handedOut = new Set<number>();

/** [low, high): below the ephemeral range (Linux's default 32768..60999), above the usual services. */
const TEST_PORTS: readonly [number, number] = (() => {
  let ephemeralLow = 32768;
  try {
    ephemeralLow = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || ephemeralLow;
  } catch {
    // not Linux: keep the default
  }
  return ephemeralLow > 12_000 ? [10_000, ephemeralLow] : [61_000, 65_536];
})();

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen({ port, host: '127.0.0.1', exclusive: true }, () => s.close(() => resolve(true)));
  });
}
