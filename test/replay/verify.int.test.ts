/**
 * `verify` (replay/verify.ts, `loadledger verify`): a sound log passes; each kind of damage
 * — a missing record, a record that does not decode, events out of seq, a snapshot or a
 * start-up projection that disagrees with a fresh fold — is found and named with
 * LOG_CORRUPT. Logs are written with EventLog and damaged through LevelDB directly.
 */
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Level } from 'level';
import { afterEach, describe, expect, it } from 'vitest';
import { diffSnapshots } from '../../replay/compare.js';
import { verifyLog } from '../../replay/verify.js';
import { verifySummary } from '../../replay/verify-summary.js';
import type { LedgerEvent } from '../../src/events.js';
import { evolve } from '../../src/projection/evolve.js';
import { toSnapshot, type ProjectionSnapshot } from '../../src/projection/snapshot.js';
import { createProjection } from '../../src/projection/state.js';
import { EventLog } from '../../storage/event-log.js';
import { logPackr, seqKey } from '../../storage/format.js';
import { encodeEvents, encodeSnapshot } from '../../storage/record.js';
import { Cleanup } from '../helpers/cleanup.js';
import { RECORDED_LOG, Stamper } from '../helpers/events.js';
import { withTimeout } from '../helpers/wait.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** The first 30 events of the recorded log (the figures below are for these; it may grow). */
const EVENTS: LedgerEvent[] = new Stamper().stampAll(RECORDED_LOG.slice(0, 30));
/** Appends of 5 events: 6 records (seq 1, 6, 11, 16, 21, 26). */
const CHUNK = 5;
/** Snapshots as the master writes them: the projection folded up to these seqs. */
const SNAPSHOTS = [10, 20, 28];

function snapshotAt(seq: number): ProjectionSnapshot {
  const p = createProjection();
  for (const e of EVENTS) if (e.seq <= seq) evolve(p, e);
  return toSnapshot(p);
}

async function writeLog(): Promise<string> {
  const dir = await cleanup.tempDir('loadledger-verify-');
  const log = await EventLog.open(dir, { create: true });
  for (let i = 0; i < EVENTS.length; i += CHUNK) await log.append(EVENTS.slice(i, i + CHUNK));
  for (const s of SNAPSHOTS) await log.putSnapshot(snapshotAt(s));
  await log.close();
  return dir;
}

/** Changes the stored log behind EventLog's back: `ev` and `snap` sublevels, raw values. */
async function tamper(dir: string, fn: (ev: Sub, snap: Sub) => Promise<void>): Promise<void> {
  const db = new Level<string, Buffer>(dir, { keyEncoding: 'utf8', valueEncoding: 'buffer' });
  await db.open();
  try {
    const sub = (name: string): Sub => db.sublevel<string, Buffer>(name, { keyEncoding: 'utf8', valueEncoding: 'buffer' });
    await fn(sub('ev'), sub('snap'));
  } finally {
    await db.close();
  }
}
interface Sub {
  put(key: string, value: Buffer): Promise<void>;
  del(key: string): Promise<void>;
}

const messages = (r: { problems: { code: string; message: string }[] }): string[] => r.problems.map((p) => `${p.code}: ${p.message}`);

describe('verify', () => {
  it('a sound log: every event read in order, gapless, every snapshot and the loaded projection equal a fresh fold', async () => {
    const dir = await writeLog();
    const seen: number[] = [];
    const r = await verifyLog(dir, { visit: (e) => seen.push(e.seq) });
    expect(messages(r)).toEqual([]);
    expect(r).toMatchObject({
      ok: true,
      events: EVENTS.length,
      firstSeq: 1,
      lastSeq: EVENTS.length,
      records: Math.ceil(EVENTS.length / CHUNK),
      baseSeq: 0,
      snapshots: { total: 3, matched: 3, mismatched: 0, notChecked: 0 },
      projection: { seq: EVENTS.length, matches: true },
      problemCount: 0,
    });
    expect(seen).toEqual(EVENTS.map((e) => e.seq));
    expect(verifySummary(r)).toBe(
      `verified log ${dir}: 30 events (seq 1..30) in 6 records, 3 snapshots match, projection at seq 30 matches a fresh fold: OK`,
    );
  });

  it('leaves the log as it was (it reads a private copy)', async () => {
    const dir = await writeLog();
    await verifyLog(dir);
    const log = await EventLog.open(dir);
    try {
      expect([log.firstSeq, log.lastSeq, await log.snapshotSeqs()]).toEqual([1, 30, SNAPSHOTS]);
    } finally {
      await log.close();
    }
  });

  it('a missing record: the seqs that are gone, and no fold comparisons after the gap', async () => {
    const dir = await writeLog();
    await tamper(dir, (ev) => ev.del(seqKey(11)));
    const r = await verifyLog(dir);
    expect(r.ok).toBe(false);
    expect(messages(r)).toEqual([`LOG_CORRUPT: ${dir}: seq 11..15 missing (the next record starts at seq 16)`]);
    expect(r.snapshots).toMatchObject({ matched: 1, mismatched: 0 }); // seq 10, before the gap
    expect(r.projection).toBeNull();
    expect(verifySummary(r)).toMatch(/projection not compared: FAILED \(1 problem\)$/);
  });

  it('a record that does not decode, and a record of events out of seq: one problem each, the scan goes on', async () => {
    const dir = await writeLog();
    await tamper(dir, async (ev) => {
      await ev.put(seqKey(6), Buffer.from([0xc1, 0xc1, 0xc1]));
      // well checksummed, but the events in it are not the seqs its key says
      const shifted = EVENTS.slice(15, 20).map((e, i) => ({ ...e, seq: i === 2 ? 99 : e.seq }));
      await ev.put(seqKey(16), encodeEvents(shifted));
    });
    const r = await verifyLog(dir);
    expect(r.problems.map((p) => p.code)).toEqual(['LOG_CORRUPT', 'LOG_CORRUPT']);
    expect(r.problems[0]!.message).toBe(`${dir}: the record at seq 6: not a framed record (3 bytes)`);
    expect(r.problems[1]!.message).toBe(`${dir}: the record at seq 16: item 2 (SlaveConnected) has seq 99, expected 18`);
    expect(r.events).toBe(EVENTS.length - 10);
  });

  it('the last record does not decode: a failed result naming its seqs (up to the tail marker), not a throw', async () => {
    const dir = await writeLog();
    await tamper(dir, (ev) => ev.put(seqKey(26), Buffer.from('not msgpack at all')));
    const r = await verifyLog(dir);
    expect(r.ok).toBe(false);
    expect(r.problems.every((p) => p.code === 'LOG_CORRUPT')).toBe(true);
    expect(r.problems[0]!.message).toBe(
      `${dir}: seqs 26..30 damaged: the last record: a record without its checksum header, where every record has one`,
    );
  });

  it('one flipped bit anywhere in a record: its checksum fails, the range is named, the scan goes on', async () => {
    const dir = await writeLog();
    const log = await EventLog.open(dir);
    const [entry] = await (log as unknown as { ev: { iterator(o: object): { all(): Promise<[string, Buffer][]> } } }).ev
      .iterator({ gte: seqKey(11), limit: 1 })
      .all();
    await log.close();
    for (const at of [0, 5, 17, 20, entry![1].length - 1]) {
      const bad = Buffer.from(entry![1]);
      bad[at]! ^= 0x04;
      await tamper(dir, (ev) => ev.put(seqKey(11), bad));
      const r = await verifyLog(dir);
      expect(messages(r)[0]).toMatch(new RegExp(`^LOG_CORRUPT: ${dir}: the record at seq 11: `));
      expect(r.events).toBe(EVENTS.length - 5);
    }
  });

  it('a snapshot that differs from the fold names the field; the newest one also breaks the projection a master would load', async () => {
    const dir = await writeLog();
    const wrong = snapshotAt(28);
    wrong.nodes.find((n) => n.id === 'gw-b:8080')!.load = 36;
    await tamper(dir, (_ev, snap) => snap.put(seqKey(28), encodeSnapshot(wrong)));
    const r = await verifyLog(dir);
    expect(r.snapshots).toMatchObject({ matched: 2, mismatched: 1 });
    expect(r.projection).toEqual({ seq: 30, matches: false });
    expect(messages(r)).toEqual([
      `LOG_CORRUPT: ${dir}: the snapshot at seq 28 differs from a fresh fold of the log: node gw-b:8080.load: 36 vs 35 in the fresh fold`,
      `LOG_CORRUPT: ${dir}: the projection loaded at start (newest snapshot + tail) differs from a fresh fold of the log at seq 30: node gw-b:8080.load: 36 vs 35 in the fresh fold`,
    ]);
  });

  it('a snapshot after the end of the log is a problem', async () => {
    const dir = await writeLog();
    await tamper(dir, (_ev, snap) => snap.put(seqKey(40), logPackr.pack({ ...snapshotAt(30), seq: 40 })));
    const r = await verifyLog(dir);
    expect(messages(r)).toContain(`LOG_CORRUPT: ${dir}: a snapshot at seq 40, after the last event (seq 30)`);
  });

  it('after retention: folds from the snapshot before the first retained event; older snapshots are not comparable', async () => {
    const dir = await writeLog();
    const log = await EventLog.open(dir);
    await log.deleteBefore(11); // records 1 and 6 go; the snapshot at 10 is the base
    await log.close();
    const r = await verifyLog(dir);
    expect(messages(r)).toEqual([]);
    expect(r).toMatchObject({
      ok: true,
      firstSeq: 11,
      events: 20,
      baseSeq: 10,
      unreplayable: 0,
      snapshots: { total: 3, matched: 2, notChecked: 1 },
    });
    expect(verifySummary(r)).toBe(
      `verified log ${dir}: 20 events (seq 11..30) in 4 records, replayed from the snapshot at seq 10, 2 snapshots match (1 not comparable: the replay base or older), projection at seq 30 matches a fresh fold: OK`,
    );
  });

  it('compares nodes and connections as sets, and names what is missing', () => {
    const a = snapshotAt(30);
    const b = { ...a, nodes: [...a.nodes].reverse(), conns: [...a.conns].reverse() };
    expect(diffSnapshots(a, b)).toBeUndefined();
    expect(diffSnapshots({ ...a, nodes: a.nodes.slice(1) }, a)).toBe(`node ${a.nodes[0]!.id} is missing (the fresh fold has it)`);
    expect(diffSnapshots(a, { ...a, conns: [] })).toBe(`connection ${a.conns[0]!.conn} is not in the fresh fold`);
    expect(diffSnapshots({ ...a, master: { ...a.master, epoch: 9 } }, a)).toBe('master.epoch: 9 vs 2 in the fresh fold');
  });
});

// ---------------------------------------------------------------- the command

const MAIN = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: build first (npm test does it)`);
  const child = spawn(process.execPath, [MAIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LOADLEDGER_DEBUG: '' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  return withTimeout(
    new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr }))),
    15_000,
    `loadledger ${args.join(' ')}`,
  );
}

describe('loadledger verify', () => {
  it('a sound log: the summary line on stdout, exit 0; --json: the result', async () => {
    const dir = await writeLog();
    const r = await cli(['verify', '--data', dir]);
    expect(r).toMatchObject({
      code: 0,
      stdout: `verified log ${dir}: 30 events (seq 1..30) in 6 records, 3 snapshots match, projection at seq 30 matches a fresh fold: OK\n`,
    });
    const j = await cli(['verify', '--data', dir, '--json']);
    expect(j.code).toBe(0);
    expect(j.stderr).toBe('');
    expect(JSON.parse(j.stdout)).toMatchObject({ ok: true, events: 30, problems: [] });
  });

  it('a damaged log: one LOG_CORRUPT line per problem and the verdict on stderr, exit 1; --json says so too', async () => {
    const dir = await writeLog();
    await tamper(dir, (ev) => ev.del(seqKey(11)));
    const r = await cli(['verify', '--data', dir]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trim().split('\n');
    expect(lines).toContain(`loadledger verify: LOG_CORRUPT: ${dir}: seq 11..15 missing (the next record starts at seq 16)`);
    expect(lines[lines.length - 1]).toMatch(/^verified log .*: FAILED \(1 problem\)$/);
    const j = await cli(['verify', '--data', dir, '--json']);
    expect(j.code).toBe(1);
    expect(JSON.parse(j.stdout)).toMatchObject({ ok: false, problemCount: 1, problems: [{ code: 'LOG_CORRUPT' }] });
  });

  it('no log is a usage error (exit 2, like --file naming no file); a log a live master holds: exit 1; one line each', async () => {
    const missing = await cli(['verify', '--data', join(await cleanup.tempDir(), 'nothing')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^loadledger verify: no event log at .*\n$/);
    const dir = await writeLog();
    writeFileSync(join(dir, 'master.pid'), `${process.pid}\n`); // this process stands for the live master
    const locked = await cli(['verify', '--data', dir]);
    expect(locked.code).toBe(1);
    expect(locked.stderr).toMatch(/in use by a running master/);
  });
});
