import { request } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Clock } from '../clock.js';
import type { TermEntry } from '../projection/state.js';
import { parseHostPort } from '../util/hostport.js';
import { FRAME, FrameReader, REPLICATE_PATH, UPGRADE_PROTOCOL, ackFrame, jsonFrame, readData, type Hello, type Start } from './wire.js';

/** What a standby's replication writes to: its own log and projection (src/ledger/ledger.ts). */
export interface ReplicaSink {
  readonly lastSeq: number;
  readonly terms: readonly TermEntry[];
  /** The highest term this node has seen (its log, etcd): a stream of a lower one is refused. */
  readonly maxTerm: number;
  truncateAfter(seq: number): Promise<{ from: number; to: number }>;
  resetToSnapshot(seq: number, value: Buffer): Promise<void>;
  append(records: { seq: number; value: Buffer }[]): Promise<void>;
}

export interface ReplicationClientOptions {
  /** This standby's --node-id. */
  node: string;
  /** The leader's HTTP API (`host:port`) and term, as its etcd key says. */
  leader: { node: string; http: string; term: number };
  /** A bearer token for the leader's API (its admin token, when reads need one). */
  token?: string | undefined;
  scheduler: Clock;
  /** Told what the standby dropped from its log (its log lines; not an event). */
  onTruncate?: (dropped: { from: number; to: number }, leader: string, term: number) => void;
  onSnapshot?: (seq: number) => void;
  /** The stream ended (the leader went away, refused, or sent something wrong). */
  onClose?: (reason: string) => void;
}

/**
 * A standby's side of replication: connects to the leader's HTTP API, upgrades to the
 * replication stream (src/cluster/wire.ts), says where its log ends, drops what the leader
 * says it never had, and appends the records the leader sends, byte for byte, in one write
 * per burst, acknowledging each burst with the seq it reached. Tracks how far behind it is.
 */
export class ReplicationClient {
  private socket: Duplex | undefined;
  private readonly reader = new FrameReader();
  private term = 0;
  private queue: { seq: number; value: Buffer }[] = [];
  private chain: Promise<void> = Promise.resolve();
  private writing = false;
  private closed = false;
  /** The leader's end as it last said, and when (monotonic) this standby last had all of it. */
  private leaderLast = 0;
  private caughtUpAt: number;
  private started = false;

  constructor(
    private readonly sink: ReplicaSink,
    private readonly options: ReplicationClientOptions,
  ) {
    this.caughtUpAt = options.scheduler.now();
    this.connect();
  }

  /** The leader started the stream (a failure before that is not retried at once). */
  get streamed(): boolean {
    return this.started;
  }

  get ended(): boolean {
    return this.closed;
  }

  /** Resolves once nothing is being written any more (after close(): the last append landed). */
  settled(): Promise<void> {
    return this.chain;
  }

  get connected(): boolean {
    return this.started && !this.closed;
  }

  get leader(): ReplicationClientOptions['leader'] {
    return this.options.leader;
  }

  /** How far behind the leader: events, and ms since this standby last had everything. */
  lag(): { seq: number; ms: number } {
    const seq = Math.max(0, this.leaderLast - this.sink.lastSeq);
    if (seq === 0 && this.connected) this.caughtUpAt = this.options.scheduler.now();
    return { seq, ms: Math.max(0, Math.round(this.options.scheduler.now() - this.caughtUpAt)) };
  }

  private connect(): void {
    const { host, port } = parseHostPort(this.options.leader.http, 'leader http');
    const headers: Record<string, string> = { connection: 'Upgrade', upgrade: UPGRADE_PROTOCOL };
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    const req = request({ host, port, path: REPLICATE_PATH, headers, timeout: 5000 });
    req.on('upgrade', (_res, socket, head) => {
      if (this.closed) return socket.destroy();
      this.socket = socket;
      socket.setNoDelay(true);
      socket.on('data', (chunk: Buffer) => this.data(chunk));
      socket.on('error', () => this.close('connection error'));
      socket.on('close', () => this.close('connection closed'));
      const hello: Hello = {
        node: this.options.node,
        lastSeq: this.sink.lastSeq,
        terms: this.sink.terms.map((t) => ({ term: t.term, seq: t.seq })),
        term: this.sink.maxTerm,
      };
      socket.write(jsonFrame(FRAME.HELLO, hello));
      if (head.length > 0) this.data(head);
    });
    req.on('response', (res) => {
      res.resume();
      this.close(`the leader answered ${res.statusCode ?? '?'} to the replication request`);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => this.close(`cannot reach the leader at ${this.options.leader.http}: ${e.message}`));
    req.end();
  }

  private data(chunk: Buffer): void {
    let frames;
    try {
      frames = this.reader.push(chunk);
    } catch (e) {
      return this.close((e as Error).message);
    }
    for (const f of frames) {
      switch (f.type) {
        case FRAME.START: {
          const start = JSON.parse(f.payload.toString()) as Start;
          if (start.term < this.sink.maxTerm || start.term < this.options.leader.term)
            return this.close(`refused a stream of term ${start.term}: term ${this.sink.maxTerm} is newer`);
          this.term = start.term;
          this.leaderLast = start.lastSeq;
          this.serial(async () => {
            if (!start.snapshot && start.truncateTo < this.sink.lastSeq) {
              const dropped = await this.sink.truncateAfter(start.truncateTo);
              if (dropped.from <= dropped.to) this.options.onTruncate?.(dropped, start.node, start.term);
            }
            this.started = true;
          });
          break;
        }
        case FRAME.SNAPSHOT: {
          const d = readData(f.payload);
          if (d.term !== this.term) return this.close(`a snapshot of term ${d.term} in a stream of term ${this.term}`);
          this.serial(async () => {
            await this.sink.resetToSnapshot(d.seq, d.value);
            this.options.onSnapshot?.(d.seq);
          });
          break;
        }
        case FRAME.RECORD: {
          const d = readData(f.payload);
          if (d.term !== this.term || this.term === 0) return this.close(`a record of term ${d.term} in a stream of term ${this.term}`);
          this.queue.push({ seq: d.seq, value: d.value });
          this.flush();
          break;
        }
        case FRAME.BEAT: {
          const beat = JSON.parse(f.payload.toString()) as { term: number; lastSeq: number };
          if (beat.term !== this.term) return this.close(`a beat of term ${beat.term} in a stream of term ${this.term}`);
          this.leaderLast = Math.max(this.leaderLast, beat.lastSeq);
          break;
        }
        case FRAME.REFUSE:
          return this.close(`the leader refused: ${(JSON.parse(f.payload.toString()) as { reason: string }).reason}`);
        default:
          return this.close(`unknown replication frame ${f.type}`);
      }
    }
  }

  /** Runs `fn` after everything before it (truncation, snapshot, appends stay in order). */
  private serial(fn: () => Promise<void>): void {
    this.chain = this.chain.then(fn).catch((e: unknown) => this.close((e as Error).message));
  }

  /** Appends what has arrived in one write, then acknowledges it. */
  private flush(): void {
    if (this.writing) return;
    this.writing = true;
    this.serial(async () => {
      try {
        while (this.queue.length > 0 && !this.closed) {
          const records = this.queue;
          this.queue = [];
          await this.sink.append(records);
          this.socket?.write(ackFrame(this.sink.lastSeq));
          if (this.sink.lastSeq >= this.leaderLast) this.caughtUpAt = this.options.scheduler.now();
        }
      } finally {
        this.writing = false;
      }
    });
  }

  close(reason = 'closed'): void {
    if (this.closed) return;
    this.closed = true;
    this.socket?.destroy();
    this.options.onClose?.(reason);
  }
}
