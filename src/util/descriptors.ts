import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

/** How long a count of the open descriptors is trusted (ms); near the limit, how long a "full" answer is. */
const RECOUNT_MS = 1000;
const RECOUNT_NEAR_MS = 50;

/**
 * The process's file descriptors against its limit (`ulimit -n`), checked as connections
 * are accepted on either port. When the table is full, accept() fails with EMFILE and libuv
 * quietly resets the connections it cannot take (its "EMFILE trick"): Node emits nothing,
 * so nothing could be recorded, logged or counted. Refusing a little before that, while a
 * descriptor is still there to accept with, turns a silent reset into a refusal like the
 * others (a SlaveRefused, a log line, a metric), and leaves the descriptors the event log
 * needs to go on (LevelDB opens files as it compacts).
 *
 * Linux only (/proc/self): elsewhere `limit` is undefined and nothing is refused for it.
 * Real time, not a test's manual clock: this is about the operating system's table.
 */
export class Descriptors {
  /** The soft limit on open files, when known. */
  readonly limit: number | undefined;
  /** Connections are refused once fewer than this many descriptors would be left. */
  readonly reserve: number;
  private count = 0;
  private countedAt = Number.NEGATIVE_INFINITY;
  /** Connections accepted since the last count (a close is only seen by the next count). */
  private since = 0;

  constructor(limit: number | undefined = softLimit()) {
    this.limit = limit;
    this.reserve = limit === undefined ? 0 : Math.max(32, Math.ceil(limit * 0.05));
  }

  /** Descriptors open at the last count. */
  get inUse(): number {
    return this.count;
  }

  /**
   * Whether one more connection would leave fewer than `reserve` descriptors: asked for
   * each connection accepted (which is then counted until the next recount).
   */
  exhausted(): boolean {
    if (this.limit === undefined) return false;
    const max = this.limit - this.reserve;
    const age = performance.now() - this.countedAt;
    const near = this.count + this.since >= max;
    if (age >= RECOUNT_MS || (near && age >= RECOUNT_NEAR_MS)) this.recount();
    if (this.count + this.since >= max) return true;
    this.since++;
    return false;
  }

  private recount(): void {
    try {
      this.count = readdirSync('/proc/self/fd').length;
    } catch {
      // cannot tell (EMFILE itself: readdir needs a descriptor): take it as full
      this.count = this.limit ?? 0;
    }
    this.countedAt = performance.now();
    this.since = 0;
  }
}

/** RLIMIT_NOFILE's soft value from /proc/self/limits; undefined off Linux or when unlimited. */
export function softLimit(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+)\s/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}
