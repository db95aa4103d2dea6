/**
 * Storage figures, each in a fresh process (the parent starts one per measurement):
 *
 *   append  {dir, events, batch, nodes}  raw append limit: EventLog.append of pre-built
 *           ingest-shaped events (LoadPushed, HelloReceived, HelloAckSent) in batches the
 *           size of the master's group commits, one write at a time like the Recorder.
 *   build   {dir, events, nodes, churn, snapshotEvery, finalSnapshot}  a replay log:
 *           512-event appends, the projection folded alongside, a snapshot every
 *           `snapshotEvery` events (as the master does) and, unless finalSnapshot is false
 *           (a master that crashed), one at the last seq (as a clean stop does).
 *   replay  {dir, mode}  reads the whole log from seq 1:
 *           raw    EventLog.readRaw: LevelDB values, no decoding (the store's read limit)
 *           decode EventLog.read: records decoded into events, no reducer
 *           fold   what loadProjection does after its snapshot lookup, from seq 1: the
 *                  product's foldTo (replay/fold.ts) over the log source, into an empty
 *                  projection (EventLog.read + evolve, with whatever bulk-fold shortcuts
 *                  foldTo takes, e.g. the load index rebuilt once at the end)
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { isNativeAccelerationEnabled } from 'msgpackr';
import type { LedgerEvent } from '../src/events.js';
import { evolve } from '../src/projection/evolve.js';
import { toSnapshot } from '../src/projection/snapshot.js';
import { createProjection } from '../src/projection/state.js';
import { EventLog } from '../storage/event-log.js';
import { foldTo } from '../replay/fold.js';
import { logSource } from '../replay/source.js';
import { loadedNative, serve } from './lib/serve.js';
import { Synth } from './lib/synth.js';

function dirBytes(dir: string): number {
  let n = 0;
  for (const f of readdirSync(dir)) {
    const s = statSync(join(dir, f));
    if (s.isFile()) n += s.size;
  }
  return n;
}

async function append(arg: { dir: string; events: number; batch: number; nodes: number }): Promise<Record<string, unknown>> {
  const synth = new Synth({ nodes: arg.nodes, zones: 4 });
  // Past the start-up events (MasterStarted, SlaveConnected…): steady-state heartbeats.
  const skip = synth.next(1 + arg.nodes);
  const events: LedgerEvent[] = synth.next(arg.events);
  const log = await EventLog.open(arg.dir, { create: true });
  await log.append(skip);
  const t0 = performance.now();
  let writes = 0;
  for (let i = 0; i < events.length; i += arg.batch) {
    await log.append(events.slice(i, i + arg.batch));
    writes++;
  }
  const ms = performance.now() - t0;
  await log.close();
  return { events: events.length, batch: arg.batch, writes, ms, eventsPerSec: (events.length / ms) * 1000, diskBytes: dirBytes(arg.dir) };
}

async function build(arg: {
  dir: string;
  events: number;
  nodes: number;
  churn: number;
  snapshotEvery: number;
  finalSnapshot?: boolean;
}): Promise<Record<string, unknown>> {
  const t0 = performance.now();
  const synth = new Synth({ nodes: arg.nodes, churn: arg.churn, zones: 4 });
  const log = await EventLog.open(arg.dir, { create: true });
  const p = createProjection();
  let lastSnap = 0;
  let snapshots = 0;
  while (log.lastSeq < arg.events) {
    const batch = synth.next(Math.min(512, arg.events - log.lastSeq));
    await log.append(batch);
    for (const e of batch) evolve(p, e);
    if (p.seq - lastSnap >= arg.snapshotEvery || (p.seq === arg.events && arg.finalSnapshot !== false)) {
      await log.putSnapshot(toSnapshot(p));
      lastSnap = p.seq;
      snapshots++;
    }
  }
  await log.close();
  return {
    events: p.seq,
    nodes: p.nodes.size,
    eligible: p.index.size,
    snapshots,
    lastSnapshotSeq: lastSnap,
    ms: performance.now() - t0,
    diskBytes: dirBytes(arg.dir),
  };
}

async function replay(arg: { dir: string; mode: 'raw' | 'decode' | 'fold' }): Promise<Record<string, unknown>> {
  const log = await EventLog.open(arg.dir, { create: false });
  const events = log.lastSeq - log.firstSeq + 1;
  let records = 0;
  let bytes = 0;
  let n = 0;
  let nodes = 0;
  const t0 = performance.now();
  if (arg.mode === 'raw') {
    for await (const values of log.readRaw()) {
      records += values.length;
      for (const v of values) bytes += v.length;
    }
    n = events;
  } else if (arg.mode === 'decode') {
    for await (const batch of log.read()) {
      records++;
      n += batch.length;
    }
  } else {
    const source = await logSource(log, `log ${arg.dir}`);
    const p = await foldTo(source, createProjection(), log.lastSeq);
    n = p.seq - (log.firstSeq - 1);
    nodes = p.nodes.size;
  }
  const ms = performance.now() - t0;
  await log.close();
  return { mode: arg.mode, events: n, records, bytes, nodes, ms, eventsPerSec: (n / ms) * 1000 };
}

serve(
  { append, build, replay },
  { msgpackrNative: isNativeAccelerationEnabled, native: loadedNative(['classic-level', 'msgpackr-extract']) },
);
