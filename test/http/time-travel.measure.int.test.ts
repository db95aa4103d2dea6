/**
 * A measurement, not a check (skipped unless LOADLEDGER_MEASURE_TT=EVENTS is set): a real
 * master writes EVENTS LoadPushed events from 100 raw slaves (default snapshot every
 * 100,000), then times /v1/state?at= (seq, ISO time, a time near the end), /v1/diff and a
 * node history over HTTP, and the longest event-loop gap while they run:
 *   LOADLEDGER_MEASURE_TT=1000000 npx vitest run test/http/time-travel.measure.int.test.ts
 * Results are in docs/http-api.md#time-travel.
 */
import { describe, it } from 'vitest';
import { Cleanup } from '../helpers/cleanup.js';
import { api, startMaster } from '../helpers/master.js';
import { RawClient } from '../helpers/net.js';
import { waitFor } from '../helpers/wait.js';

const EVENTS = Number(process.env.LOADLEDGER_MEASURE_TT ?? 0);

describe.runIf(EVENTS > 0)('time travel on a big log (a measurement)', () => {
  it('times /v1/state?at=, /v1/diff and a history', async () => {
    const cleanup = new Cleanup();
    let now = Date.parse('2026-12-07T00:00:00Z');
    const master = await startMaster(cleanup, { clock: () => now, helloInterval: 3_600_000, deadAfter: 7_200_000 });
    const port = master.addresses.listen.port;
    const N = EVENTS;
    const clients: RawClient[] = [];
    for (let i = 0; i < 100; i++) clients.push(await RawClient.connect(port));
    let sent = 0;
    const t0 = performance.now();
    while (sent < N) {
      for (let i = 0; i < clients.length; i++) clients[i]!.push({ addr: `10.0.${i >> 8}.${i & 255}:80`, load: sent % 97 });
      sent += clients.length;
      now += 10; // 100 events per 10 ms of log time
      if (sent % 5000 === 0) await waitFor(() => master.log.lastSeq >= sent, { timeout: 60_000 });
    }
    await waitFor(() => master.log.lastSeq >= N, { timeout: 60_000 });
    const last = master.log.lastSeq;
    console.log(`log: ${last} events in ${((performance.now() - t0) / 1000).toFixed(1)} s; snapshotEvery ${master.options.snapshotEvery}`);
    // event-loop gaps while queries run
    let maxGap = 0;
    let prev = performance.now();
    const iv = setInterval(() => {
      const t = performance.now();
      maxGap = Math.max(maxGap, t - prev);
      prev = t;
    }, 5);
    const measure = async (label: string, q: () => string, n = 20): Promise<void> => {
      const ms: number[] = [];
      maxGap = 0;
      prev = performance.now();
      for (let i = 0; i < n; i++) {
        const t = performance.now();
        const r = await api(master, q());
        if (r.status !== 200) throw new Error(JSON.stringify(r.body));
        ms.push(performance.now() - t);
      }
      ms.sort((a, b) => a - b);
      console.log(
        `${label}: p50 ${ms[Math.floor(n * 0.5)]!.toFixed(1)} ms, p95 ${ms[Math.floor(n * 0.95)]!.toFixed(1)} ms, max ${ms[n - 1]!.toFixed(1)} ms; longest event-loop gap ${maxGap.toFixed(1)} ms`,
      );
    };
    const start = Date.parse('2026-12-07T00:00:00Z');
    const span = now - start;
    await measure('state?at=<random seq>', () => `/v1/state?at=${1 + Math.floor(Math.random() * last)}`);
    await measure('state?at=<random ISO time>', () => `/v1/state?at=${new Date(start + Math.random() * span).toISOString()}`);
    await measure('state?at=<time near the end>', () => `/v1/state?at=-1s`);
    await measure('diff random seqs', () => {
      const a = 1 + Math.floor((Math.random() * last) / 2);
      return `/v1/diff?from=${a}&to=${a + 5000}`;
    });
    await measure('history of one node', () => `/v1/nodes/10.0.0.7%3A80/history?limit=100`, 5);
    clearInterval(iv);
    for (const c of clients) c.destroy();
    await cleanup.run();
  }, 600_000);
});
