/**
 * Where a slave gets the load it pushes: a constant, the host's load average or CPU
 * use, a file a gateway writes, or a command's output. Specs come from a person
 * (`--load`), so a bad spec is a BAD_ARGUMENT; a source that cannot be read at run time
 * is a LOAD_SOURCE_FAILED, which the slave reports and survives.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { resolve as resolvePath } from 'node:path';
import { ErrorCode, LoadLedgerError, badArgument } from '../errors.js';
import { errMessage } from '../util/err.js';

export interface LoadSource {
  /** What the load comes from, for messages and logs (e.g. `file:/run/gw.load`). */
  readonly describe: string;
  /**
   * The current load: a finite number ≥ 0. Rejects with LoadLedgerError LOAD_SOURCE_FAILED.
   * `signal` aborts a read in progress (a running command is killed).
   */
  read(signal?: AbortSignal): Promise<number>;
}

export interface LoadSourceOptions {
  /** Timeout for `cmd:` sources, in ms. Default 2000. */
  cmdTimeout?: number;
  /** Window of the first `cpu` read, in ms. Default 100. */
  cpuWindow?: number;
  /** Flag named in BAD_ARGUMENT messages. Default `--load`. */
  flag?: string;
}

export const DEFAULT_CMD_TIMEOUT = 2000;
export const DEFAULT_CPU_WINDOW = 100;

/** A file or command output longer than this is not "a number". */
const MAX_OUTPUT_BYTES = 4096;

// Plain decimal, optionally with an exponent; no hex, no sign, no Infinity.
const NUMBER_RE = /^(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * Parses a load-source spec: a number (`42`, `12.5`), `loadavg`, `cpu`, `file:PATH` or
 * `cmd:COMMAND`.
 *
 * @throws LoadLedgerError BAD_ARGUMENT with one line naming the flag (default `--load`).
 */
export function parseLoadSource(spec: string, opts: LoadSourceOptions = {}): LoadSource {
  const flag = opts.flag ?? '--load';
  const text = typeof spec === 'string' ? spec.trim() : '';
  if (text === 'loadavg') return loadavgSource();
  if (text === 'cpu') return cpuSource({ window: checkMs(opts.cpuWindow, DEFAULT_CPU_WINDOW, 'cpuWindow') });
  if (text.startsWith('file:')) {
    const path = text.slice('file:'.length);
    if (path === '') throw badArgument(`${flag}: file: needs a path, e.g. file:/run/gateway.load`);
    return fileSource(path);
  }
  if (text.startsWith('cmd:')) {
    const command = text.slice('cmd:'.length).trim();
    if (command === '') throw badArgument(`${flag}: cmd: needs a command, e.g. "cmd:cat /run/gateway.load"`);
    return commandSource(command, { timeout: checkMs(opts.cmdTimeout, DEFAULT_CMD_TIMEOUT, 'cmdTimeout') });
  }
  const n = parseLoadNumber(text);
  if (typeof n === 'number') return constantSource(n);
  if (text !== '' && /^[-+]?[\d.]/.test(text)) {
    throw badArgument(`${flag}: a constant load must be a finite number ≥ 0, got ${JSON.stringify(spec)}`);
  }
  throw badArgument(`${flag}: expected a number, loadavg, cpu, file:PATH or cmd:COMMAND, got ${JSON.stringify(spec)}`);
}

/** A load that never changes. */
export function constantSource(load: number): LoadSource {
  if (!Number.isFinite(load) || load < 0) throw badArgument(`load: expected a finite number ≥ 0, got ${load}`);
  return { describe: String(load), read: () => Promise.resolve(load) };
}

/** 1-minute load average per core × 100: 100 means every core has one runnable task. */
export function loadavgSource(): LoadSource {
  const describe = 'loadavg';
  return {
    describe,
    read() {
      const avg = loadavg()[0];
      const cores = availableParallelism();
      if (avg === undefined || !Number.isFinite(avg) || avg < 0 || cores < 1) {
        return Promise.reject(failed(describe, `os.loadavg() gave ${String(avg)} for ${cores} cores`));
      }
      return Promise.resolve((avg / cores) * 100);
    },
  };
}

interface CpuSample {
  idle: number;
  total: number;
}

function sampleCpus(): CpuSample | undefined {
  const all = cpus();
  if (all.length === 0) return undefined;
  let idle = 0;
  let total = 0;
  for (const { times } of all) {
    idle += times.idle;
    total += times.user + times.nice + times.sys + times.idle + times.irq;
  }
  return { idle, total };
}

/**
 * Busy % of all CPUs since the previous read (0–100). The first read has nothing to
 * compare with, so it measures over `window` ms.
 */
export function cpuSource(opts: { window?: number } = {}): LoadSource {
  const describe = 'cpu';
  const window = opts.window ?? DEFAULT_CPU_WINDOW;
  let prev: CpuSample | undefined;
  let last = 0;
  const take = (): CpuSample => {
    const s = sampleCpus();
    if (!s) throw failed(describe, 'os.cpus() reports no CPUs on this platform');
    return s;
  };
  const busy = (from: CpuSample, to: CpuSample): number | undefined => {
    const total = to.total - from.total;
    if (!(total > 0)) return undefined; // clock ticks did not move: too soon to tell
    const pct = ((total - (to.idle - from.idle)) / total) * 100;
    return Math.min(100, Math.max(0, pct));
  };
  return {
    describe,
    async read(signal) {
      let from = prev;
      if (!from) {
        from = take();
        await delay(window, signal, describe);
      }
      const now = take();
      prev = now;
      last = busy(from, now) ?? last;
      return last;
    },
  };
}

/** A number (trimmed, finite, ≥ 0) that a gateway writes in a file. */
export function fileSource(path: string): LoadSource {
  const abs = resolvePath(path);
  const describe = `file:${abs}`;
  return {
    describe,
    async read(signal) {
      let text: string;
      try {
        signal?.throwIfAborted();
        // O_NONBLOCK: a FIFO opens at once (and is refused) instead of blocking a libuv thread for ever.
        const fh = await open(abs, constants.O_RDONLY | ((constants as { O_NONBLOCK?: number }).O_NONBLOCK ?? 0));
        try {
          if (!(await fh.stat()).isFile())
            throw failed(describe, 'not a regular file (a FIFO, a device or a directory); expected a file holding a number');
          const buf = Buffer.alloc(MAX_OUTPUT_BYTES + 1);
          const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
          if (bytesRead > MAX_OUTPUT_BYTES) throw failed(describe, `the file is larger than ${MAX_OUTPUT_BYTES} bytes, expected a number`);
          text = buf.toString('utf8', 0, bytesRead);
        } finally {
          await fh.close();
        }
      } catch (e) {
        if (e instanceof LoadLedgerError) throw e;
        throw failed(describe, `cannot read the file: ${errMessage(e)}`, e);
      }
      return toLoad(describe, text, 'the file');
    },
  };
}

/**
 * Runs `command` with `/bin/sh -c` on every read; its stdout must be a number (trimmed,
 * finite, ≥ 0). A non-zero exit, a signal, garbage output or exceeding `timeout` ms
 * fails the read. The command runs in its own process group so that a timeout kills
 * whatever it started, not just the shell.
 */
export function commandSource(command: string, opts: { timeout?: number } = {}): LoadSource {
  const timeout = opts.timeout ?? DEFAULT_CMD_TIMEOUT;
  const describe = `cmd:${command}`;
  return {
    describe,
    read(signal) {
      return new Promise<number>((resolve, reject) => {
        if (signal?.aborted) return reject(failed(describe, 'aborted'));
        const child = spawn('/bin/sh', ['-c', command], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
        const out: Buffer[] = [];
        let outBytes = 0;
        let err = '';
        let settled = false;
        const finish = (e: LoadLedgerError | undefined, value?: number): void => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          if (e) reject(e);
          else resolve(value as number);
        };
        const kill = (why: string): void => {
          // Negative pid: the whole group (sh and its children). They may be gone already.
          try {
            if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
          } catch {
            /* already exited */
          }
          child.stdout.destroy();
          child.stderr.destroy();
          finish(failed(describe, why));
        };
        const onAbort = (): void => kill('aborted');
        const timer = setTimeout(() => kill(`timed out after ${timeout} ms`), timeout);
        signal?.addEventListener('abort', onAbort, { once: true });

        child.stdout.on('data', (chunk: Buffer) => {
          outBytes += chunk.length;
          if (outBytes > MAX_OUTPUT_BYTES) return kill(`wrote more than ${MAX_OUTPUT_BYTES} bytes to stdout, expected a number`);
          out.push(chunk);
        });
        child.stderr.setEncoding('utf8');
        child.stderr.on('data', (chunk: string) => {
          if (err.length < 1024) err += chunk;
        });
        child.on('error', (e) => finish(failed(describe, `cannot run /bin/sh: ${errMessage(e)}`, e)));
        child.on('close', (code, sig) => {
          if (settled) return;
          const stderr = firstLine(err);
          if (sig !== null) return finish(failed(describe, `killed by ${sig}${stderr}`));
          if (code !== 0) return finish(failed(describe, `exited with code ${String(code)}${stderr}`));
          try {
            finish(undefined, toLoad(describe, Buffer.concat(out).toString('utf8'), 'stdout'));
          } catch (e) {
            finish(e as LoadLedgerError);
          }
        });
      });
    },
  };
}

/** A finite number ≥ 0 from trimmed text, or why not. */
export function parseLoadNumber(text: string): number | string {
  const t = text.trim();
  if (t === '') return 'empty';
  if (!NUMBER_RE.test(t)) return `not a number: ${quote(t)}`;
  const n = Number(t);
  if (!Number.isFinite(n)) return `not a finite number: ${quote(t)}`;
  return n;
}

function toLoad(describe: string, text: string, what: string): number {
  const t = text.trim();
  if (t.startsWith('-') && typeof parseLoadNumber(t.slice(1)) === 'number') {
    throw failed(describe, `${what} holds a negative load: ${quote(t)}`);
  }
  const n = parseLoadNumber(t);
  if (typeof n === 'string') throw failed(describe, `${what} is ${n === 'empty' ? 'empty' : n}, expected a number ≥ 0`);
  return n;
}

function failed(describe: string, why: string, cause?: unknown): LoadLedgerError {
  return new LoadLedgerError(ErrorCode.LOAD_SOURCE_FAILED, `load source ${describe}: ${why}`, cause === undefined ? undefined : { cause });
}

function delay(ms: number, signal: AbortSignal | undefined, describe: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(failed(describe, 'aborted'));
    const onAbort = (): void => {
      clearTimeout(t);
      reject(failed(describe, 'aborted'));
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function checkMs(v: number | undefined, dflt: number, name: string): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || v > 2 ** 31 - 1) {
    throw badArgument(`${name}: expected a number of milliseconds > 0, got ${String(v)}`);
  }
  return v;
}

function quote(s: string): string {
  return JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s);
}

function firstLine(stderr: string): string {
  const line = stderr.trim().split('\n', 1)[0]?.trim() ?? '';
  return line === '' ? '' : ` (stderr: ${line.length > 200 ? `${line.slice(0, 200)}…` : line})`;
}
