/**
 * Bench section: 8. master HA (issue 13). A real etcd (Debian's etcd-server, default raft
 * timers) and two masters as child processes (lib/ha-cluster.ts), `--lease-ttl 2s`:
 *
 * - takeover: 1000 slaves (lib/swarm.ts, in this process, one push + HELLO a second, each
 *   with both slave ports as its list) on the leader; kill -9 (or SIGTERM) of the leader;
 *   the time from the signal to the moment the other master leads, every slave has had a
 *   HELLO_ACK from it on a new connection, and it answers /v1/least-loaded. The killed
 *   master comes back on its log as a standby before the next trial; trials alternate.
 * - ingest: the ingest@1000 load (bench/loadgen.ts, closed loop, its own process) on the
 *   leader with `--ack local` and with `--ack standby`, a standby following in both; the
 *   standby's own lag (`/v1/cluster` lag.seq, lag.ms) sampled every 20 ms in the window.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fmtInt, fmtMs, fmtRatio3 } from '../lib/format.js';
import { HaCluster, getJson } from '../lib/ha-cluster.js';
import { Child } from '../lib/rpc.js';
import { Samples, median, best, type LatencySummary } from '../lib/stats.js';
import { Swarm } from '../lib/swarm.js';
import { mulberry32 } from '../lib/synth.js';
import { CFG, QUICK, log, type GenResult } from '../lib/context.js';

export const TRIALS = 5;
const SLAVES = 1000;
let clusters = 0;
export const clusterName = (what: string): string => `bench-${what}-${process.pid}-${++clusters}`;

export interface Takeover {
  signal: 'SIGKILL' | 'SIGTERM';
  /** From the signal to: the other master answers /v1/leader 200 … */
  leadsMs: number;
  /** … and every slave re-registered with it and /v1/least-loaded answers 200 there. */
  ms: number;
}

export interface HaIngest {
  ack: 'local' | 'standby';
  roundTripsPerSec: number;
  latency: LatencySummary;
  lagSeq: LatencySummary;
  lagMs: LatencySummary;
}

export interface HaResult {
  takeovers: Takeover[];
  ingest: HaIngest[];
}

/**
 * Ends the leader with `signal` and waits for the other master to take over with every one of
 * `slaves` re-registered (lib/swarm.ts `registered`) and least-loaded answering.
 */
export async function takeover(
  c: HaCluster,
  swarm: Swarm,
  slaves: number,
  signal: 'SIGKILL' | 'SIGTERM',
): Promise<Takeover & { from: string; to: string }> {
  const from = await c.leader();
  if (!from) throw new Error('ha: no leader before the takeover');
  const to = c.other(from);
  const t0 = performance.now();
  const gone = from.kill(signal);
  let leadsMs = NaN;
  await c.until(
    async () => {
      if (Number.isNaN(leadsMs)) {
        if (!(await to.leads())) return false;
        leadsMs = performance.now() - t0;
      }
      if (swarm.registered(to.port, t0) < slaves) return false;
      return (await getJson(`${to.http}/v1/least-loaded`))?.status === 200;
    },
    30_000,
    `${to.node} to lead with ${slaves} slaves back (${swarm.registered(to.port, t0)} so far)`,
  );
  const ms = performance.now() - t0;
  await gone;
  return { signal, leadsMs, ms, from: from.node, to: to.node };
}

async function takeovers(etcd: string): Promise<Takeover[]> {
  const c = await HaCluster.start(etcd, clusterName('takeover'), ['--ack', 'standby']);
  const swarm = new Swarm({ port: c.ports[0]!, ports: c.ports, rng: mulberry32(13), healthy: SLAVES, healthyIntervalMs: 1000 }).start();
  const out: Takeover[] = [];
  try {
    await c.until(() => swarm.registered(c.ports[0]!, 0) === SLAVES, 60_000, `${SLAVES} slaves on a`);
    for (let i = 0; i < 2 * TRIALS; i++) {
      const signal = i % 2 === 0 ? 'SIGKILL' : 'SIGTERM';
      const t = await takeover(c, swarm, SLAVES, signal);
      out.push({ signal: t.signal, leadsMs: t.leadsMs, ms: t.ms });
      log(
        `ha takeover ${i + 1}/${2 * TRIALS}: ${signal === 'SIGKILL' ? 'kill -9' : 'SIGTERM'} of ${t.from}: ${t.to} leads after ${fmtMs(t.leadsMs)}, all ${SLAVES} slaves back and least-loaded answered after ${fmtMs(t.ms)}`,
      );
      const back = c.masters.find((m) => m.node === t.from)!;
      back.start();
      await c.standbyCaughtUp(back);
      await sleep(500); // the slaves' heartbeats settle before the next trial
    }
  } finally {
    await swarm.stop();
    await c.stop();
  }
  return out;
}

async function ingestRun(etcd: string, ack: 'local' | 'standby'): Promise<HaIngest> {
  const c = await HaCluster.start(etcd, clusterName(`ingest-${ack}`), ['--ack', ack]);
  const gen = await Child.start('loadgen', `loadgen-ha-${ack}`);
  const [leader, standby] = c.masters as [HaCluster['masters'][0], HaCluster['masters'][0]];
  try {
    await gen.call('connect', { port: leader.port, conns: 1000, mode: 'closed' });
    await gen.call('start');
    await sleep(CFG.ingestWarmupMs);
    await gen.call('mark');
    const lagSeq = new Samples();
    const lagMs = new Samples();
    const until = performance.now() + (QUICK ? 3000 : 5000);
    while (performance.now() < until) {
      const d = await standby.cluster();
      if (d) {
        lagSeq.push(d.lag.seq);
        lagMs.push(d.lag.ms);
      }
      await sleep(20);
    }
    const g = await gen.call<GenResult>('collect');
    await gen.call('halt');
    const run: HaIngest = {
      ack,
      roundTripsPerSec: (g.completed / g.wallMs) * 1000,
      latency: g.latency,
      lagSeq: lagSeq.summary(),
      lagMs: lagMs.summary(),
    };
    log(
      `ha ingest --ack ${ack}, 1000 slaves: ${fmtInt(run.roundTripsPerSec)} rt/s, HELLO→ACK p50 ${fmtMs(g.latency.p50)} p99 ${fmtMs(g.latency.p99)}; standby lag p99 ${fmtInt(run.lagSeq.p99)} events, ${fmtMs(run.lagMs.p99)} (${lagSeq.n} samples)`,
    );
    return run;
  } finally {
    await gen.stop();
    await c.stop();
  }
}

export async function ha(etcd: string): Promise<HaResult> {
  const ingest: HaIngest[] = [];
  for (let r = 0; r < CFG.rounds; r++) for (const ack of ['local', 'standby'] as const) ingest.push(await ingestRun(etcd, ack));
  return { takeovers: await takeovers(etcd), ingest };
}

interface Target {
  name: string;
  measured: string;
  required: string;
  pass: boolean | null;
}

/** The section's table and its targets. */
export function haReport(r: HaResult): { lines: string[]; targets: Target[] } {
  const lines: string[] = [];
  const targets: Target[] = [];
  const mmm = (xs: number[]): string => `${fmtMs(Math.min(...xs))} / ${fmtMs(median(xs))} / ${fmtMs(Math.max(...xs))}`;
  lines.push(`8. master HA: real etcd (default raft timers), 2 masters as processes, --lease-ttl 2s; ${SLAVES} slaves with both addresses`);
  for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
    const ts = r.takeovers.filter((t) => t.signal === signal);
    if (ts.length === 0) continue;
    const name = signal === 'SIGKILL' ? 'kill -9' : 'SIGTERM';
    lines.push(
      `takeover after ${name} (${ts.length} trials, min / median / max): leads ${mmm(ts.map((t) => t.leadsMs))}; leads with all slaves back and answers least-loaded ${mmm(ts.map((t) => t.ms))}`,
    );
    const max = Math.max(...ts.map((t) => t.ms));
    const bound = signal === 'SIGKILL' ? 3000 : 1000;
    targets.push({
      name: `takeover after ${name}, max of ${ts.length}`,
      measured: `${fmtMs(max)} (median ${fmtMs(median(ts.map((t) => t.ms)))})`,
      required: signal === 'SIGKILL' ? '≤ 3 s (TTL + 1 s)' : '≤ 1 s',
      pass: max <= bound,
    });
  }
  const local = r.ingest.filter((x) => x.ack === 'local');
  const standby = r.ingest.filter((x) => x.ack === 'standby');
  for (const x of [...local, ...standby]) {
    lines.push(
      `ingest --ack ${x.ack.padEnd(7)} 1000 slaves: ${fmtInt(x.roundTripsPerSec)} rt/s, HELLO→ACK p50 ${fmtMs(x.latency.p50)} p99 ${fmtMs(x.latency.p99)}; standby lag p50 / p99 / max: ${fmtInt(x.lagSeq.p50)} / ${fmtInt(x.lagSeq.p99)} / ${fmtInt(x.lagSeq.max)} events, ${fmtMs(x.lagMs.p50)} / ${fmtMs(x.lagMs.p99)} / ${fmtMs(x.lagMs.max)}`,
    );
  }
  if (local.length > 0 && standby.length > 0) {
    const l = best(local, (x) => x.roundTripsPerSec);
    const s = best(standby, (x) => x.roundTripsPerSec);
    const ratio = s.roundTripsPerSec / l.roundTripsPerSec;
    targets.push({
      name: 'ingest @1000, --ack standby vs --ack local',
      measured: `${fmtRatio3(ratio)} (${fmtInt(s.roundTripsPerSec)} vs ${fmtInt(l.roundTripsPerSec)} rt/s)`,
      required: '≥ 0.70×',
      pass: ratio >= 0.7,
    });
    const worst = (xs: HaIngest[]): HaIngest => best(xs, (x) => x.lagSeq.p99);
    const wl = worst(local);
    targets.push({
      name: 'replication lag p99 @1000, --ack local',
      measured: `${fmtInt(wl.lagSeq.p99)} events, ${fmtMs(wl.lagMs.p99)}`,
      required: 'reported (what --ack local may lose)',
      pass: null,
    });
  }
  lines.push('');
  return { lines, targets };
}
