/** Bench section: 3. query. */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Child } from '../lib/rpc.js';
import { fmtInt, fmtMs, fmtPct } from '../lib/format.js';
import { coresBusy, cpuTicks } from '../lib/machine.js';
import { best, type LatencySummary } from '../lib/stats.js';
import {
  PROFILE,
  CFG,
  PROF_DIR,
  log,
  type HttpClient,
  type ServerStats,
  type HttpResult,
  cpuBetween,
  startMaster,
} from '../lib/context.js';

export interface HttpRun {
  server: 'master' | 'floor';
  client: HttpClient;
  conns: number;
  reqPerSec: number;
  latency: LatencySummary;
  serverCpu: number;
  clientCpu: number;
  foreignCpu: number;
  non200: number;
  errors: number;
  sockets: number;
}

export async function httpRun(
  server: 'master' | 'floor',
  client: HttpClient,
  port: number,
  srv: Child<unknown>,
  profile = false,
): Promise<HttpRun> {
  const gen = await Child.start('httpgen', `httpgen-${server}-${client}`);
  try {
    await gen.call('start', { port, path: '/v1/least-loaded', conns: CFG.httpConns, client });
    await sleep(CFG.httpWarmupMs);
    const [s0] = await Promise.all([srv.call<ServerStats>('stats'), gen.call('mark')]);
    const k0 = cpuTicks();
    if (profile) await srv.call('profStart', { name: server === 'master' ? `master-query-${client}` : `http-floor-${client}` });
    await sleep(CFG.httpMeasureMs);
    const [s1, g] = await Promise.all([srv.call<ServerStats>('stats'), gen.call<HttpResult>('collect')]);
    const k1 = cpuTicks();
    if (profile) await srv.call('profStop');
    const run: HttpRun = {
      server,
      client,
      conns: CFG.httpConns,
      reqPerSec: (g.ok / g.wallMs) * 1000,
      latency: g.latency,
      serverCpu: cpuBetween(s0, s1),
      clientCpu: g.cpu,
      foreignCpu: coresBusy(k0, k1) - cpuBetween(s0, s1) - g.cpu,
      non200: g.bad,
      errors: g.errors,
      sockets: g.sockets,
    };
    log(
      `query ${server} (${client} client): ${fmtInt(run.reqPerSec)} req/s, p50 ${fmtMs(g.latency.p50)} p99 ${fmtMs(g.latency.p99)}, cpu server ${fmtPct(run.serverCpu)} client ${fmtPct(g.cpu)} other ${fmtPct(run.foreignCpu)}, non-200 ${g.bad}${g.bad ? ` (last ${g.lastStatus})` : ''}`,
    );
    return run;
  } finally {
    await gen.stop();
  }
}

export interface QueryResult {
  nodes: number;
  eligible: number;
  fillMs: number;
  masterRssPerConnectedNode: number;
  /** Per client, the best round of each server (highest req/s); every round in `runs`. */
  byClient: { client: HttpClient; master: HttpRun; floor: HttpRun }[];
  runs: HttpRun[];
}

/** Soft limit on open files (inherited by the children): 10k slave sockets need it above 10k. */
export function openFilesLimit(): number {
  const r = process.report?.getReport() as unknown as { userLimits?: { open_files?: { soft?: number | string } } } | undefined;
  const soft = r?.userLimits?.open_files?.soft;
  return soft === 'unlimited' ? Infinity : Number(soft ?? Infinity);
}

export async function query(): Promise<QueryResult> {
  const limit = openFilesLimit();
  if (limit < CFG.queryNodes + 1000) {
    throw new Error(
      `query: ${CFG.queryNodes} slave connections need more open files than \`ulimit -n\` = ${limit}; raise it (e.g. ulimit -n 20000) or run --only without query`,
    );
  }
  // Idle table: the master does not ping within the measurement (hello-interval 10 min),
  // so the figure is the query path alone; the generator still answers any HELLO.
  const srv = await startMaster('master-query', { http: true, helloInterval: 600_000, deadAfter: 1_200_000, profile: PROFILE });
  const gen = await Child.start('loadgen', 'loadgen-hold');
  const floorSrv = await Child.start<{ http: { port: number } }>('http-floor', 'http-floor', { args: PROFILE ? [PROF_DIR] : [] });
  const runs: HttpRun[] = [];
  let fill: { eligible: number; nodes: number; ms: number; rssPerNode: number };
  try {
    const before = await srv.call<ServerStats>('gc');
    const t0 = performance.now();
    await gen.call('connect', { port: srv.info.listen.port, conns: CFG.queryNodes, mode: 'hold', concurrency: 200 });
    let st = await srv.call<ServerStats>('stats');
    while ((st.eligible ?? 0) < CFG.queryNodes && performance.now() - t0 < 60_000) {
      await sleep(50);
      st = await srv.call<ServerStats>('stats');
    }
    const ms = performance.now() - t0;
    if ((st.eligible ?? 0) < CFG.queryNodes) throw new Error(`query: only ${st.eligible} of ${CFG.queryNodes} nodes eligible after 60 s`);
    const after = await srv.call<ServerStats>('gc');
    fill = { eligible: st.eligible ?? 0, nodes: st.nodes ?? 0, ms, rssPerNode: ((after.rss ?? 0) - (before.rss ?? 0)) / CFG.queryNodes };
    log(
      `query: ${fmtInt(fill.eligible)} eligible nodes on ${fmtInt(CFG.queryNodes)} connections in ${fmtMs(ms)}; master RSS +${fmtInt(fill.rssPerNode)} B per connected node`,
    );
    await sleep(200);
    // Alternate floor and master (both servers up, the idle one costs nothing) so that
    // a burst of load from elsewhere on the machine does not land on one side only.
    for (const client of CFG.httpClients) {
      for (let r = 0; r < CFG.httpRounds; r++) {
        runs.push(await httpRun('floor', client, floorSrv.info.http.port, floorSrv, PROFILE && r === 0));
        runs.push(await httpRun('master', client, srv.info.http!.port, srv, PROFILE && r === 0));
      }
    }
    const end = await srv.call<ServerStats>('stats');
    if ((end.eligible ?? 0) !== CFG.queryNodes)
      throw new Error(`query: the table changed during the measurement (${end.eligible} eligible)`);
  } finally {
    await floorSrv.stop();
    await gen.stop();
    await srv.stop();
  }
  return {
    nodes: fill.nodes,
    eligible: fill.eligible,
    fillMs: fill.ms,
    masterRssPerConnectedNode: fill.rssPerNode,
    byClient: CFG.httpClients.map((client) => ({
      client,
      master: best(
        runs.filter((r) => r.server === 'master' && r.client === client),
        (r) => r.reqPerSec,
      ),
      floor: best(
        runs.filter((r) => r.server === 'floor' && r.client === client),
        (r) => r.reqPerSec,
      ),
    })),
    runs,
  };
}
