/**
 * loadledger as a library: the slave for embedding in a gateway, the master for tests
 * and tools, and the pieces replay is made of.
 */
export { createSlave, type Slave, type SlaveOptions, type SlaveEvents, type SlaveTlsOptions, type CloseOptions } from './slave/slave.js';
export { parseLoadSource, type LoadSource } from './slave/load-sources.js';
export { Master, MASTER_DEFAULTS, type MasterOptions } from './node/master.js';
export { AdminToken, type HttpAuthOptions } from './http/auth.js';
export type { HttpTlsOptions } from './http/server.js';
export type { MasterTlsOptions, IdentityMap } from './master/tls.js';
export * from './protocol/index.js';
export * from './events.js';
export * from './projection/index.js';
export { LoadLedgerError, ErrorCode, isLoadLedgerError } from './errors.js';
export { EventLog } from '../storage/event-log.js';
export { Selector } from './node/selector.js';
export type { SelectorOptions } from './selection/selector.js';
export { POLICIES, DEFAULT_POLICY, type Policy } from './selection/policy.js';
export { QueryClient, type QueryClientOptions, type QueryTargets } from './client/query-client.js';
export { getFromAny, postToLeader, httpMasters, type MasterUrls, type MemberAnswer } from './client/http-masters.js';
export { Masters } from './client/masters.js';
