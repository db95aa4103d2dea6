import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { ErrorCode, LoadLedgerError } from '../src/errors.js';
import type { LedgerEvent } from '../src/events.js';
import { logPackr } from '../storage/format.js';
import {
  FILE_FORMAT_VERSION,
  FILE_MAGIC,
  FRAME_HEADER_SIZE,
  FrameKind,
  MAX_PAYLOAD,
  PREAMBLE_SIZE,
  type ExportHeader,
  type ExportTrailer,
} from './file-format.js';

interface FrameHead {
  kind: number;
  length: number;
  seq: number;
  crc: number;
  /** Offset of the frame header in the file. */
  offset: number;
}

/** Where an events block is: for seeking to a seq without reading what comes before. */
interface BlockRef {
  seq: number;
  offset: number;
  length: number;
  crc: number;
}

function fileError(code: ErrorCode, path: string, message: string, cause?: unknown): LoadLedgerError {
  return new LoadLedgerError(code, `${path}: ${message}`, cause === undefined ? undefined : { cause });
}

const kindName = (k: number): string =>
  k === FrameKind.HEADER
    ? 'header'
    : k === FrameKind.EVENTS
      ? 'events block'
      : k === FrameKind.TRAILER
        ? 'trailer'
        : `frame 0x${k.toString(16)}`;

/**
 * An export file, open for reading. `open` checks the preamble, the header and every frame
 * header through to the trailer; `read` streams events, checking each block's checksum and
 * seqs as it goes.
 */
export class ExportFile {
  private constructor(
    readonly path: string,
    private readonly fh: FileHandle,
    readonly header: ExportHeader,
    readonly trailer: ExportTrailer,
    private readonly blocks: BlockRef[],
    readonly size: number,
  ) {}

  static async open(path: string): Promise<ExportFile> {
    let fh: FileHandle;
    try {
      // O_NONBLOCK: a FIFO opens at once (and is refused below) instead of hanging.
      fh = await open(path, constants.O_RDONLY | ((constants as { O_NONBLOCK?: number }).O_NONBLOCK ?? 0));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory, not an export file' : (e as Error).message;
      throw new LoadLedgerError(ErrorCode.BAD_ARGUMENT, `${path}: ${why}`, { cause: e });
    }
    try {
      const st = await fh.stat();
      if (st.isDirectory()) throw new LoadLedgerError(ErrorCode.BAD_ARGUMENT, `${path}: is a directory, not an export file`);
      // An export file is read by position: a FIFO or a device (/dev/zero) cannot be one.
      if (!st.isFile())
        throw new LoadLedgerError(ErrorCode.BAD_ARGUMENT, `${path}: not a regular file (a FIFO or a device), not an export file`);
      const size = st.size;
      await readPreamble(fh, path, size);
      const head = await readFrameHead(fh, path, PREAMBLE_SIZE, size);
      if (head === undefined)
        throw fileError(
          ErrorCode.FILE_TRUNCATED,
          path,
          `the file ends after its preamble (${size} bytes), before the header; it was cut short`,
        );
      if (head.kind !== FrameKind.HEADER)
        throw fileError(ErrorCode.FILE_CORRUPT, path, `expected the header at byte ${PREAMBLE_SIZE}, found a ${kindName(head.kind)}`);
      const header = checkHeader(path, head, await readPayload(fh, path, head, size));
      const { blocks, trailer } = await scanFrames(fh, path, header, PREAMBLE_SIZE + FRAME_HEADER_SIZE + head.length, size);
      return new ExportFile(path, fh, header, trailer, blocks, size);
    } catch (e) {
      await fh.close().catch(() => {});
      throw e;
    }
  }

  get firstSeq(): number {
    return this.header.firstSeq;
  }

  get lastSeq(): number {
    return this.header.lastSeq;
  }

  /**
   * Events with from ≤ seq ≤ to (clamped to the file), in order, one block at a time.
   * Starts at the block holding `from`; positional reads, so reads may run side by side.
   */
  async *read(from = this.firstSeq, to = this.lastSeq): AsyncGenerator<LedgerEvent[]> {
    from = Math.max(from, this.firstSeq);
    to = Math.min(to, this.lastSeq);
    if (from > to) return;
    let i = blockIndex(this.blocks, from);
    for (; i < this.blocks.length; i++) {
      const b = this.blocks[i]!;
      if (b.seq > to) return;
      const head: FrameHead = { kind: FrameKind.EVENTS, length: b.length, seq: b.seq, crc: b.crc, offset: b.offset };
      const payload = await readPayload(this.fh, this.path, head, this.size);
      let events = decodeEvents(this.path, head, payload);
      const next = this.blocks[i + 1]?.seq ?? this.lastSeq + 1;
      if (events.length !== next - b.seq) {
        throw fileError(
          ErrorCode.FILE_CORRUPT,
          this.path,
          `the events block at byte ${b.offset} holds ${events.length} events where seqs ${b.seq}..${next - 1} were expected`,
        );
      }
      const head0 = events[0]!.seq;
      const tail = events[events.length - 1]!.seq;
      if (head0 < from || tail > to) events = events.filter((e) => e.seq >= from && e.seq <= to);
      if (events.length > 0) yield events;
      if (tail >= to) return;
    }
  }

  /** Reads every block: checksums, decoding and seqs; resolves with the event count. */
  async verify(): Promise<number> {
    let n = 0;
    for await (const batch of this.read()) n += batch.length;
    if (n !== this.trailer.eventCount)
      throw fileError(ErrorCode.FILE_CORRUPT, this.path, `read ${n} events, the trailer says ${this.trailer.eventCount}`);
    return n;
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}

/** The block holding `seq`: the last one starting at or before it. */
function blockIndex(blocks: readonly BlockRef[], seq: number): number {
  let lo = 0;
  let hi = blocks.length - 1;
  let found = 0;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (blocks[mid]!.seq <= seq) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

async function readAt(fh: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  let off = 0;
  while (off < length) {
    const { bytesRead } = await fh.read(buf, off, length - off, position + off);
    if (bytesRead === 0) break;
    off += bytesRead;
  }
  return off === length ? buf : buf.subarray(0, off);
}

async function readPreamble(fh: FileHandle, path: string, size: number): Promise<void> {
  const b = await readAt(fh, 0, PREAMBLE_SIZE);
  const n = Math.min(b.length, FILE_MAGIC.length);
  if (!b.subarray(0, n).equals(FILE_MAGIC.subarray(0, n))) {
    throw fileError(ErrorCode.FILE_CORRUPT, path, 'not a loadledger export file (bad magic; expected "LLOG")');
  }
  if (b.length < PREAMBLE_SIZE)
    throw fileError(ErrorCode.FILE_TRUNCATED, path, `the file ends in its preamble (${size} bytes); it was cut short`);
  if (b.readUInt32BE(8) !== crc32(b.subarray(0, 8)))
    throw fileError(ErrorCode.FILE_CORRUPT, path, 'the preamble (magic and format version) fails its checksum');
  const version = b.readUInt32BE(4);
  if (version !== FILE_FORMAT_VERSION) {
    throw fileError(
      ErrorCode.FILE_FORMAT_UNSUPPORTED,
      path,
      `export format version ${version}, this loadledger reads ${FILE_FORMAT_VERSION}; ${version > FILE_FORMAT_VERSION ? 'use a newer loadledger' : 'the file is damaged'}`,
    );
  }
}

/** The frame header at `offset`; undefined exactly at the end of the file. */
async function readFrameHead(fh: FileHandle, path: string, offset: number, size: number): Promise<FrameHead | undefined> {
  if (offset === size) return undefined;
  const b = await readAt(fh, offset, FRAME_HEADER_SIZE);
  if (b.length < FRAME_HEADER_SIZE) {
    throw fileError(
      ErrorCode.FILE_TRUNCATED,
      path,
      `the file ends inside a frame header at byte ${offset} (${size} bytes in all); it was cut short`,
    );
  }
  if (b.readUInt32BE(20) !== crc32(b.subarray(0, 20)))
    throw fileError(ErrorCode.FILE_CORRUPT, path, `the frame header at byte ${offset} fails its checksum`);
  const kind = b.readUInt8(0);
  const length = b.readUInt32BE(4);
  const seq = Number(b.readBigUInt64BE(8));
  if (b.readUIntBE(1, 3) !== 0 || length > MAX_PAYLOAD || !Number.isSafeInteger(seq)) {
    throw fileError(ErrorCode.FILE_CORRUPT, path, `the frame header at byte ${offset} is not one this version writes`);
  }
  if (kind !== FrameKind.HEADER && kind !== FrameKind.EVENTS && kind !== FrameKind.TRAILER) {
    throw fileError(ErrorCode.FILE_CORRUPT, path, `unknown frame kind 0x${kind.toString(16)} at byte ${offset}`);
  }
  return { kind, length, seq, crc: b.readUInt32BE(16), offset };
}

async function readPayload(fh: FileHandle, path: string, head: FrameHead, size: number): Promise<Buffer> {
  const start = head.offset + FRAME_HEADER_SIZE;
  if (start + head.length > size) {
    throw fileError(
      ErrorCode.FILE_TRUNCATED,
      path,
      `the ${kindName(head.kind)} at byte ${head.offset} needs ${head.length} bytes, the file ends after ${size - start}; it was cut short`,
    );
  }
  const payload = await readAt(fh, start, head.length);
  if (payload.length < head.length)
    throw fileError(ErrorCode.FILE_TRUNCATED, path, `the file ends inside the ${kindName(head.kind)} at byte ${head.offset}`);
  if (crc32(payload) !== head.crc)
    throw fileError(ErrorCode.FILE_CORRUPT, path, `the ${kindName(head.kind)} at byte ${head.offset} fails its checksum`);
  return payload;
}

function unpack(path: string, head: FrameHead, payload: Buffer): unknown {
  try {
    return logPackr.unpack(payload);
  } catch (e) {
    throw fileError(
      ErrorCode.FILE_CORRUPT,
      path,
      `the ${kindName(head.kind)} at byte ${head.offset} does not decode (${(e as Error).message})`,
      e,
    );
  }
}

const isSeq = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

function checkHeader(path: string, head: FrameHead, payload: Buffer): ExportHeader {
  const h = unpack(path, head, payload) as Partial<ExportHeader> | null;
  const bad = (why: string): LoadLedgerError => fileError(ErrorCode.FILE_CORRUPT, path, `the header ${why}`);
  if (h === null || typeof h !== 'object') throw bad('is not a map');
  if (h.version !== FILE_FORMAT_VERSION) throw bad(`says version ${String(h.version)} under a version ${FILE_FORMAT_VERSION} preamble`);
  if (!isSeq(h.firstSeq) || h.firstSeq < 1 || !isSeq(h.lastSeq) || h.lastSeq < h.firstSeq - 1) throw bad('has no valid seq range');
  if (h.eventCount !== h.lastSeq - h.firstSeq + 1) throw bad(`counts ${String(h.eventCount)} events for seqs ${h.firstSeq}..${h.lastSeq}`);
  if (head.seq !== h.firstSeq) throw bad(`frame says seq ${head.seq}, the header ${h.firstSeq}`);
  const s = h.snapshot;
  if (
    !s ||
    typeof s !== 'object' ||
    s.v !== 1 ||
    s.seq !== h.firstSeq - 1 ||
    !Array.isArray(s.nodes) ||
    !Array.isArray(s.conns) ||
    typeof s.master !== 'object'
  ) {
    throw bad(`snapshot is not the projection at seq ${h.firstSeq - 1}`);
  }
  return h as ExportHeader;
}

/**
 * Walks the frame headers after the header frame: E blocks, then the trailer. Block seqs
 * must rise from firstSeq; each block's exact count (next block's seq minus its own) is
 * checked against its payload when it is read.
 */
async function scanFrames(
  fh: FileHandle,
  path: string,
  header: ExportHeader,
  offset: number,
  size: number,
): Promise<{ blocks: BlockRef[]; trailer: ExportTrailer }> {
  const blocks: BlockRef[] = [];
  for (;;) {
    const head = await readFrameHead(fh, path, offset, size);
    const last = blocks[blocks.length - 1];
    if (head === undefined) {
      const upTo = last ? `events from seq ${header.firstSeq} to at least ${last.seq} of ${header.lastSeq}` : 'no events';
      throw fileError(ErrorCode.FILE_TRUNCATED, path, `the file ends at byte ${size} without its trailer (${upTo}); it was cut short`);
    }
    const end = offset + FRAME_HEADER_SIZE + head.length;
    if (end > size) {
      throw fileError(
        ErrorCode.FILE_TRUNCATED,
        path,
        `the ${kindName(head.kind)} at byte ${offset} needs ${head.length} bytes, the file ends after ${size - offset - FRAME_HEADER_SIZE}; it was cut short`,
      );
    }
    if (head.kind === FrameKind.EVENTS) {
      const ok = last ? head.seq > last.seq : head.seq === header.firstSeq;
      if (!ok || head.seq > header.lastSeq || head.length === 0) {
        throw fileError(ErrorCode.FILE_CORRUPT, path, `the events block at byte ${offset} starts at seq ${head.seq}, out of order`);
      }
      blocks.push({ seq: head.seq, offset, length: head.length, crc: head.crc });
      offset = end;
      continue;
    }
    if (head.kind === FrameKind.TRAILER) {
      const t = unpack(path, head, await readPayload(fh, path, head, size)) as Partial<ExportTrailer> | null;
      if (!t || t.lastSeq !== header.lastSeq || t.eventCount !== header.eventCount || head.seq !== header.lastSeq) {
        throw fileError(
          ErrorCode.FILE_CORRUPT,
          path,
          `the trailer (${JSON.stringify(t)}) disagrees with the header (seqs ${header.firstSeq}..${header.lastSeq})`,
        );
      }
      if ((blocks.length === 0) !== (header.eventCount === 0)) {
        throw fileError(ErrorCode.FILE_CORRUPT, path, `${blocks.length} events blocks for ${header.eventCount} events`);
      }
      if (end !== size) throw fileError(ErrorCode.FILE_CORRUPT, path, `${size - end} bytes after the trailer`);
      return { blocks, trailer: t as ExportTrailer };
    }
    throw fileError(ErrorCode.FILE_CORRUPT, path, `a second header at byte ${offset}`);
  }
}

function decodeEvents(path: string, head: FrameHead, payload: Buffer): LedgerEvent[] {
  const events = unpack(path, head, payload);
  if (!Array.isArray(events) || events.length === 0)
    throw fileError(ErrorCode.FILE_CORRUPT, path, `the events block at byte ${head.offset} is not a list of events`);
  let seq = head.seq;
  for (const e of events as unknown[]) {
    const ev = e as Partial<LedgerEvent> | null;
    if (!ev || typeof ev !== 'object' || ev.seq !== seq || typeof ev.type !== 'string' || typeof ev.ts !== 'number') {
      throw fileError(ErrorCode.FILE_CORRUPT, path, `the events block at byte ${head.offset}: event ${seq - head.seq} is not seq ${seq}`);
    }
    seq++;
  }
  return events as LedgerEvent[];
}
