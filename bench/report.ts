/** The bench's printed report: one table per section, the targets (PASS/FAIL) and the CPU profile summaries. */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { formatProfile, summarizeProfile, type ProfileSummary } from './lib/cpuprofile.js';
import { fmtInt, fmtK, fmtMs, fmtPct, fmtRatio, fmtRatio3, table } from './lib/format.js';
import { CFG, FSYNC, PROFILE, PROF_DIR, QUICK, REPLAY_NODES, SNAPSHOT_EVERY, enabled } from './lib/context.js';
import type { IngestRun } from './sections/ingest.js';
import { fmtDiag, fmtTail, type LatencyRun } from './sections/latency.js';
import type { QueryResult } from './sections/query.js';
import type { AppendResult, ReplayResult } from './sections/replay.js';
import type { RestartResult } from './sections/restart.js';
import type { MemoryResult } from './sections/memory.js';
import { FOLLOWERS, type FollowersRun } from './sections/followers.js';
import { best } from './lib/stats.js';
import { haReport, type HaResult } from './sections/ha.js';
import { failoverReport, type FailoverResult } from './sections/failover.js';
import { herdReport, type HerdResult } from './sections/herd.js';

interface Target {
  name: string;
  measured: string;
  required: string;
  pass: boolean | null;
}

/** What the sections measured (absent when the section did not run). */
export interface Measured {
  results: Record<string, unknown>;
  ingest: IngestRun[];
  ingestRuns: IngestRun[];
  append: AppendResult | undefined;
  maxRate: number;
  latency: LatencyRun | undefined;
  latencyStub: LatencyRun | undefined;
  latencyRuns: LatencyRun[];
  q: QueryResult | undefined;
  replays: ReplayResult[];
  restarts: RestartResult[];
  restartFloor: { versionMs: number; emptyLogMs: number } | undefined;
  mem: MemoryResult[];
  followerRuns: FollowersRun[];
  ha?: HaResult | undefined;
  failover?: FailoverResult | undefined;
  herd?: HerdResult | undefined;
}

/** The report's lines; also stores targets, profiles and worstForeignCpu in m.results. */
export function report(m: Measured): string[] {
  const {
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
  } = m;
  const out: string[] = [];
  const env = results['env'] as Record<string, unknown>;
  out.push(
    `loadledger bench (${QUICK ? '--quick' : 'full'}${FSYNC ? ' --fsync' : ''}) — node ${String(env['node'])}, ${String(env['cpus'])} × ${String(env['cpuModel'])}, ${String(env['memGiB'])} GiB, commit ${String(env['commit'])}`,
    `msgpackr native acceleration: ${env['msgpackrNative'] ? 'on' : 'off'}; classic-level native binding: ${env['classicLevelPrebuilt'] ? 'prebuilt (prebuilds/linux-x64)' : 'not from prebuilds'}`,
    '',
  );

  if (ingest.length > 0) {
    const rows: string[][] = [];
    for (const n of [...new Set(ingest.map((r) => r.conns))]) {
      const m = ingest.find((r) => r.server === 'master' && r.conns === n);
      const b = ingest.find((r) => r.server === 'bare' && r.conns === n);
      rows.push([
        String(n),
        m ? fmtInt(m.eventsPerSec) : '-',
        m ? fmtInt(m.roundTripsPerSec) : '-',
        m ? `${fmtMs(m.latency.p50)} / ${fmtMs(m.latency.p99)}` : '-',
        m ? m.meanBatch.toFixed(0) : '-',
        b ? fmtInt(b.roundTripsPerSec) : '-',
        b ? `${fmtMs(b.latency.p50)} / ${fmtMs(b.latency.p99)}` : '-',
        m && b ? fmtRatio(m.roundTripsPerSec / b.roundTripsPerSec) : '-',
        m && append ? fmtRatio(m.eventsPerSec / append.eventsPerSec) : '-',
        m ? `${fmtPct(m.serverCpu)} / ${fmtPct(m.genCpu)}` : '-',
        b ? `${fmtPct(b.serverCpu)} / ${fmtPct(b.genCpu)}` : '-',
        m && b ? `${fmtPct(m.foreignCpu)} / ${fmtPct(b.foreignCpu)}` : m ? fmtPct(m.foreignCpu) : '-',
      ]);
    }
    out.push(
      `1. ingest (closed loop: PUSH_LOAD_INFO + HELLO → HELLO_ACK, 3 events per round trip; best of ${CFG.rounds} × ${CFG.ingestMeasureMs / 1000} s)`,
    );
    out.push(
      table(
        [
          'slaves',
          'events/s',
          'rt/s',
          'HELLO→ACK p50 / p99',
          'batch',
          'floor rt/s',
          'floor p50 / p99',
          'vs floor',
          'vs append',
          'cpu master/gen',
          'cpu floor/gen',
          'cpu other',
        ],
        rows,
      ),
    );
    if (append)
      out.push(`raw append limit (EventLog.append, batches of ${append.batch}, no network): ${fmtInt(append.eventsPerSec)} events/s`);
    out.push('');
  }
  if (latency) {
    out.push(
      `2. latency under load: ${latency.conns} slaves, open loop at ${fmtInt(latency.targetRate)} rt/s (half of ${fmtInt(maxRate)}), answered ${fmtInt(latency.achievedRate)} rt/s`,
    );
    out.push(
      `   HELLO→ACK p50 ${fmtMs(latency.latency.p50)}, p90 ${fmtMs(latency.latency.p90)}, p99 ${fmtMs(latency.latency.p99)}, p99.9 ${fmtMs(latency.latency.p999)}, max ${fmtMs(latency.latency.max)}; cpu master ${fmtPct(latency.masterCpu)}, gen ${fmtPct(latency.genCpu)}, other ${fmtPct(latency.foreignCpu)}`,
      `   inside the master: ${fmtDiag(latency.diag)}`,
      `   ${fmtTail(latency.tail)}`,
      `   (lowest p99 of ${latencyRuns.length} runs: ${latencyRuns.map((r) => fmtMs(r.latency.p99)).join(', ')})`,
      ...(latencyStub
        ? [
            `   diagnostic, same rate, LevelDB write stubbed (records still encoded): p50 ${fmtMs(latencyStub.latency.p50)}, p99 ${fmtMs(latencyStub.latency.p99)}, max ${fmtMs(latencyStub.latency.max)}; ` +
              `GC ${latencyStub.diag.gc.count} pauses, max ${fmtMs(latencyStub.diag.gc.max)}; cpu master ${fmtPct(latencyStub.masterCpu)}, other ${fmtPct(latencyStub.foreignCpu)}`,
          ]
        : []),
      '',
    );
  }
  if (q) {
    out.push(
      `3. query: GET /v1/least-loaded, ${CFG.httpConns} keep-alive connections, ${fmtInt(q.eligible)} eligible nodes on ${fmtInt(q.eligible)} live slave connections; best of ${CFG.httpRounds} × ${CFG.httpMeasureMs / 1000} s, floor and master alternating`,
    );
    const rows: string[][] = [];
    for (const c of q.byClient) {
      for (const r of [c.master, c.floor]) {
        rows.push([
          c.client === 'node' ? 'node:http Agent' : 'raw socket loop',
          r.server === 'master' ? 'master' : 'HTTP floor',
          fmtInt(r.reqPerSec),
          fmtMs(r.latency.p50),
          fmtMs(r.latency.p99),
          fmtMs(r.latency.p999),
          fmtPct(r.serverCpu),
          fmtPct(r.clientCpu),
          fmtPct(r.foreignCpu),
          String(r.non200 + r.errors),
          q.runs
            .filter((x) => x.server === r.server && x.client === c.client)
            .map((x) => fmtInt(x.reqPerSec))
            .join(', '),
        ]);
      }
    }
    out.push(
      table(
        ['client', 'server', 'req/s', 'p50', 'p99', 'p99.9', 'cpu server', 'cpu client', 'cpu other', 'non-200', 'all rounds req/s'],
        rows,
      ),
    );
    out.push(
      `   master / floor: ${q.byClient.map((c) => `${fmtRatio(c.master.reqPerSec / c.floor.reqPerSec)} (${c.client})`).join(', ')}; table filled in ${fmtMs(q.fillMs)}; live master RSS ${fmtInt(q.masterRssPerConnectedNode)} B per connected slave`,
      '',
    );
  }
  if (replays.length > 0) {
    out.push(`4. replay: fold from seq 1 (EventLog.read + evolve), ${REPLAY_NODES} nodes heartbeating, records of 512 events`);
    out.push(
      table(
        [
          'events',
          'fold ev/s',
          'read, no reducer ev/s',
          'undecoded values ev/s',
          'fold/undecoded',
          'fold/read',
          'fold time',
          'on disk',
          'build',
        ],
        replays.map((r) => [
          fmtK(r.events),
          fmtInt(r.fold.eventsPerSec),
          fmtInt(r.decode.eventsPerSec),
          fmtInt(r.raw.eventsPerSec),
          fmtRatio(r.fold.eventsPerSec / r.raw.eventsPerSec),
          fmtRatio(r.fold.eventsPerSec / r.decode.eventsPerSec),
          fmtMs(r.fold.ms),
          `${(r.build.diskBytes / 2 ** 20).toFixed(0)} MiB`,
          fmtMs(r.build.ms),
        ]),
      ),
      '',
    );
  }
  if (restarts.length > 0) {
    out.push(
      `5. restart: spawn of \`loadledger master\` → "UP_LISTENING" on its stderr; logs with a snapshot every ${fmtInt(SNAPSHOT_EVERY)} events (as the master writes them) and, after a clean stop, one at the end`,
    );
    out.push(
      table(
        ['log', 'median', 'trials'],
        [
          ['`loadledger --version` (node + modules)', fmtMs(restartFloor!.versionMs), ''],
          ['empty log', fmtMs(restartFloor!.emptyLogMs), ''],
          ...restarts.map((r) => [
            r.tail > 0
              ? `${fmtK(r.events)} events, crashed: ${fmtInt(r.tail)} after the last snapshot`
              : `${fmtK(r.events)} events, clean stop`,
            fmtMs(r.medianMs),
            r.trialsMs.map(fmtMs).join(', '),
          ]),
        ],
      ),
      '',
    );
  }
  if (mem.length > 0) {
    out.push('6. memory: projection with N live nodes (1 attribute each), fresh process, after full GC');
    out.push(
      table(
        ['nodes', 'RSS/node', 'V8 heap/node', 'fold time'],
        mem.map((m) => [fmtInt(m.nodes), `${fmtInt(m.rssPerNode)} B`, `${fmtInt(m.heapPerNode)} B`, fmtMs(m.foldMs)]),
      ),
      '',
    );
  }

  const none =
    followerRuns.length > 0
      ? best(
          followerRuns.filter((r) => r.followers === 0),
          (r) => -r.latency.p99,
        )
      : undefined;
  const deaf =
    followerRuns.length > 0
      ? best(
          followerRuns.filter((r) => r.followers === FOLLOWERS),
          (r) => -r.latency.p99,
        )
      : undefined;
  if (none && deaf) {
    const MiB = 2 ** 20;
    out.push(
      `7. followers that never read: ${FOLLOWERS} /v1/events?follow=1 clients (half from seq 1, half from the live end) beside the latency setup (1000 slaves, open loop at ${fmtInt(none.targetRate)} rt/s); lowest p99 of ${followerRuns.length / 2} runs each`,
    );
    out.push(
      table(
        [
          'followers',
          'answered rt/s',
          'HELLO→ACK p50',
          'p99',
          'p99.9',
          'master RSS before → peak',
          'largest stream buffer',
          'cpu master',
          'cpu other',
          'all rounds p99 / RSS peak',
        ],
        [none, deaf].map((r) => [
          String(r.followers),
          fmtInt(r.achievedRate),
          fmtMs(r.latency.p50),
          fmtMs(r.latency.p99),
          fmtMs(r.latency.p999),
          `${fmtInt(r.rssBefore / MiB)} → ${fmtInt(r.rssPeak / MiB)} MiB`,
          r.followers > 0 ? `${fmtInt(r.bufferedMaxBytes / 1024)} KiB (${r.served} served)` : '-',
          fmtPct(r.masterCpu),
          fmtPct(r.foreignCpu),
          followerRuns
            .filter((x) => x.followers === r.followers)
            .map((x) => `${fmtMs(x.latency.p99)} / ${fmtInt(x.rssPeak / MiB)} MiB`)
            .join(', '),
        ]),
      ),
      '',
    );
  }

  // targets
  const targets: Target[] = [];
  for (const part of [m.ha && haReport(m.ha), m.failover && failoverReport(m.failover), m.herd && herdReport(m.herd)]) {
    if (!part) continue;
    out.push(...part.lines);
    targets.push(...part.targets);
  }
  if (none && deaf) {
    const dRss = (deaf.rssPeak - none.rssPeak) / 2 ** 20;
    const ratio = deaf.latency.p99 / none.latency.p99;
    targets.push({
      name: `master RSS, ${FOLLOWERS} never-reading followers vs none`,
      measured: `${dRss >= 0 ? '+' : ''}${dRss.toFixed(0)} MiB`,
      required: '≤ +100 MiB',
      pass: dRss <= 100,
    });
    targets.push({
      name: `HELLO→ACK p99, ${FOLLOWERS} never-reading followers vs none`,
      measured: `${fmtRatio3(ratio)} (${fmtMs(deaf.latency.p99)} vs ${fmtMs(none.latency.p99)})`,
      required: '≤ 1.20×',
      pass: ratio <= 1.2,
    });
  }
  const m1000 = ingest.find((r) => r.server === 'master' && r.conns === 1000);
  const b1000 = ingest.find((r) => r.server === 'bare' && r.conns === 1000);
  if (m1000 && b1000) {
    const r = m1000.roundTripsPerSec / b1000.roundTripsPerSec;
    targets.push({
      name: 'ingest @1000 slaves vs network floor',
      measured: `${fmtRatio3(r)} (${fmtInt(m1000.eventsPerSec)} ev/s vs ${fmtInt(3 * b1000.roundTripsPerSec)})`,
      required: '≥ 0.70×',
      pass: r >= 0.7,
    });
  }
  if (latency)
    targets.push({
      name: 'HELLO→ACK p99 at half max rate',
      measured: fmtMs(latency.latency.p99),
      required: '≤ 5 ms',
      pass: latency.latency.p99 <= 5,
    });
  if (q) {
    for (const c of q.byClient) {
      const r = c.master.reqPerSec / c.floor.reqPerSec;
      targets.push({
        name: `HTTP least-loaded vs floor, ${c.client} client`,
        measured: `${fmtRatio3(r)} (${fmtInt(c.master.reqPerSec)} vs ${fmtInt(c.floor.reqPerSec)} req/s)`,
        required: '≥ 0.80×',
        pass: r >= 0.8,
      });
      targets.push({
        name: `HTTP least-loaded p99, ${c.client} client`,
        measured: fmtMs(c.master.latency.p99),
        required: '≤ 5 ms',
        pass: c.master.latency.p99 <= 5,
      });
    }
  }
  for (const r of replays) {
    targets.push({
      name: `replay ${fmtK(r.events)} events/s`,
      measured: fmtInt(r.fold.eventsPerSec),
      required: '≥ 1,000,000',
      pass: r.fold.eventsPerSec >= 1e6,
    });
    // The issue's raw read limit: "the same log through LevelDB without the reducer", i.e.
    // the storage layer's read (EventLog.read: LevelDB and record decoding), as the raw
    // append limit is the storage layer's append. Undecoded LevelDB values are reported
    // beside it (fold/raw), not held to the target: no reducer can beat its own decoder.
    const ratio = r.fold.eventsPerSec / r.decode.eventsPerSec;
    targets.push({
      name: `replay ${fmtK(r.events)} vs read limit (no reducer)`,
      measured: `${fmtRatio3(ratio)} (${fmtRatio3(r.fold.eventsPerSec / r.raw.eventsPerSec)} of undecoded values)`,
      required: '≥ 0.50×',
      pass: ratio >= 0.5,
    });
  }
  if (enabled.has('restart')) {
    const r10 = restarts.find((r) => r.events === 10_000_000 && r.tail === 0);
    targets.push(
      r10
        ? { name: 'restart with 10M events', measured: fmtMs(r10.medianMs), required: '≤ 1 s', pass: r10.medianMs <= 1000 }
        : {
            name: 'restart with 10M events',
            measured: `n/a in --quick (1M: ${fmtMs(restarts[0]?.medianMs ?? NaN)})`,
            required: '≤ 1 s',
            pass: null,
          },
    );
  }
  const m100k = mem.find((m) => m.nodes === 100_000);
  if (m100k)
    targets.push({
      name: 'memory at 100k nodes',
      measured: `${fmtInt(m100k.rssPerNode)} B/node`,
      required: '≤ 2048 B/node',
      pass: m100k.rssPerNode <= 2048,
    });
  const foreign = [
    ...ingestRuns.map((r) => r.foreignCpu),
    ...latencyRuns.map((r) => r.foreignCpu),
    ...(q ? q.runs.map((r) => r.foreignCpu) : []),
    ...followerRuns.map((r) => r.foreignCpu),
  ].filter(Number.isFinite);
  const worst = foreign.length ? Math.max(...foreign) : 0;
  results['worstForeignCpu'] = worst;
  if (worst > 0.25) {
    out.push(
      `warning: other processes used up to ${fmtPct(worst)} of a core during some windows ('cpu other'); on 2 cores that skews throughput ratios and tail latency. Re-run on a quiet machine.`,
      '',
    );
  }
  out.push('targets');
  out.push(
    table(
      ['target', 'measured', 'required', 'result'],
      targets.map((t) => [t.name, t.measured, t.required, t.pass === null ? 'n/a' : t.pass ? 'PASS' : 'FAIL']),
    ),
  );
  results['targets'] = targets;

  if (PROFILE && existsSync(PROF_DIR)) {
    const profiles: ProfileSummary[] = [];
    out.push(
      '',
      `profiles (files in ${PROF_DIR}; master-*: measurement window only; self time is wall-clock sampled, so native calls that wake another thread or process also carry the time this thread then spent preempted)`,
    );
    const files: string[] = [];
    for (const e of readdirSync(PROF_DIR, { withFileTypes: true })) {
      if (e.isDirectory()) for (const f of readdirSync(join(PROF_DIR, e.name))) files.push(join(e.name, f));
      else files.push(e.name);
    }
    for (const f of files.filter((x) => x.endsWith('.cpuprofile')).sort()) {
      const s = summarizeProfile(join(PROF_DIR, f), 14);
      s.file = f;
      profiles.push(s);
      out.push('', formatProfile(s));
    }
    results['profiles'] = profiles;
  }

  return out;
}
