import type { Level } from 'level';
import type { Sub } from './reader.js';

/**
 * What the log's parts share: the LevelDB handle, its three sublevels (records, snapshots,
 * meta) and the write options, plus the bounds they keep current. EventLog owns it; the
 * retention and replica operations (storage/retention.ts, storage/replica.ts) work on it so
 * that the log's API stays in one class without one file holding every operation.
 */
export interface Stores {
  readonly dir: string;
  readonly db: Level<string, Buffer>;
  readonly ev: Sub;
  readonly snap: Sub;
  readonly meta: Sub;
  readonly sync: boolean;
}

/** The log's bounds and naming, as the operations read and move them. */
export interface Bounds {
  firstSeq: number;
  lastSeq: number;
  readonly label: string;
  /** Format 1 record (no checksum) at this seq. */
  legacy(seq: number): boolean;
  snapshotSeqs(): Promise<number[]>;
}
