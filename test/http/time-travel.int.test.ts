/**
 * Time travel over HTTP (issue 15): `/v1/state?at=POINT` on a real master (real TCP, real
 * LevelDB) with a pinned wall clock, so the points are the ones an operator would type.
 * Its answers are checked against the live /v1/state taken at each moment, and against
 * replay's library (`replay --at`) on the same data dir once the master has stopped.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { foldTo } from '../../replay/fold.js';
import { openDataSource } from '../../replay/source.js';
import { resolvePoint } from '../../replay/time.js';
import { AdminToken } from '../../src/http/auth.js';
import { TimeTravelGate } from '../../src/http/time-travel.js';
import type { Master } from '../../src/node/master.js';
import { stateDocument, type StateDocument } from '../../src/projection/document.js';
import { Cleanup } from '../helpers/cleanup.js';
import { api, httpBase, startMaster, waitForEvent } from '../helpers/master.js';
import { RawClient } from '../helpers/net.js';
import { waitFor } from '../helpers/wait.js';

const A = '10.0.0.5:8080';
const B = '10.0.0.6:8080';
const at = (hms: string): number => Date.parse(`2026-11-24T${hms}Z`);

const cleanup = new Cleanup();
let dir: string;
let master: Master;
/** The live /v1/state document after each step, by name. */
const live: Record<string, StateDocument> = {};

async function mark(name: string): Promise<void> {
  const r = await api<StateDocument>(master, '/v1/state');
  expect(r.status).toBe(200);
  live[name] = r.body;
}

/**
 * 03:10:00 A pushes 87 · A HELLOs at 03:12:01.119 and times out (03:12:04.120) · 03:13:00
 * B joins with 20 · 03:14:00 A reconnects with 40 · 03:15:00 a restarted A supersedes it
 * with 35, B goes to 60. Snapshots every 5 events, so points fall before, on and after them.
 */
beforeAll(async () => {
  let now = at('03:10:00.000');
  dir = await cleanup.tempDir('loadledger-tt-');
  master = await startMaster(cleanup, { data: dir, clock: () => now, snapshotEvery: 5, helloInterval: 10_000, deadAfter: 300 });
  const port = master.addresses.listen.port;
  await mark('start');
  const a1 = await RawClient.connect(port);
  cleanup.defer('a1', () => a1.destroy());
  a1.push({ addr: A, load: 87 });
  await waitFor(() => master.projection.nodes.get(A)?.state === 'PUSH_LOAD_INFO');
  await mark('aUp');
  now = at('03:12:01.119');
  a1.hello();
  await waitFor(() => a1.count('HELLO_ACK') === 1);
  now = at('03:12:04.120');
  await waitForEvent(master, (e) => e.type === 'SlaveTimedOut', 'A to time out');
  await mark('aDown');
  now = at('03:13:00.000');
  const b = await RawClient.connect(port);
  cleanup.defer('b', () => b.destroy());
  b.push({ addr: B, load: 20 });
  await waitFor(() => master.projection.nodes.get(B)?.state === 'PUSH_LOAD_INFO');
  await mark('bUp');
  now = at('03:14:00.000');
  const a2 = await RawClient.connect(port);
  cleanup.defer('a2', () => a2.destroy());
  a2.push({ addr: A, load: 40 });
  await waitFor(() => master.projection.nodes.get(A)?.load === 40);
  await mark('aBack');
  now = at('03:15:00.000');
  const a3 = await RawClient.connect(port);
  cleanup.defer('a3', () => a3.destroy());
  a3.push({ addr: A, load: 35 });
  b.push({ addr: B, load: 60 });
  await waitFor(() => master.projection.nodes.get(A)?.load === 35 && master.projection.nodes.get(B)?.load === 60);
  await mark('end');
});

afterAll(() => cleanup.run());

describe('GET /v1/state?at=POINT', () => {
  it('answers, for the seq of every moment, the document /v1/state served at that moment', async () => {
    for (const [name, doc] of Object.entries(live)) {
      const r = await api<StateDocument>(master, `/v1/state?at=${doc.seq}`);
      expect(r.status, name).toBe(200);
      expect(r.body, name).toEqual(doc);
    }
    // the states differ: the check would catch an answer that ignored `at`
    expect(live.aDown!.nodes.find((n) => n.id === A)?.state).toBe('DOWN');
    expect(live.aUp!.nodes.find((n) => n.id === A)?.state).toBe('PUSH_LOAD_INFO');
  });

  it('accepts replay --at\'s forms: ISO time, time of day, relative; a time after the end is the current state', async () => {
    const cases: [string, string][] = [
      ['2026-11-24T03:12:00Z', 'aUp'],
      ['2026-11-24T03:12:30', 'aDown'], // no zone = UTC
      ['03:13:30', 'bUp'],
      ['03:14', 'aBack'],
      ['-30s', 'aBack'], // 30 s before the last event (03:15:00)
      ['0s', 'end'],
      ['2027-01-01T00:00:00Z', 'end'],
    ];
    for (const [point, name] of cases) {
      const r = await api<StateDocument>(master, `/v1/state?at=${encodeURIComponent(point)}`);
      expect(r.status, point).toBe(200);
      expect(r.body, point).toEqual(live[name]);
    }
  });

  it('refuses a bad point with replay\'s words: 400, 410 before the log, 416 after its end', async () => {
    const last = live.end!.seq;
    const cases: [string, number, string, RegExp][] = [
      ['banana', 400, 'BAD_ARGUMENT', /^at: cannot read "banana" as a point in the log; expected a seq \(1200345\), an ISO time/],
      ['', 400, 'BAD_ARGUMENT', /^at: cannot read "" as a point in the log/],
      ['25:00', 400, 'BAD_ARGUMENT', /^at: "25:00" is not a time of day$/],
      ['2026-02-30T00:00:00Z', 400, 'BAD_ARGUMENT', /is not a real date and time/],
      ['-5x', 400, 'BAD_ARGUMENT', /cannot read "-5x"/],
      [String(last + 1000), 416, 'SEQ_OUT_OF_RANGE', new RegExp(`^at ${last + 1000}: after the end of this master's log \\(last seq ${last}\\)$`)],
      ['2026-11-24T03:00:00Z', 410, 'SEQ_OUT_OF_RANGE', /^at 2026-11-24T03:00:00Z \(2026-11-24T03:00:00.000Z\): before the oldest event retained in this master's log \(2026-11-24T03:10:00.000Z, seq 1\)$/],
    ];
    for (const [point, status, code, message] of cases) {
      const r = await api<{ error: string; code: string }>(master, `/v1/state?at=${encodeURIComponent(point)}`);
      expect({ point, status: r.status, code: r.body.code }).toEqual({ point, status, code });
      expect(r.body.error, point).toMatch(message);
    }
  });

  it('takes only `at`, once; without it /v1/state is unchanged (any other parameter is 400)', async () => {
    const twice = await api(master, '/v1/state?at=1&at=2');
    expect([twice.status, twice.body.error]).toEqual([400, 'at given 2 times; give it once']);
    const other = await api(master, '/v1/state?at=1&node=x');
    expect([other.status, other.body.error]).toEqual([400, 'unknown parameter "node"; /v1/state takes at']);
    const plain = await api(master, '/v1/state?node=x');
    expect([plain.status, plain.body.error]).toEqual([400, '/v1/state takes no parameters (got node=x)']);
    expect((await api(master, '/v1/state')).body).toEqual(stateDocument(master.projection));
  });

  it('answers what replay --at gives from the same data dir once the master has stopped', async () => {
    const points = ['1', String(live.bUp!.seq), '03:12:30', '03:14', '-30s'];
    const answers = new Map<string, StateDocument>();
    for (const p of points) answers.set(p, (await api<StateDocument>(master, `/v1/state?at=${encodeURIComponent(p)}`)).body);
    await master.stop('test');
    const source = await openDataSource(dir);
    try {
      for (const p of points) {
        const seq = await resolvePoint(p, { source, flag: '--at' });
        const s = await foldTo(source, await source.base(seq), seq);
        expect(stateDocument(s), p).toEqual(answers.get(p));
      }
    } finally {
      await source.close();
    }
  });
});

describe('time travel: auth and the cap', () => {
  it('needs what /v1/state needs: the token when reads are closed', async () => {
    const secret = 'time-travel-test-token-0123456789abcdef';
    const m = await startMaster(cleanup, { auth: { token: new AdminToken(secret) } });
    const none = await fetch(`${httpBase(m)}/v1/state?at=0`);
    expect(none.status).toBe(401);
    const ok = await fetch(`${httpBase(m)}/v1/state?at=0`, { headers: { authorization: `Bearer ${secret}` } });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as StateDocument).seq).toBe(0);
  });

  it('runs at most `max` queries at once and refuses the next until one ends', async () => {
    const gate = new TimeTravelGate(2);
    const ends: (() => void)[] = [];
    const hold = (): Promise<void> => new Promise<void>((r) => ends.push(r));
    const a = gate.tryRun(hold);
    const b = gate.tryRun(hold);
    expect(a).toBeInstanceOf(Promise);
    expect(b).toBeInstanceOf(Promise);
    expect(gate.tryRun(hold)).toBe(false);
    ends[0]!();
    await a;
    expect(gate.running).toBe(1);
    const c = gate.tryRun(async () => {});
    expect(c).toBeInstanceOf(Promise);
    await c;
    ends[1]!();
    await b;
    expect(gate.running).toBe(0);
  });
});
