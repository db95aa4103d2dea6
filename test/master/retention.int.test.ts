/**
 * Retention on a real LevelDB under steady load: old events go in the background, a
 * snapshot stays at the new start of the log, replay still works from there, and the
 * disk use stays bounded instead of growing with the number of events.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { stateAt } from '../../replay/fold.js';
import { openDataSource } from '../../replay/source.js';
import { HELLO_FRAME } from '../../src/protocol/encoder.js';
import { stateDocument } from '../../src/projection/document.js';
import { Cleanup } from '../helpers/cleanup.js';
import { startMaster } from '../helpers/master.js';
import { RawClient } from '../helpers/net.js';
import { waitFor } from '../helpers/wait.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

function dirBytes(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) {
    const st = statSync(join(dir, name));
    if (st.isFile()) total += st.size;
  }
  return total;
}

describe('retention', () => {
  it('keeps disk use bounded under steady load, with replay still exact from the new start', async () => {
    const dir = await cleanup.tempDir('loadledger-retention-');
    const master = await startMaster(cleanup, {
      data: dir,
      helloInterval: 60_000,
      deadAfter: 60_000,
      retainEvents: 20_000,
      retentionInterval: 50,
      maxFrameRate: 0, // steady load from a few connections as fast as they go
      snapshotEvery: 10_000,
    });
    const client = await RawClient.connect(master.addresses.listen.port);
    cleanup.defer('client', () => client.destroy());
    client.push({ addr: '10.0.0.5:8080', load: 1 });
    // Steady load: bursts of 5,000 HELLOs (10,000 events each: HelloReceived + HelloAckSent).
    const burst = Buffer.concat(Array.from({ length: 5000 }, () => HELLO_FRAME));
    const sizes: number[] = [];
    let acked = 0;
    for (let round = 1; round <= 60; round++) {
      client.send(burst);
      acked += 5000;
      await waitFor(() => client.count('HELLO_ACK') >= acked, { timeout: 10_000, what: `round ${round} acknowledged` });
      if (round % 10 === 0) {
        await master.applyRetention(); // may join a run that started earlier…
        await master.applyRetention(); // …so run once more with the current end
        sizes.push(dirBytes(dir));
      }
    }
    const last = master.projection.seq;
    expect(last).toBeGreaterThan(600_000);
    // Without retention 600k events take ~12 MB here; with it the log stays near the
    // LevelDB write buffer (4 MB) plus what is retained, and does not grow round over round.
    const [first, ...rest] = sizes;
    for (const s of rest) expect(s).toBeLessThan(Math.max(first! * 1.5, 8 * 1024 * 1024));
    expect(master.log.firstSeq).toBeGreaterThan(last - 25_000);
    // The cutoff is aligned to a record: the snapshot sits exactly before the first event.
    expect(await master.log.replayBaseSeq()).toBe(master.log.firstSeq - 1);
    // However many snapshots come after it, pruning never drops that base.
    for (let i = 0; i < 40; i++) await master.snapshot();
    expect(await master.log.replayBaseSeq()).toBe(master.log.firstSeq - 1);

    const dirFirst = master.log.firstSeq;
    await master.stop('test');
    const source = await openDataSource(dir);
    cleanup.defer('source', () => source.close());
    expect(source.firstSeq).toBeGreaterThan(1);
    expect(source.firstSeq).toBe(dirFirst);
    // The oldest point still answerable replays to the right state, and older ones are refused.
    const state = stateDocument(await stateAt(source, source.firstSeq));
    expect(state.nodes.map((n) => [n.id, n.load])).toEqual([['10.0.0.5:8080', 1]]);
    await expect(source.base(1)).rejects.toMatchObject({ code: 'SEQ_OUT_OF_RANGE' });
  }, 60_000);

  it('by age: events older than --retain are deleted, a snapshot stays before the new start', async () => {
    let now = Date.UTC(2026, 10, 24, 3, 0, 0);
    const dir = await cleanup.tempDir('loadledger-retention-age-');
    const master = await startMaster(cleanup, {
      data: dir,
      clock: () => now,
      helloInterval: 60_000,
      deadAfter: 60_000,
      retain: 60_000,
      retentionInterval: 60_000,
    });
    const client = await RawClient.connect(master.addresses.listen.port);
    cleanup.defer('client', () => client.destroy());
    const burst = Buffer.concat(Array.from({ length: 2000 }, () => HELLO_FRAME));
    client.push({ addr: '10.0.0.7:80', load: 5 });
    client.send(burst);
    await waitFor(() => client.count('HELLO_ACK') >= 2000);
    const oldLast = master.projection.seq;
    now += 120_000; // two minutes later: everything so far is older than --retain 1m
    client.push({ addr: '10.0.0.7:80', load: 6 });
    client.send(burst);
    await waitFor(() => client.count('HELLO_ACK') >= 4000);
    await master.applyRetention();
    expect(master.log.firstSeq).toBeGreaterThan(1);
    expect(master.log.firstSeq).toBeLessThanOrEqual(oldLast + 1);
    const snaps = await master.log.snapshotSeqs();
    expect(snaps.some((s) => s >= master.log.firstSeq - 1 && s <= oldLast)).toBe(true);
  });
});
