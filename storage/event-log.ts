import { existsSync } from 'node:fs';
import { Level } from 'level';
import { ErrorCode, LoadLedgerError } from '../src/errors.js';
import type { LedgerEvent } from '../src/events.js';
import type { ProjectionSnapshot } from '../src/projection/snapshot.js';
import { corruptError, isLevelCorruption, overlaps, type Damage, type Hole } from './damage.js';
import { RECORD_EVENTS, keySeq, seqKey } from './format.js';
import { openError } from './level-errors.js';
import { OpenChecks } from './open-checks.js';
import { readChecked, readRecords, type StoredRecord, type Sub } from './reader.js';
import { RecordDamage, decodeEvents, decodeSnapshot, encodeEvents, encodeMeta, encodeSnapshot } from './record.js';
import { readWal } from './recovery.js';
import { appendRaw, getRawSnapshot, readRawFrom, resetToSnapshot, truncateAfter } from './replica.js';
import { deleteBefore, pruneSnapshots, recordStart, replayBaseSeq } from './retention.js';
import type { Stores } from './stores.js';

export type { Damage, Hole } from './damage.js';

export interface EventLogOptions {
  /** Create the log when the directory holds none (a master); false for readers. */
  create?: boolean;
  /** fsync every group commit (slower; survives power loss, not only process crashes). */
  sync?: boolean;
}

/**
 * The event log on LevelDB (format: storage/format.ts, docs/log-format.md). Appends are
 * group commits: one `batch()` write for all the events handed over together, split into
 * records of at most RECORD_EVENTS events, with the tail marker in the same write.
 *
 * Every read checks what it reads: each record's checksum, that its events carry the seqs
 * its key says and types this version knows, and that the records follow each other without
 * a gap. Damage fails the read with LOG_CORRUPT naming the seqs (storage/damage.ts); so does
 * damage found at open (what LevelDB's recovery dropped, a tail marker past the records).
 */
export class EventLog {
  /** seq of the last event in the log (0 when empty); damage past the readable end counts. */
  lastSeq = 0;
  /** seq of the oldest event still in the log (lastSeq + 1 when empty). */
  firstSeq = 1;
  /** Damage found at open and not accepted: reads that meet it fail. */
  damage: Damage[] = [];
  /** Damage an operator accepted (master --accept-damage): unreadable, stepped over by the master. */
  holes: Hole[] = [];
  /** seqs of snapshots found damaged (a master with --accept-damage removes them). */
  readonly damagedSnapshots = new Set<number>();
  /** How messages name the log: its directory, or what a reader of a private copy calls it (replay/open.ts). */
  label: string;
  /** Records below this seq may be format 1 (no checksum): Infinity for a format 1 log. */
  private framedFrom = 1;

  private readonly db: Level<string, Buffer>;
  private readonly ev: Sub;
  private readonly snap: Sub;
  private readonly meta: Sub;
  private readonly sync: boolean;

  private constructor(private readonly stores: Stores) {
    ({ db: this.db, ev: this.ev, snap: this.snap, meta: this.meta, sync: this.sync } = stores);
    this.dir = stores.dir;
    this.label = stores.dir;
  }

  readonly dir: string;

  static async open(dir: string, options: EventLogOptions = {}): Promise<EventLog> {
    const create = options.create ?? false;
    if (!create && !existsSync(dir)) {
      throw new LoadLedgerError(ErrorCode.LOG_NOT_FOUND, `no event log at ${dir}`);
    }
    // The open replays and then deletes the write-ahead logs: read what they held first.
    const wal = readWal(dir);
    const db = new Level<string, Buffer>(dir, { keyEncoding: 'utf8', valueEncoding: 'buffer', createIfMissing: create });
    try {
      await db.open();
    } catch (e) {
      throw openError(dir, e);
    }
    const sub = (name: string): Sub => db.sublevel<string, Buffer>(name, { keyEncoding: 'utf8', valueEncoding: 'buffer' });
    const log = new EventLog({ dir, db, ev: sub('ev'), snap: sub('snap'), meta: sub('meta'), sync: options.sync ?? false });
    try {
      const c = new OpenChecks(dir, log.ev, log.meta, () => log.latestSnapshot());
      const upgrade = await c.checkFormat(create);
      log.framedFrom = c.framedFrom;
      await c.findBounds();
      await c.checkRecovery(wal);
      await c.checkTail();
      if (upgrade) await c.upgrade();
      log.framedFrom = c.framedFrom;
      log.firstSeq = c.firstSeq;
      log.lastSeq = c.lastSeq;
      log.damage = c.damage;
      log.holes = c.holes;
      for (const d of log.damage) log.lastSeq = Math.max(log.lastSeq, d.to ?? d.from);
    } catch (e) {
      await db.close().catch(() => {});
      throw isLevelCorruption(e) && !(e instanceof LoadLedgerError) ? openError(dir, e) : e;
    }
    return log;
  }

  /** Records below framedFrom may be format 1 (no checksum). */
  legacy(seq: number): boolean {
    return seq < this.framedFrom;
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
    const last = events[events.length - 1]!.seq;
    const ops: { type: 'put'; sublevel: Sub; key: string; value: Buffer }[] = [];
    for (let i = 0; i < events.length; i += RECORD_EVENTS) {
      const chunk = events.length <= RECORD_EVENTS ? events : events.slice(i, i + RECORD_EVENTS);
      ops.push({ type: 'put', sublevel: this.ev, key: seqKey(chunk[0]!.seq), value: encodeEvents(chunk) });
    }
    ops.push({ type: 'put', sublevel: this.meta, key: 'tail', value: encodeMeta(last) });
    try {
      await this.db.batch(ops, { sync: this.sync } as object);
    } catch (e) {
      throw new LoadLedgerError(ErrorCode.LOG_WRITE_FAILED, `cannot write to the event log in ${this.dir}: ${(e as Error).message}`, {
        cause: e,
      });
    }
    this.lastSeq = last;
  }

  /** Master HA, a standby: appends records exactly as the leader stored them (storage/replica.ts). */
  appendRaw(records: readonly { seq: number; value: Buffer }[], ends: readonly number[]): Promise<void> {
    return appendRaw(this.stores, this, records, ends);
  }

  /** Master HA, the leader: records whose key is ≥ `from`, as stored (key seq and bytes). */
  readRawFrom(from: number): AsyncGenerator<{ seq: number; value: Buffer }[]> {
    return readRawFrom(this.stores, from);
  }

  /** A stored snapshot's bytes as they are (the leader sends them to a standby far behind). */
  getRawSnapshot(seq: number): Promise<Buffer | undefined> {
    return getRawSnapshot(this.stores, seq);
  }

  /** Master HA: drops every record that holds an event after `seq` (storage/replica.ts). */
  truncateAfter(seq: number): Promise<{ from: number; to: number }> {
    return truncateAfter(this.stores, this, seq);
  }

  /** Master HA, a standby too far behind: the leader's snapshot in place of the log (storage/replica.ts). */
  resetToSnapshot(seq: number, value: Buffer): Promise<void> {
    return resetToSnapshot(this.stores, this, seq, value);
  }

  /**
   * Reads events with from ≤ seq ≤ to, in order, in arrays of up to a record's worth, every
   * record checked (see the class). `to` defaults to the end of the log as it is when the
   * read starts. `overHoles`: step over accepted damage (the master's own fold) rather than
   * fail on it; the events on either side come in separate batches.
   */
  async *read(from = this.firstSeq, to = this.lastSeq, opts: { overHoles?: boolean } = {}): AsyncGenerator<LedgerEvent[]> {
    if (from > to) return;
    for (const d of this.damage) if (overlaps(d, from, to)) throw corruptError(this.label, d);
    let start = from;
    for (const h of this.holes.filter((x) => overlaps(x, from, to)).sort((a, b) => a.from - b.from)) {
      if (!opts.overHoles)
        throw corruptError(this.label, {
          ...h,
          reason: `${h.reason} (accepted by an operator at seq ${h.at}; states from there on replay from the snapshot taken then)`,
        });
      if (start < h.from) yield* this.readRange(start, h.from - 1);
      start = h.to + 1;
    }
    if (start <= to) yield* this.readRange(start, to);
  }

  private readRange(from: number, to: number): AsyncGenerator<LedgerEvent[]> {
    const floor = Math.max(from - RECORD_EVENTS + 1, ...this.holes.filter((h) => h.to < from).map((h) => h.to + 1), 0);
    return readChecked(this.ev, {
      dir: this.label,
      from,
      to,
      floor,
      firstSeq: () => this.firstSeq,
      lastSeq: () => this.lastSeq,
      decode: (seq, value) => decodeEvents(value, seq, this.legacy(seq)),
    });
  }

  /** Raw records (undecoded), for measuring the read limit of the store itself. */
  async *readRaw(): AsyncGenerator<Buffer[]> {
    for await (const batch of this.readRecords()) yield batch.flatMap((r) => ('value' in r ? [r.value] : []));
  }

  /**
   * Every record as stored, with its key's seq, undecoded: for `verify`, which must see a
   * record that does not decode and go on to the next rather than stop at the first. A part
   * LevelDB cannot read comes as `damage` (from the seq after the last key read), and the
   * walk goes on after it.
   */
  readRecords(): AsyncGenerator<StoredRecord[]> {
    return readRecords(this.ev, this.firstSeq);
  }

  /** Decodes and checks one record as read() would (RecordDamage when it is damaged). */
  decodeRecord(seq: number, value: Buffer): LedgerEvent[] {
    return decodeEvents(value, seq, this.legacy(seq));
  }

  /** A stored snapshot by its key's seq, decoded (LOG_CORRUPT when it is damaged). */
  async getSnapshot(seq: number): Promise<ProjectionSnapshot | undefined> {
    const value = await this.snapGet(() => this.snap.get(seqKey(seq)), seq);
    return value === undefined ? undefined : this.snapshotOf(seq, value);
  }

  async putSnapshot(snapshot: ProjectionSnapshot): Promise<void> {
    await this.snap.put(seqKey(snapshot.seq), encodeSnapshot(snapshot));
  }

  /** The newest snapshot with seq ≤ `atOrBefore` (any seq when omitted). */
  async nearestSnapshot(atOrBefore?: number): Promise<ProjectionSnapshot | undefined> {
    const range = atOrBefore === undefined ? { reverse: true, limit: 1 } : { lte: seqKey(atOrBefore), reverse: true, limit: 1 };
    const [entry] = await this.snapGet(() => this.snap.iterator(range).all(), atOrBefore);
    if (!entry) return undefined;
    return this.snapshotOf(keySeq(entry[0]), entry[1]);
  }

  private async snapGet<T>(get: () => Promise<T>, near: number | undefined): Promise<T> {
    try {
      return await get();
    } catch (e) {
      if (!isLevelCorruption(e)) throw e;
      throw new LoadLedgerError(
        ErrorCode.LOG_CORRUPT,
        `${this.label}: LevelDB cannot read the snapshots${near === undefined ? '' : ` near seq ${near}`} (${(e as Error).message})`,
        { cause: e },
      );
    }
  }

  private snapshotOf(seq: number, value: Buffer): ProjectionSnapshot {
    try {
      return decodeSnapshot(value, seq, this.legacy(seq + 1));
    } catch (e) {
      if (!(e instanceof RecordDamage)) throw e;
      this.damagedSnapshots.add(seq);
      throw new LoadLedgerError(ErrorCode.LOG_CORRUPT, `${this.label}: the snapshot at seq ${seq} is damaged: ${e.message}`, {
        seqs: { from: seq, to: seq },
      });
    }
  }

  latestSnapshot(): Promise<ProjectionSnapshot | undefined> {
    return this.nearestSnapshot();
  }

  async snapshotSeqs(): Promise<number[]> {
    return (await this.snapGet(() => this.snap.keys().all(), undefined)).map(keySeq);
  }

  /** Notes damage found at start, so that it is still known after LevelDB's recovery erased its evidence. */
  async markDamaged(damage: readonly Damage[]): Promise<void> {
    await this.meta.put('damage', encodeMeta(damage));
  }

  /**
   * An operator accepted `damage` (master --accept-damage): ranges of seqs become holes the
   * master's fold steps over (the next events follow the last seq the log ever had); damage
   * past the readable end with no known end is given up (the next events follow the last
   * readable seq); a damaged snapshot is removed (the events are intact). `at`: the seq the
   * first LogDamaged event will have. Returns the ranges as LogDamaged will record them.
   */
  async acceptDamage(damage: readonly Damage[]): Promise<Damage[]> {
    const out: Damage[] = [];
    const holes: Hole[] = [];
    for (const d of damage) {
      out.push(d);
      if (d.to === undefined) this.lastSeq = Math.min(this.lastSeq, d.from - 1);
      else if (this.damagedSnapshots.has(d.from) && d.to === d.from) await this.snap.del(seqKey(d.from));
      else holes.push({ from: d.from, to: d.to, reason: d.reason, at: 0 });
    }
    for (const h of holes) this.lastSeq = Math.max(this.lastSeq, h.to);
    for (const h of holes) h.at = this.lastSeq + 1;
    this.holes.push(...holes);
    this.damage = this.damage.filter((d) => !damage.includes(d));
    await this.meta.batch([
      { type: 'put', key: 'holes', value: encodeMeta(this.holes) },
      this.damage.length > 0 ? { type: 'put', key: 'damage', value: encodeMeta(this.damage) } : { type: 'del', key: 'damage' },
      { type: 'put', key: 'tail', value: encodeMeta(this.lastSeq) },
    ]);
    return out;
  }

  /** Retention: deletes the records whose events all have seq < `seq` (storage/retention.ts); returns how many events went. */
  deleteBefore(seq: number): Promise<number> {
    return deleteBefore(this.stores, this, seq);
  }

  /** Drops the oldest snapshots beyond the newest `keep`, never the base of the oldest retained events. */
  pruneSnapshots(keep: number): Promise<void> {
    return pruneSnapshots(this.stores, this, keep);
  }

  /** The seq replay of this log can start from (storage/retention.ts). */
  replayBaseSeq(): Promise<number | undefined> {
    return replayBaseSeq(this);
  }

  /** The first seq of the record that holds `seq` (records are deleted whole). */
  recordStart(seq: number): Promise<number | undefined> {
    return recordStart(this.stores, seq);
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}
