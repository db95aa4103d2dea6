/**
 * Master HA's operations on the log (storage/event-log.ts delegates to them): a standby
 * appends the leader's records byte for byte, the leader reads them back as stored, and a
 * master that must follow another truncates its un-replicated tail or starts again from the
 * leader's snapshot. Each is one LevelDB write, the tail marker with it.
 */
import { ErrorCode, LoadLedgerError } from '../src/errors.js';
import { keySeq, seqKey } from './format.js';
import type { Sub } from './reader.js';
import { encodeMeta } from './record.js';
import { recordStart } from './retention.js';
import type { Bounds, Stores } from './stores.js';

/**
 * Master HA, a standby: appends records exactly as the leader stored them (key = first
 * seq, value = the bytes, whatever the record format), with the tail marker, in one
 * LevelDB write. `ends[i]` is the last seq of record i (the caller decoded and checked it
 * to fold it). The first record continues the log; only a log that holds no record
 * (fresh, or just reset to a snapshot) may take one that starts before its end.
 */
export async function appendRaw(
  s: Stores,
  log: Bounds,
  records: readonly { seq: number; value: Buffer }[],
  ends: readonly number[],
): Promise<void> {
  if (records.length === 0) return;
  const first = records[0]!.seq;
  const empty = log.firstSeq > log.lastSeq;
  if (first !== log.lastSeq + 1 && !(empty && first <= log.lastSeq + 1 && ends[0]! > log.lastSeq)) {
    throw new LoadLedgerError(ErrorCode.LOG_WRITE_FAILED, `replicated record at seq ${first} after ${log.lastSeq} would leave a gap`);
  }
  for (let i = 1; i < records.length; i++) {
    if (records[i]!.seq !== ends[i - 1]! + 1)
      throw new LoadLedgerError(
        ErrorCode.LOG_WRITE_FAILED,
        `replicated record at seq ${records[i]!.seq} after ${ends[i - 1]!} would leave a gap`,
      );
  }
  const last = ends[ends.length - 1]!;
  const ops: { type: 'put'; sublevel: Sub; key: string; value: Buffer }[] = records.map((r) => ({
    type: 'put',
    sublevel: s.ev,
    key: seqKey(r.seq),
    value: r.value,
  }));
  ops.push({ type: 'put', sublevel: s.meta, key: 'tail', value: encodeMeta(last) });
  try {
    await s.db.batch(ops, { sync: s.sync } as object);
  } catch (e) {
    throw new LoadLedgerError(ErrorCode.LOG_WRITE_FAILED, `cannot write to the event log in ${s.dir}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  if (empty) log.firstSeq = first;
  log.lastSeq = last;
}

/** Master HA, the leader: records whose key is ≥ `from`, as stored (key seq and bytes). */
export async function* readRawFrom(s: Stores, from: number): AsyncGenerator<{ seq: number; value: Buffer }[]> {
  const it = s.ev.iterator({ gte: seqKey(from) });
  try {
    for (;;) {
      const entries = await it.nextv(64);
      if (entries.length === 0) return;
      yield entries.map(([key, value]) => ({ seq: keySeq(key), value }));
    }
  } finally {
    await it.close();
  }
}

/** A stored snapshot's bytes as they are (the leader sends them to a standby far behind). */
export async function getRawSnapshot(s: Stores, seq: number): Promise<Buffer | undefined> {
  return s.snap.get(seqKey(seq));
}

/**
 * Master HA: drops every record that holds an event after `seq` (whole records: the log
 * may end a little before `seq`), and the snapshots after the new end. Returns the seqs
 * dropped (empty range: none).
 */
export async function truncateAfter(s: Stores, log: Bounds, seq: number): Promise<{ from: number; to: number }> {
  const to = log.lastSeq;
  const start = seq + 1 <= to ? await recordStart(s, seq + 1) : undefined;
  if (start === undefined) return { from: to + 1, to };
  const keys = await s.ev.keys({ gte: seqKey(start) }).all();
  const snaps = (await log.snapshotSeqs()).filter((n) => n >= start);
  await s.db.batch([
    ...keys.map((key) => ({ type: 'del' as const, key, sublevel: s.ev })),
    ...snaps.map((n) => ({ type: 'del' as const, key: seqKey(n), sublevel: s.snap })),
    { type: 'put' as const, key: 'tail', value: encodeMeta(start - 1), sublevel: s.meta },
  ]);
  log.lastSeq = start - 1;
  if (log.firstSeq > log.lastSeq) log.firstSeq = log.lastSeq + 1;
  return { from: start, to };
}

/**
 * Master HA, a standby too far behind the leader's retention: empties the log and puts
 * the leader's snapshot (its bytes) in its place; the leader's records follow from it.
 */
export async function resetToSnapshot(s: Stores, log: Bounds, seq: number, value: Buffer): Promise<void> {
  const keys = await s.ev.keys().all();
  const snaps = await log.snapshotSeqs();
  await s.db.batch([
    ...keys.map((key) => ({ type: 'del' as const, key, sublevel: s.ev })),
    ...snaps.map((n) => ({ type: 'del' as const, key: seqKey(n), sublevel: s.snap })),
    { type: 'put' as const, key: seqKey(seq), value, sublevel: s.snap },
    { type: 'put' as const, key: 'tail', value: encodeMeta(seq), sublevel: s.meta },
  ]);
  log.lastSeq = seq;
  log.firstSeq = seq + 1;
}
