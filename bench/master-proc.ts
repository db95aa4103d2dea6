/**
 * The master under test, in its own process: Master.start on a data dir, slaves and HTTP on
 * free loopback ports. Answers `stats` (committed events, group commits, table size, CPU)
 * and `stop` (a clean Master.stop, so --cpu-prof can write its profile).
 *
 * argv[2]: JSON { data, http?: boolean, helloInterval?: ms, deadAfter?: ms, profileDir?: string,
 *                stubStorage?: boolean, agent?: boolean, weights?: { interval, min, step } }
 * (with profileDir, `profStart`/`profStop` profile a measurement window; stubStorage is a
 * diagnostic: group commits are encoded as usual but not written to LevelDB, to tell the
 * store's share of the latency from the rest of the master's).
 */
import { monitorEventLoopDelay, performance, PerformanceObserver } from 'node:perf_hooks';
import { isNativeAccelerationEnabled } from 'msgpackr';
import type { LedgerEvent } from '../src/events.js';
import { Master } from '../src/node/master.js';
import { RECORD_EVENTS, logPackr } from '../storage/format.js';
import { loadedNative, serve } from './lib/serve.js';
import { Samples } from './lib/stats.js';
import { windowProfiler } from './lib/window-profile.js';

const cfg = JSON.parse(process.argv[2] ?? '{}') as {
  data: string;
  http?: boolean;
  helloInterval?: number;
  deadAfter?: number;
  profileDir?: string;
  stubStorage?: boolean;
  sync?: boolean;
  /** The herd section: HAProxy's agent-check on a free loopback port, and the weights' policy. */
  agent?: boolean;
  weights?: { interval: number; min: number; step: number };
};

const master = await Master.start({
  data: cfg.data,
  listen: { host: '127.0.0.1', port: 0 },
  http: cfg.http ? { host: '127.0.0.1', port: 0 } : null,
  helloInterval: cfg.helloInterval ?? 1000,
  deadAfter: cfg.deadAfter ?? 3000,
  maxSlaves: 65536,
  sync: cfg.sync ?? false,
  // every bench client connects from 127.0.0.1, thousands at once: no per-peer rate limit
  connectRate: 0,
  // the ingest rows drive 1 and 100 connections as fast as they go: capacity, not policy
  maxFrameRate: 0,
  ...(cfg.agent && { agent: { host: '127.0.0.1', port: 0 } }),
  ...(cfg.weights && { weightInterval: cfg.weights.interval, weightMin: cfg.weights.min, weightStep: cfg.weights.step }),
});

// Diagnostics, reset by `mark` and read by `diag`: how long each group commit spent in
// LevelDB (EventLog.append wrapped on this instance; the Recorder calls it through the
// same object), event-loop delay, and GC pauses.
const appendMs = new Samples();
const batchSizes = new Samples();
/** Stalls as [absolute start ms, duration ms]: group commits slower than 2 ms, GC pauses. */
let slowAppends: [number, number][] = [];
let gcIntervals: [number, number, number][] = [];
const realAppend = master.log.append.bind(master.log);
const stubAppend = async (events: readonly LedgerEvent[]): Promise<void> => {
  for (let i = 0; i < events.length; i += RECORD_EVENTS) logPackr.pack(events.slice(i, i + RECORD_EVENTS));
  await new Promise((r) => setImmediate(r));
  master.log.lastSeq = events[events.length - 1]!.seq;
};
const origAppend = cfg.stubStorage ? stubAppend : realAppend;
master.log.append = async (events) => {
  const t = performance.now();
  try {
    return await origAppend(events);
  } finally {
    const d = performance.now() - t;
    appendMs.push(d);
    batchSizes.push(events.length);
    if (d > 2 && slowAppends.length < 10_000) slowAppends.push([performance.timeOrigin + t, d]);
  }
};
const loopDelay = monitorEventLoopDelay({ resolution: 1 });
loopDelay.enable();
const gcPauses = new Samples();
const gcMajor = new Samples();
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    gcPauses.push(e.duration);
    if (gcIntervals.length < 10_000)
      gcIntervals.push([
        performance.timeOrigin + e.startTime,
        e.duration,
        (e as unknown as { detail?: { kind?: number } }).detail?.kind ?? 0,
      ]);
    // detail.kind: 1 scavenge (minor), 2 minor mark-compact, 4 mark-compact (major), 8 incremental marking, 16 weak callbacks
    const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind ?? 0;
    if (kind === 4) gcMajor.push(e.duration);
  }
}).observe({ entryTypes: ['gc'] });

function diag(): Record<string, unknown> {
  const g = gcPauses.summary();
  const gcTotal = g.mean * g.count;
  return {
    append: appendMs.summary(),
    batch: batchSizes.summary(),
    loopDelayMs: { p50: loopDelay.percentile(50) / 1e6, p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 },
    gc: { ...g, totalMs: gcTotal || 0, major: gcMajor.summary() },
    slowAppends,
    gcIntervals,
  };
}

function stats(): Record<string, unknown> {
  const s = master.recorder.stats;
  const mem = process.memoryUsage();
  return {
    t: performance.now(),
    cpu: process.cpuUsage(),
    rss: mem.rss,
    heapUsed: mem.heapUsed,
    events: s.events,
    writes: s.writes,
    maxBatch: s.maxBatch,
    lastSeq: master.log.lastSeq,
    nodes: master.projection.nodes.size,
    eligible: master.projection.index.size,
    conns: master.projection.conns.size,
  };
}

serve(
  {
    ...windowProfiler(cfg.profileDir),
    stats,
    mark: () => {
      appendMs.clear();
      batchSizes.clear();
      gcPauses.clear();
      gcMajor.clear();
      slowAppends = [];
      gcIntervals = [];
      loopDelay.reset();
      return stats();
    },
    diag,
    gc: () => {
      (globalThis as { gc?: () => void }).gc?.();
      return stats();
    },
    stop: async () => {
      const before = stats();
      await master.stop('bench');
      return before;
    },
  },
  {
    listen: master.addresses.listen,
    http: master.addresses.http,
    agent: master.agent?.address ?? null,
    msgpackrNative: isNativeAccelerationEnabled,
    native: loadedNative(['classic-level', 'msgpackr-extract']),
    pid: process.pid,
  },
);
