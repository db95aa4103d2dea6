/**
 * Bench section: 7. followers that never read. The latency setup (1000 slaves, open loop at
 * half the ingest@1000 rate) with 0 and with 50 `/v1/events?follow=1` clients that connect
 * after the warm-up and never read a byte (half from seq 1, half from the live end), side by
 * side: the master's RSS (its peak from when they connect to the end of the window) and
 * HELLO→ACK, measured once every follower's socket is full (the catch-up before that is
 * timed and printed). The followers are sockets of this process, paused: they cost it nothing.
 */
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Child } from '../lib/rpc.js';
import { fmtInt, fmtMs, fmtPct } from '../lib/format.js';
import { coresBusy, cpuTicks } from '../lib/machine.js';
import type { LatencySummary } from '../lib/stats.js';
import { CFG, cpuBetween, log, startMaster, type GenResult, type ServerStats } from '../lib/context.js';

export const FOLLOWERS = 50;

export interface FollowersRun {
  followers: number;
  targetRate: number;
  achievedRate: number;
  latency: LatencySummary;
  /** The master's RSS when the followers connect (or would), and its peak from then to the end of the window. */
  rssBefore: number;
  rssPeak: number;
  masterCpu: number;
  foreignCpu: number;
  /** From the master's /metrics at the end of the window. */
  served: number;
  bufferedMaxBytes: number;
  /** How long the followers took to fill their sockets (ms; 0 without followers). */
  fillMs: number;
}

async function scrape(base: string, sample: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line === undefined ? NaN : Number(line.slice(sample.length + 1));
}

function deafFollower(port: number, from: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('error', reject);
    s.once('connect', () => {
      s.pause(); // never reads: what the master sends stays in the kernel, then wherever the master keeps it
      s.write(`GET /v1/events?follow=1&from=${from} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
      s.on('error', () => {});
      resolve(s);
    });
  });
}

export async function followersRun(followers: number, rate: number): Promise<FollowersRun> {
  const srv = await startMaster('master-followers', { http: true });
  const gen = await Child.start('loadgen', 'loadgen-open');
  const sockets: Socket[] = [];
  let sampling = true;
  try {
    const http = srv.info.http!;
    const base = `http://127.0.0.1:${http.port}`;
    await gen.call('connect', { port: srv.info.listen.port, conns: 1000, mode: 'open' });
    await gen.call('start', { rate });
    await sleep(CFG.latencyWarmupMs);
    const before = await srv.call<ServerStats>('stats');
    let peak = before.rss ?? 0;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, (await srv.call<ServerStats>('stats')).rss ?? 0);
        await sleep(200);
      }
    })().catch(() => {}); // the master went away: the run fails on its own
    for (let i = 0; i < followers; i++) {
      const from = i % 2 === 0 ? 1 : ((await srv.call<ServerStats>('stats')).lastSeq ?? 0) + 1;
      sockets.push(await deafFollower(http.port, from));
    }
    if (followers > 0) {
      for (let t = 0; (await scrape(base, 'loadledger_followers')) < followers; t++) {
        if (t > 100) throw new Error(`followers: the master serves ${await scrape(base, 'loadledger_followers')} of ${followers}`);
        await sleep(100);
      }
    }
    // Their sockets fill up: the half from seq 1 first reads back what the log holds until the
    // kernel's buffers (a few MiB per socket on loopback) and the master's take no more. That
    // catch-up is what any follower costs, reading or not; what is measured is what they cost
    // once they hold their sockets full, so wait until every stream is blocked (at most 60 s).
    const fillStart = performance.now();
    if (followers > 0) {
      while ((await scrape(base, 'loadledger_followers_blocked')) < followers && performance.now() - fillStart < 60_000) await sleep(200);
    }
    const fillMs = performance.now() - fillStart;
    await sleep(CFG.latencyWarmupMs);
    const [s0] = await Promise.all([srv.call<ServerStats>('mark'), gen.call('mark')]);
    const k0 = cpuTicks();
    await sleep(CFG.latencyMeasureMs);
    const [s1, g] = await Promise.all([srv.call<ServerStats>('stats'), gen.call<GenResult>('collect')]);
    const k1 = cpuTicks();
    sampling = false;
    await sampler;
    peak = Math.max(peak, s1.rss ?? 0);
    const served = await scrape(base, 'loadledger_followers');
    const bufferedMaxBytes = await scrape(base, 'loadledger_followers_buffered_bytes{of="max"}');
    await gen.call('halt');
    const run: FollowersRun = {
      followers,
      targetRate: rate,
      achievedRate: (g.completed / g.wallMs) * 1000,
      latency: g.latency,
      rssBefore: before.rss ?? NaN,
      rssPeak: peak,
      masterCpu: cpuBetween(s0, s1),
      foreignCpu: coresBusy(k0, k1) - cpuBetween(s0, s1) - g.cpu,
      served,
      bufferedMaxBytes,
      fillMs: followers > 0 ? fillMs : 0,
    };
    log(
      `followers ${followers} (never reading) beside 1000 slaves at ${fmtInt(rate)} rt/s: answered ${fmtInt(run.achievedRate)}/s, HELLO→ACK p50 ${fmtMs(g.latency.p50)} p99 ${fmtMs(g.latency.p99)}; ` +
        `master RSS ${fmtInt(run.rssBefore / 2 ** 20)} → peak ${fmtInt(run.rssPeak / 2 ** 20)} MiB; served ${served}, largest stream buffer ${fmtInt(bufferedMaxBytes / 1024)} KiB; sockets full after ${fmtInt(run.fillMs)} ms; cpu master ${fmtPct(run.masterCpu)} other ${fmtPct(run.foreignCpu)}`,
    );
    return run;
  } finally {
    sampling = false;
    for (const s of sockets) s.destroy();
    await gen.stop();
    await srv.stop();
  }
}
