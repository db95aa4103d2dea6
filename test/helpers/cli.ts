/**
 * The built CLI in child processes (`node dist/src/cli/main.js …`), as a user runs it:
 * output collected, killed at cleanup if still running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Cleanup } from './cleanup.js';
import { waitFor, withTimeout } from './wait.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const MAIN = join(ROOT, 'dist', 'src', 'cli', 'main.js');

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Proc {
  readonly child: ChildProcess;
  readonly out: { stdout: string; stderr: string };
  readonly exit: Promise<Exit>;
}

export interface SpawnOptions {
  /**
   * Extra environment (on top of this process's, with LOADLEDGER_DEBUG cleared and
   * LOADLEDGER_LOG_FORMAT=human: a master's start line as on a terminal, the line these
   * tests parse; test/cli/log.int.test.ts covers the JSON default off a terminal).
   */
  env?: Record<string, string | undefined>;
}

export function spawnCli(cleanup: Cleanup, args: string[], opts: SpawnOptions = {}): Proc {
  const env = { ...process.env, LOADLEDGER_DEBUG: '', LOADLEDGER_LOG_FORMAT: 'human', ...opts.env };
  const child = spawn(process.execPath, [MAIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env });
  const out = { stdout: '', stderr: '' };
  child.stdout.setEncoding('utf8').on('data', (s: string) => (out.stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (out.stderr += s));
  const exit = new Promise<Exit>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  cleanup.defer(`kill loadledger ${args.slice(0, 2).join(' ')}`, async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exit;
    }
  });
  return { child, out, exit };
}

export async function runCli(
  cleanup: Cleanup,
  args: string[],
  opts: SpawnOptions & { timeout?: number } = {},
): Promise<Exit & { stdout: string; stderr: string }> {
  const p = spawnCli(cleanup, args, opts);
  const exit = await withTimeout(p.exit, opts.timeout ?? 45_000, `loadledger ${args.join(' ')}`);
  return { ...exit, ...p.out };
}

/** Waits for a master process's "UP_LISTENING" line on stderr; its match, or throws with what it printed. */
export async function waitForUp(p: Proc, re: RegExp): Promise<RegExpExecArray> {
  const m = await waitFor(() => re.exec(p.out.stderr) ?? (p.child.exitCode !== null ? ('exited' as const) : undefined), {
    what: 'the master UP_LISTENING line on stderr',
    timeout: 30_000,
    describe: () => p.out.stderr,
  });
  if (m === 'exited') throw new Error(`the master exited: ${p.out.stderr}`);
  return m;
}

/** The non-empty lines of `s`. */
export function lines(s: string): string[] {
  return s.split('\n').filter((l) => l.trim() !== '');
}
