/**
 * Every error loadledger raises on purpose carries a stable string `code`.
 * Codes never change between versions; messages may. Tests assert codes.
 * The full list is in README.md ("Error codes").
 */
export const ErrorCode = {
  // wire protocol (recorded as ProtocolViolated events, never thrown out of a socket handler)
  FRAME_TOO_LARGE: 'FRAME_TOO_LARGE',
  PUSH_NOT_MAP: 'PUSH_NOT_MAP',
  PUSH_MALFORMED: 'PUSH_MALFORMED',
  PUSH_BAD_KEY: 'PUSH_BAD_KEY',
  PUSH_BAD_LOAD: 'PUSH_BAD_LOAD',
  PUSH_BAD_CAPACITY: 'PUSH_BAD_CAPACITY',
  PUSH_BAD_ADDR: 'PUSH_BAD_ADDR',
  PUSH_BAD_ATTR: 'PUSH_BAD_ATTR',
  PUSH_TOO_MANY_ATTRS: 'PUSH_TOO_MANY_ATTRS',
  PUSH_KEY_TOO_LONG: 'PUSH_KEY_TOO_LONG',
  PUSH_VALUE_TOO_LONG: 'PUSH_VALUE_TOO_LONG',
  PUSH_ADDR_CHANGED: 'PUSH_ADDR_CHANGED',
  /** A TLS slave pushed for a node id its certificate does not permit. */
  NODE_NOT_PERMITTED: 'NODE_NOT_PERMITTED',
  /** A GOODBYE whose payload is neither empty nor a valid map with a string `reason`. */
  GOODBYE_MALFORMED: 'GOODBYE_MALFORMED',
  QUERY_MALFORMED: 'QUERY_MALFORMED',
  WRITE_BACKLOG: 'WRITE_BACKLOG',
  TOO_MANY_SLAVES: 'TOO_MANY_SLAVES',
  /** --listen or --http: another process has the port (a run-time failure: exit 1). */
  ADDRESS_IN_USE: 'ADDRESS_IN_USE',
  // storage
  LOG_LOCKED: 'LOG_LOCKED',
  LOG_NOT_FOUND: 'LOG_NOT_FOUND',
  LOG_FORMAT_UNSUPPORTED: 'LOG_FORMAT_UNSUPPORTED',
  LOG_CORRUPT: 'LOG_CORRUPT',
  LOG_WRITE_FAILED: 'LOG_WRITE_FAILED',
  SEQ_OUT_OF_RANGE: 'SEQ_OUT_OF_RANGE',
  // export files
  FILE_TRUNCATED: 'FILE_TRUNCATED',
  FILE_CORRUPT: 'FILE_CORRUPT',
  FILE_FORMAT_UNSUPPORTED: 'FILE_FORMAT_UNSUPPORTED',
  // people: flags, HTTP parameters
  BAD_ARGUMENT: 'BAD_ARGUMENT',
  NOT_FOUND: 'NOT_FOUND',
  NO_ELIGIBLE_NODE: 'NO_ELIGIBLE_NODE',
  /** The master cannot write its log (disk full, I/O error): it answers nothing from its table until it recovers. */
  MASTER_DOWN: 'MASTER_DOWN',
  MASTER_UNREACHABLE: 'MASTER_UNREACHABLE',
  /** An HTTP endpoint that needs the admin token got none, or a wrong one (401). */
  UNAUTHORIZED: 'UNAUTHORIZED',
  /** A changing HTTP endpoint of a master started without --admin-token-file (403). */
  ADMIN_DISABLED: 'ADMIN_DISABLED',
  /** A master's event stream broke off: it ended early, skipped a seq, or cut off a client that fell behind. */
  EVENT_STREAM_BROKEN: 'EVENT_STREAM_BROKEN',
  LOAD_SOURCE_FAILED: 'LOAD_SOURCE_FAILED',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class LoadLedgerError extends Error {
  override readonly name = 'LoadLedgerError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A person gave us something we cannot use (a flag, a parameter). */
export function badArgument(message: string): LoadLedgerError {
  return new LoadLedgerError(ErrorCode.BAD_ARGUMENT, message);
}

export function isLoadLedgerError(e: unknown): e is LoadLedgerError {
  return e instanceof LoadLedgerError;
}
