/**
 * What `loadledger slave` says on stderr about its slave: connects, disconnects, reconnects,
 * the load source failing and recovering. With `-q` only failures.
 */
import type { Slave } from '../slave/slave.js';
import { TLS_REASON_PREFIX } from '../slave/tls.js';

export interface SlaveReportOptions {
  /** `-q`: only failures. */
  quiet: boolean;
  /** Writes one line (without its newline) to stderr. */
  write: (line: string) => void;
}

/** Wires the slave's events to lines `loadledger slave: …`. */
export function reportSlave(slave: Slave, opts: SlaveReportOptions): void {
  const line = (s: string): void => opts.write(`loadledger slave: ${s}`);
  const say = (s: string): void => {
    if (!opts.quiet) line(s);
  };
  const m = `${slave.master.host}:${slave.master.port}`;
  // A TLS failure repeats on every reconnect: each kind is said once (even with -q),
  // until a connection works again (the backoff starts over: attempt 1).
  const tlsShown = new Set<string>();
  slave.on('connect', () => {
    if (tlsShown.size === 0) say(`connected to ${m}`);
  });
  slave.on('disconnect', (reason) => {
    if (!reason.startsWith(TLS_REASON_PREFIX)) say(`disconnected from ${m}: ${reason}`);
  });
  slave.on('masterDead', (ms) => say(`master silent for ${ms}ms, reconnecting`));
  slave.on('reconnecting', (r) => {
    if (r.attempt === 1) tlsShown.clear();
    if (!r.reason.startsWith(TLS_REASON_PREFIX)) say(`reconnecting in ${r.delay}ms (${r.reason})`);
    else if (!tlsShown.has(r.reason)) {
      tlsShown.add(r.reason);
      line(`${r.reason}; retrying with backoff (said once)`);
    }
  });
  slave.on('loadError', (e) => line(`load source failed, not pushing until it recovers: ${e.message}`));
  slave.on('loadRecovered', (load) => say(`load source recovered (${load}), pushing again`));
  slave.on('error', () => {});
}
