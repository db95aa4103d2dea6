/**
 * A log in format 1, as loadledger wrote it before records had checksums (storage/format.ts
 * before format 2): meta 'format' → 1, each record a plain msgpack array of up to 512
 * events under its first seq, snapshots plain msgpack. Written through LevelDB directly,
 * byte for byte what the old EventLog.append and putSnapshot stored.
 */
import { Level } from 'level';
import type { LedgerEvent } from '../../src/events.js';
import type { ProjectionSnapshot } from '../../src/projection/snapshot.js';
import { logPackr, seqKey } from '../../storage/format.js';

export async function writeLegacyLog(
  dir: string,
  events: readonly LedgerEvent[],
  snapshots: readonly ProjectionSnapshot[] = [],
  recordEvents = 512,
): Promise<void> {
  const db = new Level<string, Buffer>(dir, { keyEncoding: 'utf8', valueEncoding: 'buffer' });
  await db.open();
  try {
    const sub = (name: string) => db.sublevel<string, Buffer>(name, { keyEncoding: 'utf8', valueEncoding: 'buffer' });
    await sub('meta').batch([
      { type: 'put', key: 'format', value: logPackr.pack(1) },
      { type: 'put', key: 'created', value: logPackr.pack(1_700_000_000_000) },
    ]);
    const ev = sub('ev');
    for (let i = 0; i < events.length; i += recordEvents) {
      const chunk = events.slice(i, i + recordEvents);
      await ev.put(seqKey(chunk[0]!.seq), logPackr.pack(chunk));
    }
    for (const s of snapshots) await sub('snap').put(seqKey(s.seq), logPackr.pack(s));
  } finally {
    await db.close();
  }
}
