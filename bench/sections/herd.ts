/**
 * The herd guard, measured (issue 14 "Common"; docs/selection.md#weights): a real master
 * in its own process with `--agent`, HERD_NODES nodes (slaves in this process, reporting
 * once per interval) at load 50, and HERD_PROXIES simulated proxies that each poll every
 * node's weight through the agent port once per `--weight-interval`, as HAProxy's
 * agent-check does (one connection per server per check), at phases spread over the
 * interval. At t0 one node's load drops to 0 and stays there (no feedback from traffic:
 * the loads are the input, the shares the output). Each poll gives that proxy's view of the
 * node's share of the total weight; polls are bucketed by whole intervals since t0.
 *
 * With feedback too: each node then reports the traffic the proxies send it (LOAD × n × its
 * share), and at t0 the node reports 0 once, as after a restart, then its traffic: the
 * herd's loop (a low report, a flood, a high report, a drought), damped or not.
 *
 * Each scenario twice: with the guard (`--weight-min 10 --weight-step 20`, the defaults) and with its
 * bounds off (`--weight-min 1 --weight-step 100`: the target mapping alone). In the
 * guarded run the proxies also ask `GET /v1/least-loaded` and `?policy=p2c` at each poll:
 * the share of one-node answers that name the node, what a proxy that sends to the answer
 * gets. Beside the measured shares, what the pure mapping gives (src/selection/weights.ts,
 * one `nextWeights` per tick from the first tick that sees the drop). Figures only: nothing
 * here is a pass/fail target.
 */
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { nextWeights, WEIGHT_DEFAULTS, type WeightPolicy } from '../../src/selection/weights.js';
import { createSlave, type Slave } from '../../src/slave/slave.js';
import { QUICK, log, startMaster } from '../lib/context.js';
import { table } from '../lib/format.js';

export const HERD_NODES = 10;
export const HERD_PROXIES = 20;
const LOAD = 50;
/** Intervals printed before and after t0. */
const BEFORE = 2;
const AFTER = 10;
/** The guard as shipped, and the mapping with both bounds off (min 1 is the lowest a policy takes; step 100 moves any weight to its target in one tick). */
const GUARD: WeightPolicy = WEIGHT_DEFAULTS;
const NO_BOUNDS: WeightPolicy = { min: 1, step: 100 };

/** Node ids: `10.0.1.1:8080` … `10.0.1.10:8080`; the one whose load drops sorts last, so least-loaded's tie-break (by id) does not pick it before the drop. */
const IDS = Array.from({ length: HERD_NODES }, (_, i) => `10.0.1.${i + 1}:8080`);
const DROP = [...IDS].sort().at(-1)!;

export interface Bucket {
  /** Mean, min and max over the polls of this interval (all proxies), in [0, 1]. */
  mean: number;
  min: number;
  max: number;
  polls: number;
}

export interface HerdVariant {
  name: string;
  /** Loads follow the traffic (else steady). */
  feedback: boolean;
  policy: WeightPolicy;
  /** By interval since t0, from -BEFORE to AFTER (index k + BEFORE); null: no poll. */
  shares: (Bucket | null)[];
  /** The mapping's shares from the tick that first sees the drop, tick 0 = before it. */
  mapping: number[];
  /** The least share any eligible node keeps: min / (min + 100 (n − 1)). */
  floor: number;
}

export interface HerdResult {
  nodes: number;
  proxies: number;
  intervalMs: number;
  load: number;
  node: string;
  variants: HerdVariant[];
  /** Share of one-node answers naming the node, by interval as `shares` (guarded run). */
  answers: { leastLoaded: (number | null)[]; p2c: (number | null)[] };
}

/** One agent-check as HAProxy makes it: connect, send the id, read the one line to the close. */
function agentCheck(port: number, id: string): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let text = '';
    s.setEncoding('latin1');
    s.on('data', (d: string) => (text += d));
    s.on('error', () => resolve(''));
    s.on('close', () => resolve(text.trim()));
    s.write(`${id}\n`);
  });
}

/** The weight HAProxy takes from a reply: N of `up ready N%`, 0 for anything else (drain, down). */
const weightOf = (reply: string): number => Number(/^up ready (\d+)%/.exec(reply)?.[1] ?? 0);

async function answerId(url: string): Promise<string | undefined> {
  try {
    const r = await fetch(url);
    return r.ok ? ((await r.json()) as { id?: string }).id : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The mapping alone, ticked from every weight at 100: node DROP reports 0, the others LOAD;
 * with `feedback`, every later report is the traffic of the tick before (LOAD × n × share).
 */
function mappingShares(policy: WeightPolicy, feedback: boolean): number[] {
  let reports = IDS.map((id) => ({ id, load: id === DROP ? 0 : LOAD }));
  let w = new Map(IDS.map((id) => [id, 100]));
  const out: number[] = [];
  for (let tick = 0; tick <= AFTER; tick++) {
    if (tick > 0) w = nextWeights(w, reports, policy);
    let sum = 0;
    for (const v of w.values()) sum += v;
    out.push(w.get(DROP)! / sum);
    if (feedback && tick > 0) reports = IDS.map((id) => ({ id, load: (LOAD * HERD_NODES * w.get(id)!) / sum }));
  }
  return out;
}

function bucket(xs: number[]): Bucket | null {
  if (xs.length === 0) return null;
  return { mean: xs.reduce((a, b) => a + b, 0) / xs.length, min: Math.min(...xs), max: Math.max(...xs), polls: xs.length };
}

/**
 * One master and its nodes. Steady: DROP's load goes from LOAD to 0 at t0 and stays. With
 * `feedback`, each node reports the traffic the proxies send it (LOAD × n × its mean share
 * in the proxies' last polls: LOAD while the shares are equal), and at t0 DROP reports 0
 * once (a restart) and then its traffic again.
 */
async function run(
  name: string,
  policy: WeightPolicy,
  interval: number,
  opts: { answers: boolean; feedback: boolean },
): Promise<{ shares: (Bucket | null)[]; answers?: HerdResult['answers'] }> {
  const askAnswers = opts.answers;
  const m = await startMaster(`herd-${name}`, {
    http: askAnswers,
    helloInterval: interval,
    deadAfter: 5 * interval,
    agent: true,
    weights: { interval, ...policy },
  });
  const loads = new Map(IDS.map((id) => [id, LOAD]));
  /** Each proxy's last poll: the weights of IDS, in order. */
  const latest: number[][] = [];
  let restart = false;
  const traffic = (i: number): number => {
    if (latest.length === 0) return LOAD;
    let share = 0;
    for (const w of latest) share += w[i]! / (w.reduce((a, b) => a + b, 0) || 1);
    return (LOAD * HERD_NODES * share) / latest.length;
  };
  const loadOf = (id: string): number => {
    if (!opts.feedback) return loads.get(id)!;
    if (id === DROP && restart) {
      restart = false;
      return 0;
    }
    return traffic(IDS.indexOf(id));
  };
  const slaves: Slave[] = IDS.map((id) =>
    createSlave({ master: m.info.listen, addr: id, load: () => loadOf(id), interval, deadAfter: 5 * interval }),
  );
  const port = m.info.agent!.port;
  const http = m.info.http ? `http://127.0.0.1:${m.info.http.port}` : '';
  let stop = false;
  try {
    // every node reporting, every weight at its target (equal loads: 100)
    const deadline = performance.now() + 60_000;
    for (;;) {
      const replies = await Promise.all(IDS.map((id) => agentCheck(port, id)));
      if (replies.every((r) => r === 'up ready 100%')) break;
      // (with feedback every load is LOAD until the proxies poll: the same settled table)
      if (performance.now() > deadline) throw new Error(`herd ${name}: weights not settled after 60 s: ${replies.join(', ')}`);
      await sleep(interval / 4);
    }
    const polls: { t: number; share: number; least?: boolean; p2c?: boolean }[] = [];
    const proxies = Array.from({ length: HERD_PROXIES }, async (_, p) => {
      await sleep((p * interval) / HERD_PROXIES);
      let next = performance.now();
      while (!stop) {
        const t = performance.now();
        const w = await Promise.all(IDS.map((id) => agentCheck(port, id).then(weightOf)));
        const sum = w.reduce((a, b) => a + b, 0);
        latest[p] = w;
        const poll: (typeof polls)[number] = { t, share: sum > 0 ? w[IDS.indexOf(DROP)]! / sum : 0 };
        if (askAnswers) {
          const [least, p2c] = await Promise.all([answerId(`${http}/v1/least-loaded`), answerId(`${http}/v1/least-loaded?policy=p2c`)]);
          poll.least = least === DROP;
          poll.p2c = p2c === DROP;
        }
        polls.push(poll);
        next += interval;
        await sleep(Math.max(0, next - performance.now()));
      }
    });
    await sleep(BEFORE * interval);
    const t0 = performance.now();
    loads.set(DROP, 0);
    restart = true;
    log(`herd ${name}: ${DROP}'s load ${LOAD} → 0${opts.feedback ? ' (once, then its traffic)' : ''}`);
    await sleep((AFTER + 1) * interval);
    stop = true;
    await Promise.all(proxies);
    const byK = (k: number) => polls.filter((x) => Math.floor((x.t - t0) / interval) === k);
    const ks = Array.from({ length: BEFORE + AFTER + 1 }, (_, i) => i - BEFORE);
    const shares = ks.map((k) => bucket(byK(k).map((x) => x.share)));
    if (!askAnswers) return { shares };
    const frac = (k: number, key: 'least' | 'p2c') => {
      const xs = byK(k);
      return xs.length === 0 ? null : xs.filter((x) => x[key]).length / xs.length;
    };
    return { shares, answers: { leastLoaded: ks.map((k) => frac(k, 'least')), p2c: ks.map((k) => frac(k, 'p2c')) } };
  } finally {
    stop = true;
    await Promise.all(slaves.map((s) => s.close()));
    await m.stop();
  }
}

export async function herd(): Promise<HerdResult> {
  const interval = QUICK ? 500 : 1000;
  log(`herd: ${HERD_NODES} nodes at load ${LOAD}, ${HERD_PROXIES} proxies polling the agent port every ${interval} ms`);
  const variants: HerdVariant[] = [];
  let answers: HerdResult['answers'] = { leastLoaded: [], p2c: [] };
  for (const feedback of [false, true]) {
    for (const [name, policy] of [
      ['guard', GUARD],
      ['no bounds', NO_BOUNDS],
    ] as const) {
      const r = await run(`${name.replace(' ', '-')}${feedback ? '-feedback' : ''}`, policy, interval, {
        answers: name === 'guard' && !feedback,
        feedback,
      });
      if (r.answers) answers = r.answers;
      variants.push({
        name,
        feedback,
        policy,
        shares: r.shares,
        mapping: mappingShares(policy, feedback),
        floor: policy.min / (policy.min + 100 * (HERD_NODES - 1)),
      });
    }
  }
  return { nodes: HERD_NODES, proxies: HERD_PROXIES, intervalMs: interval, load: LOAD, node: DROP, variants, answers };
}

const pct = (x: number | null | undefined): string => (x === null || x === undefined ? '-' : `${(100 * x).toFixed(1)}%`);
const cell = (b: Bucket | null | undefined): string => (b ? `${pct(b.mean)} (${pct(b.min)}–${pct(b.max)})` : '-');

/** The printed section: one table per scenario, one row per interval since the drop; no targets (figures only). */
export function herdReport(r: HerdResult): { lines: string[]; targets: [] } {
  const lines: string[] = [];
  lines.push(
    `10. herd guard: ${r.nodes} nodes at load ${r.load}, ${r.proxies} proxies each polling every node's weight through the agent port every ${r.intervalMs} ms (--weight-interval)`,
    `at t=0 ${r.node}'s load drops to 0 (its slave reports within one interval, the table ticks within one more). Its share of the total weight, mean (min–max) over the proxies' polls in each interval since t=0, beside the mapping's share k ticks after the tick that first sees the drop`,
  );
  const name = (v: HerdVariant | undefined) => (v ? `min ${v.policy.min}, step ${v.policy.step}` : '');
  for (const feedback of [false, true]) {
    const guard = r.variants.find((v) => v.feedback === feedback && v.name === 'guard');
    const bare = r.variants.find((v) => v.feedback === feedback && v.name === 'no bounds');
    if (!guard && !bare) continue;
    lines.push(
      feedback
        ? `loads follow traffic: each node reports ${r.load} × ${r.nodes} × its share in the proxies' last polls; ${r.node} reports 0 once at t=0 (a restart), then its traffic`
        : `steady loads: ${r.node} stays at 0, the others at ${r.load}; least-loaded / p2c answers: the share of GET /v1/least-loaded (?policy=p2c) answers naming it, asked by the same proxies`,
    );
    const rows: string[][] = [];
    for (let i = 0; i < BEFORE + AFTER + 1; i++) {
      const k = i - BEFORE;
      const row = [
        String(k),
        cell(guard?.shares[i]),
        k >= 0 ? pct(guard?.mapping[k]) : '',
        cell(bare?.shares[i]),
        k >= 0 ? pct(bare?.mapping[k]) : '',
      ];
      if (!feedback) row.push(pct(r.answers.leastLoaded[i]), pct(r.answers.p2c[i]));
      rows.push(row);
    }
    const headers = ['interval', `guard (${name(guard)})`, 'mapping', `no bounds (${name(bare)})`, 'mapping'];
    if (!feedback) headers.push('least-loaded answers', 'p2c answers');
    lines.push(table(headers, rows));
    if (guard && bare && !feedback) {
      const settled = (v: HerdVariant) => v.mapping.findIndex((x) => Math.abs(x - v.mapping.at(-1)!) < 1e-9);
      lines.push(
        `with the guard the share moves to ${pct(guard.mapping.at(-1))} over ${settled(guard)} ticks (each weight at most ${guard.policy.step} per tick: the others fall while ${r.node} stays at 100); without the bounds it takes ${pct(bare.mapping.at(-1))} at the first tick; least-loaded answers send it every client from the first poll after the drop. Floor: every eligible node keeps ≥ ${pct(guard.floor)} (min ${guard.policy.min}) / ${pct(bare.floor)} (min ${bare.policy.min}).`,
      );
    }
    if (guard && bare && feedback) {
      const peak = (v: HerdVariant) => Math.max(...v.mapping.slice(1));
      const trough = (v: HerdVariant) => Math.min(...v.mapping.slice(1));
      lines.push(
        `mapping, peak / trough after the restart: guard ${pct(peak(guard))} / ${pct(trough(guard))}, no bounds ${pct(peak(bare))} / ${pct(trough(bare))} (fair share ${pct(1 / r.nodes)})`,
      );
    }
  }
  lines.push('');
  return { lines, targets: [] };
}
