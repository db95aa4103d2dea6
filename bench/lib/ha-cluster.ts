/**
 * Two masters of one HA cluster as child processes (`node dist/src/cli/main.js master
 * --etcd …`), each on fixed loopback ports (free when the cluster was made) so that a
 * master restarted on its data dir comes back where the slaves look for it. Who leads,
 * killing the leader, bringing a master back as a standby: for bench/sections/ha.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { CLI, ROOT, freshDir } from './context.js';
import { freePort } from './etcd.js';
import { track } from './rpc.js';

export interface ClusterDoc {
  role: string;
  term: number;
  node: string;
  seq: number;
  lag: { seq: number; ms: number };
  members: { node: string }[];
}

/** GET a master's JSON (undefined when it does not answer in time). */
export async function getJson<T>(url: string, timeoutMs = 1000): Promise<{ status: number; body: T } | undefined> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    return { status: r.status, body: (await r.json()) as T };
  } catch {
    return undefined;
  }
}

export class HaMaster {
  private cp: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  stderr = '';

  constructor(
    readonly node: string,
    readonly data: string,
    readonly port: number,
    readonly httpPort: number,
    private readonly flags: readonly string[],
  ) {}

  get http(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  get running(): boolean {
    return this.cp !== undefined && this.cp.exitCode === null && this.cp.signalCode === null;
  }

  /** Spawns it on its data dir (again, after a kill: the same log and ports). */
  start(): void {
    const args = [
      CLI,
      'master',
      '--data',
      this.data,
      '--listen',
      `127.0.0.1:${this.port}`,
      '--http',
      `127.0.0.1:${this.httpPort}`,
      '--node-id',
      this.node,
      ...this.flags,
    ];
    const cp = spawn(process.execPath, args, {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, LOADLEDGER_DEBUG: '', LOADLEDGER_LOG_FORMAT: 'human' },
    });
    track(cp);
    this.cp = cp;
    cp.stderr.setEncoding('utf8').on('data', (s: string) => (this.stderr = (this.stderr + s).slice(-20_000)));
    this.exited = new Promise((r) => cp.once('exit', () => r()));
  }

  /** Sends `signal` now; resolves once the process is gone (SIGKILL after 15 s). */
  async kill(signal: NodeJS.Signals): Promise<void> {
    const cp = this.cp;
    if (!cp || !this.running) return;
    cp.kill(signal);
    const t = setTimeout(() => cp.kill('SIGKILL'), 15_000);
    await this.exited;
    clearTimeout(t);
  }

  async cluster(): Promise<ClusterDoc | undefined> {
    const r = await getJson<ClusterDoc>(`${this.http}/v1/cluster`);
    return r?.status === 200 ? r.body : undefined;
  }

  async leads(): Promise<boolean> {
    return (await getJson(`${this.http}/v1/leader`, 500))?.status === 200;
  }
}

export class HaCluster {
  readonly masters: HaMaster[] = [];

  private constructor() {}

  /** Two masters (a, b) on `etcd`, cluster name `name`; a starts first and leads. */
  static async start(etcd: string, name: string, extra: readonly string[]): Promise<HaCluster> {
    const c = new HaCluster();
    const flags = ['--etcd', etcd, '--cluster', name, '--lease-ttl', '2s', '--connect-rate', '0', '--max-frame-rate', '0', ...extra];
    for (const node of ['a', 'b']) c.masters.push(new HaMaster(node, freshDir(`ha-${node}`), await freePort(), await freePort(), flags));
    const [a, b] = c.masters as [HaMaster, HaMaster];
    a.start();
    await c.until(() => a.leads(), 20_000, 'a to lead');
    b.start();
    await c.standbyCaughtUp(b);
    return c;
  }

  get ports(): number[] {
    return this.masters.map((m) => m.port);
  }

  async leader(): Promise<HaMaster | undefined> {
    for (const m of this.masters) if (m.running && (await m.leads())) return m;
    return undefined;
  }

  other(m: HaMaster): HaMaster {
    return this.masters.find((x) => x !== m)!;
  }

  /** Waits until `m` says it is a standby with nothing to catch up. */
  async standbyCaughtUp(m: HaMaster, timeoutMs = 60_000): Promise<void> {
    await this.until(
      async () => {
        const d = await m.cluster();
        return d?.role === 'standby' && d.lag.seq === 0;
      },
      timeoutMs,
      `${m.node} to follow with no lag`,
    );
  }

  async until(cond: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (!(await cond())) {
      if (performance.now() > deadline)
        throw new Error(
          `ha: waited ${timeoutMs} ms for ${what}; ${this.masters.map((m) => `${m.node}: ${m.stderr.trim().split('\n').slice(-3).join(' | ')}`).join('; ')}`,
        );
      await sleep(20);
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.masters.map((m) => m.kill('SIGTERM')));
  }
}
