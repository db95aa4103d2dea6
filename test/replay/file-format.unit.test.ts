/**
 * The export file format (replay/file-format.ts, file-writer.ts, file-reader.ts) on small hand-made files: round trip,
 * a cut at every byte, a flipped byte at every position, a newer version, and frames that
 * are well checksummed but say the wrong thing (gaps, overlaps, counts, bytes after the end).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import {
  FILE_MAGIC,
  FRAME_HEADER_SIZE,
  FrameKind,
  PREAMBLE_SIZE,
  encodeFrame,
  encodePreamble,
  type ExportHeader,
} from '../../replay/file-format.js';
import { ExportFile } from '../../replay/file-reader.js';
import { ExportWriter } from '../../replay/file-writer.js';
import { openFileSource } from '../../replay/file-source.js';
import { ErrorCode, LoadLedgerError } from '../../src/errors.js';
import type { LedgerEvent } from '../../src/events.js';
import { stateDocument } from '../../src/projection/document.js';
import { evolve } from '../../src/projection/evolve.js';
import { fromSnapshot, toSnapshot } from '../../src/projection/snapshot.js';
import { createProjection } from '../../src/projection/state.js';
import { logPackr } from '../../storage/format.js';
import { Cleanup } from '../helpers/cleanup.js';
import { codeOf } from '../helpers/errors.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** A plausible history: a master start, slaves connecting, pushing, leaving, timing out. */
function history(n: number): LedgerEvent[] {
  const out: LedgerEvent[] = [];
  let seq = 0;
  const ts = (): number => 1_700_000_000_000 + seq * 10;
  const add = (e: Record<string, unknown>): void => {
    seq++;
    out.push({ seq, ts: ts(), ...e } as unknown as LedgerEvent);
  };
  add({ type: 'MasterStarted', epoch: 1, listen: '127.0.0.1:7400', http: '127.0.0.1:7480', pid: 1, helloInterval: 1000, deadAfter: 3000 });
  let conn = 0;
  while (seq < n) {
    const c = ++conn;
    add({ type: 'SlaveConnected', conn: c, remote: `10.0.0.${c % 250}:5000` });
    for (let i = 0; i < 3 && seq < n; i++)
      add({ type: 'LoadPushed', conn: c, node: `n${c % 7}:80`, load: (c * 7 + i) % 100, capacity: 1, attrs: { zone: `z${c % 3}` } });
    if (seq < n) add({ type: 'HelloReceived', conn: c });
    if (seq < n)
      add(
        c % 2 === 0 ? { type: 'SlaveTimedOut', conn: c, silentMs: 3000 } : { type: 'SlaveDisconnected', conn: c, reason: 'closed by peer' },
      );
  }
  return out.slice(0, n);
}

function headerFor(events: LedgerEvent[], first: number, last: number): ExportHeader {
  const p = createProjection();
  for (const e of events) if (e.seq < first) evolve(p, e);
  return {
    version: 1,
    created: 1,
    source: 'test',
    generator: 'test',
    firstSeq: first,
    lastSeq: last,
    eventCount: last - first + 1,
    snapshot: toSnapshot(p),
  };
}

async function writeExport(events: LedgerEvent[], first: number, last: number, blockEvents: number, name = 'x.llog'): Promise<string> {
  const dir = await cleanup.tempDir('loadledger-ff-');
  const path = join(dir, name);
  const w = await ExportWriter.create(path, headerFor(events, first, last), { blockEvents });
  const slice = events.filter((e) => e.seq >= first && e.seq <= last);
  for (let i = 0; i < slice.length; i += 5) await w.write(slice.slice(i, i + 5));
  await w.finish();
  return path;
}

/** Opens `path` and reads every event; resolves with the events or the error code. */
async function readAll(path: string): Promise<LedgerEvent[] | ErrorCode> {
  let f: ExportFile | undefined;
  try {
    f = await ExportFile.open(path);
    const out: LedgerEvent[] = [];
    for await (const batch of f.read()) out.push(...batch);
    await f.verify();
    return out;
  } catch (e) {
    if (e instanceof LoadLedgerError) return e.code;
    throw e;
  } finally {
    await f?.close();
  }
}

/**
 * Runs `fn(i, slot)` for every i in [0, count), at most `SLOTS` at a time; `slot` (which of
 * the SLOTS runners calls) names a scratch file no other run in flight uses. Rejects with
 * the first failure.
 */
const SLOTS = 8;
async function eachConcurrently(count: number, fn: (i: number, slot: number) => Promise<void>): Promise<void> {
  let next = 0;
  const runner = async (slot: number): Promise<void> => {
    while (next < count) await fn(next++, slot);
  };
  await Promise.all(Array.from({ length: SLOTS }, (_, slot) => runner(slot)));
}

/** A raw file from frames, for files the writer would never produce. */
async function rawFile(parts: Buffer[]): Promise<string> {
  const dir = await cleanup.tempDir('loadledger-ff-');
  const path = join(dir, 'raw.llog');
  await writeFile(path, Buffer.concat(parts));
  return path;
}

describe('export file round trip', () => {
  it('gives back the header, the snapshot and every event, in blocks', async () => {
    const events = history(40);
    const path = await writeExport(events, 11, 37, 4);
    const f = await ExportFile.open(path);
    try {
      expect(f.header).toMatchObject({ version: 1, firstSeq: 11, lastSeq: 37, eventCount: 27 });
      expect(f.header.snapshot.seq).toBe(10);
      expect(f.trailer).toEqual({ eventCount: 27, lastSeq: 37 });
      const got: LedgerEvent[] = [];
      for await (const batch of f.read()) {
        expect(batch.length).toBeLessThanOrEqual(4);
        got.push(...batch);
      }
      expect(got).toEqual(events.slice(10, 37));
      // Seeking: a sub-range starting mid-block.
      const mid: number[] = [];
      for await (const batch of f.read(18, 29)) mid.push(...batch.map((e) => e.seq));
      expect(mid).toEqual(Array.from({ length: 12 }, (_, i) => 18 + i));
      expect(await f.verify()).toBe(27);
    } finally {
      await f.close();
    }
  });

  it('an empty range: the state alone', async () => {
    const events = history(10);
    const path = await writeExport(events, 6, 5, 4);
    const src = await openFileSource(path);
    try {
      expect([src.firstSeq, src.lastSeq]).toEqual([6, 5]);
      const p = await src.base(5);
      const ref = createProjection();
      for (const e of events.slice(0, 5)) evolve(ref, e);
      expect(stateDocument(p)).toEqual(stateDocument(ref));
    } finally {
      await src.close();
    }
  });

  it('property: any range and block size round-trips the events and the snapshot', async () => {
    const events = history(60);
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 61 }),
        fc.integer({ min: 0, max: 60 }),
        fc.integer({ min: 1, max: 9 }),
        async (a, len, block) => {
          const first = a;
          const last = Math.min(60, first + len - 1);
          const path = await writeExport(events, first, last, block);
          const got = await readAll(path);
          expect(got).toEqual(events.filter((e) => e.seq >= first && e.seq <= last));
          const f = await ExportFile.open(path);
          await f.close();
          expect(stateDocument(fromSnapshot(f.header.snapshot))).toEqual(
            stateDocument(fromSnapshot(headerFor(events, first, last).snapshot)),
          );
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('damaged export files', () => {
  it('cut at every byte: FILE_TRUNCATED, never a shorter answer', async () => {
    const events = history(30);
    const path = await writeExport(events, 5, 30, 6);
    const whole = await readFile(path);
    // Every length from 0 to one byte short; a few files at a time (their reads overlap in
    // the thread pool), each in a file of its own.
    await eachConcurrently(whole.length, async (n, slot) => {
      const cut = `${path}.cut${slot}`;
      await writeFile(cut, whole.subarray(0, n));
      const got = await readAll(cut);
      if (got !== ErrorCode.FILE_TRUNCATED)
        throw new Error(`cut at ${n} of ${whole.length} bytes: got ${Array.isArray(got) ? `${got.length} events` : got}`);
    });
  });

  it('a flipped byte anywhere: FILE_CORRUPT (on open, or when its block is read)', async () => {
    const events = history(30);
    const path = await writeExport(events, 5, 30, 6);
    const whole = await readFile(path);
    // Every byte, flipped in its lowest bit and in all eight.
    await eachConcurrently(whole.length * 2, async (k, slot) => {
      const i = k >> 1;
      const mask = k & 1 ? 0xff : 0x01;
      const copy = Buffer.from(whole);
      copy[i] = copy[i]! ^ mask;
      const bad = `${path}.bad${slot}`;
      await writeFile(bad, copy);
      const got = await readAll(bad);
      if (got !== ErrorCode.FILE_CORRUPT)
        throw new Error(`byte ${i} ^ 0x${mask.toString(16)}: got ${Array.isArray(got) ? `${got.length} events` : got}`);
    });
  });

  it('a newer format version: FILE_FORMAT_UNSUPPORTED, saying which', async () => {
    const events = history(10);
    const path = await writeExport(events, 1, 10, 4);
    const whole = await readFile(path);
    const newer = Buffer.concat([encodePreamble(2), whole.subarray(PREAMBLE_SIZE)]);
    await writeFile(path, newer);
    const err = await ExportFile.open(path).then(
      () => undefined,
      (e: unknown) => e as LoadLedgerError,
    );
    expect(err?.code).toBe(ErrorCode.FILE_FORMAT_UNSUPPORTED);
    expect(err?.message).toMatch(/format version 2, this loadledger reads 1/);
  });

  it('not an export file at all: FILE_CORRUPT; no such file: BAD_ARGUMENT', async () => {
    const path = await rawFile([Buffer.from('{"seq":1}\n{"seq":2}\n')]);
    expect(await codeOf(ExportFile.open(path))).toBe(ErrorCode.FILE_CORRUPT);
    expect(await codeOf(openFileSource(join(path, '..', 'missing.llog')))).toBe(ErrorCode.BAD_ARGUMENT);
  });

  describe('well checksummed frames that say the wrong thing', () => {
    const events = history(12);
    const header = headerFor(events, 1, 12);
    const H = encodeFrame(FrameKind.HEADER, 1, logPackr.pack(header));
    const E = (from: number, to: number, seq = from): Buffer =>
      encodeFrame(FrameKind.EVENTS, seq, logPackr.pack(events.slice(from - 1, to)));
    const T = encodeFrame(FrameKind.TRAILER, 12, logPackr.pack({ eventCount: 12, lastSeq: 12 }));

    it('the reference file reads', async () => {
      expect(await readAll(await rawFile([encodePreamble(), H, E(1, 6), E(7, 12), T]))).toHaveLength(12);
    });
    it.each([
      ['a gap between blocks', () => [E(1, 5), E(7, 12)]],
      ['an overlap between blocks', () => [E(1, 6), E(6, 12, 7)]],
      ['a block whose events are not its seqs', () => [E(1, 6), E(8, 13, 7)]],
      ['a block out of order', () => [E(7, 12), E(1, 6)]],
      ['a missing last event', () => [E(1, 6), E(7, 11)]],
      ['an empty events block', () => [encodeFrame(FrameKind.EVENTS, 1, logPackr.pack([])), E(1, 12, 2)]],
      ['an events block that is not a list', () => [encodeFrame(FrameKind.EVENTS, 1, logPackr.pack({ seq: 1 })), E(2, 12)]],
      ['an events block that is not msgpack', () => [encodeFrame(FrameKind.EVENTS, 1, Buffer.from([0xc1, 0xc1])), E(2, 12)]],
    ])('%s: FILE_CORRUPT', async (_name, blocks) => {
      expect(await readAll(await rawFile([encodePreamble(), H, ...blocks(), T]))).toBe(ErrorCode.FILE_CORRUPT);
    });

    it.each([
      ['bytes after the trailer', () => [encodePreamble(), H, E(1, 12), T, Buffer.from([0])]],
      [
        'a trailer that disagrees',
        () => [encodePreamble(), H, E(1, 12), encodeFrame(FrameKind.TRAILER, 12, logPackr.pack({ eventCount: 11, lastSeq: 12 }))],
      ],
      ['a second header', () => [encodePreamble(), H, H, E(1, 12), T]],
      ['events before the header', () => [encodePreamble(), E(1, 12), H, T]],
      ['an unknown frame kind', () => [encodePreamble(), H, encodeFrame(0x5a as FrameKind, 1, Buffer.from([1])), E(1, 12), T]],
      [
        'a header whose snapshot is not at firstSeq - 1',
        () => [
          encodePreamble(),
          encodeFrame(FrameKind.HEADER, 1, logPackr.pack({ ...header, snapshot: { ...header.snapshot, seq: 3 } })),
          E(1, 12),
          T,
        ],
      ],
      [
        'a header whose count disagrees',
        () => [encodePreamble(), encodeFrame(FrameKind.HEADER, 1, logPackr.pack({ ...header, eventCount: 13 })), E(1, 12), T],
      ],
      ['a preamble with a bad checksum', () => [Buffer.concat([FILE_MAGIC, Buffer.from([0, 0, 0, 1, 0, 0, 0, 0])]), H, E(1, 12), T]],
    ])('%s: FILE_CORRUPT', async (_name, parts) => {
      expect(await readAll(await rawFile(parts()))).toBe(ErrorCode.FILE_CORRUPT);
    });

    it('a frame header claiming more bytes than the file has, under a valid checksum: FILE_TRUNCATED', async () => {
      const e = E(1, 12);
      const lying = Buffer.from(e.subarray(0, FRAME_HEADER_SIZE));
      lying.writeUInt32BE(e.length * 10, 4);
      lying.writeUInt32BE(crc32(lying.subarray(0, 20)), 20);
      expect(await readAll(await rawFile([encodePreamble(), H, lying, e.subarray(FRAME_HEADER_SIZE), T]))).toBe(ErrorCode.FILE_TRUNCATED);
    });
  });
});

describe('the file as an event source', () => {
  it('base before the file: SEQ_OUT_OF_RANGE naming the range; reads before it refused', async () => {
    const events = history(30);
    const path = await writeExport(events, 11, 25, 4);
    const src = await openFileSource(path);
    try {
      expect(src.describe).toBe(`file ${path}`);
      expect([src.firstSeq, src.lastSeq]).toEqual([11, 25]);
      const err = await src.base(9).catch((e: unknown) => e as LoadLedgerError);
      expect(err).toBeInstanceOf(LoadLedgerError);
      expect((err as LoadLedgerError).code).toBe(ErrorCode.SEQ_OUT_OF_RANGE);
      expect((err as LoadLedgerError).message).toMatch(/seq 9 is before the start of file .*seqs 11\.\.25/);
      expect(await codeOf(src.base(26))).toBe(ErrorCode.SEQ_OUT_OF_RANGE);
      expect(
        await codeOf(
          (async () => {
            for await (const _ of src.read(10, 12)) void _;
          })(),
        ),
      ).toBe(ErrorCode.SEQ_OUT_OF_RANGE);
      // The exact state at every seq of the file.
      const ref = createProjection();
      for (const e of events.slice(0, 10)) evolve(ref, e);
      const p = await src.base(10);
      expect(stateDocument(p)).toEqual(stateDocument(ref));
      for await (const batch of src.read(11, 25)) {
        for (const e of batch) {
          evolve(p, e);
          evolve(ref, events[e.seq - 1]!);
          expect(toSnapshot(p)).toEqual(toSnapshot(ref));
        }
      }
    } finally {
      await src.close();
    }
  });
});
