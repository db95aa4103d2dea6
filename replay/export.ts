import { randomBytes } from 'node:crypto';
import { link, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ErrorCode, LoadLedgerError, badArgument, isLoadLedgerError } from '../src/errors.js';
import { evolve } from '../src/projection/evolve.js';
import { toSnapshot } from '../src/projection/snapshot.js';
import type { ExportHeader } from './file-format.js';
import { ExportWriter } from './file-writer.js';
import type { EventSource } from './source.js';
import { resolvePoint as defaultResolvePoint } from './time.js';

/** replay/time.ts: a point as a person writes it → the last seq at or before it. */
export type ResolvePoint = (spec: string, ctx: { source: EventSource; flag: string }) => Promise<number>;

export interface ExportOptions {
  source: EventSource;
  /** The file to write (-o). */
  out: string;
  /** First point of the range (--since): a seq is included; a time means the events after it. Default: the source's first. */
  since?: string | undefined;
  /** Last point (--until): the last event at or before it. Default: the source's last seq. */
  until?: string | undefined;
  /** Replace an existing file (--force). */
  force?: boolean | undefined;
  /** Called after each block with events written so far and the total. */
  onProgress?: ((done: number, total: number) => void) | undefined;
  /** Abort: the temp file is removed, nothing appears at `out`. */
  signal?: AbortSignal | undefined;
  /** Written into the header ("loadledger 0.1.0"). */
  generator?: string | undefined;
  resolvePoint?: ResolvePoint;
}

export interface ExportResult {
  path: string;
  firstSeq: number;
  lastSeq: number;
  events: number;
  bytes: number;
  /** Wall time of the whole export, ms. */
  ms: number;
}

const SEQ_RE = /^\d+$/;

/**
 * The range [first, last] of seqs to export. `--since 1200` includes seq 1200; `--since
 * 03:10` starts after the last event at or before 03:10, so the file's snapshot is the
 * state at 03:10. A time before the first event of a log that still starts at seq 1 means
 * "from the beginning"; before the oldest event a log retains, it is refused.
 */
export async function resolveRange(
  source: EventSource,
  since: string | undefined,
  until: string | undefined,
  resolve: ResolvePoint = defaultResolvePoint,
): Promise<{ first: number; last: number }> {
  let first = source.firstSeq;
  let last = source.lastSeq;
  if (since !== undefined) {
    const isSeq = SEQ_RE.test(since.trim());
    try {
      const seq = await resolve(since, { source, flag: '--since' });
      first = isSeq ? Math.max(seq, source.firstSeq) : seq + 1;
    } catch (e) {
      if (!(isLoadLedgerError(e) && e.code === ErrorCode.SEQ_OUT_OF_RANGE && !isSeq && source.firstSeq === 1)) throw e;
      first = 1;
    }
  }
  if (until !== undefined) last = await resolve(until, { source, flag: '--until' });
  if (first > last + 1) {
    throw badArgument(`--since ${since ?? ''} (seq ${first}) is after --until ${until ?? ''} (seq ${last}): nothing to export`);
  }
  if (first > source.lastSeq + 1)
    throw new LoadLedgerError(
      ErrorCode.SEQ_OUT_OF_RANGE,
      `--since ${since ?? ''}: after the end of ${source.describe} (last seq ${source.lastSeq})`,
    );
  return { first, last };
}

async function exists(path: string): Promise<'file' | 'dir' | undefined> {
  try {
    return (await stat(path)).isDirectory() ? 'dir' : 'file';
  } catch {
    return undefined;
  }
}

function refuseExisting(out: string): LoadLedgerError {
  return badArgument(`-o ${out}: the file exists; pass --force to replace it`);
}

/**
 * Writes the events of `source` in [since, until] to a portable export file (see
 * file-format.ts) headed by the exact projection at since - 1, so that the file alone
 * replays to the same state as the source at every seq of the range.
 *
 * The file is written under a temporary name in the same directory and renamed into place
 * once complete and synced: `out` is either absent, or the old file, or the whole new one.
 * Without `force` an existing `out` is never replaced, even one that appears meanwhile.
 */
export async function exportLog(opts: ExportOptions): Promise<ExportResult> {
  const started = performance.now();
  const { source, out, signal } = opts;
  const kind = await exists(out);
  if (kind === 'dir') throw badArgument(`-o ${out}: is a directory; name the file to write`);
  if (kind === 'file' && !opts.force) throw refuseExisting(out);
  if ((await exists(dirname(out))) !== 'dir') throw badArgument(`-o ${out}: no such directory ${dirname(out)}`);

  const { first, last } = await resolveRange(source, opts.since, opts.until, opts.resolvePoint);

  // The exact state just before the range: the source's base, then the events up to it.
  const state = await source.base(first - 1);
  if (state.seq < first - 1) {
    for await (const batch of source.read(state.seq + 1, first - 1)) {
      for (const e of batch) evolve(state, e);
      signal?.throwIfAborted();
    }
  }
  if (state.seq !== first - 1) {
    throw new LoadLedgerError(
      ErrorCode.SEQ_OUT_OF_RANGE,
      `${source.describe}: cannot rebuild the state at seq ${first - 1} (got to seq ${state.seq})`,
    );
  }

  const header: ExportHeader = {
    version: 1,
    created: Date.now(),
    source: source.describe,
    generator: opts.generator ?? 'loadledger',
    firstSeq: first,
    lastSeq: last,
    eventCount: last - first + 1,
    snapshot: toSnapshot(state),
  };
  const tmp = join(dirname(out), `.${basename(out)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let writer: ExportWriter | undefined;
  try {
    writer = await ExportWriter.create(tmp, header);
    const total = header.eventCount;
    if (first <= last) {
      for await (const batch of source.read(first, last)) {
        await writer.write(batch);
        opts.onProgress?.(writer.eventsWritten, total);
        signal?.throwIfAborted();
      }
    }
    const { events, bytes } = await writer.finish();
    await place(tmp, out, opts.force === true);
    return { path: out, firstSeq: first, lastSeq: last, events, bytes, ms: performance.now() - started };
  } catch (e) {
    await writer?.abort();
    await unlink(tmp).catch(() => {});
    throw e;
  }
}

/** Moves the finished temp file to `out`: rename with --force, else link (fails if `out` exists). */
async function place(tmp: string, out: string, force: boolean): Promise<void> {
  if (force) return rename(tmp, out);
  try {
    await link(tmp, out);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw refuseExisting(out);
    // A filesystem without hard links: check, then rename (a narrow race, as good as it gets there).
    if (await exists(out)) throw refuseExisting(out);
    return rename(tmp, out);
  }
  await unlink(tmp);
}

/** "exported 1,204 events (seq 1001..2204) to incident.llog in 0.4s, 3,010 events/s" */
export function exportSummary(r: ExportResult): string {
  const secs = r.ms / 1000;
  const rate = Math.round(r.events / Math.max(secs, 1e-6));
  const range = r.events > 0 ? `seq ${r.firstSeq}..${r.lastSeq}` : `the state at seq ${r.firstSeq - 1}, no events`;
  return `exported ${r.events.toLocaleString('en-US')} events (${range}) to ${r.path} in ${secs.toFixed(1)}s, ${rate.toLocaleString('en-US')} events/s`;
}
