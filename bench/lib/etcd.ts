/**
 * A real single-member etcd for the HA bench sections (Debian's etcd-server): loopback ports
 * that were free a moment ago, a data dir in the run's work dir, etcd's default raft timers
 * (the "≤ 3 s at --lease-ttl 2s on etcd's default timers"), no fsync (the bench
 * measures the masters, not this disk). A child process tracked by lib/rpc.ts, so the run's
 * cleanup kills it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { track } from './rpc.js';

/** The etcd binary (known paths, then PATH), or undefined. */
export function etcdBin(): string | undefined {
  const known = ['/usr/bin/etcd', '/usr/local/bin/etcd'].find((p) => existsSync(p));
  if (known) return known;
  const r = spawnSync('sh', ['-c', 'command -v etcd'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() !== '' ? r.stdout.trim() : undefined;
}

/** The one line a section without etcd says. */
export const NO_ETCD = 'no etcd binary; install etcd-server (apt-get install etcd-server) to run it';

/** A loopback port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = a && typeof a === 'object' ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export interface BenchEtcd {
  readonly url: string;
  stop(): Promise<void>;
}

export async function startEtcd(bin: string, dataDir: string): Promise<BenchEtcd> {
  const port = await freePort();
  const peer = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const peerUrl = `http://127.0.0.1:${peer}`;
  const args = [
    '--name',
    'bench',
    '--data-dir',
    dataDir,
    '--listen-client-urls',
    url,
    '--advertise-client-urls',
    url,
    '--listen-peer-urls',
    peerUrl,
    '--initial-advertise-peer-urls',
    peerUrl,
    '--initial-cluster',
    `bench=${peerUrl}`,
    '--unsafe-no-fsync',
    '--log-level',
    'error',
  ];
  const cp = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  track(cp);
  let output = '';
  cp.stderr.setEncoding('utf8').on('data', (s: string) => (output = (output + s).slice(-4000)));
  const exited = new Promise<void>((r) => cp.once('exit', () => r()));
  for (let t = 0; ; t++) {
    if (cp.exitCode !== null) throw new Error(`etcd exited: ${output.trim()}`);
    const ok = await fetch(`${url}/health`, { signal: AbortSignal.timeout(500) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (t > 300) throw new Error(`etcd did not answer on ${url} within 15 s: ${output.trim()}`);
    await sleep(50);
  }
  return {
    url,
    stop: async () => {
      if (cp.exitCode === null && cp.signalCode === null) cp.kill('SIGKILL');
      await exited;
    },
  };
}
