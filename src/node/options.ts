import { EventLog, type EventLogOptions } from '../../storage/event-log.js';
import { ErrorCode, LoadLedgerError } from '../errors.js';
import type { PushLimits } from '../protocol/messages.js';
import { PROTECTION_DEFAULTS } from '../decisions/protection.js';
import { FLAPPING_DEFAULTS } from '../decisions/flapping.js';
import type { MasterTlsOptions } from '../master/tls.js';
import { FOLLOWER_DEFAULTS, HTTP_MAX_CONNECTIONS, type HttpTlsOptions } from '../http/server.js';
import type { HttpAuthOptions } from '../http/auth.js';
import { checkCompensation, parsePolicy, type Policy } from '../selection/policy.js';
import { checkWeightPolicy, WEIGHT_DEFAULTS } from '../selection/weights.js';
import { normalizeZone } from '../selection/dns.js';
import { DEFAULT_SERVICE_KEY, DEFAULT_WEIGHT_INTERVAL } from '../ledger/weights.js';
import { controlProblem } from '../protocol/names.js';
import type { HostPort } from '../util/hostport.js';
import type { Clock } from '../clock.js';
import { systemClock } from '../util/system-clock.js';
import { hostname } from 'node:os';
import type { Coordinator } from '../cluster/coordinator.js';
import { MAX_TIMER_MS } from '../util/duration.js';

export type { HostPort } from '../util/hostport.js';

/** Everything a master is started with (src/node/master.ts); the CLI's flags map onto it. */
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
  /**
   * Start on a damaged event log, recording the damage as a LogDamaged event, instead of
   * refusing with LOG_CORRUPT (src/ledger/start-check.ts, docs/guarantees.md).
   */
  acceptDamage?: boolean;
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
  /** Monotonic time and timers for liveness, retries, snapshots, retention, rate limits and protection (tests drive a manual one). */
  scheduler?: Clock;
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
  /** Live tails (`/v1/events?follow=1`) served at once; more are answered 503 TOO_MANY_FOLLOWERS. */
  maxFollowers?: number;
  /** A `/v1/events` stream whose client takes nothing this long while there is something to send is cut off (ms; 0: never). */
  followStallTimeout?: number;
  /** Connections to the HTTP API served at once; more are closed as they arrive. */
  maxHttpConnections?: number;
  /** Master HA (docs/ha.md): etcd client URLs; empty (the default): the master runs alone. */
  etcd?: string[];
  /** This master's name in its cluster (default: the host name and the --listen port). */
  nodeId?: string;
  /** The leader's lease on etcd (ms): a dead leader is replaced after about this long. */
  leaseTtl?: number;
  /** `local`: a HELLO_ACK once the event is on this disk; `standby`: once a standby has it too. */
  ack?: 'local' | 'standby';
  /** The cluster's key prefix in etcd. */
  cluster?: string;
  /** `--ack standby`: how long a commit waits for the in-sync standbys before acknowledging locally (ms). */
  ackTimeout?: number;
  /** Makes the election (tests pass a fake; default: etcd at `etcd`). */
  coordinator?: (options: { endpoints: string[]; cluster: string; ttl: number; scheduler: Clock }) => Coordinator;
  /** Flapping (src/decisions/flapping.ts): more than this many takeovers of one node id within `flapWindow` (0: off)… */
  flapTakeovers?: number;
  /** … (ms) … */
  flapWindow?: number;
  /** … and the connection that holds it keeps it this long, others are refused (ms). */
  flapHoldDown?: number;
  /** Serve Prometheus HTTP service discovery, `GET /v1/sd/prometheus`, on the HTTP API (docs/integrations.md#prometheus-http-service-discovery). */
  prometheusSd?: boolean;
  /** Serve Envoy EDS over REST, `POST /v3/discovery:endpoints`, on the HTTP API (docs/integrations.md#envoy-eds-over-rest). */
  envoyEds?: boolean;
  /** The attribute that names a node's service, for the interfaces (HAProxy, Envoy, DNS, Prometheus SD). */
  serviceKey?: string;
  /** Weights (docs/selection.md#weights): they move once per this many ms… */
  weightInterval?: number;
  /** … by at most this many points (1..100) per tick… */
  weightStep?: number;
  /** … and never below this (1..100): every eligible node's minimum weight. */
  weightMin?: number;
  /** HAProxy's agent-check on this address (docs/integrations.md); null (the default): off. */
  agent?: HostPort | null;
  /** The DNS interface on this address, UDP and TCP (docs/integrations.md#dns); null (the default): off. */
  dns?: HostPort | null;
  /** The zone it answers for (`loadledger.`). */
  dnsZone?: string;
  /** How long its records may be cached (ms, whole seconds). */
  dnsTtl?: number;
  /** The policy `least.<zone>` is answered with (p2c: a single answer cached by every resolver would herd). */
  dnsPolicy?: Policy;
}

/** MasterOptions with every default filled in. */
export type ResolvedMasterOptions = Required<Omit<MasterOptions, 'limits' | 'openLog' | 'httpTls' | 'auth' | 'tls' | 'coordinator'>> &
  Pick<MasterOptions, 'httpTls' | 'auth' | 'tls' | 'coordinator'> & {
    limits: Partial<PushLimits>;
    openLog: NonNullable<MasterOptions['openLog']>;
  };

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
  maxFollowers: FOLLOWER_DEFAULTS.maxFollowers,
  followStallTimeout: FOLLOWER_DEFAULTS.stallTimeout,
  maxHttpConnections: HTTP_MAX_CONNECTIONS,
  leaseTtl: 2000,
  ack: 'local',
  cluster: 'loadledger',
  ackTimeout: 1000,
  flapTakeovers: FLAPPING_DEFAULTS.takeovers,
  flapWindow: FLAPPING_DEFAULTS.window,
  flapHoldDown: FLAPPING_DEFAULTS.holdDown,
  prometheusSd: false,
  envoyEds: false,
  serviceKey: DEFAULT_SERVICE_KEY,
  weightInterval: DEFAULT_WEIGHT_INTERVAL,
  weightStep: WEIGHT_DEFAULTS.step,
  weightMin: WEIGHT_DEFAULTS.min,
  dnsZone: 'loadledger.',
  dnsTtl: 1000,
  dnsPolicy: 'p2c',
} as const;

const NODE_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

// The options that time something: each is at most MAX_TIMER_MS (Node fires a longer timer
// after 1 ms, a longer interval every millisecond). `retain` is an age, not a timer.
const TIMER_OPTIONS = [
  'helloInterval',
  'deadAfter',
  'handshakeTimeout',
  'snapshotInterval',
  'retentionInterval',
  'logRetryInterval',
  'logRetryFor',
  'protectFor',
  'followStallTimeout',
  'leaseTtl',
  'ackTimeout',
  'weightInterval',
] as const;

function checkTimers(options: Pick<ResolvedMasterOptions, (typeof TIMER_OPTIONS)[number]>): void {
  for (const name of TIMER_OPTIONS) {
    const ms = options[name];
    if (!(typeof ms === 'number' && ms >= 0 && ms <= MAX_TIMER_MS)) {
      throw new LoadLedgerError(
        ErrorCode.BAD_ARGUMENT,
        `${name}: expected a number of milliseconds from 0 to ${MAX_TIMER_MS} (the longest timer Node.js can set), got ${String(ms)}`,
      );
    }
  }
}

/** Fills in the defaults and refuses what cannot run (BAD_ARGUMENT). */
export function resolveMasterOptions(opts: MasterOptions): ResolvedMasterOptions {
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
    acceptDamage: false,
    clock: Date.now,
    scheduler: systemClock,
    limits: {},
    logRetryInterval: MASTER_DEFAULTS.logRetryInterval,
    logRetryFor: MASTER_DEFAULTS.logRetryFor,
    openLog: (dir: string, options: EventLogOptions) => EventLog.open(dir, options),
    policy: MASTER_DEFAULTS.policy,
    compensation: MASTER_DEFAULTS.compensation,
    protectShare: MASTER_DEFAULTS.protectShare,
    protectFor: MASTER_DEFAULTS.protectFor,
    protectMinNodes: MASTER_DEFAULTS.protectMinNodes,
    maxFollowers: MASTER_DEFAULTS.maxFollowers,
    followStallTimeout: MASTER_DEFAULTS.followStallTimeout,
    maxHttpConnections: MASTER_DEFAULTS.maxHttpConnections,
    etcd: [],
    nodeId: `${hostname()}-${opts.listen.port}`.replace(/[^A-Za-z0-9._-]/g, '-'),
    leaseTtl: MASTER_DEFAULTS.leaseTtl,
    ack: MASTER_DEFAULTS.ack,
    cluster: MASTER_DEFAULTS.cluster,
    ackTimeout: MASTER_DEFAULTS.ackTimeout,
    flapTakeovers: MASTER_DEFAULTS.flapTakeovers,
    flapWindow: MASTER_DEFAULTS.flapWindow,
    flapHoldDown: MASTER_DEFAULTS.flapHoldDown,
    prometheusSd: MASTER_DEFAULTS.prometheusSd,
    envoyEds: MASTER_DEFAULTS.envoyEds,
    serviceKey: MASTER_DEFAULTS.serviceKey,
    weightInterval: MASTER_DEFAULTS.weightInterval,
    weightStep: MASTER_DEFAULTS.weightStep,
    weightMin: MASTER_DEFAULTS.weightMin,
    agent: null,
    dns: null,
    dnsZone: MASTER_DEFAULTS.dnsZone,
    dnsTtl: MASTER_DEFAULTS.dnsTtl,
    dnsPolicy: MASTER_DEFAULTS.dnsPolicy,
    ...opts,
  };
  if (options.etcd.length > 0) {
    if (!NODE_ID_RE.test(options.nodeId))
      throw new LoadLedgerError(
        ErrorCode.BAD_ARGUMENT,
        `--node-id must be 1 to 64 letters, digits, '.', '_' or '-', got ${JSON.stringify(options.nodeId)}`,
      );
    if (!NODE_ID_RE.test(options.cluster))
      throw new LoadLedgerError(
        ErrorCode.BAD_ARGUMENT,
        `--cluster must be 1 to 64 letters, digits, '.', '_' or '-', got ${JSON.stringify(options.cluster)}`,
      );
    if (options.leaseTtl < 1000)
      throw new LoadLedgerError(
        ErrorCode.BAD_ARGUMENT,
        `--lease-ttl must be at least 1s (etcd grants whole seconds), got ${options.leaseTtl} ms`,
      );
    if (options.ack !== 'local' && options.ack !== 'standby')
      throw new LoadLedgerError(ErrorCode.BAD_ARGUMENT, `--ack must be local or standby, got ${JSON.stringify(options.ack)}`);
    if (!options.http)
      throw new LoadLedgerError(ErrorCode.BAD_ARGUMENT, '--etcd needs the HTTP API (--http): standbys replicate the log through it');
    if (options.httpTls)
      throw new LoadLedgerError(
        ErrorCode.BAD_ARGUMENT,
        '--etcd with --http-tls-cert: replication over HTTPS is not supported yet (docs/ha.md)',
      );
    for (const u of options.etcd) {
      if (!/^https?:\/\/[^/\s]+\/?$/.test(u))
        throw new LoadLedgerError(ErrorCode.BAD_ARGUMENT, `--etcd takes URLs like http://127.0.0.1:2379, got ${JSON.stringify(u)}`);
    }
  }
  if (!(options.protectShare >= 0 && options.protectShare <= 1))
    throw new LoadLedgerError(ErrorCode.BAD_ARGUMENT, `--protect-share must be between 0 and 1, got ${options.protectShare}`);
  for (const [on, flag] of [
    [options.prometheusSd, '--prometheus-sd'],
    [options.envoyEds, '--envoy-eds'],
  ] as const) {
    if (on && !options.http)
      throw new LoadLedgerError(ErrorCode.BAD_ARGUMENT, `${flag} is served on the HTTP API: it needs --http (not --no-http)`);
  }
  checkTimers(options);
  parsePolicy(options.policy, 'policy');
  parsePolicy(options.dnsPolicy, 'dnsPolicy');
  const zone = normalizeZone(options.dnsZone);
  if (typeof zone !== 'string')
    throw new LoadLedgerError(ErrorCode.BAD_ARGUMENT, `--dns-zone ${JSON.stringify(options.dnsZone)}: ${zone.error}`);
  if (!(Number.isInteger(options.dnsTtl) && options.dnsTtl >= 0 && options.dnsTtl % 1000 === 0 && options.dnsTtl / 1000 <= 2 ** 31 - 1)) {
    throw new LoadLedgerError(ErrorCode.BAD_ARGUMENT, `--dns-ttl must be whole seconds (DNS TTLs are), got ${String(options.dnsTtl)} ms`);
  }
  checkCompensation(options.compensation, 'compensation');
  checkWeightPolicy({ min: options.weightMin, step: options.weightStep }, { min: 'weightMin', step: 'weightStep' });
  if (options.weightInterval < 1)
    throw new LoadLedgerError(ErrorCode.BAD_ARGUMENT, `weightInterval must be at least 1 ms, got ${options.weightInterval}`);
  const keyProblem = options.serviceKey === '' ? 'serviceKey must not be empty' : controlProblem(options.serviceKey, 'serviceKey');
  if (keyProblem !== undefined) throw new LoadLedgerError(ErrorCode.BAD_ARGUMENT, keyProblem);
  return options;
}
