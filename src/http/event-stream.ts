import type { ServerResponse } from 'node:http';
import type { EventLog } from '../../storage/event-log.js';
import { ErrorCode, isErrorCode, LoadLedgerError } from '../errors.js';
import type { LedgerEvent } from '../events.js';
import type { RegistryView } from '../ledger/view.js';
import type { Clock, TimerHandle } from '../clock.js';
import type { EventTail, TailGeneration } from './event-tail.js';

/** Events read from the log at a time: one record's worth (records are decoded whole). */
export const READ_EVENTS = 512;
/** Bytes of JSON lines handed to the socket in one write (about: whole lines). */
export const BATCH_BYTES = 16 * 1024;
/**
 * What one `/v1/events` stream may have buffered on its socket at most (its writableLength):
 * the next batch is written only once the socket has taken the last one (below its
 * highWaterMark, 16 KiB), so this is that mark, a batch, and the line that crossed it
 * (a LoadPushed line is at most a few KiB; 64 KiB leaves room for escaping).
 */
export const STREAM_BUFFER_LIMIT = 16 * 1024 + BATCH_BYTES + 64 * 1024;
/** A stream cut off gets this long to deliver its last line, then its socket is destroyed (ms). */
export const CUT_GRACE_MS = 1000;

/**
 * Log reads of all streams at once, at most: they run on libuv's thread pool, where the
 * master's own appends run too, so a crowd of clients catching up never queues the slaves'
 * commits (and so their HELLO_ACKs) behind their reads.
 */
export const CONCURRENT_READS = 2;

/** Runs at most `max` of the functions given at a time, the others in order after them. */
export class Gate {
  private active = 0;
  private readonly queue: (() => void)[] = [];

  constructor(readonly max: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active < this.max) this.active++;
    else await new Promise<void>((resolve) => this.queue.push(resolve));
    try {
      return await fn();
    } finally {
      const next = this.queue.shift();
      if (next) next();
      else this.active--;
    }
  }
}

/** What a stream needs from the API it belongs to. */
export interface StreamHost {
  readonly view: RegistryView;
  readonly tail: EventTail;
  /** Every stream's log reads go through it (CONCURRENT_READS). */
  readonly reads: Gate;
  readonly scheduler: Clock;
  /** The API is closing: live streams end once they have sent the last committed event. */
  readonly closing: boolean;
  /** The stream is over (ended, cut or closed): it no longer counts. */
  release(stream: EventStream): void;
}

/**
 * One `/v1/events` answer after its header: a cursor (`sent`, the last seq written) that
 * moves at the client's pace. Each round writes one batch of JSON lines, taken from the
 * shared live tail when it still holds the next seq, else read back from the log (at most
 * READ_EVENTS decoded at a time, with a fresh LevelDB iterator that is closed before the
 * write: no iterator, and so no LevelDB snapshot, is held while a client does not read).
 * The next batch waits until the socket has taken this one ('drain'): what a client that
 * stops reading costs the master is bounded (STREAM_BUFFER_LIMIT on the socket, plus at
 * most READ_EVENTS decoded events), however long it stops and however much is committed.
 */
export class EventStream {
  /** Seq of the last event written. */
  sent: number;
  /** Since when (scheduler ms) the socket is full with events still to send; undefined while it takes them. */
  blockedSince: number | undefined;
  private generation: TailGeneration | undefined;
  /** Without follow: the last committed seq when the answer started (where it ends). */
  private lastAtStart = 0;
  private over = false;

  constructor(
    private readonly host: StreamHost,
    readonly res: ServerResponse,
    readonly follow: boolean,
    from: number,
    /** Stop after this seq (Infinity: no end). */
    private readonly to: number,
  ) {
    this.sent = from - 1;
    res.once('close', () => this.release());
  }

  get writable(): boolean {
    return !this.res.destroyed && !this.res.writableEnded;
  }

  /** Bytes waiting on this stream's socket (the response's and the socket's buffers). */
  get buffered(): number {
    return this.res.destroyed ? 0 : this.res.writableLength;
  }

  /**
   * Streams until `to`, `lastAtStart` (without follow: the last seq committed when the
   * header went out), the API closing, or a failure.
   */
  async run(lastAtStart: number): Promise<void> {
    this.lastAtStart = lastAtStart;
    if (this.over) return;
    if (this.follow) this.generation = this.host.tail.attach();
    try {
      await this.pump();
    } catch (e) {
      const given = (e as { code?: string }).code;
      this.cut(isErrorCode(given) ? given : ErrorCode.INTERNAL, (e as Error).message ?? String(e));
    } finally {
      this.release();
    }
  }

  private async pump(): Promise<void> {
    const { res, host } = this;
    const log = host.view.log;
    let pending: LedgerEvent[] = [];
    let at = 0;
    for (;;) {
      if (!this.writable) return;
      if (this.sent >= this.to) return this.finish();
      const target = Math.min(this.follow ? host.view.projection.seq : this.lastAtStart, this.to);
      if (this.sent >= target) {
        if (!this.follow) return this.finish();
        const g = this.generation!;
        if (g.failure) {
          const code = (g.failure as { code?: string }).code;
          return this.cut(isErrorCode(code) ? code : ErrorCode.INTERNAL, `the master's event log failed: ${g.failure.message}`);
        }
        if (host.closing || g.completed) return this.finish();
        await host.tail.next();
        continue;
      }
      // Shared with the other followers at this seq when the live tail has it.
      let chunk: string | Buffer;
      const live = this.follow ? host.tail.take(this.sent + 1, target, BATCH_BYTES) : undefined;
      if (live) {
        chunk = live.bytes;
        this.sent = live.last;
        pending = [];
      } else {
        if (at >= pending.length) {
          const [from, to] = [this.sent + 1, Math.min(target, this.sent + READ_EVENTS)];
          pending = await host.reads.run(() => readBatch(log, from, to));
          at = 0;
          if (!this.writable) return;
        }
        let text = '';
        while (at < pending.length && text.length < BATCH_BYTES) {
          const e = pending[at++]!;
          if (e.seq !== this.sent + 1) throw gap(e.seq, this.sent);
          text += JSON.stringify(e) + '\n';
          this.sent = e.seq;
        }
        chunk = text;
      }
      if (!res.write(chunk)) await this.drained();
    }
  }

  /** Waits for the socket to take what it has (or to close), timing the wait for the stall check. */
  private drained(): Promise<void> {
    this.blockedSince = this.host.scheduler.now();
    return new Promise((resolve) => {
      const done = (): void => {
        this.res.off('drain', done);
        this.res.off('close', done);
        this.blockedSince = undefined;
        resolve();
      };
      this.res.on('drain', done);
      this.res.on('close', done);
    });
  }

  /** A clean end: everything asked for was sent (or the master stopped after its last event). */
  private finish(): void {
    this.release();
    if (this.writable) this.res.end();
  }

  /**
   * Ends the stream with a last line `{"error", "code"}`, then lets the socket go: it is
   * half-closed once the line is out, and destroyed after CUT_GRACE_MS whatever the client
   * does, so that a client that stopped reading does not keep the buffers it did not read.
   */
  cut(code: ErrorCode, error: string): void {
    this.release();
    const res = this.res;
    // The socket itself: the response lets go of it once finished (keep-alive).
    const socket = res.socket;
    if (res.destroyed || !socket) return;
    if (!res.writableEnded) res.end(JSON.stringify({ error, code }) + '\n');
    const { scheduler } = this.host;
    const timer: TimerHandle = scheduler.setTimeout(() => socket.destroy(), CUT_GRACE_MS).unref();
    res.once('finish', () => socket.end());
    socket.once('close', () => scheduler.clearTimeout(timer));
    // A stream waiting for a drain that will not come is woken by its socket's close.
  }

  /** Destroys the socket at once (the API closes and this stream did not finish in time). */
  destroy(): void {
    this.release();
    this.res.destroy();
  }

  private release(): void {
    if (this.over) return;
    this.over = true;
    if (this.generation) this.host.tail.detach();
    this.host.release(this);
  }
}

/** Events from..to (at most READ_EVENTS), read from the log and closed again before they are sent. */
async function readBatch(log: EventLog, from: number, to: number): Promise<LedgerEvent[]> {
  if (from < log.firstSeq) {
    throw new LoadLedgerError(
      ErrorCode.SEQ_OUT_OF_RANGE,
      `this client fell behind the retention horizon: seq ${from} was deleted (the oldest retained event is seq ${log.firstSeq}); start again with snapshot=1`,
    );
  }
  const out: LedgerEvent[] = [];
  try {
    for await (const batch of log.read(from, to)) for (const e of batch) out.push(e);
  } catch (e) {
    // Damage (LOG_CORRUPT) part-way: the sound events before it go out first; the next read
    // starts at the damaged record and ends the stream with its error.
    if (out.length === 0) throw e;
    return out;
  }
  const last = out.length === 0 ? from - 1 : out[out.length - 1]!.seq;
  if (last < to)
    throw new LoadLedgerError(ErrorCode.SEQ_OUT_OF_RANGE, `the log has no seq ${last + 1} (events removed by retention while streaming?)`);
  return out;
}

function gap(seq: number, after: number): LoadLedgerError {
  return new LoadLedgerError(
    ErrorCode.SEQ_OUT_OF_RANGE,
    `the log gave seq ${seq} after seq ${after} (events removed by retention while streaming?)`,
  );
}
