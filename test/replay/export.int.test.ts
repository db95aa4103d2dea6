/**
 * Export on real logs: a master on real LevelDB with real TCP slaves (the project's slave
 * library and raw sockets: slaves that push, hang, leave, collide on a node), stopped and
 * restarted, then a middle range exported and replayed from the file alone. The file must
 * give the same state as the source at every seq of the range. Then the file's failure
 * modes, the --http source with retention, and the command's refusals.
 */
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { exportLog, exportSummary } from '../../replay/export.js';
import { FILE_FORMAT_VERSION, PREAMBLE_SIZE, encodePreamble } from '../../replay/file-format.js';
import { openFileSource } from '../../replay/file-source.js';
import { openHttpSource } from '../../replay/http-source.js';
import { openDataSource, type EventSource } from '../../replay/source.js';
import { runExport } from '../../src/cli/commands/export.js';
import { ErrorCode, LoadLedgerError } from '../../src/errors.js';
import type { LedgerEvent } from '../../src/events.js';
import type { Master } from '../../src/node/master.js';
import { stateDocument } from '../../src/projection/document.js';
import { evolve } from '../../src/projection/evolve.js';
import { toSnapshot } from '../../src/projection/snapshot.js';
import { createProjection, type Projection } from '../../src/projection/state.js';
import { createSlave, type Slave } from '../../src/slave/slave.js';
import { Cleanup } from '../helpers/cleanup.js';
import { httpBase, startMaster } from '../helpers/master.js';
import { RawClient, closedPort } from '../helpers/net.js';
import { waitFor } from '../helpers/wait.js';
import { codeOf } from '../helpers/errors.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

function slave(master: Master, addr: string, port = master.addresses.listen.port): Slave {
  let n = 0;
  const s = createSlave({
    master: { host: '127.0.0.1', port },
    addr,
    load: () => (n += 7) % 100,
    attrs: { zone: addr.startsWith('a') ? 'eu-1' : 'us-2' },
    interval: 30,
    deadAfter: 1000,
    backoff: { initial: 20, max: 100 },
  });
  s.on('error', () => {});
  cleanup.defer(`slave ${addr}`, () => s.close());
  return s;
}

async function raw(master: Master): Promise<RawClient> {
  const c = await RawClient.connect(master.addresses.listen.port);
  cleanup.defer('raw client', () => c.destroy());
  return c;
}

const state = (m: Master, id: string): string | undefined => m.projection.nodes.get(id)?.state;

/**
 * A log of two master runs (epochs 1 and 2) with every kind of slave story in it.
 * Returns the log directory, stopped.
 */
async function buildLog(): Promise<string> {
  const data = await cleanup.tempDir('loadledger-export-log-');
  const m1 = await startMaster(cleanup, {
    data,
    http: null,
    listen: { host: '127.0.0.1', port: await closedPort() },
    snapshotEvery: 40,
    snapshotInterval: 0,
  });
  const port = m1.addresses.listen.port;
  const a = slave(m1, 'a:80');
  const b = slave(m1, 'b:80');
  const hung = await raw(m1);
  hung.push({ addr: 'hung:80', load: 5 });
  const leaving = await raw(m1);
  leaving.push({ addr: 'leaving:80', load: 9, capacity: 2 });
  const dup1 = await raw(m1);
  dup1.startHeartbeat({ addr: 'dup:80', load: 1 }, 30);
  await waitFor(
    () =>
      state(m1, 'a:80') === 'PUSH_LOAD_INFO' &&
      state(m1, 'b:80') === 'PUSH_LOAD_INFO' &&
      state(m1, 'dup:80') === 'PUSH_LOAD_INFO' &&
      state(m1, 'leaving:80'),
    {
      what: 'every slave up',
    },
  );
  leaving.destroy();
  const dup2 = await raw(m1);
  dup2.startHeartbeat({ addr: 'dup:80', load: 2 }, 30);
  await waitFor(() => state(m1, 'hung:80') === 'DOWN' && state(m1, 'leaving:80') === 'DOWN' && dup1.closed && m1.projection.seq > 150, {
    timeout: 5000,
    what: 'a timeout, a disconnect, a supersede and 150 events',
    describe: () => ({ seq: m1.projection.seq, hung: state(m1, 'hung:80'), leaving: state(m1, 'leaving:80'), dup1: dup1.closed }),
  });
  await m1.stop('restart for the test');

  // Epoch 2 on the same port: the library slaves reconnect by themselves.
  const m2 = await startMaster(cleanup, { data, http: null, listen: { host: '127.0.0.1', port }, snapshotEvery: 40, snapshotInterval: 0 });
  const before = m2.projection.seq;
  await waitFor(() => state(m2, 'a:80') === 'PUSH_LOAD_INFO' && state(m2, 'b:80') === 'PUSH_LOAD_INFO' && m2.projection.seq > before + 60, {
    timeout: 5000,
    what: 'the slaves back in epoch 2',
  });
  await a.close();
  await waitFor(() => state(m2, 'a:80') === 'DOWN', { what: 'a:80 down after close' });
  await b.close();
  dup2.destroy();
  await m2.stop('end of the test');
  return data;
}

async function allEvents(src: EventSource, from: number, to: number): Promise<LedgerEvent[]> {
  const out: LedgerEvent[] = [];
  for await (const batch of src.read(from, to)) out.push(...batch);
  return out;
}

/**
 * Folds `reference` (a projection at `from - 1`) over the source's events and `file`'s
 * from its own base, comparing the whole projection after every seq in [from - 1, to].
 */
async function expectSameStates(
  reference: Projection,
  refSource: EventSource,
  file: EventSource,
  from: number,
  to: number,
): Promise<number> {
  expect(reference.seq).toBe(from - 1);
  const p = await file.base(from - 1);
  expect(p.seq).toBe(from - 1);
  expect(toSnapshot(p)).toEqual(toSnapshot(reference));
  const refEvents = await allEvents(refSource, from, to);
  const fileEvents = await allEvents(file, from, to);
  expect(fileEvents).toEqual(refEvents);
  let compared = 1;
  for (let i = 0; i < refEvents.length; i++) {
    evolve(reference, refEvents[i]!);
    evolve(p, fileEvents[i]!);
    expect(stateDocument(p)).toEqual(stateDocument(reference));
    expect(toSnapshot(p)).toEqual(toSnapshot(reference));
    compared++;
  }
  expect(p.seq).toBe(to);
  return compared;
}

/** Opens a file source and folds every event: a damaged file fails one way or the other. */
async function replayWhole(path: string): Promise<number> {
  const src = await openFileSource(path);
  try {
    const p = await src.base(src.firstSeq - 1);
    for await (const batch of src.read(src.firstSeq, src.lastSeq)) for (const e of batch) evolve(p, e);
    return p.seq;
  } finally {
    await src.close();
  }
}

function captureStderr(): { stream: NodeJS.WriteStream; text: () => string } {
  const pt = new PassThrough();
  let text = '';
  pt.on('data', (c: Buffer) => (text += c.toString()));
  return { stream: pt as unknown as NodeJS.WriteStream, text: () => text };
}

describe('export then replay of the file', () => {
  it('gives the same state as the log at every seq of a middle range across a master restart', async () => {
    const data = await buildLog();
    const src = await openDataSource(data);
    cleanup.defer('close data source', () => src.close());
    const events = await allEvents(src, 1, src.lastSeq);
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: src.lastSeq }, (_, i) => i + 1));
    const types = new Set(events.map((e) => e.type));
    for (const t of [
      'MasterStarted',
      'MasterStopped',
      'SlaveConnected',
      'LoadPushed',
      'SlaveTimedOut',
      'SlaveDisconnected',
      'SlaveSuperseded',
      'HelloReceived',
    ]) {
      expect(types, t).toContain(t);
    }
    const restart = events.find((e) => e.type === 'MasterStarted' && e.epoch === 2)!.seq;
    const since = Math.floor(restart / 3);
    const until = src.lastSeq - 5;
    expect(since).toBeGreaterThan(40);
    expect(until).toBeGreaterThan(restart);

    const dir = await cleanup.tempDir('loadledger-export-out-');
    const out = join(dir, 'incident.llog');
    const err = captureStderr();
    const result = await runExport({ data, since: String(since), until: String(until), output: out }, { stderr: err.stream });
    expect(result).toMatchObject({ path: out, firstSeq: since, lastSeq: until, events: until - since + 1 });
    // Not a terminal: no progress bar, exactly the one-line summary.
    expect(err.text()).toBe(exportSummary(result) + '\n');
    expect(err.text()).toMatch(
      new RegExp(
        `^exported ${until - since + 1} events \\(seq ${since}\\.\\.${until}\\) to .*incident\\.llog in \\d+\\.\\ds, [\\d,]+ events/s\\n$`,
      ),
    );
    expect(await readdir(dir)).toEqual(['incident.llog']);

    const file = await openFileSource(out);
    cleanup.defer('close file source', () => file.close());
    expect([file.firstSeq, file.lastSeq]).toEqual([since, until]);
    expect(file.describe).toBe(`file ${out}`);

    // Reference: the log folded from seq 1 with no snapshot at all.
    const reference = createProjection();
    for (const e of events) if (e.seq < since) evolve(reference, e);
    const compared = await expectSameStates(reference, src, file, since, until);
    expect(compared).toBe(until - since + 2);
    // And before the file's range: refused, not guessed.
    expect(await codeOf(file.base(since - 2))).toBe(ErrorCode.SEQ_OUT_OF_RANGE);
  }, 30_000);

  it('--since as a time starts after the last event at or before it; the whole log by default', async () => {
    const data = await buildLog();
    const src = await openDataSource(data);
    cleanup.defer('close data source', () => src.close());
    const events = await allEvents(src, 1, src.lastSeq);
    const pick = events[Math.floor(events.length / 2)]!;
    const iso = new Date(pick.ts).toISOString();
    const expectedFirst = Math.max(...events.filter((e) => e.ts <= pick.ts).map((e) => e.seq)) + 1;
    const dir = await cleanup.tempDir('loadledger-export-out-');

    const byTime = await exportLog({ source: src, out: join(dir, 'time.llog'), since: iso });
    expect([byTime.firstSeq, byTime.lastSeq]).toEqual([expectedFirst, src.lastSeq]);
    const whole = await exportLog({ source: src, out: join(dir, 'whole.llog') });
    expect([whole.firstSeq, whole.lastSeq, whole.events]).toEqual([1, src.lastSeq, src.lastSeq]);

    for (const name of ['time.llog', 'whole.llog']) {
      const file = await openFileSource(join(dir, name));
      cleanup.defer(`close ${name}`, () => file.close());
      const reference = createProjection();
      for (const e of events) if (e.seq < file.firstSeq) evolve(reference, e);
      await expectSameStates(reference, src, file, file.firstSeq, file.lastSeq);
    }
  }, 30_000);
});

describe('export over --http from a running master whose old events were deleted by retention', () => {
  it('starts from the exact state the master rebuilds, and matches the log at every seq', async () => {
    const data = await cleanup.tempDir('loadledger-export-http-');
    const master = await startMaster(cleanup, {
      data,
      retainEvents: 80,
      retentionInterval: 3_600_000,
      snapshotEvery: 30,
      snapshotInterval: 0,
    });
    slave(master, 'a:80');
    slave(master, 'b:80');
    const hung = await raw(master);
    hung.push({ addr: 'hung:80', load: 3 });
    await waitFor(() => master.projection.seq > 300 && state(master, 'hung:80') === 'DOWN', {
      timeout: 5000,
      what: '300 events and a timeout',
    });
    await master.applyRetention();
    expect(master.log.firstSeq).toBeGreaterThan(150);

    const src = await openHttpSource(httpBase(master));
    cleanup.defer('close http source', () => src.close());
    expect(src.firstSeq).toBeGreaterThan(150);
    expect(src.describe).toBe(`master ${httpBase(master)}`);
    // Before what the master can rebuild: refused with the code, both ways.
    expect(await codeOf(src.base(src.firstSeq - 2))).toBe(ErrorCode.SEQ_OUT_OF_RANGE);
    const dir = await cleanup.tempDir('loadledger-export-out-');
    expect(await codeOf(exportLog({ source: src, out: join(dir, 'early.llog'), since: '1' }))).toBe(ErrorCode.SEQ_OUT_OF_RANGE);

    const since = src.firstSeq + 7; // not on a snapshot: the master folds from the nearest one
    const out = join(dir, 'live.llog');
    const result = await exportLog({ source: src, out, since: String(since) });
    expect(result.firstSeq).toBe(since);
    expect(result.lastSeq).toBe(src.lastSeq);
    await master.stop('end of the test');

    const log = await openDataSource(data);
    cleanup.defer('close data source', () => log.close());
    const file = await openFileSource(out);
    cleanup.defer('close file source', () => file.close());
    // Reference: the log's own base at its start, folded over everything it retains.
    const reference = await log.base(log.firstSeq - 1);
    for (const e of await allEvents(log, reference.seq + 1, since - 1)) evolve(reference, e);
    await expectSameStates(reference, log, file, since, result.lastSeq);
  }, 30_000);
});

describe('a damaged export file is refused with its own code', () => {
  async function exported(): Promise<{ path: string; bytes: Buffer }> {
    const data = await buildLog();
    const dir = await cleanup.tempDir('loadledger-export-out-');
    const path = join(dir, 'x.llog');
    const src = await openDataSource(data);
    try {
      await exportLog({ source: src, out: path });
    } finally {
      await src.close();
    }
    return { path, bytes: await readFile(path) };
  }

  it('truncated at several points: FILE_TRUNCATED; a flipped byte: FILE_CORRUPT; a newer version: FILE_FORMAT_UNSUPPORTED', async () => {
    const { path, bytes } = await exported();
    expect(await replayWhole(path)).toBeGreaterThan(100);
    const n = bytes.length;
    const cuts = [0, 3, PREAMBLE_SIZE, PREAMBLE_SIZE + 10, 200, Math.floor(n / 3), Math.floor(n / 2), n - 40, n - 25, n - 1];
    for (const cut of cuts) {
      const p = `${path}.cut${cut}`;
      await writeFile(p, bytes.subarray(0, cut));
      expect(await codeOf(replayWhole(p)), `cut at ${cut} of ${n}`).toBe(ErrorCode.FILE_TRUNCATED);
    }
    for (const at of [1, 6, 20, 100, Math.floor(n / 2), Math.floor(n * 0.9), n - 30, n - 2]) {
      const copy = Buffer.from(bytes);
      copy[at] = copy[at]! ^ 0x10;
      const p = `${path}.flip${at}`;
      await writeFile(p, copy);
      expect(await codeOf(replayWhole(p)), `byte ${at} of ${n} flipped`).toBe(ErrorCode.FILE_CORRUPT);
    }
    const newer = `${path}.v2`;
    await writeFile(newer, Buffer.concat([encodePreamble(FILE_FORMAT_VERSION + 1), bytes.subarray(PREAMBLE_SIZE)]));
    const e = await replayWhole(newer).catch((err: unknown) => err as LoadLedgerError);
    expect((e as LoadLedgerError).code).toBe(ErrorCode.FILE_FORMAT_UNSUPPORTED);
    expect((e as LoadLedgerError).message).toBe(`${newer}: export format version 2, this loadledger reads 1; use a newer loadledger`);
  }, 30_000);
});

describe('the export command refuses', () => {
  it('to overwrite an existing file without --force, and replaces it atomically with it', async () => {
    const data = await buildLog();
    const dir = await cleanup.tempDir('loadledger-export-out-');
    const out = join(dir, 'incident.llog');
    await writeFile(out, 'precious');
    const quiet = captureStderr();
    const err = await runExport({ data, output: out }, { stderr: quiet.stream }).catch((e: unknown) => e as LoadLedgerError);
    expect(err).toBeInstanceOf(LoadLedgerError);
    expect((err as LoadLedgerError).code).toBe(ErrorCode.BAD_ARGUMENT);
    expect((err as LoadLedgerError).message).toMatch(/incident\.llog: the file exists; pass --force/);
    expect(await readFile(out, 'utf8')).toBe('precious');
    expect(quiet.text()).toBe('');

    const r = await runExport({ data, output: out, force: true }, { stderr: quiet.stream });
    expect(r.events).toBeGreaterThan(100);
    expect((await stat(out)).size).toBe(r.bytes);
    expect(await replayWhole(out)).toBe(r.lastSeq);
    expect(await readdir(dir)).toEqual(['incident.llog']);
  }, 30_000);

  it('a --since that parses as nothing, reversed ranges, two sources, an output in no directory: BAD_ARGUMENT, nothing written', async () => {
    const data = await buildLog();
    const dir = await cleanup.tempDir('loadledger-export-out-');
    const out = join(dir, 'x.llog');
    const quiet = captureStderr();
    const run = (flags: Partial<Parameters<typeof runExport>[0]>): Promise<string> =>
      codeOf(runExport({ data, output: out, ...flags }, { stderr: quiet.stream }));
    const e = await runExport({ data, output: out, since: 'yesterday-ish' }, { stderr: quiet.stream }).catch(
      (x: unknown) => x as LoadLedgerError,
    );
    expect((e as LoadLedgerError).code).toBe(ErrorCode.BAD_ARGUMENT);
    expect((e as LoadLedgerError).message).toMatch(/^--since: cannot read "yesterday-ish"/);
    expect(await run({ until: 'soon' })).toBe(ErrorCode.BAD_ARGUMENT);
    expect(await run({ since: '100', until: '50' })).toBe(ErrorCode.BAD_ARGUMENT);
    expect(await run({ http: 'http://127.0.0.1:1' })).toBe(ErrorCode.BAD_ARGUMENT);
    expect(await run({ output: join(dir, 'no', 'such', 'x.llog') })).toBe(ErrorCode.BAD_ARGUMENT);
    expect(await run({ output: dir })).toBe(ErrorCode.BAD_ARGUMENT);
    expect(await run({ since: '999999' })).toBe(ErrorCode.SEQ_OUT_OF_RANGE);
    expect(await readdir(dir)).toEqual([]);
    expect(quiet.text()).toBe('');
  }, 30_000);

  it('an aborted export leaves nothing behind', async () => {
    const data = await buildLog();
    const dir = await cleanup.tempDir('loadledger-export-out-');
    const src = await openDataSource(data);
    cleanup.defer('close data source', () => src.close());
    const abort = new AbortController();
    const code = await exportLog({ source: src, out: join(dir, 'x.llog'), signal: abort.signal, onProgress: () => abort.abort() }).then(
      () => 'finished',
      (e: unknown) => (e as Error).name,
    );
    expect(code).toBe('AbortError');
    expect(await readdir(dir)).toEqual([]);
  }, 30_000);
});
