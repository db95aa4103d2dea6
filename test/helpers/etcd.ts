/**
 * A real single-member etcd for one test file (Debian's etcd-server): loopback ports that
 * were free a moment ago, a temp data dir, fast raft timers (a 1 s lease works), no fsync.
 * Stopped by its PID at cleanup. Without the binary the HA tests skip with one line saying
 * how to install it — except under CI=true, where a missing etcd fails the run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Etcd3 } from 'etcd3';
import type { Cleanup } from './cleanup.js';
import { component } from './component.js';
import { closedPort } from './net.js';
import { waitFor } from './wait.js';

const ETCD = component('etcd', ['/usr/bin/etcd', '/usr/local/bin/etcd'], 'etcd-server', 'HA tests');
export const ETCD_BIN = ETCD.bin;
export const HAVE_ETCD = ETCD_BIN !== undefined;
/** The one line a skipped HA test file says. */
export const INSTALL_ETCD = ETCD.install;

/** Call at the top of an HA test file: true to run; false (with the one line) to skip; throws under CI. */
export const etcdAvailable = (): boolean => ETCD.available();

export interface TestEtcd {
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  readonly pid: number;
  /** A client for the test's own looks at etcd (closed at cleanup). */
  client(): Etcd3;
  /** kill -9 the etcd process (its data stays). */
  kill(): Promise<void>;
  /** Starts it again on the same ports and data. */
  restart(): Promise<void>;
}

export async function startEtcd(cleanup: Cleanup): Promise<TestEtcd> {
  if (!ETCD_BIN) throw new Error(INSTALL_ETCD);
  const dataDir = await cleanup.tempDir('loadledger-etcd-');
  const port = await closedPort();
  const peer = await closedPort();
  const url = `http://127.0.0.1:${port}`;
  let proc: ChildProcess | undefined;
  let output = '';
  const clients: Etcd3[] = [];
  const launch = async (): Promise<void> => {
    const args = [
      '--name',
      'test',
      '--data-dir',
      dataDir,
      '--listen-client-urls',
      url,
      '--advertise-client-urls',
      url,
      '--listen-peer-urls',
      `http://127.0.0.1:${peer}`,
      '--initial-advertise-peer-urls',
      `http://127.0.0.1:${peer}`,
      '--initial-cluster',
      `test=http://127.0.0.1:${peer}`,
      '--unsafe-no-fsync',
      '--heartbeat-interval',
      '10',
      '--election-timeout',
      '100',
      '--log-level',
      'error',
    ];
    const p = spawn(ETCD_BIN, args, {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, ETCD_UNSUPPORTED_ARCH: process.env.ETCD_UNSUPPORTED_ARCH ?? '' },
    });
    proc = p;
    p.stderr.setEncoding('utf8').on('data', (s: string) => (output = (output + s).slice(-4000)));
    const probe = new Etcd3({ hosts: url });
    try {
      await waitFor(
        async () => {
          if (p.exitCode !== null) throw new Error(`etcd exited: ${output}`);
          return probe.get('probe').then(
            () => true,
            () => false,
          );
        },
        { what: 'etcd to answer', timeout: 15_000, interval: 50 },
      );
    } finally {
      probe.close();
    }
  };
  const stop = async (): Promise<void> => {
    const p = proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    process.kill(p.pid!, 'SIGKILL');
    await exited;
  };
  cleanup.defer('stop etcd', stop);
  await launch();
  cleanup.defer('close etcd clients', () => clients.forEach((c) => c.close()));
  return {
    url,
    port,
    dataDir,
    get pid() {
      return proc!.pid!;
    },
    client() {
      const c = new Etcd3({ hosts: url });
      clients.push(c);
      return c;
    },
    kill: stop,
    restart: async () => {
      await stop();
      await launch();
    },
  };
}
