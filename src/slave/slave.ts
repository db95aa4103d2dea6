/**
 * The slave, as a gateway embeds it: `createSlave(options)` connects to the master and keeps
 * reporting the load until `close()`.
 *
 * - api.ts: the Slave interface, its events and counters (what a caller codes against);
 * - options.ts: the options and their checks (BAD_ARGUMENT before anything connects);
 * - connection.ts: the connection to the master, liveness and reconnects;
 * - backoff.ts: where and when it reconnects (each master once, then passes with backoff);
 *   load-loop.ts: sampling the load; load-sources.ts:
 *   where it comes from; tls.ts: TLS to the master.
 */
import type { Slave } from './api.js';
import { SlaveImpl } from './connection.js';
import { resolveOptions, type SlaveOptions } from './options.js';

export type { CloseOptions, ConnectInfo, ReconnectInfo, Slave, SlaveEvents, SlaveStats } from './api.js';
export type { BackoffOptions } from './backoff.js';
export type { LoadFunction } from './load-loop.js';
export { DEFAULT_MASTER_PORT, type DurationInput, type SlaveOptions } from './options.js';
export type { SlaveTlsOptions } from './tls.js';

/**
 * Creates a slave and starts connecting at once.
 *
 * @throws LoadLedgerError BAD_ARGUMENT for an invalid option (one line naming it).
 */
export function createSlave(options: SlaveOptions): Slave {
  return new SlaveImpl(resolveOptions(options));
}
