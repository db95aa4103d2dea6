/**
 * Damage to the event log is detected, never decoded (issue 12, items 3 and 4), on real
 * LevelDB in temp dirs: a flipped byte in a record, an unknown event type, records
 * LevelDB's recovery dropped from a damaged write-ahead log (middle and tail), a last
 * record gone. Every read of the damage — a fold, the master's start — fails with
 * LOG_CORRUPT naming the seqs; reads before it still work. A master refuses to start on it
 * unless --accept-damage, which records LogDamaged and goes on. Logs in format 1 (before
 * checksums) stay readable, and a master continues them in format 2.
 */
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Level } from 'level';
import { afterEach, describe, expect, it } from 'vitest';
import { stateAt } from '../../replay/fold.js';
import { openDataSource } from '../../replay/source.js';
import { verifyLog } from '../../replay/verify.js';
import { Master } from '../../src/node/master.js';
import type { LedgerEvent } from '../../src/events.js';
import { stateDocument } from '../../src/projection/document.js';
import { foldEvents } from '../../src/projection/evolve.js';
import { toSnapshot } from '../../src/projection/snapshot.js';
import { createProjection } from '../../src/projection/state.js';
import { EventLog } from '../../storage/event-log.js';
import { logPackr, seqKey } from '../../storage/format.js';
import { encodeEvents } from '../../storage/record.js';
import { Cleanup } from '../helpers/cleanup.js';
import { errorOf } from '../helpers/errors.js';
import { T0 } from '../helpers/events.js';
import { writeLegacyLog } from '../helpers/legacy-log.js';
import { runCli } from '../helpers/cli.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** A master's start, a slave, then `n - 2` pushes of a changing load; ts 10 ms apart. */
function history(n: number, from = 1): LedgerEvent[] {
  const out: LedgerEvent[] = [];
  for (let seq = from; seq < from + n; seq++) {
    const ts = T0 + seq * 10;
    if (seq === 1)
      out.push({
        seq,
        ts,
        type: 'MasterStarted',
        epoch: 1,
        listen: '127.0.0.1:7400',
        http: '',
        pid: 1,
        helloInterval: 1000,
        deadAfter: 3000,
      });
    else if (seq === 2) out.push({ seq, ts, type: 'SlaveConnected', conn: 1, remote: '10.0.0.1:4000' });
    else out.push({ seq, ts, type: 'LoadPushed', conn: 1, node: 'gw-a:8080', load: seq % 97, capacity: 1, attrs: { zone: 'eu' } });
  }
  return out;
}

async function writeLog(events: readonly LedgerEvent[], chunk = 100): Promise<string> {
  const dir = await cleanup.tempDir('loadledger-integrity-');
  const log = await EventLog.open(dir, { create: true });
  for (let i = 0; i < events.length; i += chunk) await log.append(events.slice(i, i + chunk));
  await log.close();
  return dir;
}

/** Raw access to the `ev` sublevel, behind EventLog's back. */
async function rawEv<T>(
  dir: string,
  fn: (ev: {
    get(k: string): Promise<Buffer | undefined>;
    put(k: string, v: Buffer): Promise<void>;
    del(k: string): Promise<void>;
  }) => Promise<T>,
): Promise<T> {
  const db = new Level<string, Buffer>(dir, { keyEncoding: 'utf8', valueEncoding: 'buffer' });
  await db.open();
  try {
    return await fn(db.sublevel<string, Buffer>('ev', { keyEncoding: 'utf8', valueEncoding: 'buffer' }));
  } finally {
    await db.close();
  }
}

/** The state at `seq` as replay --data folds it (a private copy of the log). */
async function replayAt(dir: string, seq?: number) {
  const source = await openDataSource(dir);
  try {
    return stateDocument(await stateAt(source, seq ?? source.lastSeq));
  } finally {
    await source.close();
  }
}

async function failure(p: Promise<unknown>): Promise<{ code: string; message: string; seqs: unknown }> {
  const e = await errorOf(p);
  return { code: e.code, message: e.message, seqs: e.seqs };
}

function startOn(dir: string, opts: { acceptDamage?: boolean } = {}): Promise<Master> {
  return Master.start({
    data: dir,
    listen: { host: '127.0.0.1', port: 0 },
    http: null,
    helloInterval: 1000,
    deadAfter: 3000,
    maxSlaves: 10,
    ...opts,
  }).then((m) => {
    cleanup.defer('master.stop()', () => m.stop('test cleanup'));
    return m;
  });
}

async function logEvents(dir: string): Promise<LedgerEvent[]> {
  const log = await EventLog.open(dir);
  const out: LedgerEvent[] = [];
  try {
    for await (const b of log.read(log.firstSeq, log.lastSeq, { overHoles: true })) out.push(...b);
  } finally {
    await log.close();
  }
  return out;
}

const EVENTS = history(1000);
const exact = (seq: number) => stateDocument(foldEvents(createProjection(), EVENTS.slice(0, seq)));

describe('a damaged record', () => {
  it('one flipped byte in a record: a fold through it is LOG_CORRUPT naming its seqs; before it, exact', async () => {
    const dir = await writeLog(EVENTS);
    await rawEv(dir, async (ev) => {
      const v = (await ev.get(seqKey(401)))!;
      v[v.length >> 1]! ^= 0x20;
      await ev.put(seqKey(401), v);
    });
    const f = await failure(replayAt(dir, 700));
    expect(f).toMatchObject({ code: 'LOG_CORRUPT', seqs: { from: 401, to: 500 } });
    expect(f.message).toMatch(/seqs 401\.\.500 damaged: the record at seq 401: the record fails its checksum \(CRC-32C\)/);
    expect(await replayAt(dir, 400)).toEqual(exact(400));
    expect((await failure(replayAt(dir))).code).toBe('LOG_CORRUPT');
    const v = await verifyLog(dir);
    expect(v.ok).toBe(false);
    expect(v.problems[0]!.message).toMatch(/the record at seq 401: the record fails its checksum/);
    // the master's start folds the tail: it refuses, naming the range
    const m = await failure(startOn(dir));
    expect(m).toMatchObject({ code: 'LOG_CORRUPT', seqs: { from: 401, to: 500 } });
    expect(m.message).toMatch(/--accept-damage/);
  });

  it('an unknown event type in a well-checksummed record is damage, never skipped', async () => {
    const dir = await writeLog(EVENTS);
    const odd = EVENTS.slice(500, 600).map((e, i) => (i === 7 ? { ...e, type: 'MasterS!arted' } : e)) as LedgerEvent[];
    await rawEv(dir, (ev) => ev.put(seqKey(501), encodeEvents(odd)));
    const f = await failure(replayAt(dir, 600));
    expect(f).toMatchObject({ code: 'LOG_CORRUPT', seqs: { from: 501, to: 600 } });
    expect(f.message).toContain('item 7 has an unknown type "MasterS!arted"');
  });

  it('a record gone from the middle: the gap, by its seqs; the last records gone: the tail marker says so', async () => {
    const dir = await writeLog(EVENTS);
    await rawEv(dir, (ev) => ev.del(seqKey(201)));
    expect(await failure(replayAt(dir, 250))).toMatchObject({ code: 'LOG_CORRUPT', seqs: { from: 201, to: 300 } });
    const dir2 = await writeLog(EVENTS);
    await rawEv(dir2, (ev) => ev.del(seqKey(901)));
    const log = await EventLog.open(dir2);
    expect(log.damage).toEqual([expect.objectContaining({ from: 901, to: 1000 })]);
    expect(log.lastSeq).toBe(1000);
    await log.close();
    expect(await failure(replayAt(dir2))).toMatchObject({ code: 'LOG_CORRUPT', seqs: { from: 901, to: 1000 } });
    expect(await replayAt(dir2, 900)).toEqual(exact(900));
  });
});

/** The write-ahead log of a log written and closed without reopening (its events are still only there). */
function walFile(dir: string): string {
  const name = readdirSync(dir).find((n) => n.endsWith('.log'))!;
  return join(dir, name);
}

function flip(file: string, at: number): void {
  const b = readFileSync(file);
  b[Math.floor(at * b.length)]! ^= 0x10;
  writeFileSync(file, b);
}

describe('what LevelDB drops when it recovers a damaged write-ahead log', () => {
  it('a flip in the middle: the dropped seqs are named, by replay and verify and at the start of a master, every time', async () => {
    const dir = await writeLog(EVENTS);
    const wal = walFile(dir);
    flip(wal, 0.5);
    const f = await failure(replayAt(dir));
    expect(f.code).toBe('LOG_CORRUPT');
    expect(f.message).toMatch(/LevelDB dropped part of its write-ahead log/);
    const seqs = f.seqs as { from: number; to: number };
    expect(seqs.from).toBeGreaterThan(1);
    expect(seqs.to).toBeGreaterThanOrEqual(seqs.from);
    expect(await replayAt(dir, seqs.from - 1)).toEqual(exact(seqs.from - 1));
    expect((await verifyLog(dir)).ok).toBe(false);
    // The master refuses; its open turned the write-ahead log into a table, yet the next start knows.
    expect(await failure(startOn(dir))).toMatchObject({ code: 'LOG_CORRUPT', seqs });
    expect(existsSync(wal)).toBe(false);
    expect(await failure(startOn(dir))).toMatchObject({ code: 'LOG_CORRUPT', seqs });
    expect((await failure(replayAt(dir))).code).toBe('LOG_CORRUPT');
  });

  it('a flip near the end: the lost tail is damage (never a shorter log that verifies)', async () => {
    const dir = await writeLog(EVENTS);
    flip(walFile(dir), 0.995);
    const log = await EventLog.open(dir);
    expect(log.damage).toHaveLength(1);
    expect(log.damage[0]!.to).toBe(1000);
    await log.close();
    expect((await failure(replayAt(dir))).code).toBe('LOG_CORRUPT');
    expect((await verifyLog(dir)).ok).toBe(false);
    expect((await failure(startOn(dir))).code).toBe('LOG_CORRUPT');
  });

  it('--accept-damage: the master records LogDamaged with the range, steps over it, and goes on; replay of the new epoch works', async () => {
    const dir = await writeLog(EVENTS);
    flip(walFile(dir), 0.5);
    const { seqs } = await failure(startOn(dir));
    const { from, to } = seqs as { from: number; to: number };
    const m = await startOn(dir, { acceptDamage: true });
    expect(m.projection.master.state).toBe('UP_LISTENING');
    await m.stop('done');
    const events = await logEvents(dir);
    // the epoch the log held never stopped (MasterCrashed), the damage, the start, the stop
    expect(events.slice(-4).map((e) => e.type)).toEqual(['MasterCrashed', 'LogDamaged', 'MasterStarted', 'MasterStopped']);
    expect(events.find((e) => e.type === 'LogDamaged')).toMatchObject({ seq: 1002, from, to });
    expect(events.filter((e) => e.seq >= from && e.seq <= to)).toEqual([]);
    // a second start needs no flag: the damage is recorded
    const again = await startOn(dir);
    await again.stop('done');
    // replay of the end comes from the snapshot the master took after the damage; across it, LOG_CORRUPT
    expect((await replayAt(dir)).master.state).toBe('DOWN');
    expect(await failure(replayAt(dir, to + 1))).toMatchObject({ code: 'LOG_CORRUPT', seqs: { from, to } });
    expect(await replayAt(dir, from - 1)).toEqual(exact(from - 1));
  });
});

describe('damage before the newest snapshot', () => {
  it('the master starts with the exact state (it reads only the tail); /v1/events and export through the damage fail with LOG_CORRUPT', async () => {
    const dir = await cleanup.tempDir('loadledger-integrity-');
    const log = await EventLog.open(dir, { create: true });
    for (let i = 0; i < EVENTS.length; i += 100) await log.append(EVENTS.slice(i, i + 100));
    await log.putSnapshot(toSnapshot(foldEvents(createProjection(), EVENTS)));
    await log.close();
    await rawEv(dir, async (ev) => {
      const v = (await ev.get(seqKey(401)))!;
      v[30]! ^= 0x01;
      await ev.put(seqKey(401), v);
    });
    const m = await Master.start({
      data: dir,
      listen: { host: '127.0.0.1', port: 0 },
      http: { host: '127.0.0.1', port: 0 },
      helloInterval: 1000,
      deadAfter: 3000,
      maxSlaves: 10,
    });
    cleanup.defer('master.stop()', () => m.stop('test cleanup'));
    expect(m.projection.seq).toBe(1002); // MasterCrashed, MasterStarted after all 1000
    const res = await fetch(`http://127.0.0.1:${m.addresses.http!.port}/v1/events?from=1&to=600`);
    const lines = (await res.text()).trim().split('\n');
    expect(JSON.parse(lines[lines.length - 1]!)).toMatchObject({ code: 'LOG_CORRUPT' });
    expect(JSON.parse(lines[lines.length - 1]!).error).toMatch(/seqs 401\.\.500 damaged/);
    expect(lines.length - 1).toBe(400); // every event before the damage, none after it
    await m.stop('done');
    const out = join(await cleanup.tempDir('loadledger-export-'), 'x.llog');
    const r = await runCli(cleanup, ['export', '--data', dir, '--since', '1', '-o', out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `loadledger export: ${dir}: seqs 401..500 damaged: the record at seq 401: the record fails its checksum (CRC-32C)\n`,
    );
    expect(existsSync(out)).toBe(false);
  });
});

describe('format 1 logs (before checksums)', () => {
  it('read as before; a master continues them in format 2, and both parts replay and verify', async () => {
    const dir = await cleanup.tempDir('loadledger-legacy-');
    const snap = toSnapshot(foldEvents(createProjection(), EVENTS.slice(0, 600)));
    await writeLegacyLog(dir, EVENTS, [snap]);
    expect(await replayAt(dir, 750)).toEqual(exact(750));
    expect(await replayAt(dir)).toEqual(exact(1000));
    expect((await verifyLog(dir)).ok).toBe(true);
    const m = await startOn(dir);
    await m.stop('done');
    const events = await logEvents(dir);
    // the format 1 epoch never stopped: the new start says where its evidence ends
    expect(events.slice(1000).map((e) => e.type)).toEqual(['MasterCrashed', 'MasterStarted', 'MasterStopped']);
    expect(events[1000]).toMatchObject({ type: 'MasterCrashed', epoch: 1, lastSeq: 1000, lastAt: EVENTS[999]!.ts });
    expect(await replayAt(dir, 999)).toEqual(exact(999));
    expect((await verifyLog(dir)).ok).toBe(true);
    const db = new Level<string, Buffer>(dir, { keyEncoding: 'utf8', valueEncoding: 'buffer' });
    await db.open();
    const meta = db.sublevel<string, Buffer>('meta', { keyEncoding: 'utf8', valueEncoding: 'buffer' });
    expect(logPackr.unpack((await meta.get('format'))!)).toBe(2);
    const ev = db.sublevel<string, Buffer>('ev', { keyEncoding: 'utf8', valueEncoding: 'buffer' });
    expect((await ev.get(seqKey(1)))![0]).not.toBe(0xc1); // the old records stay as they were
    expect((await ev.get(seqKey(1001)))![0]).toBe(0xc1);
    await db.close();
  });
});
