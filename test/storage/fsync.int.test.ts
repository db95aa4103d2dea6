/**
 * --fsync: every group commit is one LevelDB batch written with `sync: true`, and the
 * master's effects (the HELLO_ACK) run only after that write returned. (Power loss itself
 * cannot be tested here; what can be is that the sync is asked for on every write, and
 * that nothing waits on the write's far side.)
 */
import { afterEach, expect, it } from 'vitest';
import { EventLog } from '../../storage/event-log.js';
import { Cleanup } from '../helpers/cleanup.js';
import { connOf, rawClient, startMaster } from '../helpers/master.js';
import { waitFor } from '../helpers/wait.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** Opens a real log and records the options of every LevelDB batch it writes. */
function spyingOpen(writes: Array<{ events: number; sync: unknown; done: boolean }>) {
  return async (dir: string, o: Parameters<typeof EventLog.open>[1]) => {
    const log = await EventLog.open(dir, o);
    // One LevelDB write per group commit: the records and the tail marker (storage/event-log.ts).
    const db = (log as unknown as { db: { batch: (ops: unknown[], opts: { sync?: boolean }) => Promise<void> } }).db;
    const batch = db.batch.bind(db);
    db.batch = async (ops, opts) => {
      const w = { events: ops.length, sync: opts?.sync, done: false };
      writes.push(w);
      await batch(ops, opts);
      w.done = true;
    };
    return log;
  };
}

it.each([
  { fsync: true, expected: true },
  { fsync: false, expected: false },
])('sync: $fsync → every batch is written with sync $expected, and an ACK waits for its write', async ({ fsync, expected }) => {
  const writes: Array<{ events: number; sync: unknown; done: boolean }> = [];
  const master = await startMaster(cleanup, { sync: fsync, openLog: spyingOpen(writes), helloInterval: 10_000, deadAfter: 20_000 });
  const cl = await rawClient(cleanup, master);
  await connOf(master, cl);
  let writesAtAck = -1;
  cl.socket.on('data', () => {
    if (writesAtAck < 0) writesAtAck = writes.filter((w) => w.done).length;
  });
  const before = writes.length;
  cl.hello();
  await waitFor(() => cl.count('HELLO_ACK') === 1, { what: 'the ACK' });
  expect(writes.length).toBeGreaterThan(before);
  expect(writes.every((w) => w.sync === expected)).toBe(true);
  expect(writesAtAck).toBeGreaterThan(before); // the write holding the HELLO had returned before the ACK arrived
});
