/**
 * A master of an HA cluster in a child process (the built CLI, `loadledger master --etcd …`),
 * for failure tests that need the master's own process: kill -9, SIGSTOP / SIGCONT,
 * SIGTERM, by its PID. Its slave port and HTTP port are fixed loopback ports chosen once
 * (a standby binds its slave port only when it leads, and a slave's list must name it in
 * advance); its role is read from `GET /v1/cluster`, polled with a short timeout so that a
 * frozen process answers "no answer", never a stale role.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { LedgerEvent } from '../../src/events.js';
import type { Cleanup } from './cleanup.js';
import { CLI_MAIN, ROOT, type ChildExit } from './child-master.js';
import { closedPort } from './net.js';
import { waitFor, withTimeout } from './wait.js';

export interface HaMasterOptions {
  /** etcd client URLs (comma list), as --etcd takes them. */
  etcd: string;
  node: string;
  cluster: string;
  /** Default '1s'. */
  leaseTtl?: string;
  /** Log directory (reuse one to restart a master on its log); default a fresh temp dir. */
  data?: string;
  /** Ports to reuse (a restart); default fresh ones. */
  listenPort?: number;
  httpPort?: number;
  /** More flags: ['--ack', 'standby', '--dead-after', '3s']. */
  args?: string[];
  env?: NodeJS.ProcessEnv;
}

/** GET /v1/cluster as the tests read it (docs/ha.md#roles-visible). */
export interface ClusterDoc {
  role: 'leader' | 'standby' | 'candidate' | 'standalone';
  term: number;
  node: string;
  leader: { node: string; listen: string; http: string } | null;
  seq: number;
  lag: { seq: number; ms: number };
  ack: { mode: string; inSync: string[]; local: boolean };
  members: { node: string; role: string }[];
  elections: number;
}

export interface HaMaster {
  readonly node: string;
  readonly options: HaMasterOptions;
  readonly child: ChildProcess;
  readonly pid: number;
  readonly data: string;
  readonly listenPort: number;
  /** `127.0.0.1:PORT`, its slave port (bound only while it leads). */
  readonly listen: string;
  /** Base URL of its HTTP API. */
  readonly http: string;
  readonly exit: Promise<ChildExit>;
  running(): boolean;
  stderr(): string;
  /** GET /v1/cluster, or undefined when it does not answer within `timeout` ms (dead, frozen, starting). */
  cluster(timeout?: number): Promise<ClusterDoc | undefined>;
  /** Polls /v1/cluster until its role is `role`; returns that document. */
  waitRole(role: ClusterDoc['role'], timeout?: number): Promise<ClusterDoc>;
  /** Every event of its log (GET /v1/events), in seq order. */
  events(): Promise<LedgerEvent[]>;
  /** GET a path of its HTTP API, with a timeout: status and parsed JSON (undefined: no answer). */
  get<T = any>(path: string, timeout?: number): Promise<{ status: number; body: T; headers: Headers } | undefined>;
  /** Sends a signal to its PID. */
  signal(sig: NodeJS.Signals): void;
  /** kill -9 and wait for the exit. */
  kill(): Promise<ChildExit>;
  /** SIGTERM and wait for the exit (SIGKILL after `timeout`, and throws). */
  stop(timeout?: number): Promise<ChildExit>;
}

/** Starts one HA master; killed (SIGCONT, SIGKILL) at cleanup if still running. Resolves once its HTTP API answers /v1/cluster. */
export async function spawnHaMaster(cleanup: Cleanup, opts: HaMasterOptions): Promise<HaMaster> {
  if (!existsSync(CLI_MAIN)) throw new Error(`${CLI_MAIN} is missing: build first (npm run build; npm test does it)`);
  const data = opts.data ?? (await cleanup.tempDir(`loadledger-ha-${opts.node}-`));
  const listenPort = opts.listenPort ?? (await closedPort());
  const httpPort = opts.httpPort ?? (await closedPort());
  const argv = [
    CLI_MAIN,
    'master',
    '--data',
    data,
    '--listen',
    `127.0.0.1:${listenPort}`,
    '--http',
    `127.0.0.1:${httpPort}`,
    '--etcd',
    opts.etcd,
    '--node-id',
    opts.node,
    '--cluster',
    opts.cluster,
    '--lease-ttl',
    opts.leaseTtl ?? '1s',
    ...(opts.args ?? []),
  ];
  const child = spawn(process.execPath, argv, {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, LOADLEDGER_DEBUG: '', LOADLEDGER_LOG_FORMAT: 'human', ...opts.env },
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const exit = new Promise<ChildExit>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  const running = (): boolean => child.exitCode === null && child.signalCode === null;
  const pid = child.pid!;
  cleanup.defer(`kill HA master ${opts.node} (${pid})`, async () => {
    if (!running()) return;
    child.kill('SIGCONT');
    child.kill('SIGKILL');
    await exit;
  });
  const http = `http://127.0.0.1:${httpPort}`;
  const get = async <T>(path: string, timeout = 1000): Promise<{ status: number; body: T; headers: Headers } | undefined> => {
    try {
      const res = await fetch(http + path, { signal: AbortSignal.timeout(timeout) });
      const text = await res.text();
      return { status: res.status, body: JSON.parse(text) as T, headers: res.headers };
    } catch {
      return undefined;
    }
  };
  const cluster = async (timeout = 1000): Promise<ClusterDoc | undefined> => {
    const r = await get<ClusterDoc>('/v1/cluster', timeout);
    return r?.status === 200 ? r.body : undefined;
  };
  const m: HaMaster = {
    node: opts.node,
    options: { ...opts, data, listenPort, httpPort },
    child,
    pid,
    data,
    listenPort,
    listen: `127.0.0.1:${listenPort}`,
    http,
    exit,
    running,
    stderr: () => stderr,
    cluster,
    get,
    async waitRole(role, timeout = 30_000) {
      return waitFor(
        async () => {
          if (!running()) throw new Error(`master ${opts.node} exited: ${stderr}`);
          const d = await cluster(1000);
          return d?.role === role ? d : undefined;
        },
        {
          what: `master ${opts.node} to be ${role}`,
          timeout,
          interval: 20,
          describe: async () => ({ doc: await cluster(500), stderr: stderr.slice(-3000) }),
        },
      );
    },
    async events() {
      const res = await fetch(`${http}/v1/events`, { signal: AbortSignal.timeout(30_000) });
      if (res.status !== 200) throw new Error(`${http}/v1/events: HTTP ${res.status}`);
      const text = await res.text();
      return text
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as LedgerEvent);
    },
    signal(sig) {
      process.kill(pid, sig);
    },
    async kill() {
      if (running()) process.kill(pid, 'SIGKILL');
      return exit;
    },
    async stop(timeout = 10_000) {
      if (running()) process.kill(pid, 'SIGTERM');
      try {
        return await withTimeout(exit, timeout, `master ${opts.node} to stop after SIGTERM`);
      } catch (e) {
        child.kill('SIGKILL');
        await exit;
        throw e;
      }
    },
  };
  await waitFor(
    async () => {
      if (!running()) throw new Error(`master ${opts.node} exited before its HTTP API answered: ${stderr}`);
      return (await cluster(1000)) !== undefined;
    },
    { what: `master ${opts.node}'s /v1/cluster to answer`, timeout: 30_000, interval: 20, describe: () => stderr },
  );
  return m;
}

/** Starts master `m` again on its log and ports (after a kill). */
export function respawn(cleanup: Cleanup, m: HaMaster, args?: string[]): Promise<HaMaster> {
  return spawnHaMaster(cleanup, { ...m.options, ...(args && { args }) });
}

/** Which of `masters` say they lead right now (those that answer within `timeout`). */
export async function leaders(masters: readonly HaMaster[], timeout = 500): Promise<{ node: string; term: number }[]> {
  const docs = await Promise.all(masters.map((m) => (m.running() ? m.cluster(timeout) : Promise.resolve(undefined))));
  return docs.flatMap((d) => (d?.role === 'leader' ? [{ node: d.node, term: d.term }] : []));
}

export interface RoleAnswer {
  node: string;
  role: string;
  term: number;
  /** performance.now() when the request was sent and its answer read. */
  sent: number;
  recv: number;
}

/**
 * Polls each master's /v1/cluster on its own loop until stopped (a frozen one holds up only
 * its own loop), and keeps every answer. Two masters lead at once when one answered
 * "leader" of term T to a request *sent after* another's answer "leader" of a higher term
 * had been *received*: the old one still led while the new one already did. (Two answers
 * of one round can both say leader without that: the old one may have fenced right after
 * it answered.) `stop()` returns the answers and those pairs.
 */
export function watchLeaders(
  masters: readonly HaMaster[],
  interval = 20,
): { answers: RoleAnswer[]; stop(): Promise<{ answers: RoleAnswer[]; overlaps: [RoleAnswer, RoleAnswer][] }> } {
  let on = true;
  const answers: RoleAnswer[] = [];
  const loops = masters.map(async (m) => {
    while (on) {
      if (m.running()) {
        const sent = performance.now();
        const d = await m.cluster(300);
        if (d) answers.push({ node: d.node, role: d.role, term: d.term, sent, recv: performance.now() });
      }
      await new Promise((r) => setTimeout(r, interval));
    }
  });
  return {
    answers,
    async stop() {
      on = false;
      await Promise.all(loops);
      return { answers, overlaps: overlapping(answers) };
    },
  };
}

/** Pairs [older, newer] where the older term's leader answered after the newer one's was received. */
export function overlapping(answers: readonly RoleAnswer[]): [RoleAnswer, RoleAnswer][] {
  const led = answers.filter((a) => a.role === 'leader');
  const out: [RoleAnswer, RoleAnswer][] = [];
  for (const old of led) {
    const newer = led.find((n) => n.node !== old.node && n.term > old.term && n.recv < old.sent);
    if (newer) out.push([old, newer]);
  }
  return out;
}
