import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { EVENT_TYPES } from '../events.js';
import type { MetricsSource } from '../ledger/view.js';
import { POLICIES, type Policy } from '../selection/policy.js';
import { registerApiMetrics, type HttpApiStats } from './api-metrics.js';

export type { HttpApiStats, HttpConnections } from './api-metrics.js';
import { registerClusterMetrics } from './cluster-metrics.js';
import { registerIntegrationMetrics } from './integration-metrics.js';

/** How a `/v1/least-loaded` query ended (the `result` label). */
export const QUERY_RESULTS = ['ok', 'no_eligible', 'down', 'bad_request'] as const;
export type QueryResult = (typeof QUERY_RESULTS)[number];

/** The log directory is walked at most this often; scrapes in between get the last size. */
export const LOG_SIZE_CACHE_MS = 5000;

/** Group commits hold from 1 event to thousands (a burst of slaves connecting at once). */
const BATCH_BUCKETS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 20_000];
/** A LevelDB write without fsync takes ~0.1 ms; with --fsync, a few ms; a failing disk, more. */
const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/**
 * Process metrics (CPU, memory, event loop lag, GC, file descriptors), prefixed
 * `loadledger_`. One registry per process, not per master: they describe the process, and
 * prom-client's collectors (a GC observer, an event loop monitor) are never released, so
 * one per master would leak in a process that starts many (the tests). Made with the first
 * master's HTTP API (prom-client counts CPU from when its collector is made).
 */
let processRegistry: Registry | undefined;
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry, prefix: 'loadledger_' });
  }
  return processRegistry;
}

/** Bytes of every file under `dir` (LevelDB's files, snapshots included). */
async function directoryBytes(dir: string): Promise<number> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  const sizes = await Promise.all(
    entries
      .filter((e) => e.isFile())
      .map((e) =>
        stat(join(e.parentPath, e.name)).then(
          (s) => s.size,
          () => 0, // compacted away between readdir and stat
        ),
      ),
  );
  return sizes.reduce((a, b) => a + b, 0);
}

/**
 * The metrics of one master, in a prom-client Registry of its own (never the global one:
 * several masters in one process must not share counters).
 *
 * The hot paths count in plain numbers (the recorder per group commit, the HTTP handler per
 * query) and the metrics read them at scrape time in `collect()`: prom-client's
 * `labels().inc()` per event would cost more than the event.
 */
export class MasterMetrics {
  readonly registry = new Registry();
  /** `/v1/least-loaded` answers, [policy × result]. */
  private readonly queries = new Array<number>(POLICIES.length * QUERY_RESULTS.length).fill(0);
  private logBytes = 0;
  private logBytesAt = Number.NEGATIVE_INFINITY;
  private walking: Promise<void> | undefined;

  constructor(
    private readonly master: MetricsSource,
    http?: HttpApiStats,
  ) {
    processMetrics();
    const registers = [this.registry];
    registerClusterMetrics(this.registry, master);
    const stats = () => master.recorder.stats;
    const batch = new Histogram({
      name: 'loadledger_append_batch_events',
      help: 'Events per group commit (one LevelDB write).',
      buckets: BATCH_BUCKETS,
      registers,
    });
    const latency = new Histogram({
      name: 'loadledger_append_seconds',
      help: 'Time to append one group commit to the event log (LevelDB write, fsync with --fsync).',
      buckets: LATENCY_BUCKETS,
      registers,
    });
    // The stats object outlives a recorder replaced after a log failure (Master.recover).
    master.recorder.stats.onCommit = (events, seconds) => {
      batch.observe(events);
      latency.observe(seconds);
    };
    new Counter({
      name: 'loadledger_events_total',
      help: 'Events committed to the log by this process.',
      registers,
      collect() {
        this.reset();
        this.inc(stats().events);
      },
    });
    new Counter({
      name: 'loadledger_events_by_type_total',
      help: 'Events committed to the log by this process, by event type (they sum to loadledger_events_total).',
      labelNames: ['type'],
      registers,
      collect() {
        this.reset();
        const byType = stats().byType;
        for (const type of EVENT_TYPES) this.inc({ type }, byType[type]);
      },
    });
    new Counter({
      name: 'loadledger_log_writes_total',
      help: 'Group commits (LevelDB writes).',
      registers,
      collect() {
        this.reset();
        this.inc(stats().writes);
      },
    });
    new Gauge({
      name: 'loadledger_last_seq',
      help: 'Seq of the last event applied.',
      registers,
      collect() {
        this.set(master.projection.seq);
      },
    });
    new Gauge({
      name: 'loadledger_nodes',
      help: 'Nodes in the load table by state.',
      labelNames: ['state'],
      registers,
      collect() {
        this.reset();
        const counts = new Map<string, number>([
          ['PUSH_LOAD_INFO', 0],
          ['DOWN', 0],
        ]);
        for (const n of master.projection.nodes.values()) counts.set(n.state, (counts.get(n.state) ?? 0) + 1);
        for (const [state, n] of counts) this.set({ state }, n);
      },
    });
    new Gauge({
      name: 'loadledger_connections',
      help: 'Open slave connections.',
      registers,
      collect() {
        this.set(master.projection.conns.size);
      },
    });
    new Gauge({
      name: 'loadledger_log_writable',
      help: '1 while the event log takes writes; 0 while the master is DOWN for a failed log.',
      registers,
      collect() {
        this.set(master.degraded ? 0 : 1);
      },
    });
    new Gauge({
      name: 'loadledger_protection_active',
      help: '1 while mass-failure protection keeps timed-out nodes eligible.',
      registers,
      collect() {
        this.set(master.projection.protection ? 1 : 0);
      },
    });
    new Counter({
      name: 'loadledger_refused_total',
      help: "Slave connections refused (--allow, connection rate, max-slaves, TLS, a flapping node's hold-down, file descriptors, accept errors).",
      registers,
      collect() {
        this.reset();
        this.inc(master.counters.refused);
      },
    });
    new Counter({
      name: 'loadledger_flapping_total',
      help: 'Flapping detected: a node id taken over more than --flap-takeovers times within --flap-window (each starts a hold-down).',
      registers,
      collect() {
        this.reset();
        this.inc(master.counters.flapping);
      },
    });
    new Counter({
      name: 'loadledger_refused_descriptors_total',
      help: 'Slave connections refused because the process had too few file descriptors left (ulimit -n); each also counts in loadledger_refused_total.',
      registers,
      collect() {
        this.reset();
        this.inc(master.counters.fdRefused ?? 0);
      },
    });
    new Counter({
      name: 'loadledger_accept_errors_total',
      help: 'Connections the slave port could not accept (an error from accept()), by error code; each also counts in loadledger_refused_total.',
      labelNames: ['code'],
      registers,
      collect() {
        this.reset();
        for (const [code, n] of master.counters.acceptErrors ?? []) this.inc({ code }, n);
      },
    });
    if (http) registerApiMetrics(this.registry, http);
    registerIntegrationMetrics(this.registry, master.integrations ?? []);
    new Counter({
      name: 'loadledger_unknown_frames_total',
      help: 'Frames of unknown type skipped.',
      registers,
      collect() {
        this.reset();
        this.inc(master.counters.unknownFrames);
      },
    });
    new Counter({
      name: 'loadledger_violations_total',
      help: 'Protocol violations (ProtocolViolated events committed by this process), by error code.',
      labelNames: ['code'],
      registers,
      collect() {
        this.reset();
        for (const [code, n] of stats().violations) this.inc({ code }, n);
      },
    });
    const queries = this.queries;
    new Counter({
      name: 'loadledger_queries_total',
      help: '/v1/least-loaded answers by policy and result (ok, no_eligible, down: the master cannot write its log, bad_request).',
      labelNames: ['policy', 'result'],
      registers,
      collect() {
        this.reset();
        POLICIES.forEach((policy, p) =>
          QUERY_RESULTS.forEach((result, r) => this.inc({ policy, result }, queries[p * QUERY_RESULTS.length + r])),
        );
      },
    });
    const self = this;
    new Gauge({
      name: 'loadledger_log_size_bytes',
      help: `Bytes on disk under the --data directory (the event log, snapshots); measured at most every ${LOG_SIZE_CACHE_MS / 1000} s.`,
      registers,
      async collect() {
        await self.refreshLogSize();
        this.set(self.logBytes);
      },
    });
  }

  /** Counts one `/v1/least-loaded` answer. */
  query(policy: Policy, result: QueryResult): void {
    this.queries[POLICIES.indexOf(policy) * QUERY_RESULTS.length + QUERY_RESULTS.indexOf(result)]!++;
  }

  private refreshLogSize(): Promise<void> {
    if (performance.now() - this.logBytesAt < LOG_SIZE_CACHE_MS) return Promise.resolve();
    this.walking ??= directoryBytes(this.master.options.data)
      .then(
        (bytes) => {
          this.logBytes = bytes;
          this.logBytesAt = performance.now();
        },
        () => {
          // keep the last size; try again at the next scrape
        },
      )
      .finally(() => (this.walking = undefined));
    return this.walking;
  }

  readonly contentType = Registry.PROMETHEUS_CONTENT_TYPE;

  /** The exposition text: this master's metrics, then the process's. */
  async text(): Promise<string> {
    return (await this.registry.metrics()) + (await processMetrics().metrics());
  }
}
