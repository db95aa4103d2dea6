/**
 * The replication stream between a leader and a standby (docs/ha.md), on a socket the
 * HTTP API hands over after `GET /v1/cluster/replicate` with `Upgrade: loadledger-replication`.
 * Frames: type (u8), payload length (u32 BE), payload.
 *
 *   HELLO     standby → leader  JSON {node, lastSeq, terms: [{term, seq}], term}: where its log ends
 *   START     leader → standby  JSON {term, node, truncateTo, snapshot, lastSeq}: drop what is after
 *                               truncateTo (the leader never had it); a SNAPSHOT follows if `snapshot`
 *   SNAPSHOT  leader → standby  term (f64), seq (f64), the snapshot's bytes as the leader stores them
 *   RECORD    leader → standby  term (f64), key seq (f64), the record's bytes as the leader stores them
 *   BEAT      leader → standby  JSON {term, lastSeq}: the leader's end, for the lag
 *   ACK       standby → leader  seq (f64): everything up to it is in the standby's log
 *   REFUSE    either            JSON {reason}, then the socket closes
 *
 * Every leader frame carries its term: a standby refuses a term lower than one it has seen.
 */
export const FRAME = { HELLO: 1, START: 2, SNAPSHOT: 3, RECORD: 4, BEAT: 5, ACK: 6, REFUSE: 7 } as const;
export type FrameType = (typeof FRAME)[keyof typeof FRAME];

export const UPGRADE_PROTOCOL = 'loadledger-replication';
export const REPLICATE_PATH = '/v1/cluster/replicate';

/** A frame larger than this is a broken peer (a record is at most 512 events). */
const MAX_FRAME = 64 * 1024 * 1024;

export interface Hello {
  node: string;
  lastSeq: number;
  terms: { term: number; seq: number }[];
  term: number;
}

export interface Start {
  term: number;
  node: string;
  truncateTo: number;
  snapshot: boolean;
  lastSeq: number;
}

export function jsonFrame(type: FrameType, body: unknown): Buffer {
  return frame(type, Buffer.from(JSON.stringify(body)));
}

export function frame(type: FrameType, payload: Buffer): Buffer {
  const head = Buffer.allocUnsafe(5);
  head[0] = type;
  head.writeUInt32BE(payload.length, 1);
  return Buffer.concat([head, payload]);
}

/** RECORD or SNAPSHOT: term and seq, then the bytes. */
export function dataFrame(type: typeof FRAME.RECORD | typeof FRAME.SNAPSHOT, term: number, seq: number, value: Buffer): Buffer {
  const head = Buffer.allocUnsafe(21);
  head[0] = type;
  head.writeUInt32BE(16 + value.length, 1);
  head.writeDoubleBE(term, 5);
  head.writeDoubleBE(seq, 13);
  return Buffer.concat([head, value]);
}

export function ackFrame(seq: number): Buffer {
  const b = Buffer.allocUnsafe(13);
  b[0] = FRAME.ACK;
  b.writeUInt32BE(8, 1);
  b.writeDoubleBE(seq, 5);
  return b;
}

export function readData(payload: Buffer): { term: number; seq: number; value: Buffer } {
  return { term: payload.readDoubleBE(0), seq: payload.readDoubleBE(8), value: payload.subarray(16) };
}

/** Splits a byte stream into frames. */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0);

  /** The complete frames in what arrived so far; throws on a frame too large. */
  push(chunk: Buffer): { type: number; payload: Buffer }[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: { type: number; payload: Buffer }[] = [];
    let at = 0;
    while (this.buf.length - at >= 5) {
      const len = this.buf.readUInt32BE(at + 1);
      if (len > MAX_FRAME) throw new Error(`replication frame of ${len} bytes`);
      if (this.buf.length - at < 5 + len) break;
      // a copy: a record's bytes outlive the chunk they came in
      out.push({ type: this.buf[at]!, payload: Buffer.from(this.buf.subarray(at + 5, at + 5 + len)) });
      at += 5 + len;
    }
    this.buf = at === this.buf.length ? Buffer.alloc(0) : this.buf.subarray(at);
    return out;
  }
}
