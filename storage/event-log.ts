import { existsSync } from 'node:fs';
import { Level } from 'level';
import type { AbstractSublevel } from 'abstract-level';
import { ErrorCode, LoadLedgerError } from '../src/errors.js';
import type { LedgerEvent } from '../src/events.js';
import type { ProjectionSnapshot } from '../src/projection/snapshot.js';
import { FORMAT_VERSION, RECORD_EVENTS, keySeq, logPackr, seqKey } from './format.js';

type Sub = AbstractSublevel<Level<string, Buffer>, string | Buffer | Uint8Array, string, Buffer>;

export interface EventLogOptions {
  /** Create the log when the directory holds none (a master); false for readers. */
  create?: boolean;
  /** fsync every group commit (slower; survives power loss, not only process crashes). */
  sync?: boolean;
}

/**
 * The event log on LevelDB. Appends are group commits: one `batch()` write for all the
 * events handed over together, split into records of at most RECORD_EVENTS events.
 */
export class EventLog {
  /** seq of the last event in the log (0 when empty). */
  lastSeq = 0;
  /** seq of the oldest event still in the log (lastSeq + 1 when empty). */
  firstSeq = 1;

  private constructor(
    readonly dir: string,
    private readonly db: Level<string, Buffer>,
    private readonly ev: Sub,
    private readonly snap: Sub,
    private readonly meta: Sub,
    private readonly sync: boolean,
  ) {}

  static async open(dir: string, options: EventLogOptions = {}): Promise<EventLog> {
    const create = options.create ?? false;
    if (!create && !existsSync(dir)) {
      throw new LoadLedgerError(ErrorCode.LOG_NOT_FOUND, `no event log at ${dir}`);
    }
    const db = new Level<string, Buffer>(dir, { keyEncoding: 'utf8', valueEncoding: 'buffer', createIfMissing: create });
    try {
      await db.open();
    } catch (e) {
      throw openError(dir, e);
    }
    const sub = (name: string): Sub => db.sublevel<string, Buffer>(name, { keyEncoding: 'utf8', valueEncoding: 'buffer' });
    const log = new EventLog(dir, db, sub('ev'), sub('snap'), sub('meta'), options.sync ?? false);
    try {
      await log.checkFormat(create);
      await log.findBounds();
    } catch (e) {
      await db.close().catch(() => {});
      throw e;
    }
    return log;
  }

  private async checkFormat(create: boolean): Promise<void> {
    const raw = await this.meta.get('format');
    if (raw === undefined) {
      const any = await this.ev.keys({ limit: 1 }).all();
      if (any.length > 0) throw new LoadLedgerError(ErrorCode.LOG_CORRUPT, `${this.dir}: events without a format record`);
      if (!create) throw new LoadLedgerError(ErrorCode.LOG_NOT_FOUND, `no event log at ${this.dir} (empty LevelDB)`);
      await this.meta.batch([
        { type: 'put', key: 'format', value: logPackr.pack(FORMAT_VERSION) },
        { type: 'put', key: 'created', value: logPackr.pack(Date.now()) },
      ]);
      return;
    }
    const version: unknown = logPackr.unpack(raw);
    if (version !== FORMAT_VERSION) {
      throw new LoadLedgerError(
        ErrorCode.LOG_FORMAT_UNSUPPORTED,
        `${this.dir}: log format version ${String(version)}, this loadledger reads version ${FORMAT_VERSION}; use a newer loadledger`,
      );
    }
  }

  private async findBounds(): Promise<void> {
    const [firstKey] = await this.ev.keys({ limit: 1 }).all();
    const [lastEntry] = await this.ev.iterator({ reverse: true, limit: 1 }).all();
    if (firstKey === undefined || lastEntry === undefined) {
      const snap = await this.latestSnapshot();
      this.lastSeq = snap?.seq ?? 0;
      this.firstSeq = this.lastSeq + 1;
      return;
    }
    const events = decodeRecord(lastEntry[1], this.dir);
    this.firstSeq = keySeq(firstKey);
    this.lastSeq = keySeq(lastEntry[0]) + events.length - 1;
  }

  /**
   * Appends events whose seqs continue the log without a gap, in one LevelDB write.
   * Resolves once LevelDB has the write (and, with `sync`, once it is on disk).
   */
  async append(events: readonly LedgerEvent[]): Promise<void> {
    if (events.length === 0) return;
    const first = events[0]!.seq;
    if (first !== this.lastSeq + 1) {
      throw new LoadLedgerError(ErrorCode.LOG_WRITE_FAILED, `append of seq ${first} after ${this.lastSeq} would leave a gap`);
    }
    const ops: { type: 'put'; key: string; value: Buffer }[] = [];
    for (let i = 0; i < events.length; i += RECORD_EVENTS) {
      const chunk = events.length <= RECORD_EVENTS ? events : events.slice(i, i + RECORD_EVENTS);
      ops.push({ type: 'put', key: seqKey(chunk[0]!.seq), value: logPackr.pack(chunk) });
    }
    try {
      await this.ev.batch(ops, { sync: this.sync } as object);
    } catch (e) {
      throw new LoadLedgerError(ErrorCode.LOG_WRITE_FAILED, `cannot write to the event log in ${this.dir}: ${(e as Error).message}`, { cause: e });
    }
    this.lastSeq = events[events.length - 1]!.seq;
  }

  /**
   * Master HA, a standby: appends records exactly as the leader stored them (key = first
   * seq, value = the bytes, whatever the record format), in one LevelDB write. `ends[i]` is
   * the last seq of record i (the caller decoded it to fold it). The first record continues
   * the log; only a log that holds no record (fresh, or just reset to a snapshot) may take
   * one that starts before its end (the leader's records overlap its snapshot).
   */
  async appendRaw(records: readonly { seq: number; value: Buffer }[], ends: readonly number[]): Promise<void> {
    if (records.length === 0) return;
    const first = records[0]!.seq;
    const empty = this.firstSeq > this.lastSeq;
    if (first !== this.lastSeq + 1 && !(empty && first <= this.lastSeq + 1 && ends[0]! > this.lastSeq)) {
      throw new LoadLedgerError(ErrorCode.LOG_WRITE_FAILED, `replicated record at seq ${first} after ${this.lastSeq} would leave a gap`);
    }
    for (let i = 1; i < records.length; i++) {
      if (records[i]!.seq !== ends[i - 1]! + 1) throw new LoadLedgerError(ErrorCode.LOG_WRITE_FAILED, `replicated record at seq ${records[i]!.seq} after ${ends[i - 1]!} would leave a gap`);
    }
    try {
      await this.ev.batch(
        records.map((r) => ({ type: 'put' as const, key: seqKey(r.seq), value: r.value })),
        { sync: this.sync } as object,
      );
    } catch (e) {
      throw new LoadLedgerError(ErrorCode.LOG_WRITE_FAILED, `cannot write to the event log in ${this.dir}: ${(e as Error).message}`, { cause: e });
    }
    if (empty) this.firstSeq = first;
    this.lastSeq = ends[ends.length - 1]!;
  }

  /** Master HA, the leader: records whose key is ≥ `from`, as stored (key seq and bytes). */
  readRawFrom(from: number): AsyncGenerator<{ seq: number; value: Buffer }[]> {
    return readAhead(this.ev.iterator({ gte: seqKey(from) }), (entries) => entries.map(([key, value]) => ({ seq: keySeq(key), value })));
  }

  /** A stored snapshot's bytes as they are (the leader sends them to a standby far behind). */
  async getRawSnapshot(seq: number): Promise<Buffer | undefined> {
    return this.snap.get(seqKey(seq));
  }

  /**
   * Master HA: drops every record that holds an event after `seq` (whole records: the log
   * may end a little before `seq`), and the snapshots after the new end. Returns the seqs
   * dropped (empty range: none).
   */
  async truncateAfter(seq: number): Promise<{ from: number; to: number }> {
    const to = this.lastSeq;
    const start = seq + 1 <= to ? await this.recordStart(seq + 1) : undefined;
    if (start === undefined) return { from: to + 1, to };
    const keys = await this.ev.keys({ gte: seqKey(start) }).all();
    const snaps = (await this.snapshotSeqs()).filter((s) => s >= start);
    await this.db.batch([
      ...keys.map((key) => ({ type: 'del' as const, key, sublevel: this.ev })),
      ...snaps.map((s) => ({ type: 'del' as const, key: seqKey(s), sublevel: this.snap })),
    ]);
    this.lastSeq = start - 1;
    if (this.firstSeq > this.lastSeq) this.firstSeq = this.lastSeq + 1;
    return { from: start, to };
  }

  /**
   * Master HA, a standby too far behind the leader's retention: empties the log and puts
   * the leader's snapshot (its bytes) in its place; the leader's records follow from it.
   */
  async resetToSnapshot(seq: number, value: Buffer): Promise<void> {
    const keys = await this.ev.keys().all();
    const snaps = await this.snapshotSeqs();
    await this.db.batch([
      ...keys.map((key) => ({ type: 'del' as const, key, sublevel: this.ev })),
      ...snaps.map((s) => ({ type: 'del' as const, key: seqKey(s), sublevel: this.snap })),
      { type: 'put' as const, key: seqKey(seq), value, sublevel: this.snap },
    ]);
    this.lastSeq = seq;
    this.firstSeq = seq + 1;
  }

  /**
   * Reads events with from ≤ seq ≤ to, in order, in arrays of up to a record's worth.
   * `to` defaults to the end of the log as it is when the read starts.
   */
  async *read(from = this.firstSeq, to = this.lastSeq): AsyncGenerator<LedgerEvent[]> {
    if (from > to) return;
    // The record holding `from` starts at or before it.
    const [startKey] = await this.ev.keys({ lte: seqKey(from), reverse: true, limit: 1 }).all();
    const it = this.ev.iterator({ gte: startKey ?? seqKey(from), lte: seqKey(to) });
    // Read ahead: LevelDB fetches the next slice on its thread while we decode this one.
    let next = ahead(it.nextv(64));
    try {
      for (;;) {
        const entries = await next;
        if (entries.length === 0) return;
        next = ahead(it.nextv(64));
        for (const [, value] of entries) {
          let events = decodeRecord(value, this.dir);
          const head = events[0]!.seq;
          const tail = events[events.length - 1]!.seq;
          if (head < from || tail > to) events = events.filter((e) => e.seq >= from && e.seq <= to);
          if (events.length > 0) yield events;
          if (tail >= to) return;
        }
      }
    } finally {
      await next.catch(() => {});
      await it.close();
    }
  }

  /** Raw records (undecoded), for measuring the read limit of the store itself. */
  readRaw(): AsyncGenerator<Buffer[]> {
    return readAhead(this.ev.values(), (values) => values);
  }

  /**
   * Every record as stored, with its key's seq, undecoded: for `verify`, which must see a
   * record that does not decode and go on to the next rather than stop at the first.
   */
  readRecords(): AsyncGenerator<{ seq: number; value: Buffer }[]> {
    return readAhead(this.ev.iterator(), (entries) => entries.map(([key, value]) => ({ seq: keySeq(key), value })));
  }

  /** A stored snapshot by its key's seq, decoded (LOG_CORRUPT when it does not decode). */
  async getSnapshot(seq: number): Promise<ProjectionSnapshot | undefined> {
    const value = await this.snap.get(seqKey(seq));
    return value === undefined ? undefined : decodeSnapshot(value, this.dir);
  }

  async putSnapshot(snapshot: ProjectionSnapshot): Promise<void> {
    await this.snap.put(seqKey(snapshot.seq), logPackr.pack(snapshot));
  }

  /** The newest snapshot with seq ≤ `atOrBefore` (any seq when omitted). */
  async nearestSnapshot(atOrBefore?: number): Promise<ProjectionSnapshot | undefined> {
    const range = atOrBefore === undefined ? { reverse: true, limit: 1 } : { lte: seqKey(atOrBefore), reverse: true, limit: 1 };
    const [entry] = await this.snap.iterator(range).all();
    if (!entry) return undefined;
    return decodeSnapshot(entry[1], this.dir);
  }

  latestSnapshot(): Promise<ProjectionSnapshot | undefined> {
    return this.nearestSnapshot();
  }

  async snapshotSeqs(): Promise<number[]> {
    return (await this.snap.keys().all()).map(keySeq);
  }

  /**
   * Retention: deletes the records whose events all have seq < `seq` (whole records only,
   * so the log may keep a few events more), then the snapshots that can no longer serve as
   * a base, and compacts the deleted range so the disk space really comes back. Deletes in
   * slices of 256 records, each its own write, so appends are never held up for long.
   * Returns the number of events deleted.
   */
  async deleteBefore(seq: number): Promise<number> {
    let deleted = 0;
    let lastDeletedKey: string | undefined;
    for (;;) {
      const keys = await this.ev.keys({ lt: seqKey(seq), limit: 257 }).all();
      if (keys.length === 0) break;
      const doomed: string[] = [];
      for (let i = 0; i < keys.length && doomed.length < 256; i++) {
        const next = keys[i + 1];
        const end = next !== undefined ? keySeq(next) - 1 : await this.recordEnd(keys[i]!);
        if (end >= seq) break;
        doomed.push(keys[i]!);
        deleted += end - keySeq(keys[i]!) + 1;
      }
      if (doomed.length === 0) break;
      await this.ev.batch(doomed.map((key) => ({ type: 'del' as const, key })));
      lastDeletedKey = doomed[doomed.length - 1];
      if (doomed.length < 256) break;
    }
    const [first] = await this.ev.keys({ limit: 1 }).all();
    this.firstSeq = first !== undefined ? keySeq(first) : this.lastSeq + 1;
    // Snapshots older than the one replay of what is left starts from serve nothing.
    const base = await this.replayBaseSeq();
    const old = base === undefined ? [] : (await this.snapshotSeqs()).filter((s) => s < base);
    if (old.length > 0) await this.snap.batch(old.map((s) => ({ type: 'del' as const, key: seqKey(s) })));
    if (lastDeletedKey !== undefined) {
      const db = this.db as unknown as { compactRange?: (a: string, b: string) => Promise<void> };
      await db.compactRange?.('!ev!', `!ev!${lastDeletedKey}`).catch(() => {});
    }
    return deleted;
  }

  /** Drops the oldest snapshots beyond the newest `keep` (bounded disk without retention). */
  async pruneSnapshots(keep: number): Promise<void> {
    const snaps = await this.snapshotSeqs();
    if (snaps.length <= keep) return;
    // Never drop the base of the oldest retained events.
    const base = await this.replayBaseSeq();
    const doomed = snaps.slice(0, snaps.length - keep).filter((s) => s !== base);
    if (doomed.length > 0) await this.snap.batch(doomed.map((s) => ({ type: 'del' as const, key: seqKey(s) })));
  }

  /**
   * The seq replay of this log can start from: 0 while it still begins at seq 1; after
   * retention, the first snapshot that leaves no gap before the remaining events
   * (undefined when there is none: the remaining events cannot be replayed).
   */
  async replayBaseSeq(): Promise<number | undefined> {
    if (this.firstSeq <= 1) return 0;
    return (await this.snapshotSeqs()).find((s) => s >= this.firstSeq - 1);
  }

  /** The first seq of the record that holds `seq` (records are deleted whole). */
  async recordStart(seq: number): Promise<number | undefined> {
    const [key] = await this.ev.keys({ lte: seqKey(seq), reverse: true, limit: 1 }).all();
    return key === undefined ? undefined : keySeq(key);
  }

  private async recordEnd(key: string): Promise<number> {
    const value = await this.ev.get(key);
    if (value === undefined) return keySeq(key) - 1;
    return keySeq(key) + decodeRecord(value, this.dir).length - 1;
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}

/** Batches of a LevelDB iterator, the next one read while the caller works on this one. */
async function* readAhead<E, T>(it: { nextv(n: number): Promise<E[]>; close(): Promise<void> }, map: (batch: E[]) => T): AsyncGenerator<T> {
  let next = ahead(it.nextv(64));
  try {
    for (;;) {
      const batch = await next;
      if (batch.length === 0) return;
      next = ahead(it.nextv(64));
      yield map(batch);
    }
  } finally {
    await next.catch(() => {});
    await it.close();
  }
}

/**
 * A read-ahead promise: a rejection while the consumer is paused at `yield` would otherwise
 * be unhandled; it is still thrown where the promise is awaited.
 */
function ahead<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}

export function decodeRecord(value: Buffer, dir: string): LedgerEvent[] {
  let events: unknown;
  try {
    events = logPackr.unpack(value);
  } catch (e) {
    throw new LoadLedgerError(ErrorCode.LOG_CORRUPT, `${dir}: an event record does not decode (${(e as Error).message})`, { cause: e });
  }
  if (!Array.isArray(events) || events.length === 0) {
    throw new LoadLedgerError(ErrorCode.LOG_CORRUPT, `${dir}: an event record is not a list of events`);
  }
  return events as LedgerEvent[];
}

function decodeSnapshot(value: Buffer, dir: string): ProjectionSnapshot {
  try {
    return logPackr.unpack(value) as ProjectionSnapshot;
  } catch (e) {
    throw new LoadLedgerError(ErrorCode.LOG_CORRUPT, `${dir}: a snapshot does not decode`, { cause: e });
  }
}

function openError(dir: string, e: unknown): LoadLedgerError {
  const err = e as { code?: string; cause?: { code?: string; message?: string } };
  if (err.cause?.code === 'LEVEL_LOCKED' || err.code === 'LEVEL_LOCKED') {
    return new LoadLedgerError(ErrorCode.LOG_LOCKED, `the event log in ${dir} is locked by another process (a running master?)`, { cause: e });
  }
  if (err.cause?.code === 'LEVEL_CORRUPTION') {
    return new LoadLedgerError(ErrorCode.LOG_CORRUPT, `the event log in ${dir} is corrupt: ${err.cause.message ?? ''}`, { cause: e });
  }
  return new LoadLedgerError(ErrorCode.LOG_NOT_FOUND, `cannot open the event log in ${dir}: ${err.cause?.message ?? (e as Error).message}`, { cause: e });
}
