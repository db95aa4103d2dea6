/**
 * A master in a child process: the built CLI (`node dist/src/cli/main.js master`) on
 * 127.0.0.1 port 0, its log in a temp dir, its ports read from the UP_LISTENING line on
 * its stderr. For tests that need the master's own process: its file descriptors (10,000
 * connections), its memory (RSS), or a crash. Killed at cleanup.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { StateDocument } from '../../src/projection/document.js';
import type { Cleanup } from './cleanup.js';
import { getJson } from './master.js';
import { waitFor, withTimeout } from './wait.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The built CLI (npm test compiles first). */
export const CLI_MAIN = join(ROOT, 'dist', 'src', 'cli', 'main.js');

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ChildMasterOptions {
  /** Log directory (reuse one to restart a master on its log); default a fresh temp dir. */
  data?: string;
  /** More flags, e.g. ['--hello-interval', '10s', '--dead-after', '30s']. */
  args?: string[];
  /** Extra environment (NODE_OPTIONS…). */
  env?: NodeJS.ProcessEnv;
  /** How long to wait for the UP_LISTENING line (ms). Default 10,000. */
  startTimeout?: number;
  /** Start it with this limit on open files (`ulimit -n`, through sh; the pid stays the master's). */
  openFiles?: number;
}

export interface ChildMaster {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly data: string;
  readonly slavePort: number;
  /** Base URL of its HTTP API, e.g. http://127.0.0.1:40123. */
  readonly http: string;
  /** Settles when the process has exited. */
  readonly exit: Promise<ChildExit>;
  /** Everything it wrote on stderr so far. */
  stderr(): string;
  /** Its resident set size now, in bytes. */
  rss(): number;
  /** GET /v1/state. */
  state(): Promise<StateDocument>;
  /** SIGTERM (a clean stop) and wait for the exit; SIGKILL if it takes over `timeout` ms. */
  stop(timeout?: number): Promise<ChildExit>;
}

const UP_RE = /^loadledger master: UP_LISTENING .*slaves on 127\.0\.0\.1:(\d+), HTTP on (http:\/\/127\.0\.0\.1:\d+)/m;

/** Starts `loadledger master` in a child process; it is killed (SIGKILL) at cleanup if still running. */
export async function spawnMaster(cleanup: Cleanup, opts: ChildMasterOptions = {}): Promise<ChildMaster> {
  if (!existsSync(CLI_MAIN)) throw new Error(`${CLI_MAIN} is missing: build first (npm run build; npm test does it)`);
  const data = opts.data ?? (await cleanup.tempDir('loadledger-child-master-'));
  const argv = [CLI_MAIN, 'master', '--data', data, '--listen', '127.0.0.1:0', '--http', '127.0.0.1:0', ...(opts.args ?? [])];
  const [cmd, cmdArgs] =
    opts.openFiles === undefined
      ? [process.execPath, argv]
      : ['sh', ['-c', `ulimit -n ${opts.openFiles} && exec "$0" "$@"`, process.execPath, ...argv]];
  const child = spawn(cmd, cmdArgs, {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
    // The human start line (as on a terminal), which UP_RE reads.
    env: { ...process.env, LOADLEDGER_DEBUG: '', LOADLEDGER_LOG_FORMAT: 'human', ...opts.env },
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const exit = new Promise<ChildExit>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  const running = (): boolean => child.exitCode === null && child.signalCode === null;
  cleanup.defer(`kill master ${child.pid}`, async () => {
    if (running()) {
      child.kill('SIGKILL');
      await exit;
    }
  });
  const m = await waitFor(() => UP_RE.exec(stderr) ?? (running() ? undefined : { exited: true }), {
    what: 'the child master UP_LISTENING line on stderr',
    timeout: opts.startTimeout ?? 10_000,
    describe: () => stderr,
  });
  if ('exited' in m) throw new Error(`the child master exited before listening: ${stderr}`);
  const pid = child.pid!;
  const http = m[2]!;
  return {
    child,
    pid,
    data,
    slavePort: Number(m[1]),
    http,
    exit,
    stderr: () => stderr,
    rss: () => rssOf(pid),
    state: async () => (await getJson<StateDocument>(`${http}/v1/state`)).body,
    async stop(timeout = 5000) {
      if (running()) child.kill('SIGTERM');
      try {
        return await withTimeout(exit, timeout, `master ${pid} to stop after SIGTERM`);
      } catch (e) {
        child.kill('SIGKILL');
        await exit;
        throw e;
      }
    },
  };
}

/** The resident set size of process `pid` in bytes (VmRSS of /proc/PID/status: Linux). */
export function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

export const MiB = 1024 * 1024;
