/**
 * A crashed master's outage is visible in replay (issue 12, item 5): an epoch that ends
 * without MasterStopped gets a MasterCrashed from the next start, with where its evidence
 * ends; `replay --at` a time inside the gap shows the master DOWN (crashed) since the last
 * event before it, and `replay --explain` says the node went DOWN because the master
 * crashed, at that time, not at the restart. The CLI as a user runs it (dist/).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Master } from '../../src/node/master.js';
import type { LedgerEvent } from '../../src/events.js';
import { EventLog } from '../../storage/event-log.js';
import { runCli } from '../helpers/cli.js';
import { Cleanup } from '../helpers/cleanup.js';
import { T0 } from '../helpers/events.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const iso = (ms: number): string => new Date(ms).toISOString();
/** The last event before the kill -9. */
const LAST_AT = T0 + 5_000;
/** The restart, 19 s later. */
const RESTART = LAST_AT + 19_000;

/** An epoch as a master killed with -9 leaves it: started, a slave reporting, then nothing. */
async function crashedLog(): Promise<string> {
  const dir = await cleanup.tempDir('loadledger-crash-gap-');
  const log = await EventLog.open(dir, { create: true });
  const events: LedgerEvent[] = [
    { seq: 1, ts: T0, type: 'MasterStarted', epoch: 1, listen: '127.0.0.1:7400', http: '', pid: 1, helloInterval: 1000, deadAfter: 3000 },
    { seq: 2, ts: T0 + 100, type: 'SlaveConnected', conn: 1, remote: '10.0.0.1:4000' },
    { seq: 3, ts: T0 + 200, type: 'LoadPushed', conn: 1, node: 'gw-a:8080', load: 12, capacity: 1, attrs: {} },
    { seq: 4, ts: LAST_AT, type: 'LoadPushed', conn: 1, node: 'gw-a:8080', load: 14, capacity: 1, attrs: {} },
  ];
  await log.append(events);
  await log.close();
  return dir;
}

async function restart(dir: string): Promise<void> {
  const m = await Master.start({
    data: dir,
    listen: { host: '127.0.0.1', port: 0 },
    http: null,
    helloInterval: 1000,
    deadAfter: 3000,
    maxSlaves: 10,
    clock: () => RESTART,
  });
  await m.stop('done');
}

describe("replay inside a crashed master's outage", () => {
  it('the restart records MasterCrashed with the last seq and time of the epoch before', async () => {
    const dir = await crashedLog();
    await restart(dir);
    const r = await runCli(cleanup, ['replay', '--data', dir, '--events', '--json']);
    expect(r.code).toBe(0);
    const events = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as LedgerEvent);
    expect(events.slice(4).map((e) => e.type)).toEqual(['MasterCrashed', 'MasterStarted', 'MasterStopped']);
    expect(events[4]).toEqual({ seq: 5, ts: RESTART, type: 'MasterCrashed', epoch: 1, lastSeq: 4, lastAt: LAST_AT });
  });

  it('--at a time in the gap: master DOWN (crashed) since the last event, the node DOWN with it', async () => {
    const dir = await crashedLog();
    await restart(dir);
    const r = await runCli(cleanup, ['replay', '--data', dir, '--at', iso(LAST_AT + 7_000)]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^seq 5  master DOWN \\(crashed\\) epoch 1 since ${iso(LAST_AT).replace(/\./g, '\\.')}`));
    expect(r.stdout).toMatch(/gw-a:8080\s+DOWN/);
    const j = await runCli(cleanup, ['replay', '--data', dir, '--at', iso(LAST_AT + 7_000), '--json']);
    expect(JSON.parse(j.stdout)).toMatchObject({
      seq: 5,
      master: { state: 'DOWN', since: LAST_AT, reason: 'crashed' },
      nodes: [{ id: 'gw-a:8080', state: 'DOWN', since: LAST_AT }],
    });
    // at the last event itself the master was still up; after the restart it is up again
    expect((await runCli(cleanup, ['replay', '--data', dir, '--at', iso(LAST_AT), '--json'])).stdout).toMatch(/"state": "UP_LISTENING"/);
    expect(JSON.parse((await runCli(cleanup, ['replay', '--data', dir, '--at', '6', '--json'])).stdout).master).toMatchObject({
      state: 'UP_LISTENING',
      epoch: 2,
    });
  });

  it('--explain NODE --at a time in the gap says the master crashed, dated at its last event', async () => {
    const dir = await crashedLog();
    await restart(dir);
    const r = await runCli(cleanup, ['replay', '--data', dir, '--explain', 'gw-a:8080', '--at', iso(LAST_AT + 7_000)]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`gw-a:8080 at seq 5 (${iso(RESTART)}): DOWN since ${iso(LAST_AT).slice(11, 23)}`);
    expect(r.stdout).toContain('why: master crashed (its last event: seq 4)');
    expect(r.stdout).toContain(
      `${iso(LAST_AT).slice(11, 23)} PUSH_LOAD_INFO → DOWN: master crashed: its last event was seq 4 at ${iso(LAST_AT).slice(11, 23)}, the next start came at ${iso(RESTART).slice(11, 23)}`,
    );
  });
});
