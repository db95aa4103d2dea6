import { Subject, type Observable } from 'rxjs';
import type { EventLog } from '../../storage/event-log.js';
import type { Recorder } from '../../storage/recorder.js';
import type { LedgerEvent, ProtectionEnded, ProtectionStarted } from '../events.js';
import type { FlappingDetected } from '../decisions/flapping.js';
import type { Projection } from '../projection/state.js';
import { Selector } from './selector.js';
import { Ledger } from '../ledger/ledger.js';
import type { Degraded, HealthChange, MetricsSource, RegistryControl } from '../ledger/view.js';
import { formatAddr } from '../master/connection.js';
import { Liveness } from '../master/liveness.js';
import { SlavePort } from '../master/slave-port.js';
import { startHttpApi, type HttpApi } from '../http/server.js';
import type { HostPort } from '../util/hostport.js';
import { Descriptors } from '../util/descriptors.js';
import type { Refusal } from '../util/refusals.js';
import { resolveMasterOptions, type MasterOptions, type ResolvedMasterOptions } from './options.js';
import { makeDataDir, removePidFile, writePidFile } from './pid-file.js';

export { MASTER_DEFAULTS, type MasterOptions, type ResolvedMasterOptions } from './options.js';
export type { HostPort } from '../util/hostport.js';
export type { Degraded, HealthChange } from '../ledger/view.js';
export type { Refusal } from '../util/refusals.js';

/**
 * The composition root: one running master. It opens the log and rebuilds the projection
 * (Ledger), binds the slave port (SlavePort) and the HTTP API with its metrics, records
 * MasterStarted once both are bound, then takes slaves and starts the timers (liveness,
 * retention). `stop()` undoes it in order. Nothing below this file knows the others are
 * here: the slave port and the HTTP API see the ledger through small interfaces
 * (src/ledger/view.ts). HA and integrations plug in here (docs/architecture.md).
 */
export class Master implements RegistryControl, MetricsSource {
  private readonly ledger: Ledger;
  private readonly port: SlavePort;
  private readonly liveness: Liveness;
  private http: HttpApi | undefined;
  private stopping: Promise<void> | undefined;
  /** Picks least-loaded answers; its state (compensation) is not in the log: see Selector. */
  readonly selector: Selector;
  /** Connections either port turned away or could not take, at most once per window and kind: for the operator's log. */
  readonly refusals$ = new Subject<Refusal>();
  /** The process's file descriptors, which both ports check before they take a connection. */
  readonly descriptors = new Descriptors();

  private constructor(
    readonly options: ResolvedMasterOptions,
    built: Ledger,
  ) {
    this.ledger = built;
    this.selector = new Selector({ policy: options.policy, compensation: options.compensation });
    this.port = new SlavePort({ ...options, onRefusal: (r) => this.refusals$.next(r), descriptors: this.descriptors }, built, this.selector, built.projection.lastConn + 1);
    this.liveness = new Liveness(
      { conns: this.port.conns, get projection() { return built.projection; }, get recorder() { return built.recorder; }, prune: (now) => this.port.admission.prune(now), now: () => this.port.now() },
      options,
      { share: options.protectShare, forMs: options.protectFor, minNodes: options.protectMinNodes },
    );
  }

  /** Opens the log, rebuilds the projection from it, starts listening and records the start. */
  static async start(opts: MasterOptions): Promise<Master> {
    const options = resolveMasterOptions(opts);
    makeDataDir(options.data);
    let master: Master | undefined;
    // The ledger calls back into the node (drop connections, record the restart, give up).
    const ledger = await Ledger.open(options, {
      dropConnections: () => master?.port.dropAll(),
      restarted: (epoch) => {
        master?.liveness.protection.reset();
        master?.recordStart(epoch);
      },
      gaveUp: (reason) => void master?.stop(reason),
    });
    try {
      master = new Master(options, ledger);
      await master.listen();
      return master;
    } catch (e) {
      if (master) await master.abort();
      await ledger.log.close().catch(() => {});
      throw e;
    }
  }

  get projection(): Projection {
    return this.ledger.projection;
  }

  /** The write path (replaced by a fresh one when the master recovers from a log failure). */
  get recorder(): Recorder {
    return this.ledger.recorder;
  }

  get log(): EventLog {
    return this.ledger.log;
  }

  /** Committed events, in order (hot: subscribers see only what is in the log). */
  get events$(): Observable<LedgerEvent> {
    return this.ledger.events$;
  }

  /** Set while the log cannot be written: DOWN for clients until a write succeeds again. */
  get degraded(): Degraded | undefined {
    return this.ledger.degraded;
  }

  /** Log failures, recoveries, giving up: for the operator's log lines. */
  get health$(): Subject<HealthChange> {
    return this.ledger.health$;
  }

  /** ProtectionStarted and ProtectionEnded once committed: for the operator's log lines. */
  get protection$(): Subject<ProtectionStarted | ProtectionEnded> {
    return this.liveness.protection$;
  }

  /** Flapping detected on a node (its holder keeps it for the hold-down): for the operator's warning. */
  get flapping$(): Observable<FlappingDetected> {
    return this.port.flapping$;
  }

  /** Unknown frame types skipped, connections refused (for descriptors, accept errors), flapping detected, for /metrics. */
  get counters(): { unknownFrames: number; refused: number; flapping: number; fdRefused: number; acceptErrors: ReadonlyMap<string, number> } {
    return this.port.counters;
  }

  /** The addresses actually bound (port 0 in the options means any free port). */
  get addresses(): { listen: HostPort; http: HostPort | null } {
    return { listen: this.port.address, http: this.http?.address ?? null };
  }

  /** True while the master accepts slaves and its log takes writes. */
  get healthy(): boolean {
    return this.projection.master.state === 'UP_LISTENING' && this.ledger.writable && !this.stopping;
  }

  now(): number {
    return this.port.now();
  }

  private async listen(): Promise<void> {
    await this.port.listen();
    const o = this.options;
    if (o.http) {
      this.http = await startHttpApi(this, o.http, {
        tls: o.httpTls,
        auth: o.auth,
        followers: { maxFollowers: o.maxFollowers, stallTimeout: o.followStallTimeout },
        maxConnections: o.maxHttpConnections,
        scheduler: o.scheduler,
        onRefusal: (r) => this.refusals$.next(r),
        descriptors: this.descriptors,
      });
    }
    const recorder = this.ledger.recorder;
    const p = this.projection;
    // The epoch before ended without MasterStopped: say where its evidence ends (replay is DOWN from there).
    if (p.master.state !== 'DOWN') recorder.record({ type: 'MasterCrashed', epoch: p.master.epoch, lastSeq: p.seq, lastAt: p.ts });
    for (const d of this.ledger.accepted) recorder.record(d.to === undefined ? { type: 'LogDamaged', from: d.from, reason: d.reason } : { type: 'LogDamaged', from: d.from, to: d.to, reason: d.reason });
    this.recordStart(this.projection.master.epoch + 1);
    await recorder.flush();
    if (recorder.failure) throw recorder.failure; // not even the start could be logged
    this.ledger.started = true;
    // Replays of states after accepted damage start from here: they cannot fold across it.
    if (this.ledger.accepted.length > 0) await this.ledger.snapshot();
    writePidFile(this.options.data);
    this.port.open();
    this.liveness.start();
    this.ledger.retention.start();
  }

  private recordStart(epoch: number): void {
    const { listen, http } = this.addresses;
    this.recorder.record({
      type: 'MasterStarted',
      epoch,
      listen: formatAddr(listen.host, listen.port),
      http: http ? formatAddr(http.host, http.port) : '',
      pid: process.pid,
      helloInterval: this.options.helloInterval,
      deadAfter: this.options.deadAfter,
    });
  }

  /** Writes a snapshot of the projection as it is now (between two commits, so exact). */
  snapshot(): Promise<void> {
    return this.ledger.snapshot();
  }

  /** Runs retention now (see src/ledger/retention.ts). */
  applyRetention(): Promise<void> {
    return this.ledger.applyRetention();
  }

  /**
   * Stops accepting, records the stop, flushes the log and closes it. Safe to call twice.
   */
  stop(reason = 'stopped'): Promise<void> {
    this.stopping ??= this.doStop(reason);
    return this.stopping;
  }

  /** In order: timers, the slave port, MasterStopped, the HTTP API (its tails see the stop), the log. */
  private async doStop(reason: string): Promise<void> {
    this.liveness.stop();
    await this.ledger.quiesce();
    const closed = this.port.close();
    await this.ledger.recordStop(reason);
    await this.abort();
    await closed;
    this.liveness.complete();
    await this.ledger.close();
    removePidFile(this.options.data);
  }

  private async abort(): Promise<void> {
    this.port.abort();
    await this.http?.close();
  }
}
