/**
 * `npm run bench` (full, ~3 min on 2 cores) or `npm run bench -- --quick` (~35 s).
 *
 * Every party runs in its own process: the master (bench/master-proc.ts), the floors
 * (bench/bare-server.ts, bench/http-floor.ts), the load generators (bench/loadgen.ts,
 * bench/httpgen.ts) and the storage/memory workers. This process only orchestrates,
 * prints the table and writes bench/results.json. Flags and configuration: lib/context.ts;
 * one file per section: sections/*.ts; the printed report: report.ts.
 *
 * Flags: --quick, --fsync (the master syncs every group commit), --profile (CPU profiles of the master over the ingest@1000, latency and
 * query windows, and node --cpu-prof of the replay and restart processes, summarised at
 * the end; profiles kept in bench/.work/profiles/), --only=a,b (sections:
 * ingest, latency, query, replay, restart, memory, followers, ha, failover, herd; or --only=binquery alone), --http-conns=N, --master-flags="…"
 * (node flags for the master process, for experiments). See bench/README.md.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { coresBusy, cpuTicks } from './lib/machine.js';
import { best } from './lib/stats.js';
import { CFG, FSYNC, PROFILE, QUICK, RUN, ROOT, cleanup, enabled, freshDir, log, startMaster, type MasterInfo } from './lib/context.js';
import { ingestRun, type IngestRun } from './sections/ingest.js';
import { latencyRun, type LatencyRun } from './sections/latency.js';
import { query, type QueryResult } from './sections/query.js';
import { buildLog, logDirs, rawAppend, replay, type AppendResult, type ReplayResult } from './sections/replay.js';
import { processFloor, restart, type RestartResult } from './sections/restart.js';
import { memory, type MemoryResult } from './sections/memory.js';
import { FOLLOWERS, followersRun, type FollowersRun } from './sections/followers.js';
import { ha, type HaResult } from './sections/ha.js';
import { failover, type FailoverResult } from './sections/failover.js';
import { herd, type HerdResult } from './sections/herd.js';
import { NO_ETCD, etcdBin, startEtcd } from './lib/etcd.js';
import { report } from './report.js';

// ---------------------------------------------------------------- environment

function environment(master?: MasterInfo): Record<string, unknown> {
  let commit = '';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT, encoding: 'utf8' }).trim();
    if (dirty) commit += '+dirty';
  } catch {
    // not a git checkout
  }
  const c = cpus();
  return {
    node: process.version,
    cpus: c.length,
    cpuModel: c[0]?.model ?? '',
    memGiB: Math.round(totalmem() / 2 ** 30),
    commit,
    msgpackrNative: master?.msgpackrNative,
    nativeAddons: master?.native ?? [],
    classicLevelPrebuilt: (master?.native ?? []).some((p) => p.includes('classic-level') && p.includes('prebuilds')),
    msgpackrExtractLoaded: (master?.native ?? []).some((p) => p.includes('msgpackr-extract')),
  };
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const t0 = performance.now();
  log(
    `${QUICK ? 'quick' : 'full'} run${PROFILE ? ' with --cpu-prof' : ''}${FSYNC ? ', master with --fsync' : ''}; sections: ${[...enabled].join(', ')}; work dir ${RUN}`,
  );
  const results: Record<string, unknown> = { mode: QUICK ? 'quick' : 'full', date: new Date().toISOString(), config: CFG };

  // Is anything else running? Figures on a shared 2-core machine move a lot with it.
  {
    const a = cpuTicks();
    await sleep(1000);
    const busy = coresBusy(a, cpuTicks());
    results['busyCoresBeforeStart'] = busy;
    if (busy > 0.2)
      log(
        `warning: ${busy.toFixed(2)} cores busy before the start: other jobs on this machine will skew the figures (see the 'cpu other' columns)`,
      );
  }
  // environment, from a master process (what the figures were taken with)
  {
    const m = await startMaster('master-env');
    results['env'] = environment(m.info);
    await m.stop();
    const env = results['env'] as { msgpackrNative?: boolean; classicLevelPrebuilt?: boolean; nativeAddons: string[] };
    log(
      `msgpackr native acceleration: ${env.msgpackrNative ? 'on' : 'OFF'}; classic-level: ${env.classicLevelPrebuilt ? 'prebuilt binary loaded' : 'NOT from prebuilds'} (${env.nativeAddons.join(', ')})`,
    );
  }

  // Every ingest figure is the best of CFG.rounds runs, master and floor alternating.
  const ingestRuns: IngestRun[] = [];
  const ingest: IngestRun[] = [];
  let maxRate = NaN;
  if (enabled.has('ingest') || enabled.has('latency') || enabled.has('followers')) {
    const counts = enabled.has('ingest') ? CFG.ingestConns : [1000];
    for (const n of counts) {
      for (let r = 0; r < CFG.rounds; r++) {
        ingestRuns.push(await ingestRun('master', n, PROFILE && n === 1000 && r === 0));
        if (enabled.has('ingest')) ingestRuns.push(await ingestRun('bare', n, PROFILE && n === 1000 && r === 0));
      }
      for (const srv of ['master', 'bare'] as const) {
        const xs = ingestRuns.filter((x) => x.server === srv && x.conns === n);
        if (xs.length > 0) ingest.push(best(xs, (x) => x.roundTripsPerSec));
      }
    }
    maxRate = ingest.find((r) => r.server === 'master' && r.conns === 1000)?.roundTripsPerSec ?? NaN;
    results['ingest'] = ingest;
    results['ingestRuns'] = ingestRuns;
  }
  let append: AppendResult | undefined;
  if (enabled.has('ingest')) {
    const m1000 = ingest.find((r) => r.server === 'master' && r.conns === 1000);
    append = await rawAppend(Math.max(1, Math.round(m1000?.meanBatch ?? 512)));
    results['rawAppend'] = append;
  }

  // Latency: CFG.latencyRounds runs at the same rate; the one with the lowest p99 is reported.
  // Then one diagnostic run at the same rate with the LevelDB write stubbed out (not a
  // figure of the product: it tells how much of the tail is the store's).
  let latency: LatencyRun | undefined;
  let latencyStub: LatencyRun | undefined;
  const latencyRuns: LatencyRun[] = [];
  if (enabled.has('latency')) {
    for (let r = 0; r < CFG.latencyRounds; r++) latencyRuns.push(await latencyRun(1000, Math.round(maxRate / 2), PROFILE && r === 0));
    latency = best(latencyRuns, (x) => -x.latency.p99);
    latencyStub = await latencyRun(1000, Math.round(maxRate / 2), false, true);
    results['latency'] = latency;
    results['latencyRuns'] = latencyRuns;
    results['latencyStorageStubbed'] = latencyStub;
  }

  let q: QueryResult | undefined;
  if (enabled.has('query')) {
    q = await query();
    results['query'] = q;
  }

  const replays: ReplayResult[] = [];
  if (enabled.has('replay')) {
    for (const n of CFG.replaySizes) replays.push(await replay(n));
    results['replay'] = replays;
  }

  const restarts: RestartResult[] = [];
  let restartFloor: { versionMs: number; emptyLogMs: number } | undefined;
  if (enabled.has('restart')) {
    restartFloor = await processFloor();
    for (const n of CFG.replaySizes) {
      const dir = logDirs.get(n) ?? (await buildLog(n)).dir;
      restarts.push(await restart(n, dir, PROFILE && n === Math.max(...CFG.replaySizes)));
    }
    // After a crash there is no snapshot at the end: up to snapshotEvery events to fold.
    // Start-up cost depends on that tail, not on the log size, so 1M events show it.
    const crash = await buildLog(1_000_000, false);
    restarts.push(await restart(1_000_000, crash.dir, false, 1_000_000 - crash.build.lastSnapshotSeq));
    results['restart'] = { floor: restartFloor, runs: restarts };
  }

  const mem: MemoryResult[] = [];
  if (enabled.has('memory')) {
    for (const n of CFG.memoryNodes) mem.push(await memory(n));
    results['memory'] = mem;
  }

  // Followers that never read, beside the latency setup: 0 and FOLLOWERS alternating, each
  // figure the run with the lowest p99 of its kind (as for latency).
  const followerRuns: FollowersRun[] = [];
  if (enabled.has('followers')) {
    for (let r = 0; r < CFG.latencyRounds; r++)
      for (const n of [0, FOLLOWERS]) followerRuns.push(await followersRun(n, Math.round(maxRate / 2)));
    results['followers'] = followerRuns;
  }

  // Master HA: a real etcd and two masters as processes (skipped, with one line, without etcd).
  let haResult: HaResult | undefined;
  let failoverResult: FailoverResult | undefined;
  if (enabled.has('ha') || enabled.has('failover')) {
    const bin = etcdBin();
    if (!bin) log(`ha, failover: skipped: ${NO_ETCD}`);
    else {
      const etcd = await startEtcd(bin, freshDir('etcd'));
      try {
        if (enabled.has('ha')) results['ha'] = haResult = await ha(etcd.url);
        if (enabled.has('failover')) results['failover'] = failoverResult = await failover(etcd.url);
      } finally {
        await etcd.stop();
      }
    }
  }

  // The herd guard: 20 proxies polling one registry's weights while one node's load drops to 0.
  let herdResult: HerdResult | undefined;
  if (enabled.has('herd')) results['herd'] = herdResult = await herd();

  const out = report({
    results,
    ingest,
    ingestRuns,
    append,
    maxRate,
    latency,
    latencyStub,
    latencyRuns,
    q,
    replays,
    restarts,
    restartFloor,
    mem,
    followerRuns,
    ha: haResult,
    failover: failoverResult,
    herd: herdResult,
  });

  const elapsed = (performance.now() - t0) / 1000;
  results['elapsedSec'] = elapsed;
  out.push('', `total ${elapsed.toFixed(0)} s; results in bench/results.json`);
  writeFileSync(join(ROOT, 'bench', 'results.json'), JSON.stringify(results, null, 2) + '\n');
  process.stdout.write(out.join('\n') + '\n');
}

try {
  await main();
} catch (e) {
  process.stderr.write(`bench: failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
} finally {
  cleanup();
}
