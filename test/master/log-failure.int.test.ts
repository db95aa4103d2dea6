/**
 * The log stops taking writes (disk full, I/O error), through a storage layer that fails
 * on demand around a real LevelDB log: the master never answers from a table it can no
 * longer extend, says so on /healthz, /v1/state and least-loaded, and recovers when writes
 * succeed again, with the outage recorded; or gives up and stops.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { LedgerEvent } from '../../src/events.js';
import type { HealthChange, Master } from '../../src/node/master.js';
import { stateDocument } from '../../src/projection/document.js';
import { foldEvents } from '../../src/projection/evolve.js';
import { createProjection } from '../../src/projection/state.js';
import { Cleanup } from '../helpers/cleanup.js';
import { faultyStorage } from '../helpers/faulty-storage.js';
import { api, connOf, logEvents, slavePort, startMaster } from '../helpers/master.js';
import { RawClient } from '../helpers/net.js';
import { waitFor } from '../helpers/wait.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const SLOW = { helloInterval: 10_000, deadAfter: 20_000 } as const;

function healthOf(master: Master): HealthChange[] {
  const seen: HealthChange[] = [];
  const sub = master.health$.subscribe((h) => seen.push(h));
  cleanup.defer('health$', () => sub.unsubscribe());
  return seen;
}

async function slave(master: Master, addr: string, load: number): Promise<{ cl: RawClient; conn: number }> {
  const cl = await RawClient.connect(slavePort(master), { answerHello: true });
  cleanup.defer(`client ${addr}`, () => cl.destroy());
  const conn = await connOf(master, cl);
  cl.push({ addr, load });
  await waitFor(() => master.projection.nodes.get(addr)?.conn === conn, { what: `${addr} to push` });
  return { cl, conn };
}

function freshFold(events: LedgerEvent[]) {
  return stateDocument(foldEvents(createProjection(), events));
}

describe('a log that stops taking writes', () => {
  it('DOWN for clients at once, no ACK for what was not written, recovery with the outage recorded', async () => {
    const { disk, openLog } = faultyStorage();
    const master = await startMaster(cleanup, { ...SLOW, openLog, logRetryInterval: 50, logRetryFor: 0 });
    const health = healthOf(master);
    const a = await slave(master, 'a:1', 10);
    await slave(master, 'b:1', 20);
    a.cl.hello();
    await waitFor(() => a.cl.count('HELLO_ACK') === 1, { what: 'the first ACK' });
    expect((await api(master, '/v1/least-loaded')).body.id).toBe('a:1');
    const seqBefore = master.projection.seq;

    disk.full = true;
    const t0 = Date.now();
    a.cl.hello();
    await waitFor(() => master.degraded, { what: 'the master to notice' });
    await a.cl.waitClosed(); // no connection stays open on a master that cannot log
    expect(a.cl.count('HELLO_ACK')).toBe(1); // the HELLO that could not be logged is not answered
    expect(master.projection.seq).toBe(seqBefore); // nothing unwritten took effect

    const hz = await api(master, '/healthz');
    expect(hz.status).toBe(503);
    expect(hz.body).toMatchObject({ status: 'unavailable', master: 'DOWN', code: 'MASTER_DOWN' });
    expect(hz.body.reason).toMatch(/ENOSPC/);
    const ll = await api(master, '/v1/least-loaded');
    expect(ll.status).toBe(503);
    expect(ll.body.code).toBe('MASTER_DOWN');
    const st = await api(master, '/v1/state');
    expect(st.body.master.state).toBe('DOWN');
    expect(st.body.master.reason).toMatch(/cannot write its event log/);
    const metrics = await fetch(`http://127.0.0.1:${master.addresses.http!.port}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/^loadledger_log_writable 0$/m);

    // A slave that connects now is closed at once; it never gets a connection number.
    const late = await RawClient.connect(slavePort(master));
    cleanup.defer('late', () => late.destroy());
    await late.waitClosed();
    await waitFor(() => disk.failures >= 2, { what: 'a retry that fails too' });
    expect(master.degraded).toBeDefined();

    disk.full = false;
    await waitFor(() => !master.degraded, { what: 'recovery', timeout: 3000 });
    expect(health.map((h) => h.type)).toEqual(expect.arrayContaining(['degraded', 'retry-failed', 'recovered']));
    expect(health[0]!.type).toBe('degraded');
    expect(health.at(-1)!.type).toBe('recovered');
    expect(disk.opens).toBeGreaterThanOrEqual(2); // LevelDB is reopened, not trusted after an error

    const events = await logEvents(master);
    const tail = events.filter((e) => e.seq > seqBefore);
    expect(tail.map((e) => e.type)).toEqual(['MasterStopped', 'MasterStarted']);
    const stopped = tail[0] as Extract<LedgerEvent, { type: 'MasterStopped' }>;
    expect(stopped.reason).toMatch(/^event log write failed: .*ENOSPC/);
    expect(stopped.since).toBeGreaterThanOrEqual(t0);
    expect(stopped.since).toBeLessThanOrEqual(stopped.ts);
    expect(tail[1]).toMatchObject({ epoch: 2 });
    // the outage as the log tells it: DOWN from the failure, nodes DOWN with the reason
    const folded = freshFold(events);
    expect(folded.master).toEqual({ state: 'UP_LISTENING', epoch: 2, since: tail[1]!.ts });
    expect(folded.nodes.map((n) => [n.id, n.state, n.since])).toEqual([
      ['a:1', 'DOWN', stopped.since],
      ['b:1', 'DOWN', stopped.since],
    ]);
    expect(stateDocument(master.projection)).toEqual(folded);
    expect((await api(master, '/healthz')).status).toBe(200);

    // Slaves come back; answers resume.
    await slave(master, 'c:1', 5);
    const back = await api(master, '/v1/least-loaded');
    expect(back.status).toBe(200);
    expect(back.body.id).toBe('c:1');
  });

  it('a write that reached the disk but reported an error: the table is rebuilt from the log, never kept from before', async () => {
    const { disk, openLog } = faultyStorage();
    const master = await startMaster(cleanup, { ...SLOW, openLog, logRetryInterval: 20, logRetryFor: 0 });
    const a = await slave(master, 'a:1', 10);
    disk.writeThenFail = true;
    a.cl.push({ addr: 'a:1', load: 99 });
    await waitFor(() => master.degraded, { what: 'the failure' });
    expect(master.projection.nodes.get('a:1')?.load).toBe(10); // not applied: the write "failed"
    await waitFor(() => !master.degraded, { what: 'recovery' });
    const events = await logEvents(master);
    // the push is in the log after all; the rebuilt table has it, and equals a fresh fold
    expect(events.some((e) => e.type === 'LoadPushed' && e.load === 99)).toBe(true);
    expect(master.projection.nodes.get('a:1')).toMatchObject({ load: 99, state: 'DOWN' });
    expect(stateDocument(master.projection)).toEqual(freshFold(events));
    expect(a.cl.closed).toBe(true);
  });

  it('gives up after --log-retry-for: the master stops itself (the CLI then exits 1)', async () => {
    const { disk, openLog } = faultyStorage();
    const master = await startMaster(cleanup, { ...SLOW, openLog, logRetryInterval: 20, logRetryFor: 150 });
    const health = healthOf(master);
    const a = await slave(master, 'a:1', 10);
    disk.full = true;
    a.cl.hello();
    await waitFor(() => health.some((h) => h.type === 'gave-up'), { what: 'giving up', timeout: 3000 });
    const gaveUp = health.find((h) => h.type === 'gave-up') as Extract<HealthChange, { type: 'gave-up' }>;
    expect(gaveUp.downMs).toBeGreaterThanOrEqual(150);
    expect(gaveUp.error.message).toMatch(/ENOSPC/);
    await waitFor(
      async () =>
        await fetch(`http://127.0.0.1:${master.addresses.http!.port}/healthz`).then(
          () => false,
          () => true,
        ),
      { what: 'the HTTP API to close' },
    );
  });

  it('a failure while starting is a failed start (exit 1), not a master that never took a write', async () => {
    const { disk, openLog } = faultyStorage();
    disk.full = true;
    const data = await cleanup.tempDir();
    await expect(startMaster(cleanup, { data, openLog })).rejects.toMatchObject({ code: 'LOG_WRITE_FAILED' });
    disk.full = false;
    const m = await startMaster(cleanup, { data, openLog }); // the lock was released
    expect(m.projection.master).toMatchObject({ state: 'UP_LISTENING', epoch: 1 });
  });
});
