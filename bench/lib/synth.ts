/**
 * Synthetic event streams shaped like what a master records, for the storage figures
 * (raw append, replay logs) and the memory figure. Key order and field types are those
 * of Recorder.record (`{ seq, ts, ...event }` with the event built in connection.ts), so
 * msgpackr's record structures and the reducer see exactly the production shapes.
 *
 * The mix: one MasterStarted, a SlaveConnected per node, then heartbeat rounds in which
 * each node sends PUSH_LOAD_INFO + HELLO and gets a HELLO_ACK (LoadPushed, HelloReceived,
 * HelloAckSent), i.e. what `loadledger slave` produces; with `churn`, a node now and then
 * disconnects and reconnects (SlaveDisconnected, SlaveConnected on a new conn).
 */
import type { LedgerEvent } from '../../src/events.js';
import type { Attrs } from '../../src/protocol/messages.js';

export interface SynthOptions {
  nodes: number;
  /** Probability, per heartbeat of a node, that it reconnects first. */
  churn?: number;
  seed?: number;
  startTs?: number;
  /** Attributes per push (like a slave's `--attr zone=…`). */
  zones?: number;
}

export function nodeAddr(i: number): string {
  return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:8080`;
}

/** The seeded PRNG of src/selection/random.ts (mulberry32), under the name the bench knows. */
export { seededRandom as mulberry32 } from '../../src/selection/random.js';
import { seededRandom as mulberry32 } from '../../src/selection/random.js';

export class Synth {
  seq = 0;
  private readonly rnd: () => number;
  private readonly startTs: number;
  private readonly perSecond: number;
  private readonly connOf: number[];
  private readonly ids: string[];
  private lastConn = 0;
  private cursor = 0;
  private phase: 'start' | 'connect' | 'run' = 'start';
  private queue: LedgerEvent[] = [];
  private qi = 0;

  constructor(private readonly opts: SynthOptions) {
    this.rnd = mulberry32(opts.seed ?? 42);
    this.startTs = opts.startTs ?? 1_750_000_000_000;
    // every node heartbeats once a second: 3 events per node per second
    this.perSecond = Math.max(1, opts.nodes * 3);
    this.connOf = new Array<number>(opts.nodes).fill(0);
    this.ids = Array.from({ length: opts.nodes }, (_, i) => nodeAddr(i));
  }

  private tsOf(seq: number): number {
    return this.startTs + Math.floor((seq * 1000) / this.perSecond);
  }

  private connect(i: number): void {
    const conn = ++this.lastConn;
    this.connOf[i] = conn;
    const seq = ++this.seq;
    this.queue.push({
      seq,
      ts: this.tsOf(seq),
      type: 'SlaveConnected',
      conn,
      remote: `10.1.${(i >> 8) & 255}.${i & 255}:${32768 + (conn % 28000)}`,
    });
  }

  private refill(): void {
    this.queue.length = 0;
    this.qi = 0;
    const n = this.opts.nodes;
    if (this.phase === 'start') {
      const seq = ++this.seq;
      this.queue.push({
        seq,
        ts: this.tsOf(seq),
        type: 'MasterStarted',
        epoch: 1,
        listen: '0.0.0.0:7400',
        http: '127.0.0.1:7480',
        pid: 4242,
        helloInterval: 1000,
        deadAfter: 3000,
      });
      this.phase = 'connect';
      return;
    }
    if (this.phase === 'connect') {
      for (let k = 0; k < 256 && this.cursor < n; k++) this.connect(this.cursor++);
      if (this.cursor >= n) {
        this.phase = 'run';
        this.cursor = 0;
      }
      return;
    }
    for (let k = 0; k < 64; k++) {
      const i = this.cursor;
      this.cursor = (this.cursor + 1) % n;
      if (this.opts.churn && this.rnd() < this.opts.churn) {
        const seq = ++this.seq;
        this.queue.push({ seq, ts: this.tsOf(seq), type: 'SlaveDisconnected', conn: this.connOf[i]!, reason: 'closed by slave' });
        this.connect(i);
      }
      const conn = this.connOf[i]!;
      const attrs: Attrs = this.opts.zones ? { zone: `z${i % this.opts.zones}` } : {};
      const seq = this.seq;
      this.seq += 3;
      const ts = this.tsOf(seq + 1);
      this.queue.push({
        seq: seq + 1,
        ts,
        type: 'LoadPushed',
        conn,
        node: this.ids[i]!,
        load: Math.floor(this.rnd() * 1000),
        capacity: 1,
        attrs,
      });
      this.queue.push({ seq: seq + 2, ts, type: 'HelloReceived', conn });
      this.queue.push({ seq: seq + 3, ts, type: 'HelloAckSent', conn });
    }
  }

  /** The next `count` events, stamped with consecutive seqs. */
  next(count: number): LedgerEvent[] {
    const out: LedgerEvent[] = [];
    while (out.length < count) {
      if (this.qi >= this.queue.length) this.refill();
      out.push(this.queue[this.qi++]!);
    }
    return out;
  }
}
