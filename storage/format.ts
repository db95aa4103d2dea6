import { Packr } from 'msgpackr';

/**
 * On-disk format of the event log (docs/log-format.md has the whole story).
 *
 *   meta  sublevel: 'format'     → 2 (plain msgpack: an older loadledger reads it and says
 *                                  "use a newer loadledger" rather than misreading the log)
 *                   'created'    → ms (plain msgpack)
 *                   'framedFrom' → framed M record: the first seq written with a checksum
 *                                  (1 for a log created by format 2; lastSeq + 1 of a format 1
 *                                  log when a format 2 master first opened it)
 *                   'tail'       → framed M record: the log's last seq, rewritten in the same
 *                                  LevelDB write as every append (a lost last record shows)
 *                   'damage'     → framed M record: damage a master found at start and refused
 *                                  to run on (LevelDB's recovery may erase the evidence)
 *   ev    sublevel: key = first seq of the record, 16 zero-padded decimal digits;
 *                   value = a framed E record of up to RECORD_EVENTS events
 *   snap  sublevel: key = seq of the snapshot (same padding); value = a framed S record
 *   lost  sublevel: what `--accept-damage` set aside (never read back by loadledger)
 *
 * A framed record (storage/record.ts), every value but format and created:
 *
 *   0  1  0xC1: a byte msgpack never writes, so a format 1 value (plain msgpack) is told apart
 *   1  1  kind: 'E' events, 'S' snapshot, 'M' meta
 *   2  1  encoding of the payload: 1 = msgpack (logPackr); the next layout takes 2
 *   3  1  reserved, 0
 *   4  4  u32 BE count: events in an E record (0 otherwise)
 *   8  8  u64 BE seq: the first event's (E), the snapshot's (S), 0 (M); equals the key
 *  16  4  u32 BE CRC-32C of bytes 0..15 and of the payload
 *  20  n  payload
 *
 * Format 1 (before checksums): the same keys, values plain msgpack (an array of events, a
 * snapshot). Such a log stays readable: a format 2 reader accepts plain values below
 * framedFrom, and a master that opens a format 1 log writes format 2 from its last seq on.
 *
 * One record per group of events rather than one key per event: measured on these
 * machines, ~1.0M events/s appended and ~2.0M events/s replayed, against ~260k/250k for a
 * key per event. Events inside a record are gapless, so a seq maps to one record.
 */
export const FORMAT_VERSION = 2;
/** Format versions this code reads. */
export const READS_FORMATS: readonly number[] = [1, 2];
export const RECORD_EVENTS = 512;

export function seqKey(seq: number): string {
  return seq.toString().padStart(16, '0');
}

export function keySeq(key: string): number {
  return Number(key);
}

/** Stateless between calls: every pack() embeds the record structures it uses. */
export const logPackr = new Packr({ useRecords: true, moreTypes: false });
