/**
 * A healthy slave's view of the master: HELLO → HELLO_ACK round trips, one at a time,
 * timed from the write to the ACK's arrival (event-driven, no polling), and their
 * percentiles. It answers the master's own HELLOs, as a live slave does.
 */
import { connect, type Socket } from 'node:net';
import { FrameDecoder, HELLO_ACK_FRAME, HELLO_FRAME } from '../../src/protocol/index.js';

export class HelloProbe {
  private waiting: ((t: number) => void) | undefined;
  private readonly decoder: FrameDecoder;
  closed = false;

  private constructor(readonly socket: Socket) {
    this.decoder = new FrameDecoder({
      frame: (f) => {
        if (f.type === 'HELLO') socket.write(HELLO_ACK_FRAME);
        else if (f.type === 'HELLO_ACK') {
          const w = this.waiting;
          this.waiting = undefined;
          w?.(performance.now());
        }
      },
      error: (e) => socket.destroy(new Error(`the master sent a bad frame: ${e.code}`)),
    });
    socket.on('data', (chunk: Buffer) => this.decoder.push(chunk));
    socket.on('error', () => {});
    socket.on('close', () => (this.closed = true));
  }

  static async connect(port: number): Promise<HelloProbe> {
    const socket = connect({ host: '127.0.0.1', port, noDelay: true });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new HelloProbe(socket);
  }

  /** One HELLO and its HELLO_ACK: ms between the write and the ACK. */
  roundTrip(timeout = 10_000): Promise<number> {
    if (this.closed) return Promise.reject(new Error('the probe connection is closed'));
    if (this.waiting) return Promise.reject(new Error('one round trip at a time'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = undefined;
        reject(new Error(`no HELLO_ACK within ${timeout} ms`));
      }, timeout);
      const t0 = performance.now();
      this.waiting = (t) => {
        clearTimeout(timer);
        resolve(t - t0);
      };
      this.socket.write(HELLO_FRAME);
    });
  }

  /** `n` round trips back to back. */
  async sample(n: number): Promise<number[]> {
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push(await this.roundTrip());
    return out;
  }

  /** Round trips back to back for `ms` (at least `min` of them). */
  async sampleFor(ms: number, min = 1): Promise<number[]> {
    const out: number[] = [];
    const end = performance.now() + ms;
    while (performance.now() < end || out.length < min) out.push(await this.roundTrip());
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
 * `n` rounds, one due every `everyMs`, as slaves send their HELLOs: spread over time, so
 * a stall of a master is sampled in proportion to how long it lasts. In each round every
 * probe sends one HELLO at once (probes of different masters see the same machine noise).
 * A probe whose previous ACK came after the round was due was held up by its master: its
 * latency counts from when the round was due. A late timer is ours and is not counted.
 * Stops after `n` rounds or `maxMs`, whichever comes first (a slow master answers fewer).
 */
export async function samplePaced(probes: readonly HelloProbe[], n: number, everyMs: number, maxMs = Infinity): Promise<number[][]> {
  const out = probes.map((): number[] => []);
  const t0 = performance.now();
  const prevEnd = probes.map(() => t0);
  const end = probes.map(() => t0);
  for (let i = 0; i < n; i++) {
    const due = t0 + i * everyMs;
    if (due - t0 >= maxMs || (i > 0 && performance.now() - t0 >= maxMs)) break;
    const now = performance.now();
    if (now < due) await new Promise((r) => setTimeout(r, due - now));
    const rts = await Promise.all(probes.map((p, k) => p.roundTrip().then((rt) => ((end[k] = performance.now()), rt))));
    rts.forEach((rt, k) => {
      out[k]!.push(Math.max(0, prevEnd[k]! - due) + rt);
      prevEnd[k] = end[k]!;
    });
  }
  return out;
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
