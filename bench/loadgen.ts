/**
 * The slave load generator, in its own process: N TCP connections to a master (or to the
 * bare server), one node per connection (its own `addr`), speaking PROTOCOL.md.
 *
 *   closed  each connection in a closed loop: PUSH_LOAD_INFO + HELLO in one write, wait
 *           for the HELLO_ACK, repeat. Latency: write → HELLO_ACK.
 *   open    rate-limited open loop: `rate` round trips/s spread round-robin over the
 *           connections on a 1 ms clock, whatever the answers do; each HELLO_ACK answers the
 *           oldest HELLO outstanding on its connection (TCP keeps the order). Latency is
 *           taken from the actual write.
 *   hold    push once on connect, then only answer the master's HELLOs (an idle table).
 *
 * Calls: connect {port, conns, mode}, start {rate?}, mark, collect, halt, stop.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { HELLO_ACK_FRAME, HELLO_FRAME, encodePush } from '../src/protocol/encoder.js';
import { cpuShare, serve } from './lib/serve.js';
import { Samples } from './lib/stats.js';
import { nodeAddr } from './lib/synth.js';

type Mode = 'closed' | 'open' | 'hold';

interface Conn {
  i: number;
  sock: Socket;
  /** PUSH_LOAD_INFO (+ HELLO) frames, pre-encoded with a few different loads. */
  frames: Buffer[];
  k: number;
  t0: number;
  /** open loop: write times of the HELLOs not answered yet (FIFO). */
  sentAt: number[];
  hdr: Buffer;
  hdrLen: number;
  skip: number;
  alive: boolean;
}

const FRAMES_PER_CONN = 8;
let mode: Mode = 'closed';
let conns: Conn[] = [];
let running = false;
let timer: NodeJS.Timeout | undefined;
const samples = new Samples();
/** Absolute send time (ms since the epoch, performance.timeOrigin-based) of each sample. */
const sentAbs = new Samples();
let completed = 0;
let sent = 0;
let pings = 0;
let closed = 0;
let markT = performance.now();
let markCpu = process.cpuUsage();
let openStart = 0;
let openSent = 0;
let rate = 0;
let rr = 0;

function frameFor(i: number, load: number, withHello: boolean): Buffer {
  const push = encodePush({ load, addr: nodeAddr(i), attrs: { zone: `z${i % 4}` } });
  return withHello ? Buffer.concat([push, HELLO_FRAME]) : push;
}

function send(c: Conn): void {
  if (!c.alive) return;
  const now = performance.now();
  if (mode === 'open') c.sentAt.push(now);
  else c.t0 = now;
  sent++;
  c.sock.write(c.frames[c.k++ % FRAMES_PER_CONN]!);
}

function onAck(c: Conn): void {
  const now = performance.now();
  if (mode === 'closed') {
    samples.push(now - c.t0);
    sentAbs.push(performance.timeOrigin + c.t0);
    completed++;
    if (running) send(c);
  } else if (mode === 'open') {
    const t = c.sentAt.shift();
    if (t !== undefined) {
      samples.push(now - t);
      sentAbs.push(performance.timeOrigin + t);
      completed++;
    }
  }
}

function onFrame(c: Conn, type: number): void {
  if (type === 2) onAck(c);
  else if (type === 1) {
    pings++;
    c.sock.write(HELLO_ACK_FRAME);
  }
}

function onData(c: Conn, chunk: Buffer): void {
  let pos = 0;
  const end = chunk.length;
  while (pos < end) {
    if (c.skip > 0) {
      const n = Math.min(c.skip, end - pos);
      c.skip -= n;
      pos += n;
      continue;
    }
    let type: number;
    let len: number;
    if (c.hdrLen === 0 && end - pos >= 4) {
      type = chunk.readUInt16BE(pos);
      len = chunk.readUInt16BE(pos + 2);
      pos += 4;
    } else {
      while (c.hdrLen < 4 && pos < end) c.hdr[c.hdrLen++] = chunk[pos++]!;
      if (c.hdrLen < 4) break;
      type = c.hdr.readUInt16BE(0);
      len = c.hdr.readUInt16BE(2);
      c.hdrLen = 0;
    }
    c.skip = len;
    onFrame(c, type);
  }
}

function openOne(port: number, i: number): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const sock = netConnect({ host: '127.0.0.1', port, noDelay: true });
    const withHello = mode !== 'hold';
    const frames = Array.from({ length: FRAMES_PER_CONN }, () => frameFor(i, Math.floor(Math.random() * 1000), withHello));
    const c: Conn = { i, sock, frames, k: 0, t0: 0, sentAt: [], hdr: Buffer.alloc(4), hdrLen: 0, skip: 0, alive: true };
    sock.once('connect', () => {
      sock.setNoDelay(true);
      if (mode === 'hold') sock.write(c.frames[0]!);
      resolve(c);
    });
    sock.on('data', (d: Buffer) => onData(c, d));
    sock.on('error', (e) => {
      if (c.alive && !running) reject(e);
    });
    sock.on('close', () => {
      if (c.alive) closed++;
      c.alive = false;
    });
  });
}

async function connectAll(arg: { port: number; conns: number; mode: Mode; concurrency?: number }): Promise<Record<string, unknown>> {
  mode = arg.mode;
  const t0 = performance.now();
  const out: Conn[] = new Array<Conn>(arg.conns);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < arg.conns) {
      const i = next++;
      out[i] = await openOne(arg.port, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(arg.concurrency ?? 200, arg.conns) }, worker));
  conns = out;
  return { connected: conns.length, ms: performance.now() - t0 };
}

function tick(): void {
  const due = Math.floor(((performance.now() - openStart) * rate) / 1000);
  const n = conns.length;
  while (openSent < due) {
    const c = conns[rr]!;
    rr = (rr + 1) % n;
    openSent++;
    send(c);
  }
}

serve({
  connect: connectAll,
  start: (arg: { rate?: number }) => {
    running = true;
    if (mode === 'closed') for (const c of conns) send(c);
    else if (mode === 'open') {
      rate = arg.rate ?? 1000;
      openStart = performance.now();
      openSent = 0;
      timer = setInterval(tick, 1);
    }
    return {};
  },
  mark: () => {
    samples.clear();
    sentAbs.clear();
    completed = 0;
    sent = 0;
    pings = 0;
    markT = performance.now();
    markCpu = process.cpuUsage();
    return { t: markT };
  },
  collect: (arg: { tail?: number }) => {
    const wall = performance.now() - markT;
    const outstanding = mode === 'open' ? conns.reduce((a, c) => a + c.sentAt.length, 0) : 0;
    const latency = samples.summary();
    // The slowest round trips as [absolute send ms, latency ms], for lining up with the master's stalls.
    let tail: [number, number][] = [];
    if (arg?.tail) {
      const lat = samples.values();
      const at = sentAbs.values();
      const cut = latency.count > 0 ? Math.max(latency.p99, 0) : Infinity;
      for (let i = 0; i < lat.length; i++) if (lat[i]! >= cut) tail.push([at[i]!, lat[i]!]);
      tail = tail.slice(0, arg.tail);
    }
    return { wallMs: wall, completed, sent, pings, closed, outstanding, cpu: cpuShare(markCpu, wall), latency, tail };
  },
  halt: () => {
    running = false;
    if (timer) clearInterval(timer);
    return {};
  },
  stop: () => {
    running = false;
    if (timer) clearInterval(timer);
    for (const c of conns) {
      c.alive = false;
      c.sock.destroy();
    }
    return { closed };
  },
});
