/**
 * Retention and snapshot pruning running at the same time: the snapshot retention makes at
 * its cutoff is the base of what it leaves, and must survive a periodic snapshot (which
 * prunes the oldest beyond the newest N) landing while retention still deletes. Found by
 * `npm run soak`: `verify` showed retained events that no replay could reach.
 */
import { afterEach, expect, it } from 'vitest';
import { verifyEventLog } from '../../replay/verify.js';
import { Cleanup } from '../helpers/cleanup.js';
import { startMaster } from '../helpers/master.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

it('a snapshot taken while retention deletes does not prune the snapshot retention just made', async () => {
  const master = await startMaster(cleanup, {
    snapshotEvery: 0,
    snapshotInterval: 0,
    retainEvents: 300,
    retentionInterval: 3_600_000,
    maxSnapshots: 2,
  });
  for (let r = 0; r < 10; r++) {
    for (let i = 0; i < 100; i++) master.recorder.record({ type: 'SlaveRefused', remote: `10.0.0.${r}:${i}`, reason: 'test' });
    await master.recorder.flush();
    await master.snapshot(); // keeps the newest 2
  }
  const log = master.log;
  const deleteBefore = log.deleteBefore.bind(log);
  // A periodic snapshot lands after retention wrote its snapshot, before the deletes are done.
  log.deleteBefore = async (seq) => {
    await master.snapshot();
    return deleteBefore(seq);
  };
  await master.applyRetention();
  expect(log.firstSeq).toBeGreaterThan(1);
  expect(await log.replayBaseSeq()).toBe(log.firstSeq - 1);
  const r = await verifyEventLog(log);
  expect(r).toMatchObject({ ok: true, unreplayable: 0, baseSeq: log.firstSeq - 1 });
});
