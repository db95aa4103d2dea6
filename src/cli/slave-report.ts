/**
 * What `loadledger slave` says on stderr about its slave: connects, disconnects, reconnects,
 * the load source failing and recovering. With `-q` only failures: a failure to connect (or
 * a connection lost) at most once per REPORT_FAILURES_EVERY, counting the attempts in
 * between; a TLS failure once per kind; every load-source failure.
 */
import { printable } from '../format/text.js';
import type { Slave } from '../slave/slave.js';
import { TLS_REASON_PREFIX } from '../slave/tls.js';
import { formatDuration } from '../util/duration.js';
import { formatHostPort } from '../util/hostport.js';

/** `-q`: at most one line about failing to connect this often (ms). */
export const REPORT_FAILURES_EVERY = 10_000;

export interface SlaveReportOptions {
  /** `-q`: only failures. */
  quiet: boolean;
  /** Writes one line (without its newline) to stderr. */
  write: (line: string) => void;
  /** Monotonic milliseconds (the slave's scheduler), for the rate limit of -q's failure lines. */
  now: () => number;
}

/**
 * A rate limit for repeated failure lines, with the time passed in: the first failure is
 * said at once, the next ones at most once per `every`, each line counting the failures since
 * the last one said.
 */
export class FailureLines {
  private saidAt: number | undefined;
  private notSaid = 0;

  constructor(private readonly every: number) {}

  /** A failure at `now`: undefined to say nothing, else how many it sums up (with this one) and over how long. */
  failed(now: number): { first: boolean; count: number; over: number } | undefined {
    if (this.saidAt !== undefined && now - this.saidAt < this.every) {
      this.notSaid++;
      return undefined;
    }
    const said = { first: this.saidAt === undefined, count: this.notSaid + 1, over: this.saidAt === undefined ? 0 : now - this.saidAt };
    this.saidAt = now;
    this.notSaid = 0;
    return said;
  }
}

/** Wires the slave's events to lines `loadledger slave: …`. */
export function reportSlave(slave: Slave, opts: SlaveReportOptions): void {
  const line = (s: string): void => opts.write(`loadledger slave: ${printable(s)}`);
  const say = (s: string): void => {
    if (!opts.quiet) line(s);
  };
  // With a cluster's list: the master it talks to (or tried last) changes.
  const list = slave.masters.length > 1;
  let m = formatHostPort(slave.master);
  // A TLS failure repeats on every reconnect: each kind is said once (even with -q),
  // until a connection works again (the backoff starts over: attempt 1).
  const tlsShown = new Set<string>();
  slave.on('connect', (info) => {
    m = formatHostPort(info);
    if (tlsShown.size === 0) say(`connected to ${m}`);
  });
  slave.on('disconnect', (reason) => {
    if (!reason.startsWith(TLS_REASON_PREFIX)) say(`disconnected from ${m}: ${reason}`);
  });
  slave.on('masterDead', (ms) => say(`master silent for ${ms}ms, reconnecting`));
  // -q: a failure to connect (or a lost connection: whatever makes it reconnect) is said,
  // rate-limited; without -q every reconnect is said anyway.
  const failures = new FailureLines(REPORT_FAILURES_EVERY);
  slave.on('reconnecting', (r) => {
    const failed = m; // the attempt (or connection) that just ended
    m = formatHostPort(r.master);
    const where = list ? `${failed} (of ${slave.masters.map(formatHostPort).join(', ')})` : failed;
    if (r.attempt === 1) tlsShown.clear();
    if (!r.reason.startsWith(TLS_REASON_PREFIX)) {
      if (!opts.quiet) return say(`reconnecting${list ? ` to ${m}` : ''} in ${r.delay}ms (${r.reason})`);
      const said = failures.failed(opts.now());
      if (said?.first) line(`cannot connect to ${where}: ${r.reason}; retrying`);
      else if (said)
        line(
          `still cannot connect to ${where} (${said.count} failed attempts in the last ${formatDuration(said.over)}): ${r.reason}; retrying`,
        );
    } else if (!tlsShown.has(r.reason)) {
      tlsShown.add(r.reason);
      line(`${r.reason}; retrying with backoff (said once)`);
    }
  });
  slave.on('loadError', (e) => line(`load source failed, not pushing until it recovers: ${e.message}`));
  slave.on('loadRecovered', (load) => say(`load source recovered (${load}), pushing again`));
  slave.on('error', () => {});
}
