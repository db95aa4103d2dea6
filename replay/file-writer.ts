import { open, type FileHandle } from 'node:fs/promises';
import { ErrorCode, LoadLedgerError } from '../src/errors.js';
import type { LedgerEvent } from '../src/events.js';
import { logPackr } from '../storage/format.js';
import { BLOCK_EVENTS, FrameKind, encodeFrame, encodePreamble, type ExportHeader, type ExportTrailer } from './file-format.js';

/**
 * Writes an export file front to back. The caller names a temporary path and renames it
 * when `finish()` resolves (see replay/export.ts); `abort()` closes without a trailer.
 */
export class ExportWriter {
  private pending: LedgerEvent[] = [];
  private chunks: Buffer[] = [];
  private chunkBytes = 0;
  private position = 0;
  private nextSeq: number;
  private count = 0;
  private closed = false;

  private constructor(
    private readonly fh: FileHandle,
    readonly path: string,
    readonly header: ExportHeader,
    private readonly blockEvents: number,
  ) {
    this.nextSeq = header.firstSeq;
  }

  /**
   * Creates `path` (it must not exist) and writes the preamble and the header frame.
   * `blockEvents`: events per E block (tests make small blocks to get many of them).
   */
  static async create(path: string, header: ExportHeader, options: { blockEvents?: number } = {}): Promise<ExportWriter> {
    if (header.snapshot.seq !== header.firstSeq - 1)
      throw new Error(`export header: snapshot at ${header.snapshot.seq} does not precede firstSeq ${header.firstSeq}`);
    if (header.eventCount !== header.lastSeq - header.firstSeq + 1)
      throw new Error(`export header: eventCount ${header.eventCount} for seqs ${header.firstSeq}..${header.lastSeq}`);
    const fh = await open(path, 'wx');
    const w = new ExportWriter(fh, path, header, Math.max(1, options.blockEvents ?? BLOCK_EVENTS));
    w.queue(encodePreamble());
    w.queue(encodeFrame(FrameKind.HEADER, header.firstSeq, logPackr.pack(header)));
    return w;
  }

  get eventsWritten(): number {
    return this.count;
  }

  get bytesWritten(): number {
    return this.position + this.chunkBytes;
  }

  /** Appends events; their seqs must continue the file without a gap. */
  async write(events: readonly LedgerEvent[]): Promise<void> {
    for (const e of events) {
      if (e.seq !== this.nextSeq)
        throw new LoadLedgerError(
          ErrorCode.SEQ_OUT_OF_RANGE,
          `export: the source gave seq ${e.seq} where seq ${this.nextSeq} was expected`,
        );
      if (e.seq > this.header.lastSeq)
        throw new LoadLedgerError(
          ErrorCode.SEQ_OUT_OF_RANGE,
          `export: the source gave seq ${e.seq}, past the range's end ${this.header.lastSeq}`,
        );
      this.nextSeq++;
      this.pending.push(e);
      if (this.pending.length >= this.blockEvents) this.block();
    }
    if (this.chunkBytes >= 1 << 20) await this.flush();
  }

  /** Writes the last block and the trailer, syncs and closes. */
  async finish(): Promise<{ events: number; bytes: number }> {
    if (this.nextSeq !== this.header.lastSeq + 1) {
      throw new LoadLedgerError(
        ErrorCode.SEQ_OUT_OF_RANGE,
        `export: the source ended at seq ${this.nextSeq - 1}, before the range's end ${this.header.lastSeq}`,
      );
    }
    this.block();
    const trailer: ExportTrailer = { eventCount: this.count, lastSeq: this.header.lastSeq };
    this.queue(encodeFrame(FrameKind.TRAILER, this.header.lastSeq, logPackr.pack(trailer)));
    await this.flush();
    await this.fh.sync();
    this.closed = true;
    await this.fh.close();
    return { events: this.count, bytes: this.position };
  }

  async abort(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.fh.close().catch(() => {});
  }

  private block(): void {
    if (this.pending.length === 0) return;
    const events = this.pending;
    this.pending = [];
    this.count += events.length;
    this.queue(encodeFrame(FrameKind.EVENTS, events[0]!.seq, logPackr.pack(events)));
  }

  private queue(b: Buffer): void {
    this.chunks.push(b);
    this.chunkBytes += b.length;
  }

  private async flush(): Promise<void> {
    if (this.chunkBytes === 0) return;
    const data = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.chunkBytes);
    this.chunks = [];
    this.chunkBytes = 0;
    let off = 0;
    while (off < data.length) {
      const { bytesWritten } = await this.fh.write(data, off, data.length - off, this.position);
      off += bytesWritten;
      this.position += bytesWritten;
    }
  }
}
