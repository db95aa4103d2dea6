/**
 * The slave against a real TCP master stand-in on 127.0.0.1 (port 0) that decodes with the
 * project's FrameDecoder. Timings are short and configurable; every wait polls a condition
 * with a deadline instead of sleeping and hoping.
 */
import { createHook } from 'node:async_hooks';
import { mkdtemp, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, LoadLedgerError } from '../../src/errors.js';
import { FrameDecoder, HELLO_ACK_FRAME, HELLO_FRAME, type DecodeError, type Frame, type LoadInfo } from '../../src/protocol/index.js';
import { createSlave, type ReconnectInfo, type Slave, type SlaveOptions } from '../../src/slave/slave.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { closedPort } from '../helpers/net.js';
import { MIN_TIMEOUT } from '../helpers/wait.js';

// ---------------------------------------------------------------- helpers

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  // LIFO: slaves (registered after their master) close before the master.
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** Like test/helpers/wait.ts: at least MIN_TIMEOUT, whatever the caller asks (a deadline only decides how long a failure takes to say so). */
async function waitFor<T>(what: string, cond: () => T | undefined | null | false, timeout = 15_000): Promise<T> {
  timeout = Math.max(timeout, MIN_TIMEOUT);
  const deadline = performance.now() + timeout;
  for (;;) {
    const v = cond();
    if (v !== undefined && v !== null && v !== false) return v;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

interface MasterConn {
  readonly socket: Socket;
  readonly frames: Frame[];
  readonly errors: DecodeError[];
  readonly connectedAt: number;
  closed: boolean;
}

interface TestMaster {
  readonly port: number;
  readonly address: string;
  readonly conns: MasterConn[];
  /** Answer HELLO with HELLO_ACK, as a real master does. */
  answerHello: boolean;
  close(): Promise<void>;
}

async function startMaster(opts: { answerHello?: boolean; helloOnConnect?: boolean } = {}): Promise<TestMaster> {
  const conns: MasterConn[] = [];
  const server: Server = createServer((socket) => {
    const conn: MasterConn = { socket, frames: [], errors: [], connectedAt: performance.now(), closed: false };
    conns.push(conn);
    const decoder = new FrameDecoder({
      frame: (f) => {
        conn.frames.push(f);
        if (f.type === 'HELLO' && master.answerHello) socket.write(HELLO_ACK_FRAME);
      },
      error: (e) => {
        conn.errors.push(e);
        socket.destroy();
      },
    });
    socket.on('data', (chunk: Buffer) => decoder.push(chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      conn.closed = true;
    });
    if (opts.helloOnConnect) socket.write(HELLO_FRAME);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const master: TestMaster = {
    port,
    address: `127.0.0.1:${port}`,
    conns,
    answerHello: opts.answerHello ?? true,
    async close() {
      for (const c of conns) c.socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  cleanups.push(() => master.close());
  return master;
}

interface Recorded {
  connects: number;
  disconnects: string[];
  pushes: number[];
  loadErrors: LoadLedgerError[];
  recovered: number[];
  masterDead: number[];
  reconnecting: ReconnectInfo[];
  errors: Error[];
}

function startSlave(options: SlaveOptions): { slave: Slave; ev: Recorded } {
  const slave = createSlave(options);
  const ev: Recorded = {
    connects: 0,
    disconnects: [],
    pushes: [],
    loadErrors: [],
    recovered: [],
    masterDead: [],
    reconnecting: [],
    errors: [],
  };
  slave.on('connect', () => ev.connects++);
  slave.on('disconnect', (r) => ev.disconnects.push(r));
  slave.on('push', (l) => ev.pushes.push(l));
  slave.on('loadError', (e) => ev.loadErrors.push(e));
  slave.on('loadRecovered', (l) => ev.recovered.push(l));
  slave.on('masterDead', (ms) => ev.masterDead.push(ms));
  slave.on('reconnecting', (i) => ev.reconnecting.push(i));
  slave.on('error', (e) => ev.errors.push(e));
  cleanups.push(() => slave.close());
  return { slave, ev };
}

type PushFrame = Extract<Frame, { type: 'PUSH_LOAD_INFO' }>;
const isPush = (f: Frame): f is PushFrame => f.type === 'PUSH_LOAD_INFO';
const pushesOf = (c: MasterConn | undefined): LoadInfo[] => (c ? c.frames.filter(isPush).map((f) => f.info) : []);
const count = (c: MasterConn | undefined, type: Frame['type']): number => (c ? c.frames.filter((f) => f.type === type).length : 0);

/** A few full turns of the event loop: bytes a peer in this process wrote are read by then. */
async function ioTurns(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((r) => setTimeout(r, 1));
}

/** A long period, so that any push seen within a test's deadline is the push-at-once. */
const LONG = { interval: 60_000, deadAfter: 120_000 } as const;
const FAST_BACKOFF = { initial: 10, max: 40 } as const;

// ---------------------------------------------------------------- tests

describe('slave ↔ master over TCP', () => {
  it('says HELLO and pushes its load at once on connect, with addr, capacity and attrs: its whole state', async () => {
    const master = await startMaster();
    const { slave, ev } = startSlave({
      master: master.address,
      addr: 'gw1.example:8080',
      capacity: 2.5,
      attrs: { zone: 'eu-1', canary: true, weight: 3 },
      load: () => 42,
      ...LONG,
    });
    const first = await waitFor('the first two frames', () => (master.conns[0]?.frames.length ?? 0) >= 2 && master.conns[0]!.frames, 2000);
    expect(first[0]).toEqual({ type: 'HELLO' });
    expect(first[1]).toEqual({
      type: 'PUSH_LOAD_INFO',
      info: { load: 42, addr: 'gw1.example:8080', capacity: 2.5, attrs: { zone: 'eu-1', canary: true, weight: 3 } },
    });
    expect(ev.connects).toBe(1);
    expect(ev.pushes).toEqual([42]);
    expect(slave.connected).toBe(true);
    expect(slave.master).toEqual({ host: '127.0.0.1', port: master.port });
  });

  it('sends HELLO and pushes every interval; stays connected while the master answers', async () => {
    const master = await startMaster();
    let load = 0;
    // The slave's time on a manual clock, each tick's HELLO_ACK read before time moves on: a
    // busy machine cannot make the answers late.
    const clock = new ManualClock();
    const { ev } = startSlave({
      master: master.address,
      load: () => ++load,
      interval: 20,
      deadAfter: 100,
      backoff: FAST_BACKOFF,
      scheduler: clock,
    });
    // 15 intervals = 3 × deadAfter: long enough that a slave not counting HELLO_ACK as life would have given up.
    for (let k = 1; k < 15; k++) {
      await waitFor(`HELLO ${k} and its push`, () => count(master.conns[0], 'HELLO') >= k && pushesOf(master.conns[0]).length >= k);
      await ioTurns(); // the HELLO_ACK the stand-in wrote, read by the slave
      await clock.advance(20);
    }
    const conn = await waitFor('15 HELLOs', () => (count(master.conns[0], 'HELLO') >= 15 ? master.conns[0] : undefined));
    expect(conn.frames.slice(0, 3).map((f) => f.type)).toEqual(['HELLO', 'PUSH_LOAD_INFO', 'HELLO']);
    // Every HELLO is followed by the push of the same tick: loads 1, 2, 3, … in order.
    const loads = pushesOf(conn).map((i) => i.load);
    expect(loads.length).toBeGreaterThanOrEqual(15);
    expect(loads).toEqual(loads.map((_, i) => i + 1));
    expect(ev.masterDead).toEqual([]);
    expect(ev.disconnects).toEqual([]);
    expect(master.conns).toHaveLength(1);
  });

  it('answers the master’s HELLO with HELLO_ACK', async () => {
    const master = await startMaster({ helloOnConnect: true });
    startSlave({ master: master.address, load: () => 1, ...LONG });
    const conn = await waitFor('a HELLO_ACK', () => (count(master.conns[0], 'HELLO_ACK') === 1 ? master.conns[0] : undefined));
    conn.socket.write(HELLO_FRAME);
    conn.socket.write(HELLO_FRAME);
    await waitFor('two more HELLO_ACKs', () => count(conn, 'HELLO_ACK') === 3);
    expect(count(conn, 'HELLO')).toBe(1); // the one it says on connect; with a 60 s interval, none since
  });

  it('reconnects after the master drops the connection, and pushes again at once', async () => {
    const master = await startMaster();
    const { ev } = startSlave({ master: master.address, load: () => 7, backoff: FAST_BACKOFF, ...LONG });
    const c0 = await waitFor('the first push', () => (pushesOf(master.conns[0]).length === 1 ? master.conns[0] : undefined));
    c0.socket.destroy();
    const c1 = await waitFor('a push on a second connection', () => (pushesOf(master.conns[1]).length === 1 ? master.conns[1] : undefined));
    expect(c1.frames[0]).toEqual({ type: 'HELLO' });
    expect(c1.frames[1]).toMatchObject({ type: 'PUSH_LOAD_INFO', info: { load: 7 } });
    expect(ev.disconnects).toEqual(['master closed the connection']);
    expect(ev.reconnecting).toHaveLength(1);
    expect(ev.reconnecting[0]!.delay).toBeLessThanOrEqual(FAST_BACKOFF.initial);
    expect(ev.connects).toBe(2);
  });

  it('declares a silent master dead after deadAfter, then reconnects and pushes at once', async () => {
    const master = await startMaster({ answerHello: false });
    let connectedAt = 0;
    const { slave, ev } = startSlave({ master: master.address, load: () => 3, interval: 50, deadAfter: 200, backoff: FAST_BACKOFF });
    slave.once('connect', () => (connectedAt = performance.now()));
    const deadAt = await waitFor('masterDead', () => (ev.masterDead.length > 0 ? performance.now() : undefined));
    expect(ev.masterDead[0]).toBeGreaterThanOrEqual(200);
    expect(deadAt - connectedAt).toBeGreaterThanOrEqual(195);
    // The slave's own HELLOs went out; they are not life from the master.
    expect(count(master.conns[0], 'HELLO')).toBeGreaterThanOrEqual(2);
    const c1 = await waitFor('a push on a second connection', () => (pushesOf(master.conns[1]).length > 0 ? master.conns[1] : undefined));
    expect(c1.frames.slice(0, 2).map((f) => f.type)).toEqual(['HELLO', 'PUSH_LOAD_INFO']);
    await waitFor('the dead connection to be closed', () => master.conns[0]!.closed);
    expect(ev.disconnects[0]).toMatch(/^master dead: nothing received for \d+ ms$/);
    // A master that never said anything does not reset the backoff: the delays grow.
    await waitFor('a second masterDead', () => ev.masterDead.length >= 2);
    await waitFor('a second reconnect', () => ev.reconnecting.length >= 2);
    expect(ev.reconnecting.map((r) => r.attempt)).toEqual([1, 2]);
  });

  it('a master that sends only HELLO (never acks) is alive', async () => {
    const master = await startMaster({ answerHello: false });
    const clock = new ManualClock();
    const { ev } = startSlave({
      master: master.address,
      load: () => 3,
      interval: 20,
      deadAfter: 100,
      backoff: FAST_BACKOFF,
      scheduler: clock,
    });
    const conn = await waitFor('a connection', () => master.conns[0]);
    // the master's HELLO every 20 ms of the slave's clock, each answered (so read) before time moves on
    for (let k = 1; k <= 15; k++) {
      conn.socket.write(HELLO_FRAME);
      await waitFor(`HELLO_ACK ${k}`, () => count(conn, 'HELLO_ACK') >= k);
      await clock.advance(20);
    }
    await waitFor('15 HELLOs from the slave', () => count(conn, 'HELLO') >= 15);
    expect(ev.masterDead).toEqual([]);
    expect(count(conn, 'HELLO_ACK')).toBeGreaterThanOrEqual(10);
  });

  it('drops and reconnects on a protocol error in the master’s bytes', async () => {
    const master = await startMaster();
    const { ev } = startSlave({ master: master.address, load: () => 5, backoff: FAST_BACKOFF, ...LONG });
    const c0 = await waitFor('the first push', () => (pushesOf(master.conns[0]).length === 1 ? master.conns[0] : undefined));
    // A PUSH_LOAD_INFO header claiming 60000 bytes: over the decoder's limit.
    c0.socket.write(Buffer.from([0x00, 0x00, 0xea, 0x60]));
    await waitFor('a push on a second connection', () => pushesOf(master.conns[1]).length === 1);
    expect(ev.disconnects[0]).toMatch(/^protocol error from master: FRAME_TOO_LARGE/);
    expect(ev.errors.some((e) => e instanceof LoadLedgerError && e.code === ErrorCode.FRAME_TOO_LARGE)).toBe(true);
  });

  it('skips unknown frame types from the master and stays connected', async () => {
    const master = await startMaster();
    const { ev } = startSlave({ master: master.address, load: () => 5, backoff: FAST_BACKOFF, ...LONG });
    const c0 = await waitFor('the first push', () => (pushesOf(master.conns[0]).length === 1 ? master.conns[0] : undefined));
    c0.socket.write(Buffer.from([0x80, 0x00, 0x00, 0x03, 1, 2, 3]));
    c0.socket.write(HELLO_FRAME);
    await waitFor('the HELLO_ACK after the unknown frame', () => count(c0, 'HELLO_ACK') === 1);
    expect(ev.disconnects).toEqual([]);
  });

  describe('a failing load source', () => {
    let dir: string | undefined;
    afterEach(async () => {
      if (dir) await rm(dir, { recursive: true, force: true });
      dir = undefined;
    });

    it('stops the pushes (HELLO goes on) until the source recovers', async () => {
      dir = await mkdtemp(join(tmpdir(), 'loadledger-slave-'));
      const path = join(dir, 'gw.load');
      await writeFile(path, '10\n');
      const master = await startMaster();
      const { slave, ev } = startSlave({
        master: master.address,
        load: `file:${path}`,
        interval: 30,
        deadAfter: 1000,
        backoff: FAST_BACKOFF,
      });
      const conn = await waitFor('a push of 10', () => (pushesOf(master.conns[0]).length >= 2 ? master.conns[0] : undefined));
      expect(pushesOf(conn)[0]!.load).toBe(10);

      await unlink(path);
      const err = await waitFor('a loadError', () => ev.loadErrors[0]);
      expect(err.code).toBe(ErrorCode.LOAD_SOURCE_FAILED);
      expect(err.message).toContain(path);
      const pushed = ev.pushes.length;
      const hellos = count(conn, 'HELLO');
      // (a read still running skips its round: on a busy machine's thread pool some rounds do,
      // so the failed reads are waited for, not inferred from the HELLOs)
      await waitFor('4 more HELLOs and 4 failed reads', () => count(conn, 'HELLO') >= hellos + 4 && slave.stats.loadErrors >= 4);
      expect(ev.pushes.length).toBe(pushed); // not one push since the source failed
      expect(pushesOf(conn)).toHaveLength(pushed); // and the master has seen all of them, no more
      expect(ev.loadErrors).toHaveLength(1); // reported once, not once per interval
      expect(ev.disconnects).toEqual([]); // the connection stays; the master times the load out

      // A gateway rewrites its file atomically.
      await writeFile(`${path}.tmp`, '77');
      await rename(`${path}.tmp`, path);
      await waitFor('a push of 77', () => pushesOf(conn).some((i) => i.load === 77));
      expect(ev.recovered[0]).toBe(77);
    });

    it('a load function that throws is reported as LOAD_SOURCE_FAILED; HELLO still flows', async () => {
      const master = await startMaster();
      const { ev } = startSlave({
        master: master.address,
        load: () => {
          throw new Error('gateway unreachable');
        },
        interval: 20,
        deadAfter: 500,
      });
      await waitFor('3 HELLOs', () => count(master.conns[0], 'HELLO') >= 3);
      expect(pushesOf(master.conns[0])).toEqual([]);
      expect(ev.loadErrors).toHaveLength(1);
      expect(ev.loadErrors[0]!.code).toBe(ErrorCode.LOAD_SOURCE_FAILED);
      expect(ev.loadErrors[0]!.message).toContain('gateway unreachable');
    });

    it('a load function returning garbage does not reach the wire', async () => {
      const master = await startMaster();
      const { ev } = startSlave({ master: master.address, load: () => -1, interval: 20, deadAfter: 500 });
      await waitFor('3 HELLOs', () => count(master.conns[0], 'HELLO') >= 3);
      expect(pushesOf(master.conns[0])).toEqual([]);
      expect(ev.loadErrors[0]!.message).toMatch(/gave -1, expected a finite number ≥ 0/);
    });
  });

  it('skips writes while the socket is not draining, and resumes when it drains', async () => {
    const master = await startMaster();
    // ~7.9 KiB per push every millisecond fills the kernel buffers quickly.
    const attrs: Record<string, string> = {};
    for (let i = 0; i < 30; i++) attrs[`a${String(i).padStart(2, '0')}`] = 'x'.repeat(250);
    const { slave } = startSlave({ master: master.address, load: () => 1, attrs, interval: 1, deadAfter: 60_000 });
    const conn = await waitFor('a connection', () => master.conns[0]);
    conn.socket.pause();
    await waitFor('a skipped write', () => slave.stats.skippedWrites > 0, 10_000);
    const pushed = slave.stats.pushes;
    const skipped = slave.stats.skippedWrites;
    await waitFor('more skipped writes', () => slave.stats.skippedWrites > skipped + 20, 10_000);
    // While blocked, nothing more was queued: pushes did not grow with the ticks.
    expect(slave.stats.pushes - pushed).toBeLessThanOrEqual(1);
    conn.socket.resume();
    await waitFor('pushes to resume', () => slave.stats.pushes > pushed + 10, 10_000);
    expect(conn.errors).toEqual([]);
  }, 30_000);

  describe('close()', () => {
    /**
     * Tracks the timers, sockets and child processes created from src/slave while it is
     * enabled, including unref'd timers (which process.getActiveResourcesInfo() omits).
     */
    function trackHandles() {
      const live = new Map<number, string>();
      const types = new Set(['Timeout', 'TCPWRAP', 'TCPCONNECTWRAP', 'PROCESSWRAP', 'PIPEWRAP', 'GETADDRINFOREQWRAP']);
      const hook = createHook({
        init(id, type) {
          if (!types.has(type)) return;
          const limit = Error.stackTraceLimit;
          Error.stackTraceLimit = 60;
          const stack = new Error().stack ?? '';
          Error.stackTraceLimit = limit;
          if (stack.includes('/src/slave/')) live.set(id, type);
        },
        destroy(id) {
          live.delete(id);
        },
      });
      hook.enable();
      cleanups.push(async () => void hook.disable());
      return live;
    }

    it('leaves no timer or socket behind', async () => {
      const master = await startMaster();
      const live = trackHandles();
      const { slave, ev } = startSlave({ master: master.address, load: () => 1, interval: 20, deadAfter: 10_000 });
      await waitFor('a HELLO', () => count(master.conns[0], 'HELLO') >= 1);
      expect([...live.values()]).toEqual(expect.arrayContaining(['TCPWRAP', 'Timeout']));
      await slave.close();
      expect(slave.connected).toBe(false);
      expect(ev.disconnects).toEqual(['slave closed']);
      await waitFor('the master to see the close', () => master.conns[0]!.closed);
      await waitFor(`every slave handle to be released (left: ${[...live.values()].join(', ')})`, () => live.size === 0);
      await slave.close(); // idempotent
      const pushes = ev.pushes.length;
      expect(master.conns).toHaveLength(1);
      expect(ev.pushes).toHaveLength(pushes);
    });

    it.each([
      { options: undefined, frame: { type: 'GOODBYE' } },
      { options: { reason: 'drained for deploy' }, frame: { type: 'GOODBYE', reason: 'drained for deploy' } },
    ])('says GOODBYE as its last frame, then closes (close($options))', async ({ options, frame }) => {
      // The stand-in acts on GOODBYE no more than an old master would: it closes on the FIN.
      const master = await startMaster();
      // The slave's clock stands still: close() ends on the stand-in's FIN, not on its
      // 1 s grace timer (which would never fire), however slow the machine.
      const clock = new ManualClock();
      const { slave } = startSlave({ master: master.address, load: () => 1, interval: 20, deadAfter: 200, scheduler: clock });
      await waitFor('a push', () => count(master.conns[0], 'PUSH_LOAD_INFO') >= 1);
      await slave.close(options);
      await waitFor('the master to see the close', () => master.conns[0]!.closed);
      const frames = master.conns[0]!.frames;
      expect(frames[frames.length - 1]).toEqual(frame);
      expect(frames.filter((f) => f.type === 'GOODBYE')).toHaveLength(1);
      expect(master.conns[0]!.errors).toEqual([]);
    });

    it('during the reconnect backoff, cancels the pending reconnect', async () => {
      const port = await closedPort(); // nobody listens there, nor will meanwhile

      const live = trackHandles();
      const { slave, ev } = startSlave({ master: { host: '127.0.0.1', port }, load: () => 1, backoff: { initial: 5_000, max: 5_000 } });
      const info = await waitFor('a reconnect to be scheduled', () => ev.reconnecting[0]);
      expect(info.reason).toMatch(/ECONNREFUSED/);
      expect(ev.errors.length).toBeGreaterThan(0);
      expect(ev.disconnects).toEqual([]); // never connected
      await slave.close();
      await waitFor(`every slave handle to be released (left: ${[...live.values()].join(', ')})`, () => live.size === 0);
    });

    it('while connecting, aborts the attempt', async () => {
      const live = trackHandles();
      // 10.255.255.1 is unroutable: the connect hangs until closed (or fails fast without a route).
      const { slave } = startSlave({ master: '10.255.255.1:7400', load: () => 1 });
      await slave.close();
      expect(slave.connected).toBe(false);
      await waitFor(`every slave handle to be released (left: ${[...live.values()].join(', ')})`, () => live.size === 0);
    });
  });
});

describe('createSlave: options', () => {
  const base: SlaveOptions = { master: '127.0.0.1:7400', load: () => 1 };
  const bad: Array<[string, Partial<SlaveOptions> | Record<string, unknown>, RegExp]> = [
    ['a master without host', { master: ':7400' }, /^master: expected host/],
    ['a master with a bad port', { master: 'gw:99999' }, /^master: /],
    ['a bare IPv6 master', { master: '::1:7400' }, /brackets/],
    ['a master object with port 0', { master: { host: 'gw', port: 0 } }, /^master.port: /],
    ['a bad addr', { addr: 'gw 1' }, /^addr: /],
    ['capacity 0', { capacity: 0 }, /^capacity: /],
    ['a reserved attr', { attrs: { load: 3 } }, /^attrs: "load"/],
    ['a non-finite attr', { attrs: { w: Infinity } }, /^attrs.w: /],
    ['an object attr', { attrs: { w: {} } }, /^attrs.w: /],
    // a master refuses it (PUSH_BAD_KEY): the log would give it back as "__proto_"
    [
      'the attr key "__proto__"',
      { attrs: JSON.parse('{"__proto__":"x"}') as Record<string, string> },
      /^attrs: key "__proto__" is not allowed/,
    ],
    // a master refuses them (PUSH_CONTROL_CHARACTER): names never hold control or bidi characters
    ['an addr holding a backspace', { addr: 'gw\b1' }, /^addr: the address holds the control character U\+0008/],
    ['an attr key holding ESC', { attrs: { 'zo\x1bne': 'a' } }, /^attrs: a key holds the control character U\+001B/],
    ['an attr value holding U+202E', { attrs: { zone: 'eu\u202e' } }, /^attrs.zone: the value holds the control character U\+202E/],
    ['interval 0', { interval: 0 }, /^interval: /],
    ['a bad interval string', { interval: 'soon' }, /^interval: expected a duration/],
    ['deadAfter ≤ interval', { interval: '1s', deadAfter: '1s' }, /^deadAfter: must be longer than interval/],
    ['backoff.max < initial', { backoff: { initial: 100, max: 50 } }, /^backoff.max: /],
    ['jitter > 1', { backoff: { jitter: 2 } }, /^backoff.jitter: /],
    ['a bad load spec', { load: 'x' }, /^load: expected a number, loadavg/],
    ['no load', { load: undefined }, /^load: /],
  ];
  it.each(bad)('refuses %s with BAD_ARGUMENT', (_label, patch, message) => {
    let err: unknown;
    try {
      createSlave({ ...base, ...patch });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LoadLedgerError);
    expect((err as LoadLedgerError).code).toBe(ErrorCode.BAD_ARGUMENT);
    expect((err as LoadLedgerError).message).toMatch(message);
  });

  it('takes durations as strings, and a master without a port on 7400', async () => {
    const slave = createSlave({ master: '[::1]', load: '1', interval: '500ms', deadAfter: '2s', connectTimeout: '1s' });
    cleanups.push(() => slave.close());
    expect(slave.master).toEqual({ host: '::1', port: 7400 });
    await slave.close();
  });
});
