import type { AbstractSublevel } from 'abstract-level';
import type { Level } from 'level';
import { ErrorCode, LoadLedgerError } from '../src/errors.js';
import type { LedgerEvent } from '../src/events.js';
import { corruptError, isLevelCorruption } from './damage.js';
import { keySeq, seqKey } from './format.js';
import { RecordDamage } from './record.js';

export type Sub = AbstractSublevel<Level<string, Buffer>, string | Buffer | Uint8Array, string, Buffer>;

/** The highest seq a key can hold exactly (16 digits). */
const MAX_SEQ = Number.MAX_SAFE_INTEGER;

export interface CheckedRead {
  dir: string;
  from: number;
  to: number;
  /** Where the iterator starts: the record holding `from` starts at or after it. */
  floor: number;
  firstSeq: () => number;
  lastSeq: () => number;
  decode: (seq: number, value: Buffer) => LedgerEvent[];
}

/**
 * The events with from ≤ seq ≤ to, from one LevelDB iterator (one consistent view), every
 * record decoded and checked, and each one starting where the one before ended. A record
 * that does not check, a gap, an overlap, or a block LevelDB cannot read is LOG_CORRUPT
 * naming the seqs; events before the oldest retained one are SEQ_OUT_OF_RANGE.
 */
export async function* readChecked(ev: Sub, r: CheckedRead): AsyncGenerator<LedgerEvent[]> {
  const { dir, from, to } = r;
  const it = ev.iterator({ gte: seqKey(r.floor), lte: seqKey(to) });
  /** The next seq a record must start at, once the record holding `from` was read. */
  let expected: number | undefined;
  let lastKey: string | undefined;
  // Read ahead: LevelDB fetches the next slice on its thread while we decode this one.
  let next = ahead(it.nextv(64));
  try {
    for (;;) {
      let entries: [string, Buffer][];
      try {
        entries = await next;
      } catch (e) {
        if (!isLevelCorruption(e)) throw e;
        // The slice that failed may hold readable records before the part that does not read.
        const good = await lastReadable(ev, lastKey ?? seqKey(Math.max(0, r.floor - 1)), r);
        const start = good ?? { key: lastKey, end: (expected ?? from) - 1 };
        const after = await probePast(ev, start.key);
        const at = Math.max(start.end + 1, expected ?? from);
        throw corruptError(
          dir,
          {
            from: at,
            ...(after !== undefined ? { to: Math.max(at, after - 1) } : {}),
            reason: `LevelDB cannot read these records (${(e as Error).message})`,
          },
          e,
        );
      }
      if (entries.length === 0) break;
      next = ahead(it.nextv(64));
      for (const [key, value] of entries) {
        const seq = keySeq(key);
        lastKey = key;
        let events: LedgerEvent[];
        try {
          events = r.decode(seq, value);
        } catch (e) {
          if (!(e instanceof RecordDamage)) throw e;
          const after = await nextKey(ev, key);
          throw corruptError(dir, { from: seq, to: (after ?? r.lastSeq() + 1) - 1, reason: `the record at seq ${seq}: ${e.message}` });
        }
        const tail = seq + events.length - 1;
        if (expected === undefined) {
          if (tail < from) continue;
          if (seq > from) throw missing(dir, from, seq - 1, r);
        } else if (seq > expected) {
          throw missing(dir, expected, seq - 1, r);
        } else if (seq < expected) {
          throw corruptError(dir, {
            from: seq,
            to: expected - 1,
            reason: `recorded twice (the record at seq ${seq} overlaps the one before it)`,
          });
        }
        expected = tail + 1;
        yield seq < from || tail > to ? events.filter((e) => e.seq >= from && e.seq <= to) : events;
        if (tail >= to) return;
      }
    }
    // The records ended before `to`: what should follow is missing (unless the log ends sooner).
    const end = Math.min(to, r.lastSeq());
    const at = expected ?? from;
    if (at <= end) {
      const after = await nextKey(ev, seqKey(to));
      throw missing(dir, at, after !== undefined ? after - 1 : end, r);
    }
  } finally {
    await next.catch(() => {});
    await it.close();
  }
}

/** The last record after `after` that LevelDB reads, one at a time, and the seq it ends at. */
async function lastReadable(ev: Sub, after: string, r: CheckedRead): Promise<{ key: string; end: number } | undefined> {
  const it = ev.iterator({ gt: after });
  let good: { key: string; end: number } | undefined;
  try {
    for (;;) {
      const [entry] = await it.nextv(1);
      if (!entry) return good;
      const seq = keySeq(entry[0]);
      let n: number;
      try {
        n = r.decode(seq, entry[1]).length;
      } catch {
        return good;
      }
      good = { key: entry[0], end: seq + n - 1 };
    }
  } catch {
    return good;
  } finally {
    await it.close();
  }
}

function missing(dir: string, from: number, to: number, r: CheckedRead): LoadLedgerError {
  if (from < r.firstSeq()) {
    return new LoadLedgerError(
      ErrorCode.SEQ_OUT_OF_RANGE,
      `${dir}: seq ${from} is before the oldest event retained (seq ${r.firstSeq()}; events removed by retention)`,
    );
  }
  return corruptError(dir, { from, to, reason: 'missing: no record holds them' });
}

async function nextKey(ev: Sub, after: string): Promise<number | undefined> {
  try {
    const [k] = await ev.keys({ gt: after, limit: 1 }).all();
    return k === undefined ? undefined : keySeq(k);
  } catch {
    return undefined;
  }
}

async function readableFrom(ev: Sub, seq: number): Promise<number | undefined | null> {
  try {
    const [k] = await ev.keys({ gte: seqKey(seq), limit: 1 }).all();
    return k === undefined ? null : keySeq(k);
  } catch (e) {
    if (!isLevelCorruption(e)) throw e;
    return undefined;
  }
}

/**
 * The first key LevelDB can read after `after` (a key, or the start when undefined), when a
 * read fails there: seeks further and further on until one succeeds, then narrows down to
 * the first seq from which it does. Undefined when nothing after it can be read.
 */
export async function probePast(ev: Sub, after: string | undefined): Promise<number | undefined> {
  const start = after === undefined ? 0 : keySeq(after) + 1;
  let bad = start;
  let step = 1;
  let good: number | undefined;
  let found: number | null | undefined;
  for (;;) {
    const at = Math.min(start + step, MAX_SEQ);
    found = await readableFrom(ev, at);
    if (found !== undefined) {
      good = at;
      break;
    }
    bad = at;
    if (at === MAX_SEQ) return undefined;
    step *= 2;
  }
  // bad fails, good succeeds: the first seq that succeeds is in (bad, good].
  while (good - bad > 1) {
    const mid = Math.floor((bad + good) / 2);
    const f = await readableFrom(ev, mid);
    if (f === undefined) bad = mid;
    else {
      good = mid;
      found = f;
    }
  }
  return found ?? undefined;
}

/** Every key LevelDB can read, and the stretches between them it cannot. */
export async function scanKeys(
  ev: Sub,
): Promise<{ keys: number[]; unreadable: { after: number | undefined; before: number | undefined }[] }> {
  const keys: number[] = [];
  const unreadable: { after: number | undefined; before: number | undefined }[] = [];
  let after: string | undefined;
  for (;;) {
    const it = ev.keys(after === undefined ? {} : { gt: after });
    try {
      for (;;) {
        const batch = await it.nextv(1000);
        if (batch.length === 0) return { keys, unreadable };
        for (const k of batch) keys.push(keySeq(k));
        after = batch[batch.length - 1];
      }
    } catch (e) {
      if (!isLevelCorruption(e)) throw e;
      const before = await probePast(ev, after);
      unreadable.push({ after: after === undefined ? undefined : keySeq(after), before });
      if (before === undefined) return { keys, unreadable };
      after = seqKey(before - 1);
    } finally {
      await it.close();
    }
  }
}

/** A record as stored (for verify), or a part LevelDB cannot read, from the seq after the last key read. */
export type StoredRecord = { seq: number; value: Buffer } | { seq: number; damage: string; next: number | undefined };

/**
 * Every record as stored, with its key's seq, undecoded: for `verify`, which must see a
 * record that does not decode and go on to the next rather than stop at the first. A part
 * LevelDB cannot read comes as `damage`, and the walk goes on after it.
 */
export async function* readRecords(ev: Sub, firstSeq: number): AsyncGenerator<StoredRecord[]> {
  let after: string | undefined;
  for (;;) {
    const it = ev.iterator(after === undefined ? {} : { gt: after });
    // Read ahead: LevelDB fetches the next slice on its thread while the caller works on this one.
    let next = ahead(it.nextv(64));
    try {
      for (;;) {
        const entries = await next;
        if (entries.length === 0) return;
        next = ahead(it.nextv(64));
        after = entries[entries.length - 1]![0];
        yield entries.map(([key, value]) => ({ seq: keySeq(key), value }));
      }
    } catch (e) {
      if (!isLevelCorruption(e)) throw e;
      // The slice that failed may hold records that read: one at a time up to the part that does not.
      const one = ev.iterator(after === undefined ? {} : { gt: after });
      try {
        for (;;) {
          const [entry] = await one.nextv(1);
          if (!entry) break;
          after = entry[0];
          yield [{ seq: keySeq(entry[0]), value: entry[1] }];
        }
      } catch {
        // here it is
      } finally {
        await one.close();
      }
      const nextKey = await probePast(ev, after);
      yield [{ seq: after === undefined ? firstSeq : keySeq(after), damage: (e as Error).message, next: nextKey }];
      if (nextKey === undefined) return;
      after = seqKey(nextKey - 1);
    } finally {
      await next.catch(() => {});
      await it.close();
    }
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
