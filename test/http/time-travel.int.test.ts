/**
 * Time travel over HTTP (issue 15): `/v1/state?at=POINT` on a real master (real TCP, real
 * LevelDB) with a pinned wall clock, so the points are the ones an operator would type.
 * Its answers are checked against the live /v1/state taken at each moment, and against
 * replay's library (`replay --at`) on the same data dir once the master has stopped.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diffStates } from '../../replay/diff.js';
import { explainNode } from '../../replay/explain.js';
import { foldTo, stateAt } from '../../replay/fold.js';
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

describe('GET /v1/diff?from=POINT&to=POINT', () => {
  it('lists what replay --diff lists: appeared, disappeared, load moved; with the seqs and times of both points', async () => {
    const r = await api(master, '/v1/diff?from=03:12:00&to=03:12:30');
    expect(r.status).toBe(200);
    expect(r.body.from).toEqual({ seq: live.aUp!.seq, ts: at('03:10:00.000') });
    expect(r.body.to.seq).toBe(live.aDown!.seq);
    expect(r.body.disappeared.map((x: { id: string }) => x.id)).toEqual([A]);
    expect(r.body.disappeared[0].now.state).toBe('DOWN');
    expect([r.body.appeared, r.body.changed, r.body.load]).toEqual([[], [], []]);
    const whole = await api(master, `/v1/diff?from=${live.aUp!.seq}&to=${live.end!.seq}`);
    expect(whole.body.appeared.map((x: { id: string; was: string }) => [x.id, x.was])).toEqual([[B, 'absent']]);
    expect(whole.body.load).toEqual([{ id: A, was: 87, now: 35, delta: -52 }]);
    expect(whole.body.threshold).toBe(10);
    const high = await api(master, `/v1/diff?from=${live.aUp!.seq}&to=${live.end!.seq}&threshold=100`);
    expect(high.body.load).toEqual([]);
  });

  it('refuses what replay --diff refuses, with its words', async () => {
    const cases: [string, number, RegExp][] = [
      ['from=1', 400, /^\/v1\/diff needs from=POINT and to=POINT/],
      ['from=banana&to=2', 400, /^from: cannot read "banana" as a point in the log/],
      ['from=1&to=25:00', 400, /^to: "25:00" is not a time of day$/],
      ['from=3&to=2', 400, /^from 3 \(seq 3\) comes after to 2 \(seq 2\)$/],
      ['from=1&to=2&threshold=-1', 400, /^threshold must be a load \(a number ≥ 0\), got "-1"$/],
      ['from=1&to=2&node=x', 400, /^unknown parameter "node"; \/v1\/diff takes from, to, threshold$/],
      ['from=1&to=999999', 416, /^to 999999: after the end of this master's log/],
    ];
    for (const [q, status, message] of cases) {
      const r = await api(master, `/v1/diff?${q}`);
      expect({ q, status: r.status }).toEqual({ q, status });
      expect(r.body.error, q).toMatch(message);
    }
  });
});

describe('GET /v1/nodes/{id}/history', () => {
  const path = `/v1/nodes/${encodeURIComponent(A)}/history`;

  it('says what replay --explain says: each change with its time, what and cause, and what came next', async () => {
    const r = await api(master, `${path}?at=03:13`);
    expect(r.status).toBe(200);
    expect(r.body.node).toBe(A);
    expect(r.body.at.seq).toBeGreaterThanOrEqual(live.aDown!.seq);
    expect(r.body.at.seq).toBeLessThan(live.bUp!.seq + 1);
    expect(r.body.state.state).toBe('DOWN');
    const h = r.body.history as { time: string; seq: number; what: string; cause: string; event: string }[];
    expect(h.map((x) => x.what)).toEqual(['(new) → PUSH_LOAD_INFO', 'PUSH_LOAD_INFO → DOWN']);
    expect(h[0]!.cause).toMatch(/^first PUSH_LOAD_INFO, from 127\.0\.0\.1:\d+ \(connection \d+\), load 87$/);
    expect(h[1]).toMatchObject({ time: '2026-11-24T03:12:04.120Z', event: 'SlaveTimedOut' });
    expect(h[1]!.cause).toMatch(/^no frame for .*\(last HELLO 03:12:01\.119, last load 87\)$/);
    expect(r.body.next[0]).toMatchObject({ what: 'DOWN → PUSH_LOAD_INFO', time: '2026-11-24T03:14:00.000Z', event: 'LoadPushed' });
    expect(r.body.next[0].cause).toMatch(/^reconnected from .* load 40$/);
  });

  it('adds its raw events up to the point, filtered by type, the latest `limit` of them', async () => {
    const all = await api(master, `${path}?type=LoadPushed`);
    expect(all.body.events.map((e: { load: number }) => e.load)).toEqual([87, 40, 35]);
    expect(all.body.eventsOmitted).toBe(0);
    const two = await api(master, `${path}?type=LoadPushed&limit=2`);
    expect([two.body.events.map((e: { load: number }) => e.load), two.body.eventsOmitted]).toEqual([[40, 35], 1]);
    const early = await api(master, `${path}?type=LoadPushed,SlaveTimedOut&at=03:13`);
    expect(early.body.events.map((e: { type: string }) => e.type)).toEqual(['LoadPushed', 'SlaveTimedOut']);
    const every = await api(master, path);
    expect(every.body.events.length).toBeGreaterThan(3); // its connections, HELLOs, supersede
    expect(every.body.events.every((e: { seq: number }) => e.seq <= live.end!.seq)).toBe(true);
  });

  it('refuses a bad id, type, limit or point (400) and a node the log never saw (404)', async () => {
    const cases: [string, number, RegExp][] = [
      [`${path}?type=Bogus`, 400, /^type: unknown event type "Bogus"; known: /],
      [`${path}?limit=x`, 400, /^limit must be an integer from 0 to 10000, got "x"$/],
      [`${path}?limit=10001`, 400, /^limit must be an integer/],
      [`${path}?at=banana`, 400, /^at: cannot read "banana" as a point in the log/],
      [`${path}?foo=1`, 400, /^unknown parameter "foo"; \/v1\/nodes\/\{id\}\/history takes at, type, limit$/],
      ['/v1/nodes/not%20an%20id!/history', 400, /is not a node id/],
      ['/v1/nodes/10.9.9.9%3A1/history', 404, /^node 10\.9\.9\.9:1 does not appear in this master's log$/],
    ];
    for (const [p, status, message] of cases) {
      const r = await api(master, p);
      expect({ p, status: r.status }).toEqual({ p, status });
      expect(r.body.error, p).toMatch(message);
    }
  });
});

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

  it("accepts replay --at's forms: ISO time, time of day, relative; a time after the end is the current state", async () => {
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

  it("refuses a bad point with replay's words: 400, 410 before the log, 416 after its end", async () => {
    const last = live.end!.seq;
    const cases: [string, number, string, RegExp][] = [
      ['banana', 400, 'BAD_ARGUMENT', /^at: cannot read "banana" as a point in the log; expected a seq \(1200345\), an ISO time/],
      ['', 400, 'BAD_ARGUMENT', /^at: cannot read "" as a point in the log/],
      ['25:00', 400, 'BAD_ARGUMENT', /^at: "25:00" is not a time of day$/],
      ['2026-02-30T00:00:00Z', 400, 'BAD_ARGUMENT', /is not a real date and time/],
      ['-5x', 400, 'BAD_ARGUMENT', /cannot read "-5x"/],
      [
        String(last + 1000),
        416,
        'SEQ_OUT_OF_RANGE',
        new RegExp(`^at ${last + 1000}: after the end of this master's log \\(last seq ${last}\\)$`),
      ],
      [
        '2026-11-24T03:00:00Z',
        410,
        'SEQ_OUT_OF_RANGE',
        /^at 2026-11-24T03:00:00Z \(2026-11-24T03:00:00.000Z\): before the oldest event retained in this master's log \(2026-11-24T03:10:00.000Z, seq 1\)$/,
      ],
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
    const httpDiff = (await api(master, `/v1/diff?from=03:12:00&to=${live.end!.seq}&threshold=5`)).body;
    const httpHistory = (await api(master, `/v1/nodes/${encodeURIComponent(A)}/history?at=03:14`)).body;
    await master.stop('test');
    const source = await openDataSource(dir);
    try {
      for (const p of points) {
        const seq = await resolvePoint(p, { source, flag: '--at' });
        const s = await foldTo(source, await source.base(seq), seq);
        expect(stateDocument(s), p).toEqual(answers.get(p));
      }
      // replay --diff 03:12:00..END --threshold 5 --json
      const a = await resolvePoint('03:12:00', { source, flag: '--diff' });
      const b = await resolvePoint(String(live.end!.seq), { source, flag: '--diff' });
      const s = await stateAt(source, a);
      const docA = stateDocument(s);
      await foldTo(source, s, b);
      const d = diffStates(docA, stateDocument(s), 5);
      expect({ ...httpDiff, from: { seq: httpDiff.from.seq }, to: { seq: httpDiff.to.seq }, threshold: undefined }).toEqual({
        ...d,
        threshold: undefined,
      });
      // replay --explain A --at 03:14 --json
      const x = await explainNode(source, A, await resolvePoint('03:14', { source, flag: '--at' }));
      const strip = (list: Record<string, unknown>[]): unknown[] => list.map(({ time: _t, what: _w, ...t }) => t);
      // `next` runs to the end of the log, which the stop extended (MasterStopped): compared up to the last mark
      const upToEnd = <T extends { seq: number }>(list: T[]): T[] => list.filter((t) => t.seq <= live.end!.seq);
      expect({
        ...httpHistory,
        history: strip(httpHistory.history),
        next: upToEnd(strip(httpHistory.next) as { seq: number }[]),
        events: undefined,
        eventsOmitted: undefined,
      }).toEqual({ ...x, next: upToEnd(x.next), events: undefined, eventsOmitted: undefined });
      expect(x.history.length).toBe(3);
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
