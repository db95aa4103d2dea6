import { isIP } from 'node:net';
import { isValidAddr } from '../protocol/push.js';

/** The longest node id taken in a path (a push's addr is a string of at most 256 bytes). */
const MAX_NODE_ID_BYTES = 256;

/** A node id as the table keys them: a push's addr (host or host:port), or a slave's IP. */
export function isNodeId(id: string): boolean {
  return Buffer.byteLength(id) <= MAX_NODE_ID_BYTES && (isValidAddr(id) || isIP(id) !== 0);
}
