import { performance } from 'node:perf_hooks';
import type { Observable, Subscription } from 'rxjs';
import type { LedgerEvent } from '../events.js';

/** Recent committed events kept for live followers (a few commits of a master at full speed). */
export const TAIL_EVENTS = 4096;
/** Bytes of encoded pieces kept for followers to share, at most. */
const PIECES_BYTES = 4 * 1024 * 1024;
/** Followers are woken at most this often (ms): a busy master's commits reach them in fewer, larger writes. */
const WAKE_EVERY_MS = 10;

/** One subscription's life: a follower that started in it ends with its failure or completion. */
export interface TailGeneration {
  /** The committed events ended in an error (the log failed). */
  failure: Error | undefined;
  /** The committed events ended (the master closed its ledger). */
  completed: boolean;
}

/** The JSON lines of the events first..last, encoded once and written as they are by every follower that sends them. */
export interface Piece {
  first: number;
  last: number;
  bytes: Buffer;
}

/**
 * The live end of the log, one per HTTP API and shared by all its followers: a "new seq
 * committed" signal and a ring of the newest committed events (TAIL_EVENTS, a few MiB at
 * most). Followers that wake together at the same seq get the same piece
 * (one Buffer of JSON lines, encoded once), so a live event costs one encoding, not one per
 * follower, and a socket that does not take it holds a reference, not a copy.
 *
 * A follower never holds events of its own: it keeps a cursor (the last seq it sent) and
 * takes the next piece from here while the ring still has it, or reads the log
 * (src/http/event-stream.ts). A follower whose client does not read takes nothing here,
 * and costs nothing more than its cursor however many events are committed. The ring
 * listens only while someone follows.
 */
export class EventTail {
  private readonly events: (LedgerEvent | undefined)[];
  /** Index of the oldest event in the ring, how many there are, and the seq of the oldest. */
  private start = 0;
  private size = 0;
  private firstSeq = 0;
  /** Pieces by first seq (in the ring's order), and their bytes. */
  private readonly pieces = new Map<number, Piece>();
  private pieceBytes = 0;
  private users = 0;
  private sub: Subscription | undefined;
  private generation: TailGeneration | undefined;
  private waiters: (() => void)[] = [];
  private wakeScheduled = false;
  private lastWake = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly source: () => Observable<LedgerEvent>,
    readonly capacity = TAIL_EVENTS,
  ) {
    this.events = new Array<LedgerEvent | undefined>(capacity);
  }

  /** A follower starts: listens to the committed events while anyone follows. */
  attach(): TailGeneration {
    this.users++;
    if (this.generation && this.sub && !this.sub.closed) return this.generation;
    this.clear();
    const g: TailGeneration = { failure: undefined, completed: false };
    this.generation = g;
    this.sub = this.source().subscribe({
      next: (e) => this.push(e),
      error: (e: unknown) => {
        g.failure = e instanceof Error ? e : new Error(String(e));
        this.ended(g);
      },
      complete: () => {
        g.completed = true;
        this.ended(g);
      },
    });
    return g;
  }

  /** A follower ended: the last one stops the listening and empties the ring. */
  detach(): void {
    if (this.users === 0 || --this.users > 0) return;
    this.sub?.unsubscribe();
    this.sub = undefined;
    this.generation = undefined;
    this.clear();
  }

  /** Resolves after the next commit (at most every WAKE_EVERY_MS), when the committed events end, or at wakeAll. */
  next(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Wakes every follower waiting for a commit (the API is closing). */
  wakeAll(): void {
    this.wakeScheduled = false;
    this.lastWake = performance.now();
    for (const w of this.waiters.splice(0)) w();
  }

  /** Events in the ring now (for tests and metrics). */
  get held(): number {
    return this.size;
  }

  /**
   * The JSON lines of the events from `from` on, up to `to` and to about `maxBytes` (at
   * least one line), if the ring holds `from`; undefined if it does not (read the log).
   */
  take(from: number, to: number, maxBytes: number): Piece | undefined {
    const lastSeq = this.firstSeq + this.size - 1;
    if (this.size === 0 || from < this.firstSeq || from > lastSeq) return undefined;
    const shared = this.pieces.get(from);
    if (shared && shared.last <= to) return shared;
    const end = Math.min(to, lastSeq);
    let text = '';
    let seq = from;
    while (seq <= end && text.length < maxBytes)
      text += JSON.stringify(this.events[(this.start + seq++ - this.firstSeq) % this.capacity]) + '\n';
    const piece: Piece = { first: from, last: seq - 1, bytes: Buffer.from(text) };
    if (!shared && this.pieceBytes + piece.bytes.length <= PIECES_BYTES) {
      this.pieces.set(from, piece);
      this.pieceBytes += piece.bytes.length;
    }
    return piece;
  }

  private push(e: LedgerEvent): void {
    // Commits are gapless; after a log recovery the seqs may start over lower: begin again.
    if (this.size > 0 && e.seq !== this.firstSeq + this.size) this.clear();
    if (this.size === 0) this.firstSeq = e.seq;
    if (this.size === this.capacity) {
      this.events[this.start] = undefined;
      this.start = (this.start + 1) % this.capacity;
      this.firstSeq++;
      this.size--;
      if (this.pieces.size > 0 && this.firstSeq % 256 === 0) this.evictPieces();
    }
    this.events[(this.start + this.size) % this.capacity] = e;
    this.size++;
    // A group commit publishes its events in one turn: the followers wake once for all of
    // them, after the slaves' HELLO_ACKs of that commit are written, and on a busy master
    // at most every WAKE_EVERY_MS.
    if (!this.wakeScheduled) {
      this.wakeScheduled = true;
      const wait = this.lastWake + WAKE_EVERY_MS - performance.now();
      if (wait <= 0) setImmediate(() => this.wakeAll());
      else setTimeout(() => this.wakeAll(), wait).unref();
    }
  }

  /** Drops the pieces that start before the ring's oldest event. */
  private evictPieces(): void {
    for (const [first, piece] of this.pieces) {
      if (first >= this.firstSeq) continue;
      this.pieces.delete(first);
      this.pieceBytes -= piece.bytes.length;
    }
  }

  private ended(g: TailGeneration): void {
    if (this.generation === g) {
      this.sub = undefined;
      this.generation = undefined;
      this.clear();
    }
    this.wakeAll();
  }

  private clear(): void {
    for (let k = 0; k < this.size; k++) this.events[(this.start + k) % this.capacity] = undefined;
    this.start = 0;
    this.size = 0;
    this.pieces.clear();
    this.pieceBytes = 0;
  }
}
