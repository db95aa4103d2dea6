/** Bench section: 2. latency under load. */
import { setTimeout as sleep } from 'node:timers/promises';
import { Child } from '../lib/rpc.js';
import { fmtInt, fmtMs, fmtPct } from '../lib/format.js';
import { coresBusy, cpuTicks } from '../lib/machine.js';
import type { LatencySummary } from '../lib/stats.js';
import { CFG, log, type ServerStats, type GenResult, cpuBetween, startMaster } from '../lib/context.js';

export interface LatencyRun {
  conns: number;
  targetRate: number;
  achievedRate: number;
  sentRate: number;
  latency: LatencySummary;
  masterCpu: number;
  genCpu: number;
  foreignCpu: number;
  outstandingAtEnd: number;
  /** Inside the master over the window: LevelDB write time per group commit, batch sizes, event-loop delay, GC pauses. */
  diag: MasterDiag;
  /** The slowest 1% of round trips: how many overlapped a GC pause or a slow (> 2 ms) group commit in the master. */
  tail: TailAttribution;
}

export interface TailAttribution {
  samples: number;
  gc: number;
  gcMajor: number;
  slowWrite: number;
  both: number;
  neither: number;
}

export function attributeTail(tail: [number, number][], gc: [number, number, number][], writes: [number, number][]): TailAttribution {
  const r: TailAttribution = { samples: tail.length, gc: 0, gcMajor: 0, slowWrite: 0, both: 0, neither: 0 };
  const overlaps = (a0: number, a1: number, b0: number, b1: number): boolean => b0 < a1 && b1 > a0;
  for (const [t, lat] of tail) {
    const g = gc.filter(([s, d]) => overlaps(t, t + lat, s, s + d));
    const w = writes.some(([s, d]) => overlaps(t, t + lat, s, s + d));
    if (g.length > 0 && w) r.both++;
    else if (g.length > 0) r.gc++;
    else if (w) r.slowWrite++;
    else r.neither++;
    if (g.some(([, , kind]) => kind === 4)) r.gcMajor++;
  }
  return r;
}

export const fmtTail = (t: TailAttribution): string =>
  t.samples === 0
    ? 'no tail samples'
    : `of the slowest 1% (${t.samples}), ${fmtPct((t.gc + t.both) / t.samples)} overlapped a GC pause in the master (${fmtPct(t.gcMajor / t.samples)} a mark-compact), ` +
      `${fmtPct((t.slowWrite + t.both) / t.samples)} a group commit slower than 2 ms, ${fmtPct(t.neither / t.samples)} neither`;

export interface MasterDiag {
  append: LatencySummary;
  batch: LatencySummary;
  loopDelayMs: { p50: number; p99: number; max: number };
  gc: LatencySummary & { totalMs: number; major: LatencySummary };
  slowAppends?: [number, number][];
  gcIntervals?: [number, number, number][];
}

export const fmtDiag = (d: MasterDiag): string =>
  `group commit: ${d.append.count} writes, batch mean ${d.batch.mean.toFixed(0)} events, LevelDB write p50 ${fmtMs(d.append.p50)} p99 ${fmtMs(d.append.p99)} max ${fmtMs(d.append.max)}; ` +
  `event-loop delay p99 ${fmtMs(d.loopDelayMs.p99)} max ${fmtMs(d.loopDelayMs.max)}; GC ${d.gc.count} pauses (${d.gc.major.count} mark-compact), ${fmtMs(d.gc.totalMs)} total, max ${fmtMs(d.gc.max)}`;

export async function latencyRun(conns: number, rate: number, profile: boolean, stubStorage = false): Promise<LatencyRun> {
  const srv = await startMaster('master-latency', { profile, stubStorage });
  const gen = await Child.start('loadgen', 'loadgen-open');
  try {
    await gen.call('connect', { port: srv.info.listen.port, conns, mode: 'open' });
    await gen.call('start', { rate });
    await sleep(CFG.latencyWarmupMs);
    const [s0] = await Promise.all([srv.call<ServerStats>('mark'), gen.call('mark')]);
    const k0 = cpuTicks();
    if (profile) await srv.call('profStart', { name: 'master-latency' });
    await sleep(CFG.latencyMeasureMs);
    const [s1, g] = await Promise.all([srv.call<ServerStats>('stats'), gen.call<GenResult>('collect', { tail: 20_000 })]);
    const k1 = cpuTicks();
    if (profile) await srv.call('profStop');
    const diag = await srv.call<MasterDiag>('diag');
    const tail = attributeTail(g.tail ?? [], diag.gcIntervals ?? [], diag.slowAppends ?? []);
    delete diag.gcIntervals;
    delete diag.slowAppends;
    await gen.call('halt');
    const run: LatencyRun = {
      conns,
      targetRate: rate,
      achievedRate: (g.completed / g.wallMs) * 1000,
      sentRate: (g.sent / g.wallMs) * 1000,
      latency: g.latency,
      masterCpu: cpuBetween(s0, s1),
      genCpu: g.cpu,
      foreignCpu: coresBusy(k0, k1) - cpuBetween(s0, s1) - g.cpu,
      outstandingAtEnd: g.outstanding,
      diag,
      tail,
    };
    log(
      `latency${stubStorage ? ' (DIAGNOSTIC: LevelDB write stubbed)' : ''} ${conns} conns at ${fmtInt(rate)} rt/s: answered ${fmtInt(run.achievedRate)}/s, p50 ${fmtMs(g.latency.p50)} p99 ${fmtMs(g.latency.p99)} p99.9 ${fmtMs(g.latency.p999)} max ${fmtMs(g.latency.max)}, cpu master ${fmtPct(run.masterCpu)} gen ${fmtPct(g.cpu)} other ${fmtPct(run.foreignCpu)}`,
    );
    log(`  master: ${fmtDiag(diag)}`);
    log(`  ${fmtTail(tail)}`);
    return run;
  } finally {
    await gen.stop();
    await srv.stop();
  }
}
