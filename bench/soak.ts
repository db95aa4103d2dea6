/**
 * `npm run soak [-- --duration 60s --slaves 50 --seed S --retain-events N --keep]`
 *
 * Crash cycles for a set time: the built master as a child process on one data dir, under
 * load from healthy slaves (PUSH + HELLO every 50 ms, HELLO→ACK timed) and misbehaving
 * ones — a HELLO flooder, a client that never reads, one sending random bytes, flappers
 * connecting and disconnecting in a tight loop, silent ones — killed with SIGKILL at a
 * random moment (now and then during start-up), restarted on the log it left; the last
 * cycle ends with SIGTERM. After every cycle: `verify` of the log, and every HELLO_ACK a
 * client received is checked against the log (bench/lib/crash.ts). Progress on stderr,
 * the summary on stdout; exit 1 when any check failed (the data dir is then kept).
 * See bench/README.md.
 */
import { Command, Option } from 'commander';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { durationArg, intArg } from '../src/cli/options.js';
import { CrashRun, killMasters, type CycleReport } from './lib/crash.js';
import { fmtInt, fmtMs } from './lib/format.js';
import { Samples } from './lib/stats.js';
import { mulberry32 } from './lib/synth.js';

interface SoakFlags {
  duration: number;
  slaves: number;
  seed: number;
  retainEvents: number;
  keep: boolean;
}

const flags = new Command('soak')
  .description('kill -9 cycles of a master under load from healthy and misbehaving slaves; verifies the log after each')
  .addOption(
    new Option('--duration <duration>', 'how long to run (the cycle in progress finishes)').argParser(durationArg).default(60_000, '60s'),
  )
  .addOption(new Option('--slaves <n>', 'healthy slaves').argParser(intArg(1, 5000)).default(50))
  .addOption(
    new Option('--seed <n>', 'seed of the kill schedule')
      .argParser(intArg(0, 2 ** 31))
      .default(Math.floor(Math.random() * 2 ** 31), 'random'),
  )
  .addOption(
    new Option('--retain-events <n>', "the master's --retain-events (0: keep every event)").argParser(intArg(0)).default(3_000_000),
  )
  .option('--keep', 'keep the data dir (it is always kept when a check fails)', false)
  .exitOverride((e) => process.exit(e.exitCode === 0 ? 0 : 2))
  .parse()
  .opts<SoakFlags>();

const MISBEHAVING = { flooders: 1, deaf: 1, noise: 1, flappers: 2, silent: 2 };
const MASTER_FLAGS = [
  '--hello-interval',
  '200ms',
  '--dead-after',
  '1s',
  // 32 snapshots kept × 100,000 cover the retained events: retention's snapshot at its
  // cutoff folds at most 100,000 events from the one before it.
  '--snapshot-every',
  '100000',
  '--snapshot-interval',
  '1s',
  ...(flags.retainEvents > 0 ? ['--retain-events', String(flags.retainEvents), '--retention-interval', '1s'] : []),
];
/** ms of load per kill cycle, and the chance of a kill during start-up instead. */
const RUN_MS = [300, 4000] as const;
const STARTUP_KILL = { chance: 0.15, withinMs: 500 };

const data = mkdtempSync(join(tmpdir(), 'loadledger-soak-'));
const run = new CrashRun(data, MASTER_FLAGS);
const rng = mulberry32(flags.seed);
const latency = new Samples();
// The clients run in this process: its own event-loop delay is part of every latency it
// measures, so it is reported beside them.
const loopDelay = monitorEventLoopDelay({ resolution: 1 });
loopDelay.enable();
let rssMax = 0;
const started = performance.now();
const reports: CycleReport[] = [];

process.on('SIGINT', () => {
  killMasters();
  process.stderr.write(`\nsoak: interrupted; data dir kept: ${data}\n`);
  process.exit(130);
});

const secs = (): string => `${((performance.now() - started) / 1000).toFixed(1)}s`;
const say = (s: string): boolean => process.stderr.write(s + '\n');

say(
  `soak: ${Math.round(flags.duration / 1000)} s, seed ${flags.seed} (--seed ${flags.seed} repeats the schedule), ${flags.slaves} healthy slaves + ` +
    `${MISBEHAVING.flooders} HELLO flooder, ${MISBEHAVING.deaf} never reading, ${MISBEHAVING.noise} sending random bytes, ${MISBEHAVING.flappers} flapping, ${MISBEHAVING.silent} silent; log in ${data}`,
);

let prevSeq = 0;
for (;;) {
  const last = performance.now() - started + RUN_MS[1] >= flags.duration;
  const r = await run.cycle({
    signal: last ? 'SIGTERM' : 'SIGKILL',
    rng,
    swarm: { healthy: flags.slaves, healthyIntervalMs: 50, latency, ...MISBEHAVING },
    runMs: last ? [1000, 1000] : RUN_MS,
    ...(last || reports.length === 0 ? {} : { startupKill: STARTUP_KILL }),
    onRss: (b) => (rssMax = Math.max(rssMax, b)),
  });
  reports.push(r);
  say(`[${secs()}] ${cycleLine(r, prevSeq)}`);
  for (const p of r.problems) say(`  FAILED: ${p}`);
  prevSeq = r.verify.lastSeq;
  if (last) break;
}

const failed = reports.filter((r) => r.problems.length > 0);
process.stdout.write(summary() + '\n');
if (failed.length > 0 || flags.keep) say(`soak: data dir kept: ${data}`);
else rmSync(data, { recursive: true, force: true });
process.exit(failed.length > 0 ? 1 : 0);

// ---------------------------------------------------------------- output

function cycleLine(r: CycleReport, before: number): string {
  const when =
    r.phase === 'load' ? `after ${(r.ranMs / 1000).toFixed(1)} s of load` : r.phase === 'idle' ? 'once up, before load' : 'during start-up';
  const up = r.up ? `up in ${fmtMs(r.up.ms)} (epoch ${r.up.epoch})` : 'not up';
  const acks = r.acks
    ? `${fmtInt(r.acks.received)} ACKs on ${fmtInt(r.acks.connections)} conns, ${fmtInt(r.acks.logged)} logged`
    : r.ackSkipped
      ? 'ACKs not checkable (retention removed the start of the epoch)'
      : 'no clients';
  const v = r.verify;
  const left = v.unreplayable > 0 ? `, ${fmtInt(v.unreplayable)} events before the replay base left by a retention cut short` : '';
  const verdict = v.ok
    ? `verify OK (${v.snapshots.matched} snapshots match, projection ${v.projection?.matches ? 'matches' : '?'}${left})`
    : `verify FAILED (${v.problemCount})`;
  const exit = r.signal === 'SIGTERM' ? `, exit ${r.exit.code ?? r.exit.signal}` : '';
  return `cycle ${r.cycle} ${r.signal} ${when}: ${up}${exit}, +${fmtInt(v.lastSeq - before)} events (seq ${fmtInt(v.firstSeq)}..${fmtInt(v.lastSeq)}), ${acks}, ${verdict} in ${fmtMs(v.ms)}`;
}

function summary(): string {
  const kills = reports.filter((r) => r.signal === 'SIGKILL');
  const byPhase = (p: CycleReport['phase']): number => kills.filter((r) => r.phase === p).length;
  const terms = reports.filter((r) => r.signal === 'SIGTERM');
  const waited = reports.filter((r) => r.phase === 'load');
  const up = waited.filter((r) => r.up).length;
  const withAcks = reports.filter((r) => r.acks);
  const received = withAcks.reduce((a, r) => a + r.acks!.received, 0);
  const logged = withAcks.reduce((a, r) => a + r.acks!.logged, 0);
  const conns = withAcks.reduce((a, r) => a + r.acks!.connections, 0);
  const skipped = reports.filter((r) => r.ackSkipped).length;
  const allConns = reports.reduce((a, r) => a + r.connections, 0);
  const verified = reports.filter((r) => r.verify.ok).length;
  const snapChecks = reports.reduce((a, r) => a + r.verify.snapshots.matched + r.verify.snapshots.mismatched, 0);
  const snapBad = reports.reduce((a, r) => a + r.verify.snapshots.mismatched, 0);
  const projOk = reports.filter((r) => r.verify.projection?.matches).length;
  const lastV = reports[reports.length - 1]!.verify;
  const verifyMs = reports.reduce((a, r) => a + r.verify.ms, 0);
  const lat = latency.summary();
  const term = terms[0];
  const rows: [string, string][] = [
    ['duration', `${secs()}, seed ${flags.seed}`],
    [
      'cycles',
      `${reports.length}: ${kills.length} SIGKILL (${byPhase('load')} under load, ${byPhase('start-up')} during start-up, ${byPhase('idle')} up but idle), ${terms.length} SIGTERM`,
    ],
    [
      'restarts',
      `${up} of ${waited.length} starts that were waited for came up on the log the previous master left, at the next epoch and seq${waited.length < reports.length ? ` (the other ${reports.length - waited.length} were killed while starting)` : ''}`,
    ],
    [
      'log',
      `${fmtInt(lastV.lastSeq)} events written; ${fmtInt(lastV.events)} retained (seq ${fmtInt(lastV.firstSeq)}..${fmtInt(lastV.lastSeq)}) in ${fmtInt(lastV.records)} records`,
    ],
    ['connections', `${fmtInt(allConns)} made by the clients`],
    [
      'acked vs logged',
      `${fmtInt(received)} HELLO_ACKs received on ${fmtInt(conns)} connections; ${fmtInt(logged)} of them have their HelloAckSent in the log; ${fmtInt(received - logged)} missing (${withAcks.length} cycles checked${skipped > 0 ? `, ${skipped} not checkable: retention had removed the start of their epoch` : ''})`,
    ],
    [
      'verify',
      `${verified} of ${reports.length} passed (${fmtMs(verifyMs)} in all); ${snapChecks - snapBad} of ${snapChecks} snapshot comparisons equal a fresh fold; loaded projection equals a fresh fold after ${projOk} of ${reports.length} cycles`,
    ],
    ['graceful stop', term ? `SIGTERM under load: exit ${term.exit.code ?? term.exit.signal}, last event ${term.lastEvent ?? '-'}` : '-'],
    [
      'HELLO→ACK, healthy',
      lat.count > 0
        ? `p50 ${fmtMs(lat.p50)}, p99 ${fmtMs(lat.p99)}, max ${fmtMs(lat.max)} over ${fmtInt(lat.count)} round trips, with the flooders running (this process's event-loop delay: p99 ${fmtMs(loopDelay.percentile(99) / 1e6)}, max ${fmtMs(loopDelay.max / 1e6)})`
        : '-',
    ],
    ['master RSS max', rssMax > 0 ? `${(rssMax / 2 ** 20).toFixed(0)} MiB` : '-'],
    ['result', failed.length === 0 ? 'PASS' : `FAIL: ${failed.length} cycle(s) failed a check (see FAILED lines above)`],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  return ['', 'soak summary', ...rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`)].join('\n');
}
