/**
 * Bench section: 9. the failover run (issue 13's closing note). A real etcd, two masters
 * with `--ack standby` (lib/ha-cluster.ts), 1000 slaves (lib/swarm.ts: PUSH_LOAD_INFO +
 * HELLO every 200 ms, both slave ports as their list) on the leader; after a few seconds
 * of load, kill -9 of the leader. Then: the takeover time (sections/ha.ts `takeover`), and
 * every HELLO_ACK the slaves received from the old leader checked against the new leader's
 * log (lib/crash.ts AckCheck: the HelloAckSent of the same connection, matched by the remote
 * address the old leader logged, in its epoch). Missing must be 0. The new leader's log is
 * verified too (replay/verify.ts), after a clean stop.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { LedgerEvent } from '../../src/events.js';
import { verifyLog } from '../../replay/verify.js';
import { AckCheck, type AckReport } from '../lib/crash.js';
import { fmtInt, fmtMs } from '../lib/format.js';
import { HaCluster } from '../lib/ha-cluster.js';
import { Swarm } from '../lib/swarm.js';
import { mulberry32 } from '../lib/synth.js';
import { QUICK, log } from '../lib/context.js';
import { clusterName, takeover } from './ha.js';

const SLAVES = 1000;
const INTERVAL_MS = 200;

export interface FailoverResult {
  slaves: number;
  loadMs: number;
  leadsMs: number;
  takeoverMs: number;
  /** HELLO_ACKs the slaves received from the old leader, and how many of them the new leader's log lacks. */
  oldLeader: AckReport & { missing: number };
  /** … and from the new leader (its own log: a check of the check). */
  newLeader: AckReport & { missing: number };
  verify: { ok: boolean; lastSeq: number; problems: string[] };
  terms: string[];
}

/** The epochs each node led, in the order of the log (LeaderElected then MasterStarted). */
function epochsOf(): { visit: (e: LedgerEvent) => void; led: Map<string, number>; terms: string[] } {
  let node = '';
  const led = new Map<string, number>();
  const terms: string[] = [];
  return {
    led,
    terms,
    visit: (e) => {
      if (e.type === 'LeaderElected') {
        node = e.node;
        terms.push(`${e.node} (term ${e.term}, seq ${e.seq})`);
      } else if (e.type === 'MasterStarted' && node !== '') led.set(node, e.epoch);
    },
  };
}

export async function failover(etcd: string): Promise<FailoverResult> {
  const c = await HaCluster.start(etcd, clusterName('failover'), ['--ack', 'standby']);
  const swarm = new Swarm({
    port: c.ports[0]!,
    ports: c.ports,
    rng: mulberry32(1313),
    healthy: SLAVES,
    healthyIntervalMs: INTERVAL_MS,
  }).start();
  const loadMs = QUICK ? 3000 : 5000;
  let t: Awaited<ReturnType<typeof takeover>> | undefined;
  try {
    await c.until(() => swarm.registered(c.ports[0]!, 0) === SLAVES, 60_000, `${SLAVES} slaves on a`);
    await sleep(loadMs);
    t = await takeover(c, swarm, SLAVES, 'SIGKILL');
    log(
      `failover: kill -9 of ${t.from} with ${SLAVES} slaves: ${t.to} leads after ${fmtMs(t.leadsMs)}, all slaves back and least-loaded answered after ${fmtMs(t.ms)}`,
    );
    await sleep(1000); // the new leader under the same load for a moment
  } finally {
    await swarm.stop();
    await c.stop();
  }
  if (!t) throw new Error('failover: no takeover');
  const from = c.masters.find((m) => m.node === t.from)!;
  const to = c.masters.find((m) => m.node === t.to)!;
  const epochs = epochsOf();
  const verify = await verifyLog(to.data, { visit: epochs.visit, maxProblems: 5 });
  const check = async (node: string, port: number): Promise<AckReport & { missing: number }> => {
    const acks = new AckCheck(epochs.led.get(node));
    await verifyLog(to.data, { visit: acks.visit, maxProblems: 1 });
    const r = acks.report(swarm.conns.filter((x) => x.port === port));
    return { ...r, missing: r.received - r.logged };
  };
  const result: FailoverResult = {
    slaves: SLAVES,
    loadMs,
    leadsMs: t.leadsMs,
    takeoverMs: t.ms,
    oldLeader: await check(from.node, from.port),
    newLeader: await check(to.node, to.port),
    verify: { ok: verify.ok, lastSeq: verify.lastSeq, problems: verify.problems.map((p) => `${p.code}: ${p.message}`) },
    terms: epochs.terms,
  };
  for (const p of result.oldLeader.problems.slice(0, 5)) log(`failover: ${p}`);
  return result;
}

export function failoverReport(r: FailoverResult): {
  lines: string[];
  targets: { name: string; measured: string; required: string; pass: boolean | null }[];
} {
  const lines = [
    `9. failover run: ${r.slaves} slaves (PUSH_LOAD_INFO + HELLO every ${INTERVAL_MS} ms, both addresses), --ack standby, --lease-ttl 2s; kill -9 of the leader after ${fmtMs(r.loadMs)} of load`,
    `takeover: the standby leads after ${fmtMs(r.leadsMs)}; all ${r.slaves} slaves re-registered and least-loaded answered after ${fmtMs(r.takeoverMs)}`,
    `HELLO_ACKs the slaves received from the old leader: ${fmtInt(r.oldLeader.received)} on ${fmtInt(r.oldLeader.connections)} connections; missing on the new leader's log: ${fmtInt(r.oldLeader.missing)}`,
    `HELLO_ACKs received from the new leader: ${fmtInt(r.newLeader.received)}; missing on its log: ${fmtInt(r.newLeader.missing)}`,
    `new leader's log: verify ${r.verify.ok ? 'ok' : `FAILED (${r.verify.problems.join('; ')})`}, last seq ${fmtInt(r.verify.lastSeq)}; terms: ${r.terms.join(' → ')}`,
    '',
  ];
  const targets = [
    {
      name: 'failover: acknowledged events missing on the new leader (--ack standby)',
      measured: fmtInt(r.oldLeader.missing),
      required: '0',
      pass: r.oldLeader.missing === 0 && r.newLeader.missing === 0 && r.verify.ok,
    },
    {
      name: 'failover: kill -9 takeover with 1000 slaves',
      measured: fmtMs(r.takeoverMs),
      required: '≤ 3 s (TTL + 1 s)',
      pass: r.takeoverMs <= 3000,
    },
  ];
  return { lines, targets };
}
