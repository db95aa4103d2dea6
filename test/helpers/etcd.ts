/**
 * A real single-member etcd for one test file (Debian's etcd-server): loopback ports that
 * were free a moment ago, a temp data dir, fast raft timers (a 1 s lease works), no fsync.
 * Stopped by its PID at cleanup. Without the binary the HA tests skip with one line saying
 * how to install it — except under CI=true, where a missing etcd fails the run.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Etcd3 } from 'etcd3';
import type { Cleanup } from './cleanup.js';
import { closedPort } from './net.js';
import { waitFor } from './wait.js';

function findEtcd(): string | undefined {
  for (const p of ['/usr/bin/etcd', '/usr/local/bin/etcd']) if (existsSync(p)) return p;
  const r = spawnSync('sh', ['-c', 'command -v etcd'], { encoding: 'utf8' });
  const found = r.stdout.trim();
  return r.status === 0 && found !== '' ? found : undefined;
}

export const ETCD_BIN = findEtcd();
export const HAVE_ETCD = ETCD_BIN !== undefined;
/** The one line a skipped HA test file says. */
export const INSTALL_ETCD = 'HA tests skipped: no etcd binary; install etcd-server (apt-get install etcd-server)';

/** Call at the top of an HA test file: true to run; false (with the one line) to skip; throws under CI. */
export function etcdAvailable(): boolean {
  if (HAVE_ETCD) return true;
  if (process.env.CI === 'true') throw new Error('CI=true but etcd is missing: .ci/run installs etcd-server');
  console.warn(INSTALL_ETCD);
  return false;
}

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
      '--name', 'test',
      '--data-dir', dataDir,
      '--listen-client-urls', url,
      '--advertise-client-urls', url,
      '--listen-peer-urls', `http://127.0.0.1:${peer}`,
      '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`,
      '--initial-cluster', `test=http://127.0.0.1:${peer}`,
      '--unsafe-no-fsync',
      '--heartbeat-interval', '10',
      '--election-timeout', '100',
      '--log-level', 'error',
    ];
    const p = spawn(ETCD_BIN, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ETCD_UNSUPPORTED_ARCH: process.env.ETCD_UNSUPPORTED_ARCH ?? '' } });
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
