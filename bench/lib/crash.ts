/**
 * Crash cycles: the master as a child process (`node dist/src/cli/main.js master`) on one
 * data dir, under load from a Swarm, ended by a signal at a random moment; after each
 * cycle the log is verified (replay/verify.ts) and checked against every HELLO_ACK a
 * client received. Shared by the crash test (test/master/crash.int.test.ts) and
 * `npm run soak` (bench/soak.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { LedgerEvent } from '../../src/events.js';
import { verifyLog, type VerifyResult } from '../../replay/verify.js';
import { Swarm, type ConnRecord, type SwarmOptions } from './swarm.js';
import { mulberry32 } from './synth.js';

const HERE = dirname(fileURLToPath(import.meta.url));
/** The repository root, from bench/lib (sources under vitest) or dist/bench/lib (compiled). */
export const ROOT = basename(join(HERE, '..', '..')) === 'dist' ? join(HERE, '..', '..', '..') : join(HERE, '..', '..');
export const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');

// ---------------------------------------------------------------- the master process

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Up {
  epoch: number;
  port: number;
  /** The projection's seq once MasterStarted was committed (the UP line's `seq`). */
  seq: number;
  /** ms from spawn to the UP line. */
  ms: number;
}

const UP_RE = /UP_LISTENING epoch (\d+), slaves on 127\.0\.0\.1:(\d+).*\(seq (\d+),/;
const live = new Set<ChildProcess>();

/** SIGKILLs every master this module started that still runs (for cleanup and Ctrl-C). */
export function killMasters(): void {
  for (const cp of live) if (cp.exitCode === null && cp.signalCode === null) cp.kill('SIGKILL');
}

export class MasterProcess {
  readonly child: ChildProcess;
  stderr = '';
  up: Up | undefined;
  readonly exited: Promise<Exit>;
  private readonly started = performance.now();

  constructor(data: string, flags: readonly string[]) {
    const args = [CLI, 'master', '--data', data, '--listen', '127.0.0.1:0', '--http', '127.0.0.1:0', ...flags];
    this.child = spawn(process.execPath, args, {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, LOADLEDGER_DEBUG: '' },
    });
    live.add(this.child);
    this.child.stderr!.setEncoding('utf8').on('data', (s: string) => {
      this.stderr += s;
      if (!this.up) {
        const m = UP_RE.exec(this.stderr);
        if (m) this.up = { epoch: Number(m[1]), port: Number(m[2]), seq: Number(m[3]), ms: performance.now() - this.started };
      }
    });
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => {
        live.delete(this.child);
        resolve({ code, signal });
      }),
    );
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The UP line, or undefined when the process exits (or `timeoutMs` passes) first. */
  async waitUp(timeoutMs: number): Promise<Up | undefined> {
    const deadline = performance.now() + timeoutMs;
    while (!this.up && this.running && performance.now() < deadline) await sleep(5);
    return this.up;
  }

  /** Sends `signal`; resolves with the exit (SIGKILL after `timeoutMs` if it does not go). */
  async stop(signal: NodeJS.Signals, timeoutMs = 10_000): Promise<Exit & { timedOut: boolean }> {
    if (this.running) this.child.kill(signal);
    const t = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const exit = await this.exited;
    clearTimeout(t);
    return { ...exit, timedOut: signal !== 'SIGKILL' && exit.signal === 'SIGKILL' };
  }

  /** Resident set size in bytes (Linux /proc), or undefined. */
  rss(): number | undefined {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${this.child.pid}/status`, 'utf8'));
      return m ? Number(m[1]) * 1024 : undefined;
    } catch {
      return undefined;
    }
  }
}

// ---------------------------------------------------------------- acknowledged ⇒ logged

export interface AckReport {
  /** HELLO_ACKs the clients received. */
  received: number;
  /** HelloAckSent events logged for those clients' connections. */
  logged: number;
  /** Connections that received at least one ACK. */
  connections: number;
  problems: string[];
}

/**
 * Every HELLO_ACK a client received must have its HelloAckSent in the log: the master
 * writes the ACK only after the event is committed, and a process crash keeps what the
 * OS already has. Connections are matched by the remote address the master logged
 * (SlaveConnected.remote) within the master's epoch; if a port was reused within the epoch,
 * the connections sharing it are checked together (sums), which can only be weaker, never
 * raise a false alarm.
 *
 * `visit` goes to verifyLog (one read of the log for both).
 */
export class AckCheck {
  private epoch = 0;
  private readonly connsOf = new Map<string, number[]>();
  private readonly ackedOf = new Map<number, number>();
  /** The last event of the log. */
  last: LedgerEvent | undefined;
  /** Highest MasterStarted epoch in the log. */
  maxEpoch = 0;

  constructor(readonly forEpoch: number | undefined) {}

  readonly visit = (e: LedgerEvent): void => {
    this.last = e;
    if (e.type === 'MasterStarted') {
      this.epoch = e.epoch;
      if (e.epoch > this.maxEpoch) this.maxEpoch = e.epoch;
    }
    if (this.epoch !== this.forEpoch) return;
    if (e.type === 'SlaveConnected') {
      const list = this.connsOf.get(e.remote);
      if (list) list.push(e.conn);
      else this.connsOf.set(e.remote, [e.conn]);
    } else if (e.type === 'HelloAckSent') {
      this.ackedOf.set(e.conn, (this.ackedOf.get(e.conn) ?? 0) + 1);
    }
  };

  report(conns: readonly ConnRecord[]): AckReport {
    const byRemote = new Map<string, ConnRecord[]>();
    for (const c of conns) {
      const list = byRemote.get(c.remote);
      if (list) list.push(c);
      else byRemote.set(c.remote, [c]);
    }
    const r: AckReport = { received: 0, logged: 0, connections: 0, problems: [] };
    for (const [remote, list] of byRemote) {
      const received = list.reduce((a, c) => a + c.acks, 0);
      if (received === 0) continue;
      const logged = (this.connsOf.get(remote) ?? []).reduce((a, conn) => a + (this.ackedOf.get(conn) ?? 0), 0);
      r.received += received;
      r.logged += Math.min(logged, received);
      r.connections += list.filter((c) => c.acks > 0).length;
      if (logged < received) {
        r.problems.push(
          `${list.map((c) => c.kind).join('+')} connection from ${remote} received ${received} HELLO_ACKs; the log holds ${logged} HelloAckSent for it in epoch ${this.forEpoch}`,
        );
      }
    }
    return r;
  }
}

// ---------------------------------------------------------------- one cycle

export interface CycleOptions {
  /** The signal that ends the master: SIGKILL (a crash) or SIGTERM (a clean stop). */
  signal: 'SIGKILL' | 'SIGTERM';
  rng: () => number;
  /** The clients (port and rng are filled in). */
  swarm: Omit<SwarmOptions, 'port' | 'rng'>;
  /** ms of load before the signal (counted from the first HELLO_ACK a client gets), drawn uniformly from [min, max]. */
  runMs: readonly [number, number];
  /** With this chance the signal lands instead at 0..withinMs after the spawn (during start-up, often). */
  startupKill?: { chance: number; withinMs: number };
  /** Called with the master's RSS every 100 ms while it runs. */
  onRss?: (bytes: number) => void;
  /** How long a start may take before it counts as failed. Default 15 s. */
  upTimeoutMs?: number;
}

export interface CycleReport {
  cycle: number;
  signal: 'SIGKILL' | 'SIGTERM';
  /**
   * When the signal came: during `start-up` (before the UP line), to an `idle` master (up,
   * no clients yet: a start-up kill that came late), or under `load`.
   */
  phase: 'start-up' | 'idle' | 'load';
  up: Up | undefined;
  /** ms the clients ran before the signal. */
  ranMs: number;
  exit: Exit;
  /** The ACK check of the cycle's clients; null when it had none (or it was skipped). */
  acks: AckReport | null;
  /** Retention removed the start of the cycle's epoch before the check could read it. */
  ackSkipped: boolean;
  verify: VerifyResult;
  /** Connections the clients made. */
  connections: number;
  /** Type of the log's last event after the cycle. */
  lastEvent: string | undefined;
  /** Every failed check of the cycle, one line each (empty: all passed). */
  problems: string[];
  /** The master's stderr (for a failure message). */
  stderr: string;
}

/** Resolves true once any client of `swarm` has a HELLO_ACK, false after `timeoutMs`. */
async function firstAck(swarm: Swarm, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (swarm.acks === 0) {
    if (performance.now() >= deadline) return false;
    await sleep(5);
  }
  return true;
}

/**
 * Masters started one after the other on the same data dir, each ended by a signal; each
 * restart runs on the log the previous one left. After every cycle, with the master gone:
 * verifyLog (gapless, decodes, snapshots and the loaded projection equal a fresh fold), the
 * ACK check, and at the next start the epoch and seq the master reports.
 */
export class CrashRun {
  cycles = 0;
  /** The log as the last verify saw it. */
  lastSeq = 0;
  /** Type of the log's last event: anything but MasterStopped means the next start records MasterCrashed first. */
  lastType: string | undefined;
  maxEpoch = 0;
  private current: MasterProcess | undefined;
  private swarm: Swarm | undefined;

  constructor(
    readonly data: string,
    /** Master flags after --data/--listen/--http (intervals, snapshots). */
    readonly flags: readonly string[],
  ) {}

  async cycle(o: CycleOptions): Promise<CycleReport> {
    const n = ++this.cycles;
    // The clients draw from their own stream, so that how much they draw (timing) never
    // shifts the schedule: one seed gives the same kill moments.
    const clientRng = mulberry32(Math.floor(o.rng() * 2 ** 32));
    const problems: string[] = [];
    const master = new MasterProcess(this.data, this.flags);
    this.current = master;
    let ranMs = 0;
    let phase: CycleReport['phase'] = 'load';
    let swarm: Swarm | undefined;
    let rssTimer: NodeJS.Timeout | undefined;
    try {
      if (o.startupKill && o.rng() < o.startupKill.chance) {
        await sleep(o.rng() * o.startupKill.withinMs);
        phase = master.up ? 'idle' : 'start-up';
        if (!master.running) problems.push(`master exited on its own during start-up: ${master.stderr.trim()}`);
      } else {
        const up = await master.waitUp(o.upTimeoutMs ?? 15_000);
        if (!up) {
          problems.push(
            `master did not start on the log the previous one left: ${master.running ? 'no UP line' : 'it exited'}: ${master.stderr.trim()}`,
          );
        } else {
          this.checkStart(up, problems);
          swarm = new Swarm({ ...o.swarm, port: up.port, rng: clientRng });
          this.swarm = swarm.start();
          if (o.onRss) {
            rssTimer = setInterval(() => {
              const b = master.rss();
              if (b !== undefined) o.onRss!(b);
            }, 100);
          }
          // The load is on once the first HELLO_ACK is back (on a busy machine the swarm's
          // connections and the master's first commits can take longer than a whole runMs):
          // a kill "under load" always has acknowledged HELLOs to check.
          const loaded = await firstAck(swarm, o.upTimeoutMs ?? 15_000);
          if (!loaded) problems.push(`no HELLO_ACK within ${o.upTimeoutMs ?? 15_000} ms of load: ${master.stderr.trim()}`);
          const [min, max] = o.runMs;
          const t0 = performance.now();
          await sleep(min + o.rng() * (max - min));
          ranMs = performance.now() - t0;
        }
      }
      if (!master.running && problems.length === 0) problems.push(`master exited before the ${o.signal}: ${master.stderr.trim()}`);
    } finally {
      clearInterval(rssTimer);
    }
    const exit = await master.stop(o.signal);
    // The master is gone: every ACK a client holds was sent by it. Close the clients.
    await swarm?.stop();
    this.swarm = undefined;
    this.current = undefined;
    if (o.signal === 'SIGKILL' && exit.signal !== 'SIGKILL')
      problems.push(`master was to be killed, it exited with ${JSON.stringify(exit)}: ${master.stderr.trim()}`);
    if (o.signal === 'SIGTERM' && (exit.code !== 0 || exit.signal !== null))
      problems.push(`SIGTERM: the master exited with ${JSON.stringify(exit)} (expected code 0): ${master.stderr.trim()}`);

    const acks = new AckCheck(master.up?.epoch);
    const verify = await verifyLog(this.data, { visit: acks.visit, maxProblems: 5 });
    for (const p of verify.problems) problems.push(`verify: ${p.code}: ${p.message}`);
    // Retention may have removed the start of this epoch (a short --retain-events): then
    // its SlaveConnected and HelloAckSent events are partly gone and nothing can be checked.
    const ackSkipped = swarm !== undefined && master.up !== undefined && verify.firstSeq > master.up.seq;
    const ackReport = swarm && master.up && !ackSkipped ? acks.report(swarm.conns) : null;
    if (ackReport) problems.push(...ackReport.problems.slice(0, 5));
    if (o.signal === 'SIGTERM' && master.up && !(acks.last?.type === 'MasterStopped' && acks.last.epoch === master.up.epoch)) {
      problems.push(`SIGTERM: the last event is ${JSON.stringify(acks.last)}, not MasterStopped of epoch ${master.up.epoch}`);
    }
    if (verify.lastSeq < this.lastSeq) problems.push(`the log shrank: last seq ${verify.lastSeq}, was ${this.lastSeq}`);
    this.lastSeq = verify.lastSeq;
    this.lastType = acks.last?.type;
    // (retention may have removed older MasterStarted events: keep the highest seen)
    this.maxEpoch = Math.max(this.maxEpoch, acks.maxEpoch, master.up?.epoch ?? 0);
    return {
      cycle: n,
      signal: o.signal,
      phase,
      up: master.up,
      ranMs,
      exit,
      acks: ackReport,
      ackSkipped,
      verify,
      connections: swarm?.conns.length ?? 0,
      lastEvent: acks.last?.type,
      problems,
      stderr: master.stderr,
    };
  }

  /** A master that starts on a verified log continues it: the next epoch, the next seq. */
  private checkStart(up: Up, problems: string[]): void {
    if (this.cycles > 1 || this.lastSeq > 0) {
      if (up.epoch !== this.maxEpoch + 1) problems.push(`restarted master reports epoch ${up.epoch}; the log's last is ${this.maxEpoch}`);
      const expected = this.lastSeq + (this.lastType === undefined || this.lastType === 'MasterStopped' ? 1 : 2);
      if (up.seq !== expected)
        problems.push(
          `restarted master is at seq ${up.seq} after its MasterStarted; the log ended at seq ${this.lastSeq} (${this.lastType ?? 'empty'})`,
        );
    }
  }

  /** Kills the master and the clients of a cycle that did not finish (test cleanup, Ctrl-C). */
  async close(): Promise<void> {
    if (this.current?.running) await this.current.stop('SIGKILL');
    await this.swarm?.stop();
  }
}
