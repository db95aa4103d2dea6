/**
 * Retention on the log (storage/event-log.ts delegates to it): whole records are deleted
 * from the oldest end in bounded slices, snapshots that can no longer serve as a base go
 * with them, and the seq replay can start from is found again.
 */
import { corruptError } from './damage.js';
import { keySeq, seqKey } from './format.js';
import { RecordDamage, eventCount } from './record.js';
import type { Bounds, Stores } from './stores.js';

/**
 * Retention: deletes the records whose events all have seq < `seq` (whole records only,
 * so the log may keep a few events more), then the snapshots that can no longer serve as
 * a base, and compacts the deleted range so the disk space really comes back. Deletes in
 * slices of 256 records, each its own write, so appends are never held up for long.
 * `firstSeq` moves before each slice goes, so that a reader starting meanwhile is told the
 * events were retained away, not that they are missing. Returns the number of events deleted.
 */
export async function deleteBefore(s: Stores, log: Bounds, seq: number): Promise<number> {
  let deleted = 0;
  let lastDeletedKey: string | undefined;
  for (;;) {
    const keys = await s.ev.keys({ lt: seqKey(seq), limit: 257 }).all();
    if (keys.length === 0) break;
    const doomed: string[] = [];
    for (let i = 0; i < keys.length && doomed.length < 256; i++) {
      const next = keys[i + 1];
      const end = next !== undefined ? keySeq(next) - 1 : await recordEnd(s, log, keys[i]!);
      if (end >= seq) break;
      doomed.push(keys[i]!);
      deleted += end - keySeq(keys[i]!) + 1;
    }
    if (doomed.length === 0) break;
    const [after] = await s.ev.keys({ gt: doomed[doomed.length - 1]!, limit: 1 }).all();
    log.firstSeq = after !== undefined ? keySeq(after) : log.lastSeq + 1;
    await s.ev.batch(doomed.map((key) => ({ type: 'del' as const, key })));
    lastDeletedKey = doomed[doomed.length - 1];
    if (doomed.length < 256) break;
  }
  const [first] = await s.ev.keys({ limit: 1 }).all();
  log.firstSeq = first !== undefined ? keySeq(first) : log.lastSeq + 1;
  // Snapshots older than the one replay of what is left starts from serve nothing.
  const base = await replayBaseSeq(log);
  const old = base === undefined ? [] : (await log.snapshotSeqs()).filter((n) => n < base);
  if (old.length > 0) await s.snap.batch(old.map((n) => ({ type: 'del' as const, key: seqKey(n) })));
  if (lastDeletedKey !== undefined) {
    const db = s.db as unknown as { compactRange?: (a: string, b: string) => Promise<void> };
    await db.compactRange?.('!ev!', `!ev!${lastDeletedKey}`).catch(() => {});
  }
  return deleted;
}

/** Drops the oldest snapshots beyond the newest `keep` (bounded disk without retention). */
export async function pruneSnapshots(s: Stores, log: Bounds, keep: number): Promise<void> {
  const snaps = await log.snapshotSeqs();
  if (snaps.length <= keep) return;
  // Never drop the base of the oldest retained events.
  const base = await replayBaseSeq(log);
  const doomed = snaps.slice(0, snaps.length - keep).filter((n) => n !== base);
  if (doomed.length > 0) await s.snap.batch(doomed.map((n) => ({ type: 'del' as const, key: seqKey(n) })));
}

/**
 * The seq replay of this log can start from: 0 while it still begins at seq 1; after
 * retention, the first snapshot that leaves no gap before the remaining events
 * (undefined when there is none: the remaining events cannot be replayed).
 */
export async function replayBaseSeq(log: Bounds): Promise<number | undefined> {
  if (log.firstSeq <= 1) return 0;
  return (await log.snapshotSeqs()).find((n) => n >= log.firstSeq - 1);
}

/** The first seq of the record that holds `seq` (records are deleted whole). */
export async function recordStart(s: Stores, seq: number): Promise<number | undefined> {
  const [key] = await s.ev.keys({ lte: seqKey(seq), reverse: true, limit: 1 }).all();
  return key === undefined ? undefined : keySeq(key);
}

async function recordEnd(s: Stores, log: Bounds, key: string): Promise<number> {
  const value = await s.ev.get(key);
  if (value === undefined) return keySeq(key) - 1;
  try {
    return keySeq(key) + eventCount(value, keySeq(key), log.legacy(keySeq(key))) - 1;
  } catch (e) {
    if (e instanceof RecordDamage) throw corruptError(log.label, { from: keySeq(key), reason: e.message });
    throw e;
  }
}
