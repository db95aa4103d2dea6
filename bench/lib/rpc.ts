/**
 * Parent side of the bench's child processes: every measured party (master, bare servers,
 * load generators, storage workers) runs in its own `node` process, started with `fork`,
 * driven over the IPC channel with request/response calls. Every process started here is
 * tracked so that `killAll()` can end exactly those (by pid) on failure or interrupt.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** dist/bench: where the compiled worker scripts live next to this file's parent. */
export const BENCH_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');

const live = new Set<ChildProcess>();

/** Registers a process started elsewhere (e.g. the CLI master of the restart figure). */
export function track(cp: ChildProcess): void {
  live.add(cp);
  cp.once('exit', () => live.delete(cp));
}

/** SIGKILLs every still-running process this bench started. Synchronous: safe in 'exit'. */
export function killAll(): void {
  for (const cp of live) {
    if (cp.pid !== undefined && cp.exitCode === null && cp.signalCode === null) {
      try {
        process.kill(cp.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  live.clear();
}

export interface StartOptions {
  /** Arguments after the script (strings). */
  args?: string[];
  /** Node flags (e.g. --cpu-prof, --expose-gc). */
  execArgv?: string[];
  /** ms to wait for the child's ready message. */
  readyTimeoutMs?: number;
}

interface Waiter {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export class Child<Info = Record<string, unknown>> {
  private nextId = 1;
  private readonly waiting = new Map<number, Waiter>();
  private stderrTail = '';
  readonly exited: Promise<number | null>;
  info!: Info;

  private constructor(
    readonly name: string,
    readonly cp: ChildProcess,
  ) {
    track(cp);
    cp.stderr?.on('data', (d: Buffer) => {
      this.stderrTail = (this.stderrTail + d.toString()).slice(-4000);
    });
    this.exited = new Promise((resolve) => {
      cp.once('exit', (code, signal) => {
        const err = new Error(`${name} exited (${signal ?? code}) ${this.stderrTail.trim()}`);
        for (const w of this.waiting.values()) {
          clearTimeout(w.timer);
          w.reject(err);
        }
        this.waiting.clear();
        resolve(code);
      });
    });
    cp.on('message', (m: { id?: number; ok?: boolean; result?: unknown; error?: string }) => {
      if (m.id === undefined) return;
      const w = this.waiting.get(m.id);
      if (!w) return;
      this.waiting.delete(m.id);
      clearTimeout(w.timer);
      if (m.ok) w.resolve(m.result);
      else w.reject(new Error(`${name}: ${m.error ?? 'failed'}`));
    });
  }

  /** Forks dist/bench/<script>.js and waits for its `ready` message. */
  static start<I = Record<string, unknown>>(script: string, name: string, opts: StartOptions = {}): Promise<Child<I>> {
    const cp = fork(join(BENCH_DIR, `${script}.js`), opts.args ?? [], {
      execArgv: opts.execArgv ?? [],
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    });
    const child = new Child<I>(name, cp);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill();
        reject(new Error(`${name}: not ready after ${opts.readyTimeoutMs ?? 60_000} ms ${child.stderrTail.trim()}`));
      }, opts.readyTimeoutMs ?? 60_000);
      const onMsg = (m: { ready?: boolean; info?: I }): void => {
        if (!m.ready) return;
        clearTimeout(timer);
        cp.off('message', onMsg);
        child.info = m.info as I;
        resolve(child);
      };
      cp.on('message', onMsg);
      void child.exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited (${code}) before it was ready: ${child.stderrTail.trim()}`));
      });
    });
  }

  get running(): boolean {
    return this.cp.exitCode === null && this.cp.signalCode === null;
  }

  call<R = Record<string, unknown>>(cmd: string, arg: unknown = {}, timeoutMs = 180_000): Promise<R> {
    if (!this.running) return Promise.reject(new Error(`${this.name} is not running ${this.stderrTail.trim()}`));
    const id = this.nextId++;
    return new Promise<R>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`${this.name}: ${cmd} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.cp.send({ id, cmd, arg });
    });
  }

  /** Asks the child to stop (its 'stop' handler), then waits for it to exit; kills it if it does not. */
  async stop(timeoutMs = 30_000): Promise<unknown> {
    if (!this.running) return undefined;
    let result: unknown;
    try {
      result = await this.call('stop', {}, timeoutMs);
    } catch {
      // fall through to the kill
    }
    const t = setTimeout(() => this.kill(), 10_000);
    await this.exited;
    clearTimeout(t);
    return result;
  }

  kill(): void {
    if (this.running && this.cp.pid !== undefined) {
      try {
        process.kill(this.cp.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
}
