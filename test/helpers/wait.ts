/**
 * Waiting without sleeping on luck: poll a condition until it holds or a deadline passes.
 * A timeout names what was awaited and, when given, what was last seen.
 */

/** The least a wait gives a condition, whatever the caller asked: see {@link WaitOptions.timeout}. */
export const MIN_TIMEOUT = 10_000;

export interface WaitOptions {
  /**
   * Give up after this many ms: default 15 s, and never less than 10 s. A deadline here only
   * decides how long a failing test takes to say so; a tight one fails a passing test on a busy
   * machine (two suites at once on 2 cores), so what a test asserts about time it asserts on
   * its own clock, never through this.
   */
  timeout?: number;
  /** Poll every this many ms. Default 5. */
  interval?: number;
  /** What we wait for, for the error message. */
  what?: string;
  /** Called on timeout: a description of the state last seen, for the error message. */
  describe?: () => unknown;
}

/**
 * Resolves with the first truthy value of `cond()` (awaited if it is a promise); rejects
 * after `timeout` ms. An exception thrown by `cond` counts as "not yet" and is reported
 * if the deadline passes.
 */
export async function waitFor<T>(
  cond: () => T | Promise<T>,
  opts: WaitOptions = {},
): Promise<Exclude<T, false | null | undefined | 0 | ''>> {
  const timeout = Math.max(opts.timeout ?? 15_000, MIN_TIMEOUT);
  const interval = opts.interval ?? 5;
  const deadline = performance.now() + timeout;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await cond();
      if (v) return v as Exclude<T, false | null | undefined | 0 | ''>;
      lastError = undefined;
    } catch (e) {
      lastError = e;
    }
    if (performance.now() >= deadline) {
      let msg = `timed out after ${timeout} ms waiting for ${opts.what ?? 'a condition'}`;
      // eslint-disable-next-line @typescript-eslint/no-base-to-string -- a thrown non-Error: whatever String() makes of it
      if (lastError !== undefined) msg += `; last error: ${(lastError as Error)?.message ?? String(lastError)}`;
      if (opts.describe) msg += `; last seen: ${safeJson(opts.describe())}`;
      throw new Error(msg);
    }
    await sleep(interval);
  }
}

/** Rejects if `p` has not settled within `ms` (the promise itself is left running). */
export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}
