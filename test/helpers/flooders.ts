/**
 * Flooding slaves in a child process of their own (so the test process, which measures,
 * stays quiet): `conns` connections that push their load (addr flood-K:80), then write
 * HELLO frames as fast as their sockets take them and read (and drop) whatever the master
 * sends back, so they are never cut off for not reading. Killed at cleanup.
 */
import { spawn } from 'node:child_process';
import { encodePush } from '../../src/protocol/index.js';
import type { Cleanup } from './cleanup.js';
import { waitFor, withTimeout } from './wait.js';

const SCRIPT = `
const net = require('node:net');
const [port, conns] = process.argv.slice(1, 3).map(Number);
const pushes = process.argv.slice(3);
const HELLOS = Buffer.alloc(4 * 4096);
for (let i = 0; i < 4096; i++) HELLOS.writeUInt16BE(1, 4 * i);
let sent = 0, received = 0, open = 0, closed = 0;
for (let k = 0; k < conns; k++) {
  const s = net.connect({ port, host: '127.0.0.1', noDelay: true });
  const pump = () => {
    while (!s.destroyed) {
      sent += HELLOS.length;
      if (!s.write(HELLOS)) return void s.once('drain', pump);
    }
  };
  s.on('connect', () => {
    s.write(Buffer.from(pushes[k], 'hex')); // a slave pushes its load first
    if (++open === conns) process.stdout.write('flooding\\n');
    pump();
  });
  s.on('data', (b) => (received += b.length));
  s.on('error', () => {});
  s.on('close', () => closed++);
}
process.on('SIGTERM', () => {
  process.stdout.write(JSON.stringify({ sent, received, closed }) + '\\n');
  process.exit(0);
});
`;

export interface FloodTotals {
  /** Bytes of HELLOs handed to the sockets. */
  sent: number;
  /** Bytes the master sent back (HELLO_ACKs). */
  received: number;
  /** Connections the master closed. */
  closed: number;
}

export interface Flooders {
  /** Stops flooding (SIGTERM) and returns what was sent and received. */
  stop(): Promise<FloodTotals>;
}

/** Starts `conns` flooding connections to 127.0.0.1:`port`; resolves once all are connected. */
export async function spawnFlooders(cleanup: Cleanup, port: number, conns: number): Promise<Flooders> {
  const pushes = Array.from({ length: conns }, (_, k) => encodePush({ addr: `flood-${k}:80`, load: 1 }).toString('hex'));
  const child = spawn(process.execPath, ['-e', SCRIPT, String(port), String(conns), ...pushes], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  const exit = new Promise<void>((resolve) => child.on('close', () => resolve()));
  cleanup.defer(`kill flooders ${child.pid}`, async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exit;
    }
  });
  await waitFor(() => out.includes('flooding\n') || child.exitCode !== null, { what: 'the flooders to connect', timeout: 10_000 });
  if (!out.includes('flooding\n')) throw new Error('the flooders exited before connecting');
  return {
    async stop() {
      child.kill('SIGTERM');
      await withTimeout(exit, 5000, 'the flooders to exit');
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (!line) throw new Error(`the flooders printed no totals: ${out}`);
      return JSON.parse(line) as FloodTotals;
    },
  };
}
