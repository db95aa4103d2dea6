import { crc32 } from 'node:zlib';
import type { ProjectionSnapshot } from '../src/projection/snapshot.js';

/**
 * The export file ("LLOG"), format version 1: a portable, self-describing slice of an
 * event log that replays to exact states on its own.
 *
 *   preamble, 12 bytes
 *     0  4  magic "LLOG"
 *     4  4  u32 BE format version (1)
 *     8  4  u32 BE crc32 of bytes 0..7    (a flipped version byte reads as corrupt, not "newer")
 *
 *   then frames, each a 24-byte frame header and a payload:
 *     0  1  kind: 'H' header, 'E' events, 'T' trailer
 *     1  3  zero
 *     4  4  u32 BE payload length (at most MAX_PAYLOAD)
 *     8  8  u64 BE seq: H firstSeq, E seq of the block's first event, T lastSeq
 *    16  4  u32 BE crc32 of the payload
 *    20  4  u32 BE crc32 of bytes 0..19   (a damaged length is caught before it is trusted)
 *    24  n  payload: msgpack (storage/format.ts logPackr, records embedded in each payload)
 *
 *   exactly one H first: ExportHeader {version, created, source, generator, firstSeq,
 *     lastSeq, eventCount, snapshot}, where snapshot is the ProjectionSnapshot at firstSeq-1
 *     (the empty projection, seq 0, for a file that starts at seq 1);
 *   any number of E: a non-empty array of events, seqs consecutive from the frame's seq,
 *     the blocks consecutive from firstSeq to lastSeq;
 *   exactly one T last: ExportTrailer {eventCount, lastSeq}; nothing after it.
 *
 * Errors, each with the file name and the byte offset:
 *   FILE_TRUNCATED           the file ends before its trailer (cut short while copying)
 *   FILE_CORRUPT             bad magic, a checksum mismatch, a payload that does not decode,
 *                            a gap or overlap of seqs, counts that disagree, bytes after T
 *   FILE_FORMAT_UNSUPPORTED  a (checksummed) version above FILE_FORMAT_VERSION
 *
 * Opening a file walks the frame headers only (24 bytes per ~512 events, skipping the
 * payloads), so truncation and damaged frame headers are found at once, in O(blocks), and
 * the seq in each E header is an index for seeking. Payload checksums are checked as the
 * blocks are read. Nothing ever holds more than one block in memory.
 *
 * This file holds the layout and its encoders; the writer is replay/file-writer.ts, the
 * reader (open, check, read) replay/file-reader.ts.
 */
export const FILE_MAGIC = Buffer.from('LLOG', 'latin1');
export const FILE_FORMAT_VERSION = 1;
export const PREAMBLE_SIZE = 12;
export const FRAME_HEADER_SIZE = 24;
/** A frame whose checksummed header claims more than this is refused as corrupt. */
export const MAX_PAYLOAD = 1 << 30;
/** Events per E block the writer aims for (the same as a log record). */
export const BLOCK_EVENTS = 512;

export const FrameKind = { HEADER: 0x48, EVENTS: 0x45, TRAILER: 0x54 } as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

export interface ExportHeader {
  version: 1;
  /** ms since the epoch when the export was written. */
  created: number;
  /** Where the events came from ("log ./data", "master http://…"). */
  source: string;
  /** "loadledger 0.1.0" */
  generator: string;
  firstSeq: number;
  lastSeq: number;
  eventCount: number;
  /** The exact projection at firstSeq - 1. */
  snapshot: ProjectionSnapshot;
}

export interface ExportTrailer {
  eventCount: number;
  lastSeq: number;
}

export function encodePreamble(version = FILE_FORMAT_VERSION): Buffer {
  const b = Buffer.alloc(PREAMBLE_SIZE);
  FILE_MAGIC.copy(b, 0);
  b.writeUInt32BE(version, 4);
  b.writeUInt32BE(crc32(b.subarray(0, 8)), 8);
  return b;
}

/** A whole frame: header and payload. */
export function encodeFrame(kind: FrameKind, seq: number, payload: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(FRAME_HEADER_SIZE + payload.length);
  b.writeUInt8(kind, 0);
  b.writeUIntBE(0, 1, 3);
  b.writeUInt32BE(payload.length, 4);
  b.writeBigUInt64BE(BigInt(seq), 8);
  b.writeUInt32BE(crc32(payload), 16);
  b.writeUInt32BE(crc32(b.subarray(0, 20)), 20);
  b.set(payload, FRAME_HEADER_SIZE);
  return b;
}
