/**
 * The log as a debugging tool, on a real log: a master (real TCP, real LevelDB) with a
 * pinned wall clock, so the times in the log are the ones an operator would type.
 * Time travel, explain, diff, snapshot equivalence, bad points.
 */
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diffStates } from '../../replay/diff.js';
import { NodeExplainer } from '../../replay/explain.js';
import { foldTo, stateAt } from '../../replay/fold.js';
import { openDataSource, type EventSource } from '../../replay/source.js';
import { parsePoint, resolvePoint } from '../../replay/time.js';
import { stateDocument } from '../../src/projection/document.js';
import { createProjection } from '../../src/projection/state.js';
import { Cleanup } from '../helpers/cleanup.js';
import { startMaster, waitForEvent } from '../helpers/master.js';
import { RawClient } from '../helpers/net.js';
import { waitFor } from '../helpers/wait.js';

const A = '10.0.0.5:8080';
const B = '10.0.0.6:8080';
const at = (hms: string): number => Date.parse(`2026-11-24T${hms}Z`);
const CLI = ['dist/src/cli/main.js'];

const cleanup = new Cleanup();
let dir: string;
let source: EventSource;

/**
 * 03:10:00 A pushes 87 · 03:12:01.119 A HELLOs · A hangs, times out (ts 03:12:04.120)
 * 03:13:00 B joins with 20 · 03:14:00 A reconnects with 40 · 03:15:00 a restarted A
 * supersedes it with 35 · B's load goes to 60 · master stops at 03:16:00.
 */
beforeAll(async () => {
  let now = at('03:10:00.000');
  dir = await cleanup.tempDir('loadledger-debug-');
  const master = await startMaster(cleanup, { data: dir, clock: () => now, snapshotEvery: 5, helloInterval: 10_000, deadAfter: 300 });
  const port = master.addresses.listen.port;
  const a1 = await RawClient.connect(port);
  cleanup.defer('a1', () => a1.destroy());
  a1.push({ addr: A, load: 87 });
  await waitFor(() => master.projection.nodes.get(A)?.state === 'PUSH_LOAD_INFO');
  now = at('03:12:01.119');
  a1.hello();
  await waitFor(() => a1.count('HELLO_ACK') === 1);
  now = at('03:12:04.120');
  await waitForEvent(master, (e) => e.type === 'SlaveTimedOut', 'A to time out');
  now = at('03:13:00.000');
  const b = await RawClient.connect(port);
  cleanup.defer('b', () => b.destroy());
  b.push({ addr: B, load: 20 });
  await waitFor(() => master.projection.nodes.get(B)?.state === 'PUSH_LOAD_INFO');
  now = at('03:14:00.000');
  const a2 = await RawClient.connect(port);
  cleanup.defer('a2', () => a2.destroy());
  a2.push({ addr: A, load: 40 });
  await waitFor(() => master.projection.nodes.get(A)?.load === 40);
  now = at('03:15:00.000');
  const a3 = await RawClient.connect(port);
  cleanup.defer('a3', () => a3.destroy());
  a3.push({ addr: A, load: 35 });
  b.push({ addr: B, load: 60 });
  await waitFor(() => master.projection.nodes.get(A)?.load === 35 && master.projection.nodes.get(B)?.load === 60);
  now = at('03:16:00.000');
  await master.stop('test');
  source = await openDataSource(dir);
  cleanup.defer('source', () => source.close());
});

afterAll(() => cleanup.run());

describe('time travel', () => {
  it('the table at a time of day, an ISO time and a seq', async () => {
    const seq = await resolvePoint('03:12:05', { source, flag: '--at' });
    expect(await resolvePoint('2026-11-24T03:12:05Z', { source, flag: '--at' })).toBe(seq);
    const doc = stateDocument(await stateAt(source, seq));
    expect(doc.seq).toBe(seq);
    expect(doc.nodes.map((n) => [n.id, n.state, n.load])).toEqual([[A, 'DOWN', 87]]);
    expect(doc.nodes[0]!.reason).toMatch(/^no frame for \d+\.\ds$/);
    const before = stateDocument(await stateAt(source, await resolvePoint('03:12:00', { source, flag: '--at' })));
    expect(before.nodes.map((n) => [n.id, n.state])).toEqual([[A, 'PUSH_LOAD_INFO']]);
  });

  it('relative points count back from the last event of the log, not from now', async () => {
    expect(parsePoint('-5m', '--at', at('03:16:00.000'))).toEqual({ kind: 'time', ms: at('03:11:00.000') });
    expect(parsePoint('1h', '--since', at('03:16:00.000'))).toEqual({ kind: 'time', ms: at('02:16:00.000') });
    const seq = await resolvePoint('-1m30s'.replace('1m30s', '90s'), { source, flag: '--at' }); // 03:14:30
    const doc = stateDocument(await stateAt(source, seq));
    expect(doc.nodes.find((n) => n.id === A)!.load).toBe(40);
  });

  it('a time of day after midnight of the last event means the day before', () => {
    const p = parsePoint('23:59', '--at', at('03:16:00.000'));
    expect(p).toEqual({ kind: 'time', ms: Date.parse('2026-11-23T23:59:00Z') });
  });

  it('a state rebuilt from snapshots equals the fold from the beginning, at every seq', async () => {
    const fromZero = createProjection();
    for (let seq = 1; seq <= source.lastSeq; seq++) {
      await foldTo(source, fromZero, seq);
      expect(stateDocument(await stateAt(source, seq))).toEqual(stateDocument(fromZero));
    }
  });

  it('points that cannot be answered are refused, not answered wrongly', async () => {
    await expect(resolvePoint('03:00', { source, flag: '--at' })).rejects.toMatchObject({ code: 'SEQ_OUT_OF_RANGE' });
    await expect(resolvePoint(String(source.lastSeq + 1), { source, flag: '--at' })).rejects.toMatchObject({ code: 'SEQ_OUT_OF_RANGE' });
    for (const bad of ['yesterday', '25:00', '3 o clock', '']) {
      expect(() => parsePoint(bad, '--since', at('03:16:00.000'))).toThrow(expect.objectContaining({ code: 'BAD_ARGUMENT' }));
    }
  });

  // Date.parse turns 2026-02-30 into March 2: a mistyped date must not silently show another day.
  it('dates and times that do not exist are refused, not normalised', () => {
    const last = at('03:16:00.000');
    for (const bad of [
      '2026-02-30T00:00:00Z',
      '2026-02-29T12:00:00Z',
      '2026-02-30',
      '2026-04-31T10:00',
      '2026-11-31 03:12',
      '2026-02-30T00:00:00+02:00',
      '2026-06-31T23:00:00-0500',
      '2026-11-24T24:00:00Z',
      '2026-00-10T00:00:00Z',
    ]) {
      expect(() => parsePoint(bad, '--at', last), bad).toThrow(
        expect.objectContaining({ code: 'BAD_ARGUMENT', message: expect.stringMatching(/^--at: /) as unknown }),
      );
    }
    expect(() => parsePoint('2026-02-30T00:00:00Z', '--at', last)).toThrow(/not a real date/);
    // and real ones, leap days and offsets included, still parse to the same instant as before
    expect(parsePoint('2024-02-29T12:00:00Z', '--at', last)).toEqual({ kind: 'time', ms: Date.UTC(2024, 1, 29, 12) });
    expect(parsePoint('2026-02-28', '--at', last)).toEqual({ kind: 'time', ms: Date.UTC(2026, 1, 28) });
    expect(parsePoint('2026-11-24 03:12:05.250', '--at', last)).toEqual({ kind: 'time', ms: at('03:12:05.250') });
    expect(parsePoint('2026-03-01T01:30:00+02:00', '--at', last)).toEqual({ kind: 'time', ms: Date.UTC(2026, 1, 28, 23, 30) });
    expect(parsePoint('2026-12-31T23:59:59-05:00', '--at', last)).toEqual({ kind: 'time', ms: Date.UTC(2027, 0, 1, 4, 59, 59) });
    // relative days count back from the last event too
    expect(parsePoint('-1d', '--since', last)).toEqual({ kind: 'time', ms: last - 86_400_000 });
  });
});

describe('snapshots', () => {
  it('every snapshot the master wrote equals the fold from seq 1 to its seq', async () => {
    const seqs: number[] = [];
    const state = createProjection();
    // read the snapshots through a read-only source copy: base(seq) returns the nearest one
    for (let seq = 1; seq <= source.lastSeq; seq++) {
      await foldTo(source, state, seq);
      const base = await source.base(seq);
      if (base.seq === seq) {
        seqs.push(seq);
        expect(stateDocument(base)).toEqual(stateDocument(state));
        expect([...base.conns.values()]).toEqual([...state.conns.values()]);
        expect(base.lastConn).toBe(state.lastConn);
        expect([...base.index.ordered()].map((n) => n.id)).toEqual([...state.index.ordered()].map((n) => n.id));
      }
    }
    expect(seqs.length).toBeGreaterThanOrEqual(3); // snapshotEvery 5, plus the one written at stop
    expect(seqs).toContain(source.lastSeq);
  });
});

describe('explain', () => {
  it('gives each state change of a node with its cause, and where it went next', async () => {
    const x = new NodeExplainer(A);
    await foldTo(source, createProjection(), source.lastSeq, { before: (s, e) => x.before(s, e), after: (s, e) => x.after(s, e) });
    const t = x.transitions.map((tr) => `${tr.from} → ${tr.to}: ${tr.cause}`);
    expect(t[0]).toMatch(/^ABSENT → PUSH_LOAD_INFO: first PUSH_LOAD_INFO, from 127\.0\.0\.1:\d+ \(connection 1\), load 87$/);
    expect(t[1]).toMatch(/^PUSH_LOAD_INFO → DOWN: no frame for \d+\.\ds \(last HELLO 03:12:01\.119, last load 87\)$/);
    expect(x.transitions[1]!.ts).toBe(at('03:12:04.120'));
    expect(t[2]).toMatch(/^DOWN → PUSH_LOAD_INFO: reconnected from 127\.0\.0\.1:\d+ \(connection 3\), load 40$/);
    expect(t[3]).toMatch(/^PUSH_LOAD_INFO → DOWN: superseded by connection 4 from 127\.0\.0\.1:\d+/);
    expect(t[4]).toMatch(/^DOWN → PUSH_LOAD_INFO: reconnected from .* \(connection 4\), load 35$/);
    expect(t[5]).toMatch(/^PUSH_LOAD_INFO → DOWN: master stopped/);
  });

  it('prints the history up to --at and what came next, from the CLI', () => {
    const r = spawnSync('node', [...CLI, 'replay', '--data', dir, '--explain', A, '--at', '03:12:05'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    const [history, next] = r.stdout.split('\nnext:\n');
    expect(history).toMatch(/^10\.0\.0\.5:8080 at seq \d+ \(2026-11-24T03:12:04\.120Z\): DOWN since 03:12:04\.120, load 87/);
    expect(history).toMatch(/03:12:04\.120 PUSH_LOAD_INFO → DOWN: no frame for \d+\.\ds \(last HELLO 03:12:01\.119, last load 87\)/);
    expect(next).toMatch(/03:14:00\.000 DOWN → PUSH_LOAD_INFO: reconnected/);
    expect(next).toMatch(/03:15:00\.000 PUSH_LOAD_INFO → DOWN: superseded by connection 4/);
    expect(r.stderr).toMatch(/^explained 10\.0\.0\.5:8080 from log .*: \d+ events in (\d+ms|\d+\.\ds)( \([\d,]+ events\/s\))?\n$/);
  });

  it('a node that never appears gets one line and exit 1', () => {
    const r = spawnSync('node', [...CLI, 'replay', '--data', dir, '--explain', '10.9.9.9:1'], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`loadledger replay: node 10.9.9.9:1 does not appear in log ${dir}\n`);
  });
});

describe('diff', () => {
  it('lists nodes that appeared, disappeared and load changes beyond the threshold', async () => {
    const a = await resolvePoint('03:11', { source, flag: '--diff' });
    const b = await resolvePoint('03:13:30', { source, flag: '--diff' });
    const c = await resolvePoint('03:15:30', { source, flag: '--diff' });
    const docA = stateDocument(await stateAt(source, a));
    const docB = stateDocument(await stateAt(source, b));
    const docC = stateDocument(await stateAt(source, c));
    const ab = diffStates(docA, docB, 10);
    expect(ab.appeared.map((x) => x.id)).toEqual([B]);
    expect(ab.disappeared.map((x) => x.id)).toEqual([A]);
    const bc = diffStates(docB, docC, 10);
    expect(bc.appeared.map((x) => [x.id, x.was])).toEqual([[A, 'DOWN']]);
    expect(bc.load).toEqual([{ id: B, was: 20, now: 60, delta: 40 }]);
    expect(diffStates(docB, docC, 50).load).toEqual([]);
  });

  it('from the CLI, with points that parse as nothing refused', () => {
    const ok = spawnSync('node', [...CLI, 'replay', '--data', dir, '--diff', '03:11..03:13:30'], { encoding: 'utf8' });
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/appeared\s+10\.0\.0\.6:8080/);
    expect(ok.stdout).toMatch(/disappeared\s+10\.0\.0\.5:8080\s+PUSH_LOAD_INFO → DOWN\s+no frame for/);
    const bad = spawnSync('node', [...CLI, 'replay', '--data', dir, '--diff', '03:11'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr.split('\n').filter(Boolean)).toHaveLength(1);
  });
});

describe('flags that do not go together', () => {
  const replay = (...args: string[]) => spawnSync('node', [...CLI, 'replay', '--data', dir, ...args], { encoding: 'utf8' });
  const oneLine = (r: ReturnType<typeof replay>, message: RegExp): void => {
    expect(r.status, r.stderr).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(message);
  };

  it('--at goes with the state and --explain only, not with --events or --diff', () => {
    oneLine(
      replay('--events', '--at', '5'),
      /^loadledger replay: --at applies to the state and --explain only; with --events use --since and --until$/m,
    );
    oneLine(
      replay('--diff', '03:11..03:13', '--at', '03:12'),
      /^loadledger replay: --at applies to the state and --explain only; --diff takes/m,
    );
    expect(replay('--at', '5', '--json').status).toBe(0);
    expect(replay('--explain', A, '--at', '5').status).toBe(0);
  });

  it('--until does not go with --follow (checked before any connection)', () => {
    oneLine(
      spawnSync('node', [...CLI, 'replay', '--http', 'http://127.0.0.1:1', '--follow', '--until', '10'], { encoding: 'utf8' }),
      /--until cannot be used with --follow/,
    );
  });

  it('--events with --until before --since is refused, for seqs and for times', () => {
    oneLine(replay('--events', '--since', '10', '--until', '5'), /^loadledger replay: --until 5 is before --since 10$/m);
    oneLine(
      replay('--events', '--since', '03:14', '--until', '03:12'),
      /^loadledger replay: --until 03:12 \(2026-11-24T03:12:00\.000Z\) is before --since 03:14/m,
    );
    expect(replay('--events', '--since', '5', '--until', '5', '--json').status).toBe(0);
  });
});

describe('event timeline', () => {
  it('filters by node, type and time, as a table or JSON Lines', () => {
    const r = spawnSync(
      'node',
      [...CLI, 'replay', '--data', dir, '--events', '--node', A, '--since', '03:12', '--until', '03:14:30', '--json'],
      { encoding: 'utf8' },
    );
    expect(r.status).toBe(0);
    const events = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; ts: number });
    expect(events.map((e) => e.type)).toEqual(['HelloReceived', 'HelloAckSent', 'SlaveTimedOut', 'LoadPushed']);
    expect(events.every((e) => e.ts >= at('03:12:00.000') && e.ts <= at('03:14:30.000'))).toBe(true);
    expect(r.stderr).toBe(''); // --json: no progress, no summary noise
    const t = spawnSync('node', [...CLI, 'replay', '--data', dir, '--events', '--type', 'SlaveSuperseded'], { encoding: 'utf8' });
    expect(t.stdout).toMatch(/SlaveSuperseded\s+3\s+10\.0\.0\.5:8080\s+by connection 4/);
  });

  it('bad filters get one line and exit 2, never a stack trace', () => {
    for (const args of [
      ['--since', 'nonsense'],
      ['--type', 'HelloRecieved'],
      ['--until', '99:99'],
      ['--since', '2026-02-30T03:12:00Z'],
    ]) {
      const r = spawnSync('node', [...CLI, 'replay', '--data', dir, '--events', ...args], { encoding: 'utf8' });
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });
});
