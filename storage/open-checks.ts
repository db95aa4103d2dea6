import { ErrorCode, LoadLedgerError } from '../src/errors.js';
import type { ProjectionSnapshot } from '../src/projection/snapshot.js';
import { isLevelCorruption, overlaps, type Damage, type Hole } from './damage.js';
import { FORMAT_VERSION, READS_FORMATS, keySeq, logPackr, seqKey } from './format.js';
import { scanKeys, type Sub } from './reader.js';
import { RecordDamage, decodeMeta, encodeMeta, eventCount } from './record.js';
import { droppedBytes, walPuts } from './recovery.js';

/**
 * What opening a log finds out before anything reads it (storage/event-log.ts runs these in
 * order): the format (and whether a master must upgrade a format 1 log), the bounds (the
 * last record checked; a store LevelDB cannot fully read walked around), what LevelDB's
 * recovery dropped (storage/recovery.ts), and the tail marker against the records.
 */
export class OpenChecks {
  firstSeq = 1;
  lastSeq = 0;
  /** Records below this seq may be format 1 (no checksum): Infinity for a format 1 log. */
  framedFrom = 1;
  readonly damage: Damage[] = [];
  holes: Hole[] = [];

  constructor(
    private readonly dir: string,
    private readonly ev: Sub,
    private readonly meta: Sub,
    private readonly latestSnapshot: () => Promise<ProjectionSnapshot | undefined>,
  ) {}

  /** Reads the format; true when a master must upgrade a format 1 log. */
  async checkFormat(create: boolean): Promise<boolean> {
    const raw = await this.meta.get('format');
    if (raw === undefined) {
      const any = await this.ev.keys({ limit: 1 }).all();
      if (any.length > 0) throw new LoadLedgerError(ErrorCode.LOG_CORRUPT, `${this.dir}: events without a format record`);
      if (!create) throw new LoadLedgerError(ErrorCode.LOG_NOT_FOUND, `no event log at ${this.dir} (empty LevelDB)`);
      await this.meta.batch([
        { type: 'put', key: 'format', value: logPackr.pack(FORMAT_VERSION) },
        { type: 'put', key: 'created', value: logPackr.pack(Date.now()) },
        { type: 'put', key: 'framedFrom', value: encodeMeta(1) },
        { type: 'put', key: 'tail', value: encodeMeta(0) },
      ]);
      return false;
    }
    let version: unknown;
    try {
      version = logPackr.unpack(raw);
    } catch {
      throw new LoadLedgerError(ErrorCode.LOG_CORRUPT, `${this.dir}: the log's format record does not decode`);
    }
    if (typeof version !== 'number' || !READS_FORMATS.includes(version)) {
      const newer = typeof version === 'number' && version > FORMAT_VERSION;
      throw new LoadLedgerError(
        newer ? ErrorCode.LOG_FORMAT_UNSUPPORTED : ErrorCode.LOG_CORRUPT,
        `${this.dir}: log format version ${String(version)}, this loadledger reads versions ${READS_FORMATS.join(' and ')}${newer ? '; use a newer loadledger' : ' (a damaged format record?)'}`,
      );
    }
    if (version === 1) {
      this.framedFrom = Infinity;
      return create;
    }
    this.framedFrom = this.metaNumber('framedFrom', await this.meta.get('framedFrom'));
    const holes = await this.meta.get('holes');
    if (holes !== undefined) this.holes = this.metaValue('holes', holes) as Hole[];
    const marked = await this.meta.get('damage');
    if (marked !== undefined) this.damage.push(...(this.metaValue('damage', marked) as Damage[]));
    return false;
  }

  private metaValue(key: string, raw: Buffer): unknown {
    try {
      return decodeMeta(raw);
    } catch (e) {
      throw new LoadLedgerError(ErrorCode.LOG_CORRUPT, `${this.dir}: the log's ${key} record is damaged: ${(e as Error).message}`);
    }
  }

  private metaNumber(key: string, raw: Buffer | undefined): number {
    const v = raw === undefined ? undefined : this.metaValue(key, raw);
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
      throw new LoadLedgerError(
        ErrorCode.LOG_CORRUPT,
        `${this.dir}: the log's ${key} record is ${raw === undefined ? 'missing' : 'not a seq'}`,
      );
    }
    return v;
  }

  /** A format 1 log opened by a master: checksummed records from the next seq on. */
  async upgrade(): Promise<void> {
    await this.meta.batch([
      { type: 'put', key: 'framedFrom', value: encodeMeta(this.lastSeq + 1) },
      { type: 'put', key: 'tail', value: encodeMeta(this.lastSeq) },
      { type: 'put', key: 'format', value: logPackr.pack(FORMAT_VERSION) },
    ]);
    this.framedFrom = this.lastSeq + 1;
  }

  async findBounds(): Promise<void> {
    let firstKey: string | undefined;
    let lastEntry: [string, Buffer] | undefined;
    try {
      [firstKey] = await this.ev.keys({ limit: 1 }).all();
      [lastEntry] = await this.ev.iterator({ reverse: true, limit: 1 }).all();
    } catch (e) {
      if (!isLevelCorruption(e)) throw e;
      return this.boundsByScan();
    }
    if (firstKey === undefined || lastEntry === undefined) {
      const snap = await this.latestSnapshot();
      this.lastSeq = snap?.seq ?? 0;
      this.firstSeq = this.lastSeq + 1;
      return;
    }
    this.firstSeq = keySeq(firstKey);
    const last = keySeq(lastEntry[0]);
    try {
      this.lastSeq = last + eventCount(lastEntry[1], last, this.legacy(last)) - 1;
    } catch (e) {
      if (!(e instanceof RecordDamage)) throw e;
      this.lastSeq = last - 1;
      this.damage.push({ from: last, reason: `the last record: ${e.message}` });
    }
  }

  /** Bounds when LevelDB cannot read part of the store: walk the keys around what it cannot read. */
  private async boundsByScan(): Promise<void> {
    const { keys, unreadable } = await scanKeys(this.ev);
    const first = keys[0];
    const lastKey = keys[keys.length - 1];
    this.firstSeq = first ?? 1;
    this.lastSeq = lastKey === undefined ? 0 : lastKey + (await this.countAt(lastKey)) - 1;
    for (const u of unreadable) {
      const from = u.after === undefined ? this.firstSeq : u.after + (await this.countAt(u.after));
      this.damage.push(
        u.before === undefined
          ? { from: Math.max(from, this.lastSeq + 1), reason: 'LevelDB cannot read the last records' }
          : { from, to: u.before - 1, reason: 'LevelDB cannot read these records' },
      );
    }
  }

  private async countAt(seq: number): Promise<number> {
    const v = await this.ev.get(seqKey(seq));
    try {
      return v === undefined ? 0 : eventCount(v, seq, this.legacy(seq));
    } catch {
      return 1;
    }
  }

  /** What LevelDB dropped while it recovered its write-ahead log in this open (storage/recovery.ts). */
  async checkRecovery(wal: Buffer[]): Promise<void> {
    const drops = droppedBytes(this.dir);
    if (drops.length === 0) return;
    const { puts, tail } = walPuts(wal);
    const why = `LevelDB dropped part of its write-ahead log when it recovered it (${drops.join('; ')})`;
    // Runs of records the write-ahead log put that the store does not hold now.
    const runs: Damage[] = [];
    for (let i = 0; i < puts.length; i++) {
      const p = puts[i]!;
      if (p.seq < this.firstSeq) continue;
      const there = await this.ev.get(seqKey(p.seq)).catch(() => undefined);
      if (there !== undefined) continue;
      const to = p.count !== undefined ? p.seq + p.count - 1 : (puts[i + 1]?.seq ?? (tail ?? p.seq) + 1) - 1;
      const last = runs[runs.length - 1];
      if (last && last.to !== undefined && p.seq <= last.to + 1) last.to = Math.max(last.to, to);
      else runs.push({ from: p.seq, to: Math.max(to, p.seq), reason: why });
    }
    if (tail !== undefined && tail > this.lastSeq && !runs.some((r) => (r.to ?? 0) >= tail))
      runs.push({ from: this.lastSeq + 1, to: tail, reason: why });
    if (runs.length === 0) runs.push({ from: this.lastSeq + 1, reason: `${why}; which events it held is unknown` });
    this.damage.push(...runs);
    // The open has already turned the write-ahead log into a table (whoever opened it, a
    // master or not): this note is all that is left of it. In a private copy it stays there.
    await this.meta.put('damage', encodeMeta(this.damage));
  }

  /** The tail marker (written with every append) against the records. */
  async checkTail(): Promise<void> {
    if (this.framedFrom === Infinity) return;
    const raw = await this.meta.get('tail');
    const tail = this.metaNumber('tail', raw);
    // A last record that does not read ends where the marker says.
    const open = this.damage.find((d) => d.to === undefined && d.from === this.lastSeq + 1);
    if (open && tail >= open.from) {
      open.to = tail;
      return;
    }
    if (tail === this.lastSeq || this.damage.some((d) => overlaps(d, Math.min(tail, this.lastSeq) + 1, Math.max(tail, this.lastSeq))))
      return;
    if (tail > this.lastSeq)
      this.damage.push({
        from: this.lastSeq + 1,
        to: tail,
        reason: `the last records are gone: the log's tail marker says it ends at seq ${tail}, its records at seq ${this.lastSeq}`,
      });
    else this.damage.push({ from: tail + 1, to: this.lastSeq, reason: `records after the end the log's tail marker gives (seq ${tail})` });
  }

  private legacy(seq: number): boolean {
    return seq < this.framedFrom;
  }
}
