import { EMPTY, Subject, type Observable } from 'rxjs';
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
import { QueryPort } from '../master/query-port.js';
import { AGENT_INTEGRATION, AgentPort } from '../master/agent-port.js';
import { DnsPort } from '../master/dns-port.js';
import { normalizeZone } from '../selection/dns.js';
import { startHttpApi, type HttpApi, type HttpApiOptions } from '../http/server.js';
import { formatHostPort, type HostPort } from '../util/hostport.js';
import { Descriptors } from '../util/descriptors.js';
import type { Refusal } from '../util/refusals.js';
import { resolveMasterOptions, type MasterOptions, type ResolvedMasterOptions } from './options.js';
import { prepareDataDir } from './data-dir.js';
import { removePidFile, writePidFile } from './pid-file.js';
import { ClusterMember, type ClusterChange } from './cluster-member.js';
import type { ClusterView, IntegrationView } from '../ledger/view.js';
import { AnswerStats } from '../util/answer-stats.js';
import { WeightBoard } from '../ledger/weights.js';

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
 *
 * Over ~350 lines because it is the one place that wires every part (log, slave port, HTTP,
 * metrics, cluster member, four consumer interfaces) and unwinds them in order; each part's
 * logic is in its own file, and what stays here is which part gets which view, and when.
 */
export class Master implements RegistryControl, MetricsSource {
  /** @internal the cluster member (src/node/cluster-member.ts) works on it */
  readonly ledger: Ledger;
  /** The slave port while this master leads (a standby has none: slaves go to the leader). */
  private port: SlavePort | undefined;
  /** Master HA: the slave port while this master does not lead (binary QUERY only, no slaves). */
  private queryPort: QueryPort | undefined;
  /** Opening and closing the query port, in order (a term may begin while it opens). */
  private queryPortOps: Promise<void> = Promise.resolve();
  /** Master HA: the slave address first bound (port 0 in the options), kept across roles. */
  private bound: HostPort | undefined;
  private readonly liveness: Liveness;
  private http: HttpApi | undefined;
  private stopping: Promise<void> | undefined;
  /** Master HA (--etcd): the election and replication; undefined for a master running alone. */
  private member: ClusterMember | undefined;
  private pidWritten = false;
  private readonly noCounters = { unknownFrames: 0, refused: 0, flapping: 0, fdRefused: 0, acceptErrors: new Map<string, number>() };
  /** Master HA: elections won, fencing, truncation, acknowledging mode: for the operator's log lines. */
  readonly cluster$ = new Subject<ClusterChange>();
  /** Picks least-loaded answers; its state (compensation) is not in the log: see Selector. */
  readonly selector: Selector;
  /** Connections either port turned away or could not take, at most once per window and kind: for the operator's log. */
  readonly refusals$ = new Subject<Refusal>();
  /** The process's file descriptors, which both ports check before they take a connection. */
  readonly descriptors = new Descriptors();
  /** The interfaces for consumers that are on (docs/integrations.md), with their counters. */
  readonly integrations: IntegrationView[] = [];
  /** Loads → weights, one table for every interface (docs/selection.md#weights); ticks from its first read to stop, leader or standby. */
  readonly weights: WeightBoard;
  /** HAProxy's agent-check (`--agent`), leader or standby; undefined while off. */
  agent: AgentPort | undefined;
  /** The DNS interface (`--dns`), UDP and TCP, leader or standby; undefined while off. */
  dns: DnsPort | undefined;

  private constructor(
    readonly options: ResolvedMasterOptions,
    built: Ledger,
  ) {
    this.ledger = built;
    this.selector = new Selector({ policy: options.policy, compensation: options.compensation });
    if (options.prometheusSd) this.integrations.push({ name: 'prometheus-sd', at: 'GET /v1/sd/prometheus', stats: new AnswerStats() });
    if (options.envoyEds) this.integrations.push({ name: 'envoy-eds', at: 'POST /v3/discovery:endpoints', stats: new AnswerStats() });
    this.weights = new WeightBoard(this.ledger, {
      scheduler: options.scheduler,
      interval: options.weightInterval,
      policy: { min: options.weightMin, step: options.weightStep },
      serviceKey: options.serviceKey,
    });
    const self = this;
    this.liveness = new Liveness(
      {
        get conns() {
          return self.port?.conns ?? new Map();
        },
        get projection() {
          return built.projection;
        },
        get recorder() {
          return built.recorder;
        },
        prune: (now) => self.port?.admission.prune(now),
        now: () => self.now(),
      },
      options,
      { share: options.protectShare, forMs: options.protectFor, minNodes: options.protectMinNodes },
    );
  }

  /** Opens the log, rebuilds the projection from it, starts listening and records the start. */
  static async start(opts: MasterOptions): Promise<Master> {
    const options = resolveMasterOptions(opts);
    // A start that fails (a port in use) takes back the directory or log it created.
    const dataDir = prepareDataDir(options.data);
    let master: Master | undefined;
    let ledger: Ledger | undefined;
    try {
      // The ledger calls back into the node (drop connections, record the restart, give up).
      ledger = await Ledger.open(options, {
        dropConnections: () => master?.port?.dropAll(),
        restarted: (epoch) => {
          master?.liveness.protection.reset();
          master?.recordStart(epoch);
        },
        gaveUp: (reason) => void master?.stop(reason),
      });
      master = new Master(options, ledger);
      await master.listen();
      return master;
    } catch (e) {
      if (master) await master.abort();
      await ledger?.log.close().catch(() => {});
      dataDir.undo();
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

  /** Flapping detected on a node (its holder keeps it for the hold-down): for the operator's warning (this term's port, under HA). */
  get flapping$(): Observable<FlappingDetected> {
    return this.port?.flapping$ ?? EMPTY;
  }

  /** Unknown frame types skipped, connections refused (for descriptors, accept errors), flapping detected, for /metrics (this term's, under HA). */
  get counters(): {
    unknownFrames: number;
    refused: number;
    flapping: number;
    fdRefused: number;
    acceptErrors: ReadonlyMap<string, number>;
  } {
    return this.port?.counters ?? this.noCounters;
  }

  /** The addresses actually bound (port 0 in the options means any free port; a standby has no slave port). */
  get addresses(): { listen: HostPort; http: HostPort | null } {
    return { listen: this.port?.address ?? this.queryPort?.address ?? this.bound ?? this.options.listen, http: this.http?.address ?? null };
  }

  /** True while the master accepts slaves and its log takes writes (a standby does neither). */
  get healthy(): boolean {
    return (
      this.port !== undefined &&
      this.projection.master.state === 'UP_LISTENING' &&
      this.ledger.writable &&
      !this.ledger.recorder.fencedState &&
      !this.stopping
    );
  }

  /** Master HA: role, term, lag (undefined for a master running alone). */
  get cluster(): ClusterView | undefined {
    return this.member;
  }

  now(): number {
    return this.options.scheduler.now();
  }

  private async listen(): Promise<void> {
    if (this.options.agent) {
      const agent = new AgentPort({ listen: this.options.agent, scheduler: this.options.scheduler }, this);
      await agent.listen();
      this.agent = agent;
      // listed before the HTTP API starts: its /metrics observe the answers of the interfaces listed then
      this.integrations.push({ name: AGENT_INTEGRATION, at: formatHostPort(agent.address), stats: agent.stats });
    }
    if (this.options.dns) {
      const o = this.options;
      const dns = new DnsPort(
        {
          listen: this.options.dns,
          zone: normalizeZone(o.dnsZone) as string,
          ttl: o.dnsTtl / 1000,
          policy: o.dnsPolicy,
          scheduler: o.scheduler,
        },
        this,
        new AnswerStats(),
      );
      await dns.listen();
      this.dns = dns;
      this.integrations.push({
        name: 'dns',
        at: `udp+tcp ${formatHostPort(dns.address)}`,
        stats: dns.stats,
        counts: () => ({ dropped: dns.dropped, truncated: dns.truncated }),
      });
      // SRV hands out weights: have them settled by the first query, not ramping from it
      this.weights.start();
    }
    if (this.options.etcd.length === 0) {
      // alone: bind the slave port before the HTTP API, as always
      const port = await this.bindPort();
      if (this.options.http)
        this.http = await startHttpApi(this, this.options.http, this.httpOptions({ tls: this.options.httpTls, auth: this.options.auth }));
      await this.takeSlaves(port);
      return;
    }
    // HA: nothing is written until this node leads; the HTTP API serves reads (and the
    // replication stream) from the start, the slave port opens only with a term.
    this.ledger.recorder.fence();
    this.http = await startHttpApi(this, this.options.http!, this.httpOptions({ auth: this.options.auth }));
    this.ledger.started = true;
    writePidFile(this.options.data);
    this.pidWritten = true;
    this.reopenQueryPort();
    await this.queryPortOps;
    this.member = new ClusterMember(this, this.options);
    this.ledger.retention.start();
    await this.member.start();
  }

  /** The HTTP API's options: `base` and its caps, time, refusals and descriptors. */
  private httpOptions(base: HttpApiOptions): HttpApiOptions {
    const o = this.options;
    return {
      ...base,
      followers: { maxFollowers: o.maxFollowers, stallTimeout: o.followStallTimeout },
      maxConnections: o.maxHttpConnections,
      scheduler: o.scheduler,
      onRefusal: (r) => this.refusals$.next(r),
      descriptors: this.descriptors,
    };
  }

  /** Master HA, not leading: binds the query port (after whatever came before it), on the address kept. */
  private reopenQueryPort(after: Promise<unknown> = Promise.resolve()): void {
    this.queryPortOps = this.queryPortOps
      .then(() => after)
      .then(async () => {
        if (this.stopping || this.port || this.queryPort) return;
        const q = new QueryPort({ ...this.options, listen: this.bound ?? this.options.listen }, this);
        await q.listen();
        this.queryPort = q;
        this.bound = q.address;
      })
      .catch(() => {}); // the address is taken for now: slaves and queries get a refusal, as before
  }

  /** Closes the query port (before the term's slave port binds the same address). */
  private closeQueryPort(): Promise<void> {
    this.queryPortOps = this.queryPortOps.then(async () => {
      const q = this.queryPort;
      this.queryPort = undefined;
      await q?.close();
    });
    return this.queryPortOps;
  }

  private async bindPort(): Promise<SlavePort> {
    const port = new SlavePort(
      {
        ...this.options,
        listen: this.bound ?? this.options.listen,
        onRefusal: (r) => this.refusals$.next(r),
        descriptors: this.descriptors,
      },
      this.ledger,
      this.selector,
      this.projection.lastConn + 1,
    );
    await port.listen();
    this.port = port;
    if (this.options.etcd.length > 0) this.bound = port.address;
    return port;
  }

  /** Records MasterStarted (after LeaderElected under HA), then takes the slaves. */
  private async takeSlaves(port: SlavePort, term?: { term: number; node: string }): Promise<void> {
    const recorder = this.ledger.recorder;
    // master HA: the term's first event
    if (term) recorder.record({ type: 'LeaderElected', term: term.term, node: term.node });
    const p = this.projection;
    // The epoch before ended without MasterStopped: say where its evidence ends (replay is DOWN from there).
    if (p.master.state !== 'DOWN') recorder.record({ type: 'MasterCrashed', epoch: p.master.epoch, lastSeq: p.seq, lastAt: p.ts });
    for (const d of this.ledger.accepted)
      recorder.record(
        d.to === undefined
          ? { type: 'LogDamaged', from: d.from, reason: d.reason }
          : { type: 'LogDamaged', from: d.from, to: d.to, reason: d.reason },
      );
    const damaged = this.ledger.accepted.length > 0;
    this.ledger.accepted.length = 0; // recorded once, not again with the next term
    this.recordStart(this.projection.master.epoch + 1);
    await recorder.flush();
    if (recorder.failure) throw recorder.failure; // not even the start could be logged
    if (recorder.fencedState) throw new Error('fenced before the term started');
    this.ledger.started = true;
    // Replays of states after accepted damage start from here: they cannot fold across it.
    if (damaged) await this.ledger.snapshot();
    if (!this.pidWritten) writePidFile(this.options.data);
    this.pidWritten = true;
    // A term (master HA): the log's connections are the previous term's; their slaves get one
    // dead-after to re-register (counted before the port opens: none of them is this term's).
    if (term) this.liveness.termBegan();
    else this.liveness.protection.reset();
    port.open();
    this.liveness.start();
    if (!term) this.ledger.retention.start();
  }

  /** @internal Master HA: this node won term `term`: LeaderElected, MasterStarted, slaves. */
  async lead(term: number): Promise<void> {
    await this.closeQueryPort();
    this.ledger.recorder.resume();
    const port = await this.bindPort();
    await this.takeSlaves(port, { term, node: this.options.nodeId });
  }

  /** @internal Master HA: this node may no longer lead: nothing more is written, slaves are dropped. */
  stepDown(): void {
    this.ledger.recorder.fence();
    this.liveness.stop();
    this.liveness.grace.reset();
    const port = this.port;
    this.port = undefined;
    const closed = port?.close();
    // a standby again: queries on the same address once the term's port has closed
    this.reopenQueryPort(closed);
  }

  private recordStart(epoch: number): void {
    const { listen, http } = this.addresses;
    if (this.ledger.recorder.fencedState) return;
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
    this.weights.stop();
    await this.ledger.quiesce();
    const closed = this.port?.close();
    await this.ledger.recordStop(reason);
    // a leader waits (≤ 1 s) for a standby to have everything, then resigns
    await this.member?.stop();
    await this.abort();
    await closed;
    this.liveness.complete();
    this.cluster$.complete();
    await this.ledger.close();
    if (this.pidWritten) removePidFile(this.options.data);
  }

  private async abort(): Promise<void> {
    this.weights.stop();
    this.port?.abort();
    await this.closeQueryPort();
    await this.member?.stop();
    await this.agent?.close();
    await this.dns?.close();
    await this.http?.close();
  }
}
