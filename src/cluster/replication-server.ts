import type { Duplex } from 'node:stream';
import type { EventLog } from '../../storage/event-log.js';
import type { Clock, TimerHandle } from '../clock.js';
import { agreedSeq } from '../decisions/ha.js';
import type { TermEntry } from '../projection/state.js';
import { FRAME, FrameReader, dataFrame, jsonFrame, type Hello, type Start } from './wire.js';

/** What the leader's side of replication reads: its log, its terms, and when it commits. */
export interface ReplicationSource {
  readonly log: EventLog;
  /** The terms of the leader's log (projection.terms). */
  readonly terms: readonly TermEntry[];
  /** This node's term while it leads (0: it does not: no stream is served). */
  readonly term: number;
  readonly node: string;
  /** Calls `listener` after every commit; returns the unsubscribe. */
  onCommit(listener: () => void): () => void;
  /** A standby has everything up to `seq` in its log. */
  acked(node: string, seq: number): void;
  /** A standby connected (true) or went away (false). */
  follower(node: string, connected: boolean): void;
}

/** How often the leader tells a standby where its log ends (ms): the standby's lag and liveness. */
export const BEAT_INTERVAL = 200;

/**
 * The leader's side of replication: one session per standby, each with its own cursor in
 * the leader's log. A session starts where the two logs agree (src/decisions/ha.ts: the
 * standby drops what is after), with the leader's snapshot first when the standby is
 * behind the leader's retention; then it sends every record from the cursor, byte for
 * byte as stored, reading the log after each commit (catch-up and live tail are the same
 * loop), and waits for the socket to drain when the standby reads slowly.
 */
export class ReplicationServer {
  private readonly sessions = new Set<Session>();

  constructor(
    private readonly source: ReplicationSource,
    private readonly scheduler: Clock,
  ) {}

  accept(socket: Duplex): void {
    const s = new Session(this.source, socket, this.scheduler, () => this.sessions.delete(s));
    this.sessions.add(s);
  }

  get followers(): number {
    return this.sessions.size;
  }

  /** Ends every session (the leader stepped down or stops). */
  close(): void {
    for (const s of this.sessions) s.close();
  }
}

class Session {
  private readonly reader = new FrameReader();
  private node = '';
  private cursor = 0;
  private term = 0;
  private pumping = false;
  private again = false;
  private closed = false;
  private beat: TimerHandle | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly source: ReplicationSource,
    private readonly socket: Duplex,
    private readonly scheduler: Clock,
    private readonly done: () => void,
  ) {
    socket.on('data', (chunk: Buffer) => this.data(chunk));
    socket.on('error', () => this.close());
    socket.on('close', () => this.close());
  }

  private data(chunk: Buffer): void {
    let frames;
    try {
      frames = this.reader.push(chunk);
    } catch {
      return this.close();
    }
    for (const f of frames) {
      if (f.type === FRAME.HELLO && this.node === '') void this.start(JSON.parse(f.payload.toString()) as Hello).catch(() => this.close());
      else if (f.type === FRAME.ACK && this.node !== '') this.source.acked(this.node, f.payload.readDoubleBE(0));
      else if (f.type === FRAME.REFUSE) this.close();
    }
  }

  private async start(hello: Hello): Promise<void> {
    const term = this.source.term;
    if (term === 0 || hello.term > term) {
      this.refuse(term === 0 ? 'not the leader' : `term ${term} is behind term ${hello.term}`);
      return;
    }
    this.term = term;
    this.node = hello.node;
    const log = this.source.log;
    const agreed = agreedSeq({ lastSeq: log.lastSeq, terms: this.source.terms }, { lastSeq: hello.lastSeq, terms: hello.terms });
    let snapshot: { seq: number; value: Buffer } | undefined;
    let from = agreed + 1;
    if (from < log.firstSeq) {
      const base = await log.replayBaseSeq();
      const value = base !== undefined && base > 0 ? await log.getRawSnapshot(base) : undefined;
      if (base === undefined || value === undefined) throw new Error('no snapshot to start a standby from');
      snapshot = { seq: base, value };
      from = base + 1;
    }
    // records are sent whole: start at the one that holds `from`
    const cursor = from <= log.lastSeq ? ((await log.recordStart(from)) ?? from) : from;
    this.cursor = cursor;
    const start: Start = {
      term,
      node: this.source.node,
      truncateTo: snapshot ? snapshot.seq : cursor - 1,
      snapshot: snapshot !== undefined,
      lastSeq: log.lastSeq,
    };
    this.socket.write(jsonFrame(FRAME.START, start));
    if (snapshot) this.socket.write(dataFrame(FRAME.SNAPSHOT, term, snapshot.seq, snapshot.value));
    if (this.closed) return;
    this.source.follower(this.node, true);
    this.unsubscribe = this.source.onCommit(() => this.pump());
    this.beat = this.scheduler.setInterval(() => this.sendBeat(), BEAT_INTERVAL);
    this.beat.unref();
    this.sendBeat();
    this.pump();
  }

  private sendBeat(): void {
    if (this.source.term !== this.term) return this.close();
    this.socket.write(jsonFrame(FRAME.BEAT, { term: this.term, lastSeq: this.source.log.lastSeq }));
  }

  /** Sends every record from the cursor to the end of the log; runs again if a commit came meanwhile. */
  private pump(): void {
    if (this.closed) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    void this.send()
      .catch(() => this.close())
      .finally(() => {
        this.pumping = false;
        if (this.again && !this.closed) {
          this.again = false;
          this.pump();
        }
      });
  }

  private async send(): Promise<void> {
    const log = this.source.log;
    if (this.cursor > log.lastSeq) return;
    for await (const batch of log.readRawFrom(this.cursor)) {
      for (const r of batch) {
        if (this.closed) return;
        if (this.source.term !== this.term) return this.close();
        this.cursor = r.seq + 1;
        if (!this.socket.write(dataFrame(FRAME.RECORD, this.term, r.seq, r.value))) {
          await new Promise<void>((resolve) => {
            this.socket.once('drain', resolve);
            this.socket.once('close', resolve);
          });
        }
      }
    }
  }

  private refuse(reason: string): void {
    this.socket.once('finish', () => this.close());
    this.socket.end(jsonFrame(FRAME.REFUSE, { reason }));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.scheduler.clearInterval(this.beat);
    this.unsubscribe?.();
    if (this.node !== '') this.source.follower(this.node, false);
    this.socket.destroy();
    this.done();
  }
}
