/** Bench section: 4. replay, raw append. */
import { Child } from '../lib/rpc.js';
import { fmtInt, fmtMs } from '../lib/format.js';
import { best } from '../lib/stats.js';
import { PROFILE, CFG, REPLAY_NODES, REPLAY_CHURN, SNAPSHOT_EVERY, log, profArgs, freshDir } from '../lib/context.js';

export interface AppendResult {
  events: number;
  batch: number;
  writes: number;
  ms: number;
  eventsPerSec: number;
  diskBytes: number;
}

export async function rawAppend(batch: number): Promise<AppendResult> {
  const w = await Child.start('storage-worker', 'append');
  try {
    const r = await w.call<AppendResult>('append', { dir: freshDir('append'), events: CFG.appendEvents, batch, nodes: 1000 });
    log(`raw append: ${fmtInt(r.eventsPerSec)} events/s (${fmtInt(r.events)} events in ${r.writes} writes of ${batch})`);
    return r;
  } finally {
    await w.stop();
  }
}

export interface ReplayMode {
  mode: string;
  events: number;
  records: number;
  bytes: number;
  nodes: number;
  ms: number;
  eventsPerSec: number;
}
export interface ReplayResult {
  events: number;
  build: { ms: number; diskBytes: number; snapshots: number; nodes: number; lastSnapshotSeq: number };
  raw: ReplayMode;
  decode: ReplayMode;
  fold: ReplayMode;
  runs: ReplayMode[];
}

export const logDirs = new Map<number, string>();

export async function buildLog(events: number, finalSnapshot = true): Promise<{ dir: string; build: ReplayResult['build'] }> {
  const dir = freshDir(`log-${events}`);
  const w = await Child.start('storage-worker', `build-${events}`);
  try {
    const b = await w.call<ReplayResult['build']>(
      'build',
      { dir, events, nodes: REPLAY_NODES, churn: REPLAY_CHURN, snapshotEvery: SNAPSHOT_EVERY, finalSnapshot },
      600_000,
    );
    log(
      `built a log of ${fmtInt(events)} events in ${fmtMs(b.ms)} (${(b.diskBytes / 2 ** 20).toFixed(0)} MiB on disk, ${b.snapshots} snapshots, the last at seq ${fmtInt(b.lastSnapshotSeq)})`,
    );
    if (finalSnapshot) logDirs.set(events, dir);
    return { dir, build: b };
  } finally {
    await w.stop();
  }
}

export async function replayMode(dir: string, mode: 'raw' | 'decode' | 'fold', events: number, profile: boolean): Promise<ReplayMode> {
  const name = `replay-${mode}-${events}`;
  const w = await Child.start('storage-worker', name, { execArgv: profile && mode !== 'raw' ? profArgs(name) : [] });
  try {
    return await w.call<ReplayMode>('replay', { dir, mode }, 600_000);
  } finally {
    await w.stop();
  }
}

export async function replay(events: number): Promise<ReplayResult> {
  const { dir, build } = await buildLog(events);
  // Each mode in a fresh process, CFG.replayRounds times in turn; the fastest of each is kept.
  const all: ReplayMode[] = [];
  for (let r = 0; r < CFG.replayRounds; r++) {
    for (const mode of ['raw', 'decode', 'fold'] as const) all.push(await replayMode(dir, mode, events, PROFILE && r === 0));
  }
  const pick = (mode: string): ReplayMode =>
    best(
      all.filter((x) => x.mode === mode),
      (x) => x.eventsPerSec,
    );
  const raw = pick('raw');
  const decode = pick('decode');
  const fold = pick('fold');
  log(
    `replay ${fmtInt(events)}: fold ${fmtInt(fold.eventsPerSec)}/s, decode-only ${fmtInt(decode.eventsPerSec)}/s, raw read ${fmtInt(raw.eventsPerSec)}/s`,
  );
  if (fold.events !== events || raw.events !== events) throw new Error(`replay ${events}: folded ${fold.events}, raw ${raw.events}`);
  return { events, build, raw, decode, fold, runs: all };
}
