/**
 * A healthy slave's view of the master: HELLO → HELLO_ACK latencies, timed from the write
 * to the ACK's arrival (event-driven, no polling), and their percentiles. The master
 * answers a connection's HELLOs in order, so the n-th ACK belongs to the n-th HELLO and
 * HELLOs can be pipelined. The probe answers the master's own HELLOs, as a live slave does.
 */
import { connect, type Socket } from 'node:net';
import { FrameDecoder, HELLO_ACK_FRAME, HELLO_FRAME, encodePush } from '../../src/protocol/index.js';

interface Outstanding {
  sentAt: number;
  resolve: (ms: number) => void;
}

export class HelloProbe {
  /** HELLOs sent and not acknowledged yet, oldest first. */
  private readonly outstanding: Outstanding[] = [];
  private readonly decoder: FrameDecoder;
  closed = false;

  private constructor(readonly socket: Socket) {
    this.decoder = new FrameDecoder({
      frame: (f) => {
        if (f.type === 'HELLO') socket.write(HELLO_ACK_FRAME);
        else if (f.type === 'HELLO_ACK') {
          const now = performance.now();
          const o = this.outstanding.shift();
          o?.resolve(now - o.sentAt);
        }
      },
      error: (e) => socket.destroy(new Error(`the master sent a bad frame: ${e.code}`)),
    });
    socket.on('data', (chunk: Buffer) => this.decoder.push(chunk));
    socket.on('error', () => {});
    socket.on('close', () => (this.closed = true));
  }

  /** Connects and, as a slave does at once, pushes its load (`addr`, load 0). */
  static async connect(port: number, addr: string): Promise<HelloProbe> {
    const socket = connect({ host: '127.0.0.1', port, noDelay: true });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    socket.write(encodePush({ addr, load: 0 }));
    return new HelloProbe(socket);
  }

  /** Sends one HELLO now; resolves with the ms until its HELLO_ACK arrives. */
  hello(timeout = 15_000): Promise<number> {
    if (this.closed) return Promise.reject(new Error('the probe connection is closed'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no HELLO_ACK within ${timeout} ms`)), timeout);
      this.outstanding.push({
        sentAt: performance.now(),
        resolve: (ms) => {
          clearTimeout(timer);
          resolve(ms);
        },
      });
      this.socket.write(HELLO_FRAME);
    });
  }

  /** `n` HELLOs one after the other, each sent when the previous one's ACK is back. */
  async sample(n: number): Promise<number[]> {
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push(await this.hello());
    return out;
  }

  /** `n` HELLOs spread over time, one due every `everyMs`, for at most `maxMs` (see samplePaced). */
  samplePaced(n: number, everyMs: number, maxMs = Infinity): Promise<number[]> {
    return samplePaced([this], n, everyMs, maxMs).then(([s]) => s!);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/**
 * Up to `n` rounds, one due every `everyMs`, for at most `maxMs`: in each round every probe
 * sends one HELLO, whether or not its earlier HELLOs are answered yet, as slaves send
 * theirs on a timer. So a stall of a master is sampled in proportion to how long it lasts
 * (every HELLO sent during it waits), and sampling never waits for the master. Probes of
 * different masters sampled in the same rounds see the same noise of the machine.
 * Resolves once every HELLO is answered, with each probe's latencies in sending order.
 */
export async function samplePaced(probes: readonly HelloProbe[], n: number, everyMs: number, maxMs = Infinity): Promise<number[][]> {
  const pending = probes.map((): Promise<number>[] => []);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const due = t0 + i * everyMs;
    if (due - t0 >= maxMs) break;
    const now = performance.now();
    if (now < due) await new Promise((r) => setTimeout(r, due - now));
    probes.forEach((p, k) => pending[k]!.push(p.hello()));
  }
  return Promise.all(pending.map((ps) => Promise.all(ps)));
}

export interface LatencyStats {
  n: number;
  p50: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentiles, in ms. */
export function latencyStats(samples: readonly number[]): LatencyStats {
  if (samples.length === 0) throw new Error('no samples');
  const s = [...samples].sort((a, b) => a - b);
  const at = (p: number): number => s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
  return { n: s.length, p50: at(50), p99: at(99), max: s[s.length - 1]! };
}

export function formatStats(s: LatencyStats): string {
  return `p50 ${s.p50.toFixed(3)} ms, p99 ${s.p99.toFixed(3)} ms, max ${s.max.toFixed(3)} ms (n=${s.n})`;
}
