/** Bench section: 1. ingest. */
import { setTimeout as sleep } from 'node:timers/promises';
import { Child } from '../lib/rpc.js';
import { fmtInt, fmtMs, fmtPct } from '../lib/format.js';
import { coresBusy, cpuTicks } from '../lib/machine.js';
import type { LatencySummary } from '../lib/stats.js';
import { CFG, PROF_DIR, log, type MasterInfo, type ServerStats, type GenResult, cpuBetween, startMaster } from '../lib/context.js';

export interface IngestRun {
  server: 'master' | 'bare';
  conns: number;
  roundTripsPerSec: number;
  eventsPerSec: number;
  /** Events committed ÷ (3 × round trips answered) in the window: ~1 when every round trip is 3 events. */
  eventsPerRoundTrip: number;
  meanBatch: number;
  latency: LatencySummary;
  serverCpu: number;
  genCpu: number;
  /** Cores busy machine-wide in the window beyond the server and the generator (other jobs). */
  foreignCpu: number;
  closed: number;
}

export async function ingestRun(server: 'master' | 'bare', conns: number, profile = false): Promise<IngestRun> {
  const name = `${server}-ingest-${conns}`;
  const srv =
    server === 'master'
      ? await startMaster(name, { profile })
      : await Child.start<MasterInfo>('bare-server', name, { args: profile ? [PROF_DIR] : [] });
  const gen = await Child.start('loadgen', `loadgen-${conns}`);
  try {
    await gen.call('connect', { port: srv.info.listen.port, conns, mode: 'closed' });
    await gen.call('start');
    await sleep(CFG.ingestWarmupMs);
    const [s0] = await Promise.all([srv.call<ServerStats>('stats'), gen.call('mark')]);
    const k0 = cpuTicks();
    if (profile) await srv.call('profStart', { name });
    await sleep(CFG.ingestMeasureMs);
    const [s1, g] = await Promise.all([srv.call<ServerStats>('stats'), gen.call<GenResult>('collect')]);
    const k1 = cpuTicks();
    if (profile) await srv.call('profStop');
    await gen.call('halt');
    const rt = (g.completed / g.wallMs) * 1000;
    const evDelta = s1.events - s0.events;
    const winSec = (s1.t - s0.t) / 1000;
    const run: IngestRun = {
      server,
      conns,
      roundTripsPerSec: rt,
      eventsPerSec: server === 'master' ? evDelta / winSec : 3 * rt,
      eventsPerRoundTrip: server === 'master' ? evDelta / winSec / (3 * rt) : NaN,
      meanBatch: server === 'master' ? evDelta / Math.max(1, (s1.writes ?? 0) - (s0.writes ?? 0)) : NaN,
      latency: g.latency,
      serverCpu: cpuBetween(s0, s1),
      genCpu: g.cpu,
      foreignCpu: coresBusy(k0, k1) - cpuBetween(s0, s1) - g.cpu,
      closed: g.closed,
    };
    log(
      `ingest ${server} ${conns} conns: ${fmtInt(rt)} rt/s, ${fmtInt(run.eventsPerSec)} events/s, p50 ${fmtMs(g.latency.p50)} p99 ${fmtMs(g.latency.p99)}, cpu server ${fmtPct(run.serverCpu)} gen ${fmtPct(g.cpu)} other ${fmtPct(run.foreignCpu)}` +
        (server === 'master' ? `, batch ${run.meanBatch.toFixed(0)}, events/(3·rt) ${run.eventsPerRoundTrip.toFixed(3)}` : ''),
    );
    return run;
  } finally {
    await gen.stop();
    await srv.stop();
  }
}
