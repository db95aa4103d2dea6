/**
 * The public Slave API: what a gateway that embeds a slave codes against (createSlave in
 * slave.ts returns one), its events and counters. The implementation is in connection.ts.
 */
import type { EventEmitter } from 'node:events';
import type { LoadLedgerError } from '../errors.js';
import type { HostPort } from '../util/hostport.js';

export interface ConnectInfo {
  host: string;
  port: number;
  localAddress: string | undefined;
  localPort: number | undefined;
}

export interface ReconnectInfo {
  /** Delay before the next attempt, ms (0: right away, the next master of the list). */
  delay: number;
  /** The master the next attempt goes to. */
  master: HostPort;
  /** Consecutive attempts that have failed (or connections that never proved alive). */
  attempt: number;
  /** Why the previous connection or attempt ended. */
  reason: string;
}

/** Events of a Slave, with their arguments. */
export interface SlaveEvents {
  /** A connection to a master is established (HELLO and a push follow at once); `host`/`port` say which. */
  connect: [info: ConnectInfo];
  /** An established connection ended; the slave reconnects unless it was closed. */
  disconnect: [reason: string];
  /** A PUSH_LOAD_INFO was written. */
  push: [load: number];
  /** The load source failed (emitted when it starts failing or its reason changes). Pushes stop until it recovers. */
  loadError: [err: LoadLedgerError];
  /** The load source works again after a failure; pushes resume. */
  loadRecovered: [load: number];
  /** Nothing came from the master for `deadAfter`: the connection is dropped. */
  masterDead: [silentMs: number];
  /** A reconnect is scheduled. */
  reconnecting: [info: ReconnectInfo];
  /**
   * A connection-level error (refused, reset, protocol error in the master's bytes). The
   * slave recovers by itself; this is only emitted when someone listens, so an unhandled
   * 'error' never crashes the process.
   */
  error: [err: Error];
}

/** Counters since the slave was created. */
export interface SlaveStats {
  /** Connections established. */
  connects: number;
  /** PUSH_LOAD_INFO frames written. */
  pushes: number;
  /** HELLO, HELLO_ACK or pushes not written because the socket was not draining. */
  skippedWrites: number;
  /** Load reads that failed. */
  loadErrors: number;
}

export interface Slave extends EventEmitter<SlaveEvents> {
  /** True while a connection to the master is established. */
  readonly connected: boolean;
  /** Counters (a copy). */
  readonly stats: SlaveStats;
  /** The master this slave talks to, or tries next. */
  readonly master: Readonly<HostPort>;
  /** Every master it was given, in their order (one, without HA). */
  readonly masters: readonly Readonly<HostPort>[];
  /**
   * Leaves: stops all timers, says GOODBYE (with `reason`, if given) so that the master marks
   * the node DOWN at once, and closes the connection; resolves once the socket is closed
   * (at most about a second when the master does not answer). Idempotent: a second call
   * returns the first one's promise.
   */
  close(options?: CloseOptions): Promise<void>;
}

export interface CloseOptions {
  /** Sent with the GOODBYE and recorded by the master (e.g. `SIGTERM`, `drained for deploy`); cut to 256 bytes. */
  reason?: string;
}
