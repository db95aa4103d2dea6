import type { Socket } from 'node:net';
import { ErrorCode } from '../errors.js';
import { FrameDecoder, type DecodeError, type FrameSink } from '../protocol/decoder.js';
import { HELLO_ACK_FRAME, HELLO_FRAME, encodeQueryReply } from '../protocol/encoder.js';
import type { Frame, PushLimits } from '../protocol/messages.js';
import type { Recorder } from '../../storage/recorder.js';
import type { NewEvent } from '../events.js';
import type { TlsPeer } from './tls.js';
import type { Clock } from '../clock.js';
import { answerQuery, type QueryHost } from './query.js';

/** What a connection needs from the master it belongs to. */
export interface ConnectionHost extends QueryHost {
  readonly recorder: Recorder;
  /**
   * Binds `node` to `c`, superseding (and closing) whichever connection held it; false when
   * `c` may not take it (flapping hold-down) and was refused (it has ended).
   */
  bind(c: SlaveConnection, node: string): boolean;
  /** The connection is gone (after its last event was recorded). */
  forget(c: SlaveConnection): void;
  readonly counters: { unknownFrames: number };
  /** Frames read per second per connection (0: no limit); a faster sender is paused. */
  readonly frameRate: number;
  now(): number;
  /** The master's timers (a paused flooder waits on them). */
  readonly scheduler: Clock;
}

/** Above this many bytes queued for a slave that does not read, it is cut off. */
const MAX_WRITE_BACKLOG = 256 * 1024;

/**
 * At most this many of one connection's events wait for the log at a time. A slave that
 * sends faster is held (its decoder and socket paused) until they are committed: it gets
 * the log's pace, other slaves' events never queue behind thousands of its own, and the
 * master buffers at most one socket chunk for it.
 */
export const MAX_INFLIGHT_EVENTS = 16;

/**
 * The socket adapter for one slave: bytes go to the pure FrameDecoder, frames become
 * events; its only decisions are the protocol's (identity binding, closing on violation).
 */
export class SlaveConnection implements FrameSink {
  /** The node this connection reports for, bound by its first PUSH_LOAD_INFO. */
  node: string | null = null;
  /** Monotonic ms of the last frame received. */
  lastRx: number;
  /** Monotonic ms of the last HELLO the master sent it. */
  lastPing = 0;
  /** Set once the connection's end was recorded (timeout, violation, supersession, close). */
  ended = false;
  /** Reading is paused because the log is behind (backpressure). */
  paused = false;
  /** Frames received (0: still in the handshake, see the master's handshake timeout). */
  frames = 0;
  /** Monotonic ms when the connection was accepted. */
  readonly connectedAt: number;
  /** seq of the newest event this connection caused, and how many are not committed yet. */
  private lastSeq = 0;
  private inflight = 0;
  /** Token bucket of the frame rate (a second's worth of frames at most). */
  private tokens: number;
  private tokensAt: number;
  private lastError = '';
  readonly remote: string;
  readonly remoteIp: string;
  private readonly decoder: FrameDecoder;

  constructor(
    readonly conn: number,
    readonly socket: Socket,
    private readonly host: ConnectionHost,
    limits: Partial<PushLimits>,
    /** The verified certificate of a TLS slave: which nodes it may report for. */
    readonly peer?: TlsPeer,
  ) {
    this.remoteIp = normalizeIp(socket.remoteAddress ?? 'unknown');
    this.remote = formatAddr(this.remoteIp, socket.remotePort ?? 0);
    this.lastRx = this.connectedAt = this.tokensAt = host.now();
    this.tokens = host.frameRate;
    this.decoder = new FrameDecoder(this, limits);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.decoder.push(chunk);
      // Backpressure for the whole master: when the log is far behind, every sender waits.
      if (this.host.recorder.backlogged && !this.ended) this.holdUntil(this.host.recorder.whenNotBacklogged());
    });
    // 'close' follows with hadError; the reason is recorded there
    socket.on('error', (e: NodeJS.ErrnoException) => (this.lastError = e.code ?? e.message));
    socket.on('close', (hadError) => this.closed(hadError));
  }

  frame(f: Frame): void {
    // A whole frame is the sign of life (PROTOCOL.md), not a byte trickling in.
    this.lastRx = this.host.now();
    this.frames++;
    if (this.host.frameRate > 0) this.takeToken();
    const recorder = this.host.recorder;
    switch (f.type) {
      case 'HELLO':
        recorder.record({ type: 'HelloReceived', conn: this.conn });
        this.track(recorder.record({ type: 'HelloAckSent', conn: this.conn }, this.sendAck), 2);
        break;
      case 'HELLO_ACK':
        this.track(recorder.record({ type: 'HelloAckReceived', conn: this.conn }), 1);
        break;
      case 'PUSH_LOAD_INFO': {
        const node = f.info.addr ?? this.remoteIp;
        if (this.node !== null && this.node !== node) {
          this.violation({ code: ErrorCode.PUSH_ADDR_CHANGED, reason: `connection bound to ${this.node} pushed for ${node}` });
          return;
        }
        if (this.node === null) {
          if (this.peer && !this.peer.permits(node)) {
            this.violation({
              code: ErrorCode.NODE_NOT_PERMITTED,
              reason: `certificate ${JSON.stringify(this.peer.identity)} does not permit node ${node}`,
            });
            return;
          }
          if (!this.host.bind(this, node)) return;
        }
        this.track(
          recorder.record({
            type: 'LoadPushed',
            conn: this.conn,
            node,
            load: f.info.load,
            capacity: f.info.capacity ?? 1,
            attrs: f.info.attrs,
          }),
          1,
        );
        break;
      }
      case 'GOODBYE':
        this.left(f.reason);
        break;
      case 'QUERY':
        // Answered now, from the projection as it is: nothing to record, so no wait for a
        // commit; replies leave in request order. The connection stays whatever the answer.
        this.sendReply(encodeQueryReply(answerQuery(this.host, f.query)));
        break;
      case 'QUERY_REPLY': // never decoded on the master (a FrameDecoder without `replies`)
        break;
      case 'UNKNOWN':
        this.track(
          recorder.record(
            { type: 'UnknownFrameSkipped', conn: this.conn, code: f.code, length: f.length },
            () => this.host.counters.unknownFrames++,
          ),
          1,
        );
        break;
      default: {
        const never: never = f;
        void never;
      }
    }
  }

  /** A fatal decode error or a protocol rule broken: record it, close the connection. */
  error(err: DecodeError): void {
    this.violation(err);
  }

  private violation(err: DecodeError): void {
    if (this.ended) return;
    this.end();
    // The decoder is closed: nothing more is read. The socket goes once the fact is logged.
    this.recordThenDestroy({ type: 'ProtocolViolated', conn: this.conn, code: err.code, reason: err.reason });
  }

  /**
   * The slave said GOODBYE: it is DOWN at once (no wait for dead-after), the socket goes
   * once that is in the log, and nothing it sent after the GOODBYE is read.
   */
  private left(reason: string | undefined): void {
    if (this.ended) return;
    this.end();
    this.recordThenDestroy(reason === undefined ? { type: 'SlaveLeft', conn: this.conn } : { type: 'SlaveLeft', conn: this.conn, reason });
  }

  /** Sends a HELLO to a quiet slave (the protocol allows the master to ping first). */
  ping(now: number): void {
    this.lastPing = now;
    this.host.recorder.record({ type: 'HelloSent', conn: this.conn }, () => this.send(HELLO_FRAME));
  }

  /** No frame for dead-after, or (`handshake`) no valid frame at all since it connected. */
  timedOut(silentMs: number, handshake = false): void {
    if (this.ended) return;
    this.end();
    this.recordThenDestroy(
      handshake
        ? { type: 'SlaveTimedOut', conn: this.conn, silentMs: Math.round(silentMs), handshake: true }
        : { type: 'SlaveTimedOut', conn: this.conn, silentMs: Math.round(silentMs) },
    );
  }

  superseded(by: number): void {
    if (this.ended || this.node === null) return;
    this.end();
    this.recordThenDestroy({ type: 'SlaveSuperseded', conn: this.conn, node: this.node, by });
  }

  /**
   * Its first push claimed `node`, which another live connection keeps through a flapping
   * hold-down: a SlaveRefused with the reason, then the socket goes. Nothing it sent is folded.
   */
  refused(node: string, reason: string): void {
    if (this.ended) return;
    this.end();
    this.recordThenDestroy({ type: 'SlaveRefused', remote: this.remote, reason, conn: this.conn, node });
  }

  /** Closes without recording anything (the master is stopping and records that itself). */
  drop(): void {
    if (this.ended) return;
    this.end();
    this.socket.destroy();
  }

  /**
   * ACKs owed to a slave whose socket is backed up: counted, not queued one write each
   * (a write costs ~60 bytes of heap; a deaf slave would cost megabytes before the limit).
   * QUERY_REPLYs owed are kept, in order, counted in bytes. Both are written when the
   * socket drains, and past MAX_WRITE_BACKLOG in all the connection is cut off.
   */
  private owedAcks = 0;
  private owedReplies: Buffer[] = [];
  private owedReplyBytes = 0;

  /** One closure per connection, not one per HELLO. */
  private readonly sendAck = (): void => {
    if (this.ended || this.socket.destroyed) return;
    const owing = this.owedAcks > 0 || this.owedReplies.length > 0;
    if (!owing && !this.socket.writableNeedDrain) {
      this.socket.write(HELLO_ACK_FRAME);
      return;
    }
    this.owedAcks++;
    this.owe(owing);
  };

  private sendReply(reply: Buffer): void {
    if (this.ended || this.socket.destroyed) return;
    const owing = this.owedAcks > 0 || this.owedReplies.length > 0;
    if (!owing && !this.socket.writableNeedDrain) {
      this.socket.write(reply);
      return;
    }
    this.owedReplies.push(reply);
    this.owedReplyBytes += reply.length;
    this.owe(owing);
  }

  /** Something more is owed: cut the connection off past the limit, else pay on drain. */
  private owe(owedBefore: boolean): void {
    const queued = this.socket.writableLength + this.owedAcks * HELLO_ACK_FRAME.length + this.owedReplyBytes;
    if (queued > MAX_WRITE_BACKLOG) {
      this.violation({ code: ErrorCode.WRITE_BACKLOG, reason: `slave does not read: ${queued} bytes queued` });
      return;
    }
    if (!owedBefore) this.socket.once('drain', this.payOwed);
  }

  private readonly payOwed = (): void => {
    const n = this.owedAcks;
    const replies = this.owedReplies;
    this.owedAcks = 0;
    this.owedReplies = [];
    this.owedReplyBytes = 0;
    if (this.ended || this.socket.destroyed) return;
    if (n > 0) {
      const acks = Buffer.allocUnsafe(n * HELLO_ACK_FRAME.length);
      for (let i = 0; i < n; i++) HELLO_ACK_FRAME.copy(acks, i * HELLO_ACK_FRAME.length);
      this.socket.write(acks);
    }
    if (replies.length > 0) this.socket.write(replies.length === 1 ? replies[0]! : Buffer.concat(replies));
  };

  private readonly destroy = (): void => {
    this.socket.destroy();
  };

  /** The socket goes once the fact is in the log (or at once when nothing can be logged). */
  private recordThenDestroy(event: NewEvent): void {
    if (!this.host.recorder.record(event, this.destroy)) this.destroy();
  }

  /**
   * Counts `n` events this connection caused (the newest is `e`); past MAX_INFLIGHT_EVENTS
   * not yet committed, reading stops until they are.
   */
  private track(e: { seq: number } | undefined, n: number): void {
    if (!e) return;
    if (this.host.recorder.projection.seq >= this.lastSeq) this.inflight = 0; // all committed
    this.lastSeq = e.seq;
    this.inflight += n;
    if (this.inflight >= MAX_INFLIGHT_EVENTS) this.holdUntil(this.host.recorder.whenCommitted(e.seq));
  }

  /**
   * One frame's token; past the rate, reading stops until the bucket has one again. A
   * slave sends a few frames a second: this only ever holds a flooder back, whose frames
   * would otherwise take the master's CPU from everyone else (and its GC pauses with it).
   */
  private takeToken(): void {
    const rate = this.host.frameRate;
    const now = this.lastRx;
    this.tokens = Math.min(rate, this.tokens + ((now - this.tokensAt) * rate) / 1000);
    this.tokensAt = now;
    this.tokens -= 1;
    // wait for a few tokens at once (10 ms of them): one wake-up and one group commit per
    // 10 ms for a flooder, not one per frame, which would keep the log writer busy all the time
    if (this.tokens < 0)
      this.holdUntil(new Promise((r) => this.host.scheduler.setTimeout(r, Math.max(10, Math.ceil((-this.tokens * 1000) / rate)))));
  }

  /** Stops decoding and reading until `until` resolves (backpressure). */
  private holdUntil(until: Promise<void>): void {
    if (this.paused) return;
    this.paused = true;
    this.decoder.pause();
    this.socket.pause();
    void until.then(() => {
      this.paused = false;
      this.inflight = 0;
      this.lastRx = this.host.now(); // the pause was ours: its length is not the slave's silence
      if (this.ended) return;
      this.decoder.resume(); // decodes what was held; may hold again
      if (!this.paused) this.socket.resume();
    });
  }

  private send(frame: Buffer): void {
    if (this.ended || this.socket.destroyed) return;
    if (this.socket.writableLength > MAX_WRITE_BACKLOG) {
      this.violation({ code: ErrorCode.WRITE_BACKLOG, reason: `slave does not read: ${this.socket.writableLength} bytes queued` });
      return;
    }
    this.socket.write(frame);
  }

  private end(): void {
    this.ended = true;
    this.decoder.close();
    this.socket.pause();
    this.host.forget(this);
  }

  private closed(hadError: boolean): void {
    if (this.ended) return;
    this.end();
    this.host.recorder.record({
      type: 'SlaveDisconnected',
      conn: this.conn,
      reason: hadError ? `connection error ${this.lastError}`.trim() : 'closed by slave',
    });
  }
}

/** IPv4-mapped IPv6 addresses as plain IPv4: the node key a C agent would expect. */
export function normalizeIp(ip: string): string {
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

export function formatAddr(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
