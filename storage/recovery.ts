import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * What LevelDB's recovery did to the log, read from its own files.
 *
 * Opening a LevelDB replays its write-ahead log (`NNNNNN.log`) into a table. A damaged
 * record there is dropped, not refused (classic-level has no paranoid mode): the open
 * succeeds with fewer events, and the `.log` file is deleted once its contents are in a
 * table. LevelDB says so in its info log (`LOG` in the same directory, written anew at each
 * open): `(ignoring error) …/000005.log: dropping 1772 bytes; Corruption: checksum mismatch`.
 *
 * So a log is read twice around the open: the write-ahead logs' bytes before it (which
 * record keys they held, damaged or not: walPuts), and the info log after it (droppedBytes).
 * A key the write-ahead log held that is not in the store after the open was dropped.
 */

/** Records LevelDB reported dropping during the open, one line each. */
export function droppedBytes(dir: string): string[] {
  let text: string;
  try {
    text = readFileSync(join(dir, 'LOG'), 'latin1');
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const line of text.split('\n')) {
    // "(ignoring error) <file>: dropping N bytes; <why>" (a damaged write-ahead log record) and
    // "Ignoring error <status>" (a batch that did not apply): both mean data that was not kept.
    const m = /(?:\(ignoring error\) )?(\S+): dropping (\d+) bytes; (.*)$/.exec(line) ?? /Ignoring error (.*)$/.exec(line);
    if (!m) continue;
    out.push(m.length === 4 ? `${m[1]!.split('/').pop()!}: dropped ${m[2]!} bytes (${m[3]!.trim()})` : `ignored an error: ${m[1]!.trim()}`);
  }
  return out;
}

/** The raw bytes of the write-ahead logs, read before the open (which consumes them). */
export function readWal(dir: string): Buffer[] {
  let names: string[];
  try {
    names = readdirSync(dir)
      .filter((n) => /^\d+\.log$/.test(n))
      .sort();
  } catch {
    return [];
  }
  const out: Buffer[] = [];
  for (const n of names) {
    try {
      if (statSync(join(dir, n)).size > 0) out.push(readFileSync(join(dir, n)));
    } catch {
      // unreadable: the open will say so
    }
  }
  return out;
}

const BLOCK = 32768;
const PHYSICAL_HEADER = 7;

/**
 * The log's fragments with LevelDB's physical record headers taken out (checksums not
 * checked: the point is to see what a damaged record held). A header whose length does not
 * fit its block is damaged: the rest of the block is kept as it is.
 */
function logicalBytes(wal: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let block = 0; block < wal.length; block += BLOCK) {
    const end = Math.min(block + BLOCK, wal.length);
    let off = block;
    while (off + PHYSICAL_HEADER <= end) {
      const len = wal.readUInt16LE(off + 4);
      const type = wal[off + 6]!;
      if (len === 0 && type === 0) break; // zero padding at a block's end
      if (off + PHYSICAL_HEADER + len > end || type < 1 || type > 4) {
        parts.push(wal.subarray(off, end));
        break;
      }
      parts.push(wal.subarray(off + PHYSICAL_HEADER, off + PHYSICAL_HEADER + len));
      off += PHYSICAL_HEADER + len;
    }
  }
  return Buffer.concat(parts);
}

/** One event record put in a write-ahead log: its key's seq and, when its header survives, its count. */
export interface WalPut {
  seq: number;
  count: number | undefined;
}

/**
 * The event records the write-ahead logs put (and did not delete again), in the order
 * written, found by their keys: a put of `!ev!` + 16 digits in a WriteBatch is the tag 0x01,
 * the key length 20, the key, the value's varint length, then the value, whose framed header
 * (storage/record.ts) gives the count. Also the highest `tail` the logs wrote.
 */
export function walPuts(wals: readonly Buffer[]): { puts: WalPut[]; tail: number | undefined } {
  const puts = new Map<number, WalPut>();
  let tail: number | undefined;
  for (const wal of wals) {
    const bytes = logicalBytes(wal);
    const text = bytes.toString('latin1');
    // eslint-disable-next-line no-control-regex -- WriteBatch tags and key lengths are control bytes
    const re = /([\x00\x01])\x14!ev!(\d{16})|\x01\x0a!meta!tail/g;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      const after = m.index + m[0].length;
      if (m[2] === undefined) {
        const t = tailValue(bytes, after);
        if (t !== undefined && (tail === undefined || t > tail)) tail = t;
        continue;
      }
      const seq = Number(m[2]);
      if (m[1] === '\x00') puts.delete(seq);
      else puts.set(seq, { seq, count: eventCountAt(bytes, after) });
    }
  }
  return { puts: [...puts.values()].sort((a, b) => a.seq - b.seq), tail };
}

/** The value after a key: its varint32 length skipped; undefined when it does not parse. */
function valueAt(bytes: Buffer, off: number): number | undefined {
  for (let i = 0; i < 5 && off + i < bytes.length; i++) {
    if ((bytes[off + i]! & 0x80) === 0) return off + i + 1;
  }
  return undefined;
}

function eventCountAt(bytes: Buffer, off: number): number | undefined {
  const v = valueAt(bytes, off);
  if (v === undefined || v + 8 > bytes.length || bytes[v] !== 0xc1 || bytes[v + 1] !== 0x45) return undefined;
  const n = bytes.readUInt32BE(v + 4);
  return n > 0 && n <= 1 << 20 ? n : undefined;
}

/** A framed meta value whose payload is a msgpack unsigned integer (the tail marker). */
function tailValue(bytes: Buffer, off: number): number | undefined {
  const v = valueAt(bytes, off);
  if (v === undefined || v + 21 > bytes.length || bytes[v] !== 0xc1 || bytes[v + 1] !== 0x4d) return undefined;
  const p = v + 20;
  const t = bytes[p]!;
  if (t <= 0x7f) return t;
  if (t === 0xcc) return bytes[p + 1];
  if (t === 0xcd && p + 3 <= bytes.length) return bytes.readUInt16BE(p + 1);
  if (t === 0xce && p + 5 <= bytes.length) return bytes.readUInt32BE(p + 1);
  if (t === 0xcf && p + 9 <= bytes.length) return Number(bytes.readBigUInt64BE(p + 1));
  if (t === 0xcb && p + 9 <= bytes.length) {
    const d = bytes.readDoubleBE(p + 1);
    return Number.isSafeInteger(d) && d >= 0 ? d : undefined;
  }
  return undefined;
}
