import { ErrorCode, LoadLedgerError, isLoadLedgerError } from '../errors.js';

/**
 * The masters of a cluster as a client sees them (master HA, docs/ha.md): the addresses it
 * was given, in their order, and which of them answered last. Reads go to whichever member
 * answers, the one that answered last first; writes go to the leader, the member that last
 * accepted one first. One address is a cluster of one: the same code, no special case.
 *
 * Generic over the address (a URL for HTTP, host:port for the binary port and the slave).
 */
export class Masters<A> {
  private lastGood: A | undefined;
  private lastLeader: A | undefined;

  constructor(
    readonly all: readonly A[],
    /** How an address is written in messages: `http://a:7480`, `a:7400`. */
    readonly describe: (a: A) => string,
  ) {
    if (all.length === 0) throw new LoadLedgerError(ErrorCode.BAD_ARGUMENT, 'no master address given');
  }

  /** The order to try a read in: the member that answered last, then the others as given. */
  readOrder(): A[] {
    return first(this.all, this.lastGood);
  }

  /** The order to try a write in: the last known leader, then the others as given. */
  writeOrder(): A[] {
    return first(this.all, this.lastLeader ?? this.lastGood);
  }

  /** `a` answered a read. */
  answered(a: A): void {
    this.lastGood = a;
  }

  /** `a` accepted a write: it leads (as far as we know). */
  led(a: A): void {
    this.lastLeader = a;
    this.lastGood = a;
  }

  /** The member that answered last, if any. */
  get current(): A | undefined {
    return this.lastGood;
  }
}

function first<A>(all: readonly A[], a: A | undefined): A[] {
  const i = a === undefined ? -1 : all.indexOf(a);
  return i <= 0 ? [...all] : [all[i]!, ...all.slice(0, i), ...all.slice(i + 1)];
}

/** What one member said instead of the answer wanted. */
export interface Miss {
  /** The member, as written in messages. */
  where: string;
  /** What it said, a few words: `ECONNREFUSED`, `HTTP 503 NOT_LEADER: this master is a standby`. */
  said: string;
  code: ErrorCode;
}

/** One attempt on one member: its answer, or why the next member should be asked. */
export type Attempt<R> = { ok: true; value: R } | { ok: false; said: string; code: ErrorCode };

// The short reason of an unreachable master, kept beside the error that carries the whole line.
const reasons = new WeakMap<LoadLedgerError, string>();

/**
 * MASTER_UNREACHABLE for `where`, with the short reason a list of members shows
 * (`message`: the whole line, when it is not "master unreachable at WHERE (REASON)").
 */
export function unreachableError(
  where: string,
  reason: string,
  cause?: unknown,
  message = `master unreachable at ${where} (${reason})`,
): LoadLedgerError {
  const e = new LoadLedgerError(ErrorCode.MASTER_UNREACHABLE, message, { cause });
  reasons.set(e, reason);
  return e;
}

/** The miss of a member that failed with `e` (its short reason, when it has one). */
export function missFrom(where: string, e: LoadLedgerError): Miss {
  const reason = reasons.get(e);
  // the words of one unreachable master, in a list: `a:7400: unreachable (ECONNREFUSED)`
  return { where, said: reason === undefined ? e.message : `unreachable (${reason})`, code: e.code };
}

/**
 * Tries `attempt` on each address of `order` until one answers. A member that cannot be
 * reached (an attempt that throws MASTER_UNREACHABLE) or that refuses (`ok: false`) is a
 * miss: the next one is asked. Any other error (a bad token, a bad argument) is the
 * answer for all of them and ends the search.
 *
 * @throws the error of the one member when there is one; else, when every member missed,
 *   one line naming each address and what it said: the code they all gave, or
 *   MASTER_UNREACHABLE when they differ.
 */
export async function firstAnswer<A, R>(
  masters: Masters<A>,
  order: readonly A[],
  what: string,
  attempt: (a: A) => Promise<Attempt<R>>,
): Promise<{ member: A; value: R }> {
  const misses: Miss[] = [];
  for (const a of order) {
    let r: Attempt<R>;
    try {
      r = await attempt(a);
    } catch (e) {
      if (!isLoadLedgerError(e) || e.code !== ErrorCode.MASTER_UNREACHABLE || masters.all.length === 1) throw e;
      misses.push(missFrom(masters.describe(a), e));
      continue;
    }
    if (r.ok) return { member: a, value: r.value };
    misses.push({ where: masters.describe(a), said: r.said, code: r.code });
  }
  throw noneAnswered(what, misses);
}

/** `no master answered least-loaded: http://a:7480: ECONNREFUSED; http://b:7480: HTTP 503 STALE: …`. */
export function noneAnswered(what: string, misses: readonly Miss[]): LoadLedgerError {
  if (misses.length === 1) return new LoadLedgerError(misses[0]!.code, `${misses[0]!.where}: ${misses[0]!.said}`);
  const code = misses.every((m) => m.code === misses[0]?.code) ? misses[0]!.code : ErrorCode.MASTER_UNREACHABLE;
  return new LoadLedgerError(code, `no master ${what} (${misses.length} tried): ${misses.map((m) => `${m.where}: ${m.said}`).join('; ')}`);
}
