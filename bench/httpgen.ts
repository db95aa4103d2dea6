/**
 * The HTTP client, in its own process: `conns` keep-alive connections, each in a closed
 * loop GET → read the whole body → GET. No dependency (no autocannon, no undici).
 *
 *   node  node:http with an Agent (keepAlive, maxSockets = conns): what a Node service
 *         querying the registry would use; its own cost is high (~one core at ~25k req/s).
 *   raw   a minimal HTTP/1.1 keep-alive loop on net sockets (fixed request bytes, parses
 *         status line and Content-Length only): cheap, like autocannon, so that the
 *         server rather than the client is the limit.
 *
 * Calls: start {port, path, conns, client}, mark, collect, stop.
 */
import { Agent, get } from 'node:http';
import { connect as netConnect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { cpuShare, serve } from './lib/serve.js';
import { Samples } from './lib/stats.js';

let agent: Agent | undefined;
let running = false;
const samples = new Samples();
let ok = 0;
let bad = 0;
let errors = 0;
let bytes = 0;
let markT = performance.now();
let markCpu = process.cpuUsage();
let lastStatus = 0;

function loop(port: number, path: string): void {
  if (!running) return;
  const t0 = performance.now();
  const req = get({ agent, host: '127.0.0.1', port, path }, (res) => {
    const good = res.statusCode === 200;
    lastStatus = res.statusCode ?? 0;
    res.on('data', (d: Buffer) => (bytes += d.length));
    res.on('end', () => {
      samples.push(performance.now() - t0);
      if (good) ok++;
      else bad++;
      loop(port, path);
    });
  });
  req.on('error', () => {
    errors++;
    if (running) setTimeout(() => loop(port, path), 5);
  });
}

const rawSockets: Socket[] = [];
const CRLF2 = Buffer.from('\r\n\r\n');

function rawConn(port: number, path: string): void {
  const request = Buffer.from(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: keep-alive\r\n\r\n`);
  const sock = netConnect({ host: '127.0.0.1', port, noDelay: true });
  rawSockets.push(sock);
  let pending: Buffer = Buffer.alloc(0);
  let t0 = 0;
  const next = (): void => {
    if (!running) return;
    t0 = performance.now();
    sock.write(request);
  };
  sock.on('connect', next);
  sock.on('data', (d: Buffer) => {
    pending = pending.length > 0 ? Buffer.concat([pending, d]) : d;
    for (;;) {
      const end = pending.indexOf(CRLF2);
      if (end < 0) return;
      const head = pending.toString('latin1', 0, end);
      const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      const total = end + 4 + (m ? Number(m[1]) : 0);
      if (pending.length < total) return;
      const status = Number(head.slice(9, 12));
      lastStatus = status;
      bytes += total;
      pending = pending.subarray(total);
      samples.push(performance.now() - t0);
      if (status === 200) ok++;
      else bad++;
      next();
    }
  });
  sock.on('error', () => errors++);
}

serve({
  start: (arg: { port: number; path: string; conns: number; client?: 'node' | 'raw' }) => {
    running = true;
    if (arg.client === 'raw') {
      for (let i = 0; i < arg.conns; i++) rawConn(arg.port, arg.path);
      return {};
    }
    agent = new Agent({ keepAlive: true, maxSockets: arg.conns, maxFreeSockets: arg.conns });
    for (let i = 0; i < arg.conns; i++) loop(arg.port, arg.path);
    return {};
  },
  mark: () => {
    samples.clear();
    ok = bad = errors = bytes = 0;
    markT = performance.now();
    markCpu = process.cpuUsage();
    return { t: markT };
  },
  collect: () => {
    const wall = performance.now() - markT;
    const sockets =
      rawSockets.length > 0
        ? rawSockets.filter((x) => !x.destroyed).length
        : agent
          ? Object.values(agent.sockets).reduce((a, s) => a + (s?.length ?? 0), 0) +
            Object.values(agent.freeSockets).reduce((a, s) => a + (s?.length ?? 0), 0)
          : 0;
    return { wallMs: wall, ok, bad, errors, bytes, lastStatus, sockets, cpu: cpuShare(markCpu, wall), latency: samples.summary() };
  },
  stop: () => {
    running = false;
    agent?.destroy();
    for (const x of rawSockets) x.destroy();
    return {};
  },
});
