/**
 * A real HAProxy for one test (Debian's haproxy): a generated config on loopback ports that
 * were free a moment ago, in TCP mode in front of masters' slave ports, with an HTTP health
 * check on each master's HTTP port (docs/ha.md#vip). Runs in the foreground (`-db`) as a
 * child process and is stopped by its PID at cleanup. Its admin socket says which servers
 * it sees up. Without the binary the VIP tests skip with one line saying how to install it
 * — except under CI=true, where a missing haproxy fails the run.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { Cleanup } from './cleanup.js';
import { component } from './component.js';
import { closedPort } from './net.js';
import { waitFor } from './wait.js';

const HAPROXY = component('haproxy', ['/usr/sbin/haproxy', '/usr/local/sbin/haproxy', '/usr/bin/haproxy'], 'haproxy', 'VIP tests');
export const HAPROXY_BIN = HAPROXY.bin;
/** The one line a skipped VIP test file says. */
export const INSTALL_HAPROXY = HAPROXY.install;

/** Call at the top of a VIP test file: true to run; false (with the one line) to skip; throws under CI. */
export const haproxyAvailable = (): boolean => HAPROXY.available();

/** A master behind the VIP: its slave port (where slaves go) and its HTTP port (what is checked). */
export interface Backend {
  name: string;
  port: number;
  checkPort: number;
}

export interface HaproxyOptions {
  /** The health check's path: 200 is UP (docs/ha.md: `/v1/leader`). */
  check: string;
  /** Check interval, ms. Default 300 (as docs/ha.md). */
  inter?: number;
}

export interface TestHaproxy {
  /** Where slaves connect: 127.0.0.1:port. */
  readonly port: number;
  readonly pid: number;
  /** The generated configuration, as written. */
  readonly config: string;
  /** What HAProxy says of each server now: `UP`, `DOWN`, `MAINT`, … */
  status(): Promise<Record<string, string>>;
  /** Waits until HAProxy sees exactly `up` UP (generous: real health checks on a busy machine). */
  waitUp(up: string[], timeout?: number): Promise<void>;
}

/**
 * The configuration docs/ha.md shows, for tests: TCP mode; each server checked over HTTP
 * on its master's HTTP port; a server marked down has its sessions cut, so its slaves
 * reconnect (to the leader) at once instead of talking to a master that no longer leads;
 * `balance first`: while two are up (a check not caught up yet) every slave goes to one.
 */
export function haproxyConfig(listen: number, backends: readonly Backend[], opts: HaproxyOptions & { socket: string }): string {
  const inter = opts.inter ?? 300;
  return [
    'global',
    `  stats socket ${opts.socket} mode 600 level admin`,
    '  maxconn 4096',
    '',
    'defaults',
    '  mode tcp',
    '  timeout connect 2s',
    '  timeout client 1h',
    '  timeout server 1h',
    '  timeout check 1s',
    '',
    'frontend loadledger_slaves',
    `  bind 127.0.0.1:${listen}`,
    '  default_backend loadledger_masters',
    '',
    'backend loadledger_masters',
    '  balance first',
    `  option httpchk GET ${opts.check}`,
    '  http-check expect status 200',
    `  default-server inter ${inter}ms fall 2 rise 1 on-marked-down shutdown-sessions`,
    ...backends.map((b) => `  server ${b.name} 127.0.0.1:${b.port} check port ${b.checkPort}`),
    '',
  ].join('\n');
}

export async function startHaproxy(cleanup: Cleanup, backends: readonly Backend[], opts: HaproxyOptions): Promise<TestHaproxy> {
  if (!HAPROXY_BIN) throw new Error(INSTALL_HAPROXY);
  const dir = await cleanup.tempDir('loadledger-haproxy-');
  const socket = join(dir, 'admin.sock');
  const file = join(dir, 'haproxy.cfg');
  const port = await closedPort();
  const config = haproxyConfig(port, backends, { ...opts, socket });
  writeFileSync(file, config);
  const check = spawnSync(HAPROXY_BIN, ['-c', '-q', '-f', file], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`haproxy refused its config: ${check.stderr}${check.stdout}\n${config}`);
  let output = '';
  const proc: ChildProcess = spawn(HAPROXY_BIN, ['-db', '-f', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  proc.stderr!.setEncoding('utf8').on('data', (s: string) => (output = (output + s).slice(-4000)));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  cleanup.defer('stop haproxy', async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    process.kill(proc.pid!, 'SIGTERM');
    await exited;
  });
  const status = async (): Promise<Record<string, string>> => {
    const csv = await adminCommand(socket, 'show stat');
    const out: Record<string, string> = {};
    for (const line of csv.split('\n')) {
      const f = line.split(',');
      if (f[0] === 'loadledger_masters' && f[1] !== 'BACKEND' && f[1] !== undefined && f[17] !== undefined)
        out[f[1]] = f[17].split(' ')[0]!;
    }
    return out;
  };
  await waitFor(
    async () => {
      if (proc.exitCode !== null) throw new Error(`haproxy exited: ${output}`);
      return Object.keys(await status()).length === backends.length;
    },
    { what: 'haproxy to answer on its admin socket', timeout: 10_000, interval: 20, describe: () => output },
  );
  return {
    port,
    pid: proc.pid!,
    config,
    status,
    async waitUp(up, timeout = 10_000) {
      const want = [...up].sort().join(',');
      let last: Record<string, string> = {};
      await waitFor(
        async () => {
          last = await status();
          return (
            Object.keys(last)
              .filter((k) => last[k] === 'UP')
              .sort()
              .join(',') === want
          );
        },
        { what: `haproxy to see ${want || 'no server'} UP`, timeout, interval: 20, describe: () => last },
      );
    },
  };
}

/** One command on HAProxy's admin socket; its whole answer. */
function adminCommand(socket: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(socket);
    let text = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => (text += d));
    s.on('error', reject);
    s.on('end', () => resolve(text));
    s.write(`${command}\n`);
  });
}
