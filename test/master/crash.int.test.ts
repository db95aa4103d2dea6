/**
 * Crash safety of the built master (`node dist/src/cli/main.js master`, a child process)
 * under load from many raw TCP slaves in this process (bench/lib/swarm.ts): killed with
 * SIGKILL at random moments, again and again on the same log; stopped with SIGTERM. After
 * every cycle, with the master gone: the log verifies (replay/verify.ts: gapless, every
 * record decodes, every snapshot and the projection a master loads equal a fresh fold),
 * every HELLO_ACK a client received has its HelloAckSent in the log, and the next master
 * starts on it at the next epoch and seq (bench/lib/crash.ts).
 *
 * The moments come from a seeded PRNG; the seed is in the test name. Reproduce a failure
 * with LOADLEDGER_CRASH_SEED=<seed> (timing still varies, the schedule does not).
 */
import { existsSync } from 'node:fs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CLI, CrashRun, type CycleReport } from '../../bench/lib/crash.js';
import { mulberry32 } from '../../bench/lib/synth.js';
import { Cleanup } from '../helpers/cleanup.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first (npm run build; npm test does it)`);
});

const SEED = Number(process.env['LOADLEDGER_CRASH_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
const KILLS = 20;

/** Short intervals; a snapshot every few hundred events, so that kills land around snapshots. */
const FLAGS = ['--hello-interval', '100ms', '--dead-after', '1s', '--snapshot-every', '500', '--snapshot-interval', '100ms'];

/** 30 slaves in closed loops (PUSH + HELLO, the next on the ACK), 4 flapping, one sending noise, two silent. */
const SWARM = { healthy: 30, flappers: 4, noise: 1, silent: 2 };

async function crashRun(): Promise<CrashRun> {
  const run = new CrashRun(await cleanup.tempDir('loadledger-crash-'), FLAGS);
  cleanup.defer('kill the master and the clients', () => run.close());
  return run;
}

function explain(r: CycleReport): string {
  const when =
    r.phase === 'load' ? `after ${Math.round(r.ranMs)} ms of load` : r.phase === 'idle' ? 'once up, before any load' : 'during start-up';
  return `seed ${SEED}, cycle ${r.cycle} (${r.signal} ${when})`;
}

describe(`crash safety (seed ${SEED}; rerun with LOADLEDGER_CRASH_SEED=${SEED})`, () => {
  it(`kill -9 at ${KILLS} random moments under load: each restart opens the log, it verifies, and every acknowledged HELLO is in it`, async () => {
    const rng = mulberry32(SEED);
    const run = await crashRun();
    const reports: CycleReport[] = [];
    for (let i = 0; i < KILLS; i++) {
      // Every fourth kill lands at a random moment in the first 400 ms after the spawn (during
      // start-up, or just after it); the others at a random moment under load.
      const startupKill = i % 4 === 3 ? { startupKill: { chance: 1, withinMs: 400 } } : {};
      const r = await run.cycle({ signal: 'SIGKILL', rng, swarm: SWARM, runMs: [100, 400], ...startupKill });
      expect(r.problems, explain(r)).toEqual([]);
      expect(r.verify.ok, explain(r)).toBe(true);
      reports.push(r);
    }
    // The last kill must not be the last word: a master starts on what it left, and stops cleanly.
    const last = await run.cycle({ signal: 'SIGTERM', rng, swarm: SWARM, runMs: [100, 100] });
    expect(last.problems, explain(last)).toEqual([]);
    expect(last.up, 'the master after the last kill is up').toBeDefined();

    // The cycles did what they are for: kills under load with ACKs outstanding, around snapshots.
    const underLoad = reports.filter((r) => r.phase === 'load');
    expect(underLoad).toHaveLength(KILLS - KILLS / 4);
    for (const r of underLoad) {
      expect(r.acks!.received, explain(r)).toBeGreaterThan(0);
      expect(r.acks!.logged, explain(r)).toBe(r.acks!.received);
    }
    expect(Math.max(...reports.map((r) => r.verify.snapshots.matched))).toBeGreaterThan(0);
    expect(last.verify.snapshots.matched).toBeGreaterThan(0);
    expect(last.verify.lastSeq).toBe(last.verify.events);
    expect(run.maxEpoch).toBeGreaterThanOrEqual(underLoad.length + 1);
  }, 90_000);

  it('SIGTERM under load: exit 0, MasterStopped is the last event, every acknowledged HELLO is in the log, it verifies', async () => {
    const rng = mulberry32(SEED ^ 0x5eed);
    const run = await crashRun();
    for (let i = 0; i < 3; i++) {
      const r = await run.cycle({ signal: 'SIGTERM', rng, swarm: SWARM, runMs: [200, 500] });
      expect(r.problems, explain(r)).toEqual([]);
      expect(r.exit).toMatchObject({ code: 0, signal: null });
      expect(r.acks!.received, explain(r)).toBeGreaterThan(0);
      expect(r.acks!.logged, explain(r)).toBe(r.acks!.received);
      // A clean stop writes a final snapshot: the next start folds nothing.
      expect(r.verify.snapshots.matched).toBeGreaterThan(0);
      expect(r.verify.projection).toEqual({ seq: r.verify.lastSeq, matches: true });
    }
  }, 30_000);
});
