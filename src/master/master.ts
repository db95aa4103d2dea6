import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Subject, type Observable } from 'rxjs';
import { EventLog, type EventLogOptions } from '../../storage/event-log.js';
import { ErrorCode, LoadLedgerError } from '../errors.js';
import type { LedgerEvent, NewEvent, ProtectionEnded, ProtectionStarted } from '../events.js';
import type { PushLimits } from '../protocol/messages.js';
import { toSnapshot } from '../projection/snapshot.js';
import type { Projection } from '../projection/state.js';
import { loadProjection } from '../../replay/load.js';
import { logSource } from '../../replay/source.js';
import { seqAtTime } from '../../replay/time.js';
import { SlaveConnection, formatAddr, normalizeIp, type ConnectionHost } from './connection.js';
import { Admission } from './admission.js';
import { Recorder } from './recorder.js';
import { createSlaveTlsServer, type MasterTlsOptions, type TlsPeer } from './tls.js';
import { formatDuration } from '../util/duration.js';
import { startHttpApi, type HttpApi, type HttpTlsOptions } from '../http/server.js';
import type { HttpAuthOptions } from '../http/auth.js';
import { checkCompensation, parsePolicy, type Policy } from '../selection/policy.js';
import { Selector } from '../selection/selector.js';
import { PROTECTION_DEFAULTS, ProtectionGuard } from './protection.js';

export type { HostPort } from '../util/hostport.js';
import type { HostPort } from '../util/hostport.js';

export interface MasterOptions {
  /** Directory of the event log (created if missing). */
  data: string;
  listen: HostPort;
  /** HTTP API address; null for none. */
  http: HostPort | null;
  /** Serve the HTTP API over HTTPS with this certificate and key (PEM). */
  httpTls?: HttpTlsOptions;
  /** The HTTP API's admin token and read access (default: reads open, admin endpoints off). */
  auth?: HttpAuthOptions;
  /** The master HELLOs a slave that was quiet this long (ms). */
  helloInterval: number;
  /** A slave with no frame for this long is DOWN (ms). */
  deadAfter: number;
  maxSlaves: number;
  /** A connection that sends no valid frame this long after it was accepted is closed (ms). */
  handshakeTimeout?: number;
  /** Frames read per second per connection (0: no limit): a flooder is paused, not served. */
  maxFrameRate?: number;
  /** CIDR ranges allowed to connect (empty: everyone). */
  allow?: string[];
  /** Connections per second per peer IP (0: unlimited), and the burst allowed. */
  connectRate?: number;
  connectBurst?: number;
  limits?: Partial<PushLimits>;
  /** Snapshot the projection every this many events (0: never by count). */
  snapshotEvery?: number;
  /** … or every this many ms, whichever comes first (0: never by time). */
  snapshotInterval?: number;
  /** fsync each group commit. */
  sync?: boolean;
  /** Retention: delete events older than this many ms (0: keep everything). */
  retain?: number;
  /** Retention: keep only the newest this many events (0: keep everything). */
  retainEvents?: number;
  /** How often the retention task runs (ms). */
  retentionInterval?: number;
  /** Snapshots kept (the oldest go first). */
  maxSnapshots?: number;
  /** Wall clock for event timestamps (tests may pin it). */
  clock?: () => number;
  /** After a log write failure: first retry after this long (ms), doubling to 8×. */
  logRetryInterval?: number;
  /** … and give up (stop the master) after this long without a successful write (0: never). */
  logRetryFor?: number;
  /** Opens the event log (tests inject a storage layer that fails on demand). */
  openLog?: (dir: string, options: EventLogOptions) => Promise<EventLog>;
  /** TLS on the slave port with client certificates (src/master/tls.ts); plain TCP without. */
  tls?: MasterTlsOptions;
  /** How least-loaded queries that name no policy are answered (src/selection/policy.ts). */
  policy?: Policy;
  /** Load added to a node per answer until its next report (0: off). */
  compensation?: number;
  /** Mass-failure protection: more than this share (0..1) of the eligible nodes timing out within one dead-after window starts it (0: off). */
  protectShare?: number;
  /** … for at most this long (ms). */
  protectFor?: number;
  /** … and never with fewer eligible nodes than this. */
  protectMinNodes?: number;
}

/** What the operator must hear about: the log failed, came back, or the master gave up. */
export type HealthChange =
  | { type: 'degraded'; error: LoadLedgerError; retryFor: number }
  | { type: 'recovered'; downMs: number; epoch: number; seq: number }
  | { type: 'retry-failed'; error: LoadLedgerError; attempts: number }
  | { type: 'gave-up'; error: LoadLedgerError; downMs: number };

/** The master is DOWN for clients because its log cannot be written. */
export interface Degraded {
  /** Wall-clock ms of the failure (the MasterStopped recorded on recovery carries it). */
  since: number;
  /** Monotonic ms of the failure. */
  at: number;
  /** The write that failed first (what the outage is recorded with), and the latest error. */
  cause: LoadLedgerError;
  error: LoadLedgerError;
  attempts: number;
}

export const MASTER_DEFAULTS = {
  data: './data',
  listen: { host: '127.0.0.1', port: 7400 },
  http: { host: '127.0.0.1', port: 7480 },
  helloInterval: 1000,
  deadAfter: 3000,
  maxSlaves: 65536,
  handshakeTimeout: 3000,
  maxFrameRate: 1000,
  connectRate: 100,
  connectBurst: 1000,
  snapshotEvery: 100_000,
  snapshotInterval: 60_000,
  retain: 0,
  retainEvents: 0,
  retentionInterval: 10_000,
  maxSnapshots: 32,
  logRetryInterval: 1000,
  logRetryFor: 300_000,
  policy: 'least-loaded',
  compensation: 0,
  protectShare: PROTECTION_DEFAULTS.share,
  protectFor: PROTECTION_DEFAULTS.forMs,
  protectMinNodes: PROTECTION_DEFAULTS.minNodes,
} as const;

/**
 * The master: accepts slaves, turns everything that happens into events through the
 * Recorder, finds timeouts with a timer, and serves the projection over HTTP.
 */
export class Master implements ConnectionHost {
  private rec: Recorder;
  private eventLog: EventLog;
  /** Set while the log cannot be written: DOWN for clients until a write succeeds again. */
  degraded: Degraded | undefined;
  /** Log failures, recoveries, giving up: for the operator's log lines. */
  readonly health$ = new Subject<HealthChange>();
  private recoveryTimer: NodeJS.Timeout | undefined;
  private recovering: Promise<void> | undefined;
  private started = false;
  private readonly conns = new Map<number, SlaveConnection>();
  private readonly bindings = new Map<string, SlaveConnection>();
  private nextConn: number;
  private server: Server | undefined;
  private http: HttpApi | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Connections that arrived before MasterStarted was committed: accepted right after. */
  private early: Array<{ socket: Socket; peer?: TlsPeer; refusal?: string }> | null = [];
  private stopping: Promise<void> | undefined;
  private lastSnapshotSeq: number;
  private lastSnapshotAt = performance.now();
  private snapshotting = false;
  private retentionTimer: NodeJS.Timeout | undefined;
  private retaining: Promise<void> | undefined;
  private readonly admission: Admission;
  private lastPrune = 0;
  /** Unknown frame types skipped, for /metrics. */
  readonly counters = { unknownFrames: 0, refused: 0 };
  /** Picks least-loaded answers; its state (compensation) is not in the log: see Selector. */
  readonly selector: Selector;
  /** Decides when mass-failure protection starts and ends (src/master/protection.ts). */
  private readonly protection: ProtectionGuard;
  /** ProtectionStarted and ProtectionEnded once committed: for the operator's log lines. */
  readonly protection$ = new Subject<ProtectionStarted | ProtectionEnded>();

  private constructor(
    readonly options: Required<Omit<MasterOptions, 'limits' | 'openLog' | 'httpTls' | 'auth' | 'tls'>> &
      Pick<MasterOptions, 'httpTls' | 'auth' | 'tls'> & { limits: Partial<PushLimits>; openLog: NonNullable<MasterOptions['openLog']> },
    log: EventLog,
    projection: Projection,
  ) {
    this.eventLog = log;
    this.rec = this.newRecorder(log, projection);
    this.nextConn = projection.lastConn + 1;
    this.lastSnapshotSeq = projection.seq;
    this.admission = new Admission({ allow: options.allow, rate: options.connectRate, burst: options.connectBurst });
    this.selector = new Selector({ policy: options.policy, compensation: options.compensation });
    this.protection = new ProtectionGuard({ share: options.protectShare, forMs: options.protectFor, minNodes: options.protectMinNodes, deadAfter: options.deadAfter });
  }

  /** Opens the log, rebuilds the projection from it, starts listening and records the start. */
  static async start(opts: MasterOptions): Promise<Master> {
    const options = {
      snapshotEvery: MASTER_DEFAULTS.snapshotEvery,
      snapshotInterval: MASTER_DEFAULTS.snapshotInterval,
      retain: MASTER_DEFAULTS.retain,
      retainEvents: MASTER_DEFAULTS.retainEvents,
      retentionInterval: MASTER_DEFAULTS.retentionInterval,
      maxSnapshots: MASTER_DEFAULTS.maxSnapshots,
      handshakeTimeout: MASTER_DEFAULTS.handshakeTimeout,
      maxFrameRate: MASTER_DEFAULTS.maxFrameRate,
      allow: [],
      connectRate: MASTER_DEFAULTS.connectRate,
      connectBurst: MASTER_DEFAULTS.connectBurst,
      sync: false,
      clock: Date.now,
      limits: {},
      logRetryInterval: MASTER_DEFAULTS.logRetryInterval,
      logRetryFor: MASTER_DEFAULTS.logRetryFor,
      openLog: (dir: string, options: EventLogOptions) => EventLog.open(dir, options),
      policy: MASTER_DEFAULTS.policy,
      compensation: MASTER_DEFAULTS.compensation,
      protectShare: MASTER_DEFAULTS.protectShare,
      protectFor: MASTER_DEFAULTS.protectFor,
      protectMinNodes: MASTER_DEFAULTS.protectMinNodes,
      ...opts,
    };
    if (!(options.protectShare >= 0 && options.protectShare <= 1)) throw new LoadLedgerError(ErrorCode.BAD_ARGUMENT, `--protect-share must be between 0 and 1, got ${options.protectShare}`);
    parsePolicy(options.policy, 'policy');
    checkCompensation(options.compensation, 'compensation');
    try {
      mkdirSync(options.data, { recursive: true });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new LoadLedgerError(ErrorCode.BAD_ARGUMENT, `--data ${options.data}: ${code === 'EEXIST' || code === 'ENOTDIR' ? 'not a directory' : (e as Error).message}`, { cause: e });
    }
    const log = await options.openLog(options.data, { create: true, sync: options.sync });
    let master: Master | undefined;
    try {
      const projection = await loadProjection(log);
      master = new Master(options, log, projection);
      await master.listen();
      return master;
    } catch (e) {
      if (master) await master.closeSockets();
      await log.close().catch(() => {});
      throw e;
    }
  }

  get projection(): Projection {
    return this.rec.projection;
  }

  /** The write path (replaced by a fresh one when the master recovers from a log failure). */
  get recorder(): Recorder {
    return this.rec;
  }

  get log(): EventLog {
    return this.eventLog;
  }

  private newRecorder(log: EventLog, projection: Projection, stats?: Recorder['stats']): Recorder {
    const rec = new Recorder(log, projection, this.options.clock, 20_000, (seq) => this.committed(seq), stats);
    // (a handler, not an events$ subscriber: events$ skips publishing while nobody listens)
    rec.onFailure((e) => this.logFailed(e));
    return rec;
  }

  /** Committed events, in order (hot: subscribers see only what is in the log). */
  get events$(): Observable<LedgerEvent> {
    return this.recorder.events$;
  }

  /** The addresses actually bound (port 0 in the options means any free port). */
  get addresses(): { listen: HostPort; http: HostPort | null } {
    const a = this.server?.address();
    const listen = a && typeof a === 'object' ? { host: a.address, port: a.port } : this.options.listen;
    return { listen, http: this.http?.address ?? null };
  }

  /** True while the master accepts slaves and its log takes writes. */
  get healthy(): boolean {
    return this.projection.master.state === 'UP_LISTENING' && !this.rec.failure && !this.degraded && !this.stopping;
  }

  private async listen(): Promise<void> {
    // Sockets start paused and wait until MasterStarted is in the log: a slave's events
    // must never come before the start they belong to (the start ends the old epoch).
    const tls = this.options.tls;
    const server = tls
      ? createSlaveTlsServer(tls, this.options.handshakeTimeout, {
          // --allow and the connection rate come before the handshake: they are cheap, it is not
          admit: (tcp) => this.admission.admit(normalizeIp(tcp.remoteAddress ?? 'unknown'), this.now()),
          secure: (socket, peer) => (this.early ? this.early.push({ socket, peer }) : this.accept(socket, peer)),
          refused: (socket, refusal) => (this.early ? this.early.push({ socket, refusal }) : this.refuse(socket, refusal)),
        })
      : createServer({ noDelay: true, pauseOnConnect: true }, (socket) => (this.early ? this.early.push({ socket }) : this.accept(socket)));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) =>
        reject(new LoadLedgerError(e.code === 'EADDRINUSE' ? ErrorCode.ADDRESS_IN_USE : ErrorCode.BAD_ARGUMENT, `--listen ${this.options.listen.host}:${this.options.listen.port}: ${e.code === 'EADDRINUSE' ? 'address already in use' : e.message}`, { cause: e })),
      );
      server.listen(this.options.listen.port, this.options.listen.host, () => resolve());
    });
    server.on('error', () => {}); // after listening, errors are per-connection
    if (this.options.http) {
      this.http = await startHttpApi(this, this.options.http, { tls: this.options.httpTls, auth: this.options.auth });
    }
    const epoch = this.projection.master.epoch + 1;
    this.recordStart(epoch);
    await this.rec.flush();
    if (this.rec.failure) throw this.rec.failure; // not even the start could be logged
    this.started = true;
    writeFileSync(join(this.options.data, 'master.pid'), `${process.pid}\n`);
    const early = this.early ?? [];
    this.early = null;
    for (const e of early) {
      if (e.refusal !== undefined) this.refuse(e.socket, e.refusal);
      else this.accept(e.socket, e.peer);
    }
    const tick = Math.max(5, Math.min(250, Math.floor(Math.min(this.options.helloInterval, this.options.deadAfter) / 4)));
    this.timer = setInterval(() => this.checkLiveness(), tick);
    this.timer.unref();
    if (this.options.retain > 0 || this.options.retainEvents > 0) {
      this.retentionTimer = setInterval(() => void this.applyRetention(), this.options.retentionInterval);
      this.retentionTimer.unref();
    }
  }

  private recordStart(epoch: number): void {
    this.rec.record({
      type: 'MasterStarted',
      epoch,
      listen: formatAddr(this.addresses.listen.host, this.addresses.listen.port),
      http: this.addresses.http ? formatAddr(this.addresses.http.host, this.addresses.http.port) : '',
      pid: process.pid,
      helloInterval: this.options.helloInterval,
      deadAfter: this.options.deadAfter,
    });
  }

  now(): number {
    return performance.now();
  }

  get frameRate(): number {
    return this.options.maxFrameRate;
  }

  /**
   * The log refused a write. Nothing that was not written takes effect (the recorder drops
   * it), no connection stays open, clients are told the master is DOWN, and the master
   * tries again: reopen the log, rebuild the projection from what is really in it, record
   * the outage (MasterStopped, then MasterStarted with a new epoch) and take slaves again.
   */
  private logFailed(error: LoadLedgerError): void {
    for (const c of this.conns.values()) c.drop();
    if (this.stopping || !this.started) return;
    if (this.degraded) {
      this.degraded.error = error;
      this.health$.next({ type: 'retry-failed', error, attempts: this.degraded.attempts });
    } else {
      this.degraded = { since: this.options.clock(), at: this.now(), cause: error, error, attempts: 0 };
      this.health$.next({ type: 'degraded', error, retryFor: this.options.logRetryFor });
    }
    this.scheduleRecovery();
  }

  private scheduleRecovery(): void {
    const d = this.degraded;
    if (!d || this.stopping || this.recoveryTimer) return;
    const down = this.now() - d.at;
    if (this.options.logRetryFor > 0 && down >= this.options.logRetryFor) {
      this.health$.next({ type: 'gave-up', error: d.error, downMs: Math.round(down) });
      void this.stop('event log unwritable');
      return;
    }
    const delay = this.options.logRetryInterval * 2 ** Math.min(d.attempts, 3);
    this.recoveryTimer = setTimeout(() => {
      this.recoveryTimer = undefined;
      this.recovering = this.recover().finally(() => (this.recovering = undefined));
    }, delay);
    this.recoveryTimer.unref();
  }

  private async recover(): Promise<void> {
    const d = this.degraded;
    if (!d || this.stopping) return;
    d.attempts++;
    let log: EventLog | undefined;
    try {
      // LevelDB keeps failing after a write error until it is reopened.
      await this.eventLog.close().catch(() => {});
      log = await this.options.openLog(this.options.data, { create: true, sync: this.options.sync });
      // The failed write may or may not have reached the disk: the projection is rebuilt
      // from what the log really holds, never kept from before.
      const projection = await loadProjection(log);
      this.eventLog = log;
      this.rec = this.newRecorder(log, projection, this.rec.stats);
      this.protection.reset();
      this.lastSnapshotSeq = Math.min(this.lastSnapshotSeq, projection.seq);
    } catch (e) {
      if (log && log !== this.eventLog) await log.close().catch(() => {});
      d.error = e instanceof LoadLedgerError ? e : new LoadLedgerError(ErrorCode.LOG_WRITE_FAILED, String(e), { cause: e });
      this.health$.next({ type: 'retry-failed', error: d.error, attempts: d.attempts });
      this.scheduleRecovery();
      return;
    }
    if (this.stopping) return;
    const epoch = this.projection.master.epoch;
    this.rec.record({ type: 'MasterStopped', epoch, reason: `event log write failed: ${d.cause.message}; DOWN for ${formatDuration(this.now() - d.at)}`, since: d.since });
    this.recordStart(epoch + 1);
    await this.rec.flush();
    if (this.rec.failure) return; // logFailed() has scheduled the next attempt
    this.degraded = undefined;
    this.health$.next({ type: 'recovered', downMs: Math.round(this.now() - d.at), epoch: epoch + 1, seq: this.projection.seq });
  }

  /** `peer`: a TLS slave's verified certificate (admitted before its handshake). */
  private accept(socket: Socket, peer?: TlsPeer): void {
    if (this.stopping || this.rec.failure || this.degraded) {
      socket.destroy();
      return;
    }
    const verdict = peer ? { ok: true as const } : this.admission.admit(normalizeIp(socket.remoteAddress ?? 'unknown'), this.now());
    if (!verdict.ok) {
      this.refuse(socket, verdict.reason);
      return;
    }
    if (this.conns.size >= this.options.maxSlaves) {
      this.refuse(socket, `max-slaves (${this.options.maxSlaves}) reached`);
      return;
    }
    const c = new SlaveConnection(this.nextConn++, socket, this, this.options.limits, peer);
    this.conns.set(c.conn, c);
    this.recorder.record({ type: 'SlaveConnected', conn: c.conn, remote: c.remote, ...(peer && { identity: peer.identity }) });
    socket.resume();
  }

  /**
   * Refuses a connection (--allow, rate limit, max-slaves, TLS) and closes it. Recorded as
   * a SlaveRefused event, at most one per second per peer: a peer hammering the port
   * cannot grow the log; the next event counts the refusals that were not recorded.
   */
  refuse(socket: Socket, reason: string): void {
    this.counters.refused++;
    socket.destroy();
    const ip = normalizeIp(socket.remoteAddress ?? 'unknown');
    const { record, unrecorded } = this.admission.refusal(ip, this.now());
    if (!record) return;
    const remote = formatAddr(ip, socket.remotePort ?? 0);
    this.recorder.record({ type: 'SlaveRefused', remote, reason: unrecorded > 0 ? `${reason} (and ${unrecorded} more refused from ${ip} since the last record)` : reason });
  }

  bind(c: SlaveConnection, node: string): void {
    const holder = this.bindings.get(node);
    if (holder && holder !== c) holder.superseded(c.conn);
    c.node = node;
    this.bindings.set(node, c);
  }

  forget(c: SlaveConnection): void {
    this.conns.delete(c.conn);
    if (c.node !== null && this.bindings.get(c.node) === c) this.bindings.delete(c.node);
  }

  private checkLiveness(): void {
    const now = this.now();
    const { deadAfter, helloInterval, handshakeTimeout } = this.options;
    if (this.protection.enabled) this.decideProtection(this.protection.ending(this.options.clock(), this.projection));
    let timingOut: { c: SlaveConnection; silent: number }[] | undefined;
    for (const c of this.conns.values()) {
      if (c.paused) continue; // we are not reading it: its silence is ours, not the slave's
      const silent = now - c.lastRx;
      if (c.frames === 0 && now - c.connectedAt >= handshakeTimeout) c.timedOut(silent, true);
      else if (silent >= deadAfter) (timingOut ??= []).push({ c, silent });
      else if (silent >= helloInterval && now - c.lastPing >= helloInterval) c.ping(now);
    }
    if (timingOut) {
      // Counted before they are recorded: a mass failure is recorded before its timeouts.
      // the eligible ones: a drained node is not answered anyway, its silence says nothing of a partition
      const bound = timingOut.flatMap(({ c }) => (c.node !== null && this.projection.nodes.get(c.node)?.drained === undefined ? [{ node: c.node, conn: c.conn }] : []));
      this.decideProtection(this.protection.timeouts(now, this.options.clock(), this.projection, bound));
      for (const { c, silent } of timingOut) c.timedOut(silent);
    }
    if (now - this.lastPrune >= 10_000) {
      this.lastPrune = now;
      this.admission.prune(now);
    }
  }

  private decideProtection(event: NewEvent | undefined): void {
    if (!event) return;
    const e = this.recorder.record(event, () => this.protection$.next(e as ProtectionStarted | ProtectionEnded));
    this.protection.recorded(e?.seq);
  }

  private committed(seq: number): void {
    const { snapshotEvery, snapshotInterval } = this.options;
    const due =
      (snapshotEvery > 0 && seq - this.lastSnapshotSeq >= snapshotEvery) ||
      (snapshotInterval > 0 && performance.now() - this.lastSnapshotAt >= snapshotInterval && seq > this.lastSnapshotSeq);
    if (due && !this.snapshotting) void this.snapshot();
  }

  /** Writes a snapshot of the projection as it is now (between two commits, so exact). */
  async snapshot(): Promise<void> {
    this.snapshotting = true;
    const snap = toSnapshot(this.projection);
    this.lastSnapshotSeq = snap.seq;
    this.lastSnapshotAt = performance.now();
    try {
      await this.log.putSnapshot(snap);
      // Not while retention deletes: the snapshot it made at its cutoff is often the oldest,
      // and pruned before the events before it are gone it would leave them unreplayable.
      if (!this.retaining) await this.log.pruneSnapshots(this.options.maxSnapshots);
    } catch {
      // A failed snapshot costs restart time, not data: the events are in the log.
    } finally {
      this.snapshotting = false;
    }
  }

  /**
   * Retention, in the background: finds the new start of the log, makes sure a snapshot
   * sits exactly before it (so replay still works from there), then deletes what is older.
   * Appends go on meanwhile: LevelDB work runs off the event loop, and the fold that builds
   * the snapshot yields between records.
   */
  applyRetention(): Promise<void> {
    this.retaining ??= this.retain().finally(() => (this.retaining = undefined));
    return this.retaining;
  }

  private async retain(): Promise<void> {
    if (this.degraded) return;
    const log = this.log;
    const last = this.projection.seq;
    if ((await log.replayBaseSeq()) === undefined) return; // nothing can be replayed: touch nothing
    let cutoff = 0;
    if (this.options.retainEvents > 0) cutoff = last - this.options.retainEvents;
    if (this.options.retain > 0) {
      const limit = this.options.clock() - this.options.retain;
      // the last event older than the limit (reads only the old part of the log)
      cutoff = Math.max(cutoff, (await seqAtTime(await logSource(log, `log ${log.dir}`), limit - 1)).seq);
    }
    // Records are deleted whole: move the cutoff back to the start of the record that holds
    // cutoff + 1, so the snapshot sits exactly before the new first event.
    const start = cutoff >= log.firstSeq ? await log.recordStart(cutoff + 1) : undefined;
    if (start === undefined) return;
    cutoff = start - 1;
    if (cutoff < log.firstSeq || this.stopping) return;
    try {
      const snap = await log.nearestSnapshot(cutoff);
      if (!snap || snap.seq !== cutoff) await log.putSnapshot(toSnapshot(await loadProjection(log, cutoff)));
      if (this.stopping) return;
      await log.deleteBefore(cutoff + 1);
    } catch (e) {
      process.emitWarning(`retention failed, will retry: ${(e as Error).message}`);
    }
  }

  /**
   * Stops accepting, records the stop, flushes the log and closes it. Safe to call twice.
   */
  stop(reason = 'stopped'): Promise<void> {
    this.stopping ??= this.doStop(reason);
    return this.stopping;
  }

  private async doStop(reason: string): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    if (this.recoveryTimer) clearTimeout(this.recoveryTimer);
    await this.retaining;
    await this.recovering;
    // Stop accepting now; close() only calls back once every connection is gone, so the
    // connections are dropped below before waiting for it.
    const closed = new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    for (const c of this.conns.values()) c.drop();
    for (const e of this.early ?? []) e.socket.destroy();
    if (!this.rec.failure && !this.degraded) {
      this.rec.record({ type: 'MasterStopped', epoch: this.projection.master.epoch, reason });
      await this.rec.flush();
      if (!this.rec.failure && this.projection.seq > this.lastSnapshotSeq) {
        while (this.snapshotting) await new Promise((r) => setTimeout(r, 5));
        await this.snapshot();
      }
    }
    await this.closeSockets();
    await closed;
    this.rec.events$.complete();
    this.health$.complete();
    this.protection$.complete();
    await this.log.close().catch((e: unknown) => {
      if (!this.degraded && !this.rec.failure) throw e; // a log that already failed may not close cleanly
    });
    rmSync(join(this.options.data, 'master.pid'), { force: true });
  }

  private async closeSockets(): Promise<void> {
    if (this.server?.listening) this.server.close();
    for (const c of this.conns.values()) c.drop();
    await this.http?.close();
  }
}

