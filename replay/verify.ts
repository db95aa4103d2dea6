import { ErrorCode, isLoadLedgerError } from '../src/errors.js';
import type { LedgerEvent } from '../src/events.js';
import { evolve } from '../src/projection/evolve.js';
import { fromSnapshot, toSnapshot, type ProjectionSnapshot } from '../src/projection/snapshot.js';
import { createProjection, type Projection } from '../src/projection/state.js';
import { formatRange } from '../storage/damage.js';
import type { EventLog } from '../storage/event-log.js';
import { RecordDamage } from '../storage/record.js';
import { diffProjections, diffSnapshots } from './compare.js';
import { loadProjection } from './load.js';
import { openLogReadOnly } from './open.js';

/** One thing wrong with a log. Every problem is LOG_CORRUPT: the log is not what a master writes. */
export interface VerifyProblem {
  code: typeof ErrorCode.LOG_CORRUPT;
  message: string;
}

export interface VerifyResult {
  /** No problem found. */
  ok: boolean;
  /** The log, as named by the caller. */
  dir: string;
  /** Events read and decoded (every retained event when ok). */
  events: number;
  /** The oldest retained seq (lastSeq + 1 when the log holds no events). */
  firstSeq: number;
  lastSeq: number;
  /** LevelDB records holding the events. */
  records: number;
  /**
   * Retained events at or before the replay base: no state before them is stored, so no
   * replay can reach them. Retention leaves some when it is cut short (a crash while it
   * deletes) and drops them on its next run. Reported, not counted as a problem.
   */
  unreplayable: number;
  /**
   * Where a fresh fold starts: 0 for seq 1, or the snapshot the retained events are
   * replayed from after retention; null when nothing can be replayed.
   */
  baseSeq: number | null;
  snapshots: {
    /** Stored snapshots. */
    total: number;
    /** Compared with a fresh fold of the log up to their seq, and equal. */
    matched: number;
    /** Compared and different (each one is also a problem). */
    mismatched: number;
    /** Not comparable with the log: the base of the fold, or older than the retained events. */
    notChecked: number;
  };
  /**
   * The projection a master loads at start (newest snapshot + tail) against a fresh fold
   * of the whole log; null when it could not be compared (the log is broken before that).
   */
  projection: { seq: number; matches: boolean } | null;
  /** The first problems found (at most `maxProblems`)… */
  problems: VerifyProblem[];
  /** … of this many. */
  problemCount: number;
  /** Time taken. */
  ms: number;
}

export interface VerifyOptions {
  /** How the log is named in messages (default: its directory). */
  describe?: string;
  /** Called with events checked so far and the total. */
  onProgress?: (done: number, total: number) => void;
  /** Sees every event that decodes, in log order (e.g. to check acknowledgements against it). */
  visit?: (event: LedgerEvent) => void;
  /** Problems kept in the result (all are counted). Default 20. */
  maxProblems?: number;
}

/**
 * Verifies a stopped master's log, or a copy of it, read-only (a private hard-linked
 * copy, like `replay --data`; a log held by a live master is refused with LOG_LOCKED).
 * See verifyEventLog for what is checked. A log that LevelDB or the log layer cannot even
 * open as corrupt comes back as a failed result; any other error (no log, locked) throws.
 */
export async function verifyLog(dir: string, opts: VerifyOptions = {}): Promise<VerifyResult> {
  const started = performance.now();
  let ro: Awaited<ReturnType<typeof openLogReadOnly>>;
  try {
    ro = await openLogReadOnly(dir);
  } catch (e) {
    if (isLoadLedgerError(e) && e.code === ErrorCode.LOG_CORRUPT) {
      const problem = { code: ErrorCode.LOG_CORRUPT, message: e.message };
      return { ...emptyResult(dir), ok: false, problems: [problem], problemCount: 1, ms: performance.now() - started };
    }
    throw e;
  }
  try {
    return await verifyEventLog(ro.log, { describe: dir, ...opts });
  } finally {
    await ro.close();
  }
}

/**
 * Checks an open log:
 *  - every record decodes into events that carry a seq, a ts and a known type;
 *  - seq is gapless from the first retained event to the last (no gap, no repeat, each
 *    record's key is its first event's seq);
 *  - every stored snapshot equals a fresh fold of the log, from its replay base (seq 0 or
 *    the snapshot retention left), up to the snapshot's seq;
 *  - the projection a master would load at start (loadProjection: newest snapshot + tail)
 *    equals a fresh fold of the whole log, nodes, connections and load index alike.
 * Reads the log once for the fold and once more for the tail after the newest snapshot.
 */
export async function verifyEventLog(log: EventLog, opts: VerifyOptions = {}): Promise<VerifyResult> {
  const started = performance.now();
  const name = opts.describe ?? log.dir;
  const maxProblems = opts.maxProblems ?? 20;
  const result = emptyResult(name);
  result.firstSeq = log.firstSeq;
  result.lastSeq = log.lastSeq;
  const problem = (message: string): void => {
    result.problemCount++;
    if (result.problems.length < maxProblems) result.problems.push({ code: ErrorCode.LOG_CORRUPT, message });
  };
  // Messages of the log layer name the private copy; the person knows the original.
  const clean = (e: unknown): string => {
    const err = e as Error & { cause?: Error };
    return (err.message ?? String(e)).split(log.dir).join(name);
  };

  let broken = false;
  // ---- damage the open found (LevelDB's recovery, the tail marker), and damage accepted earlier
  for (const d of log.damage) {
    problem(`${name}: ${formatRange(d)} damaged: ${d.reason}`);
    broken = true;
  }
  for (const h of log.holes) {
    problem(`${name}: ${formatRange(h)} damaged: ${h.reason} (accepted by an operator at seq ${h.at}: \`master --accept-damage\`)`);
    broken = true;
  }

  // ---- where a fresh fold starts, and which snapshots it can be compared with
  const snapSeqs = await log.snapshotSeqs();
  result.snapshots.total = snapSeqs.length;
  const base = await log.replayBaseSeq();
  result.baseSeq = base ?? null;
  /** Cleared once the fold cannot go on (a gap, a record that does not decode). */
  let state: Projection | undefined;
  if (base === undefined) {
    problem(
      `${name}: the retained events start at seq ${log.firstSeq} but no snapshot at or after seq ${log.firstSeq - 1} holds the state before them: they cannot be replayed`,
    );
  } else if (base === 0) {
    state = createProjection();
  } else {
    try {
      const snap = await log.getSnapshot(base);
      if (snap?.seq !== base) problem(`${name}: the snapshot stored at seq ${base} says seq ${String(snap?.seq)}`);
      else state = fromSnapshot(snap);
    } catch (e) {
      problem(`${name}: the snapshot at seq ${base}, the base the retained events replay from, does not decode: ${clean(e)}`);
    }
  }
  const toCompare: number[] = [];
  for (const s of snapSeqs) {
    if (base === undefined || s <= base) result.snapshots.notChecked++;
    else if (s > log.lastSeq) problem(`${name}: a snapshot at seq ${s}, after the last event (seq ${log.lastSeq})`);
    else toCompare.push(s);
  }
  let nextSnap = 0;
  if (broken) state = undefined;

  // ---- one pass over the records: decode, seq, fold, snapshots
  const total = Math.max(0, log.lastSeq - log.firstSeq + 1);
  state?.index.suspend();
  let expected: number | undefined;
  /** Leadership terms only grow (LeaderElected). */
  let lastTerm = state?.terms[state.terms.length - 1]?.term ?? 0;
  for await (const batch of log.readRecords()) {
    for (const rec of batch) {
      if ('damage' in rec) {
        const from = expected ?? rec.seq + 1;
        problem(
          `${name}: ${formatRange(rec.next !== undefined ? { from, to: Math.max(from, rec.next - 1) } : { from })} damaged: LevelDB cannot read these records (${rec.damage})`,
        );
        state = undefined;
        expected = rec.next;
        continue;
      }
      result.records++;
      if (expected !== undefined && rec.seq !== expected) {
        if (rec.seq > expected)
          problem(
            `${name}: seq ${expected}${rec.seq - 1 > expected ? `..${rec.seq - 1}` : ''} missing (the next record starts at seq ${rec.seq})`,
          );
        else problem(`${name}: seq ${rec.seq}..${expected - 1} appear twice (the record at seq ${rec.seq} overlaps the one before it)`);
        state = undefined;
      }
      let events: LedgerEvent[];
      try {
        events = log.decodeRecord(rec.seq, rec.value);
      } catch (e) {
        if (!(e instanceof RecordDamage)) throw e;
        problem(`${name}: the record at seq ${rec.seq}: ${e.message}`);
        state = undefined;
        expected = undefined;
        continue;
      }
      expected = rec.seq + events.length;
      result.events += events.length;
      for (const e of events) {
        opts.visit?.(e);
        if (e.type === 'LeaderElected') {
          if (e.term <= lastTerm) problem(`${name}: seq ${e.seq}: LeaderElected term ${e.term} after term ${lastTerm} (terms only grow)`);
          lastTerm = Math.max(lastTerm, e.term);
        }
        if (base !== undefined && e.seq <= base) result.unreplayable++;
        if (!state || e.seq <= state.seq) continue;
        evolve(state, e);
        if (e.seq === toCompare[nextSnap]) {
          nextSnap++;
          await compareSnapshot(log, state, e.seq, result, problem, clean, name);
        }
      }
      opts.onProgress?.(result.events, total);
    }
  }
  if (expected !== undefined && expected - 1 !== log.lastSeq) {
    problem(`${name}: the records end at seq ${expected - 1}, the log's bounds say ${log.lastSeq}`);
    state = undefined;
  }
  if (state && state.seq !== log.lastSeq) {
    problem(`${name}: a fresh fold ends at seq ${state.seq}, the log at seq ${log.lastSeq}`);
    state = undefined;
  }

  // ---- the projection a master would start from, against the fresh fold
  if (state) {
    state.index.resume(state.nodes.values());
    try {
      const loaded = await loadProjection(log);
      const diff = diffProjections(loaded, state);
      result.projection = { seq: log.lastSeq, matches: diff === undefined };
      if (diff !== undefined)
        problem(
          `${name}: the projection loaded at start (newest snapshot + tail) differs from a fresh fold of the log at seq ${log.lastSeq}: ${diff}`,
        );
    } catch (e) {
      problem(`${name}: the projection a master would load at start cannot be built: ${clean(e)}`);
    }
  }
  result.ok = result.problemCount === 0;
  result.ms = performance.now() - started;
  return result;
}

function emptyResult(dir: string): VerifyResult {
  return {
    ok: false,
    dir,
    events: 0,
    firstSeq: 1,
    lastSeq: 0,
    records: 0,
    unreplayable: 0,
    baseSeq: null,
    snapshots: { total: 0, matched: 0, mismatched: 0, notChecked: 0 },
    projection: null,
    problems: [],
    problemCount: 0,
    ms: 0,
  };
}

async function compareSnapshot(
  log: EventLog,
  state: Projection,
  seq: number,
  result: VerifyResult,
  problem: (m: string) => void,
  clean: (e: unknown) => string,
  name: string,
): Promise<void> {
  let stored: ProjectionSnapshot | undefined;
  try {
    stored = await log.getSnapshot(seq);
  } catch (e) {
    result.snapshots.mismatched++;
    problem(`${name}: the snapshot at seq ${seq} does not decode: ${clean(e)}`);
    return;
  }
  const diff = stored === undefined ? 'it is gone' : diffSnapshots(stored, toSnapshot(state));
  if (diff === undefined) {
    result.snapshots.matched++;
  } else {
    result.snapshots.mismatched++;
    problem(`${name}: the snapshot at seq ${seq} differs from a fresh fold of the log: ${diff}`);
  }
}
