/**
 * `loadledger demo`: a master with a temporary log and a few simulated slaves, all in one
 * process, over real TCP on 127.0.0.1. The slaves are the project's own (createSlave);
 * one of them leaves now and then with GOODBYE and comes back, so that the table shows a
 * node going DOWN and up again.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Master } from '../node/master.js';
import type { Attrs } from '../protocol/messages.js';
import { createSlave, type Slave } from '../slave/slave.js';
import { formatDuration } from '../util/duration.js';
import { waveLoad } from './loads.js';

export interface DemoOptions {
  /** Number of simulated slaves (1–20). */
  slaves: number;
  /** Log directory; default a fresh temp dir. */
  data?: string;
  /** Keep the log directory at the end (else it is removed). */
  keep?: boolean;
  /** Period of the slaves' HELLO and pushes, ms. Default 250. */
  interval?: number;
  /** The last slave is up this long, then leaves (GOODBYE) for `away`, then comes back. `false`: it stays. */
  flap?: { up: number; away: number } | false;
}

export interface DemoSummary {
  /** Events in the log (a fresh log: all of them were recorded by this demo). */
  events: number;
  durationMs: number;
  dir: string;
  kept: boolean;
}

export const MAX_DEMO_SLAVES = 20;
const DEFAULT_FLAP = { up: 10_000, away: 4_000 };

/** The address clients are given for simulated slave `i` (0-based). */
export function demoAddr(i: number): string {
  return `10.0.0.${i + 1}:8080`;
}

export class Demo {
  readonly startedAt = performance.now();
  private readonly slaves: Array<Slave | undefined>;
  private flapTimer: NodeJS.Timeout | undefined;
  private leaving: Promise<void> | undefined;
  private stopping: Promise<DemoSummary> | undefined;

  private constructor(
    readonly master: Master,
    readonly dir: string,
    private readonly options: Required<Omit<DemoOptions, 'data'>>,
  ) {
    this.slaves = Array.from({ length: options.slaves }, (_, i) => this.startSlave(i));
    this.scheduleFlap();
  }

  static async start(opts: DemoOptions): Promise<Demo> {
    const options = { keep: false, interval: 250, flap: DEFAULT_FLAP, ...opts };
    const dir = opts.data ?? mkdtempSync(join(tmpdir(), 'loadledger-demo-'));
    let master: Master;
    try {
      master = await Master.start({
        data: dir,
        listen: { host: '127.0.0.1', port: 0 },
        http: { host: '127.0.0.1', port: 0 },
        // brisk, so that a change shows within a refresh or two
        helloInterval: 2 * options.interval,
        deadAfter: 6 * options.interval,
        maxSlaves: 4 * MAX_DEMO_SLAVES,
      });
    } catch (e) {
      if (!options.keep && opts.data === undefined) rmSync(dir, { recursive: true, force: true });
      throw e;
    }
    return new Demo(master, dir, options);
  }

  /** The master's HTTP API, e.g. `http://127.0.0.1:40123`. */
  get http(): string {
    const h = this.master.addresses.http!;
    return `http://${h.host}:${h.port}`;
  }

  get listen(): string {
    const l = this.master.addresses.listen;
    return `${l.host}:${l.port}`;
  }

  get slaveCount(): number {
    return this.options.slaves;
  }

  get kept(): boolean {
    return this.options.keep;
  }

  /**
   * Slaves say GOODBYE, the master stops (records MasterStopped, flushes, snapshots), the
   * log directory is removed unless kept. Safe to call twice.
   */
  stop(reason: string): Promise<DemoSummary> {
    this.stopping ??= this.doStop(reason);
    return this.stopping;
  }

  private async doStop(reason: string): Promise<DemoSummary> {
    clearTimeout(this.flapTimer);
    await this.leaving;
    await Promise.all(this.slaves.map((s) => s?.close({ reason: 'demo stopped' }) ?? Promise.resolve()));
    await this.master.stop(reason);
    const summary: DemoSummary = {
      events: this.master.projection.seq,
      durationMs: performance.now() - this.startedAt,
      dir: this.dir,
      kept: this.options.keep,
    };
    if (!this.options.keep) rmSync(this.dir, { recursive: true, force: true });
    return summary;
  }

  private startSlave(i: number): Slave {
    const n = this.options.slaves;
    const attrs: Attrs | undefined = i === 0 ? { zone: 'eu-1' } : undefined;
    const load = waveLoad(i, n, { clock: () => performance.now() - this.startedAt });
    return createSlave({
      master: this.master.addresses.listen,
      addr: demoAddr(i),
      load,
      ...(attrs ? { attrs } : {}),
      interval: this.options.interval,
      deadAfter: 6 * this.options.interval,
    });
  }

  /** The last slave leaves with GOODBYE after `up`, comes back after `away`, and again. */
  private scheduleFlap(): void {
    const flap = this.options.flap;
    if (!flap || this.stopping) return;
    const i = this.options.slaves - 1;
    this.flapTimer = setTimeout(() => {
      const slave = this.slaves[i];
      this.slaves[i] = undefined;
      this.leaving = slave?.close({ reason: `demo: back in ${formatDuration(flap.away)}` }).finally(() => {
        this.leaving = undefined;
        if (this.stopping) return;
        this.flapTimer = setTimeout(() => {
          if (this.stopping) return;
          this.slaves[i] = this.startSlave(i);
          this.scheduleFlap();
        }, flap.away);
      });
    }, flap.up);
  }
}
