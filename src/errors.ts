/**
 * Every error loadledger raises on purpose carries a stable string `code`.
 * Codes never change between versions; messages may. Tests assert codes.
 *
 * ERRORS is the one table: each code's HTTP status (what an endpoint answers with it) and
 * CLI exit code (what `loadledger` exits with when it dies of it). No call site picks a
 * status or an exit code of its own: they ask httpStatus() and exitCode(). Wire-protocol
 * codes never travel over HTTP; their status is what they would mean there (400).
 * docs/errors.md lists the same codes (test/errors.unit.test.ts checks it).
 */
const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

interface ErrorSpec {
  /** The HTTP status an answer with this code has. */
  readonly status: number;
  /** Only SEQ_OUT_OF_RANGE: the status when the seq asked for is after the last one (416), not before the oldest (410). */
  readonly aheadStatus?: number;
  /** The CLI's exit code: 2 for bad usage (a flag, an argument), 1 for a failure at run time. */
  readonly exit: typeof EXIT_FAILURE | typeof EXIT_USAGE;
  /** One line for docs/errors.md. */
  readonly summary: string;
}

const wire = (summary: string): ErrorSpec => ({ status: 400, exit: EXIT_FAILURE, summary });

export const ERRORS = {
  // wire protocol (recorded as ProtocolViolated events, never thrown out of a socket handler)
  FRAME_TOO_LARGE: wire('a frame longer than the protocol allows'),
  PUSH_NOT_MAP: wire('a PUSH_LOAD_INFO payload that is not a map'),
  PUSH_MALFORMED: wire('a PUSH_LOAD_INFO payload that does not decode'),
  PUSH_BAD_KEY: wire('a PUSH_LOAD_INFO with a missing or invalid node key'),
  PUSH_BAD_LOAD: wire('a PUSH_LOAD_INFO with a missing or invalid load'),
  PUSH_BAD_CAPACITY: wire('a PUSH_LOAD_INFO with an invalid capacity'),
  PUSH_BAD_ADDR: wire('a PUSH_LOAD_INFO with an invalid address'),
  PUSH_BAD_ATTR: wire('a PUSH_LOAD_INFO with an invalid attribute'),
  PUSH_TOO_MANY_ATTRS: wire('a PUSH_LOAD_INFO with more attributes than allowed'),
  PUSH_KEY_TOO_LONG: wire('an attribute key longer than allowed'),
  PUSH_VALUE_TOO_LONG: wire('an attribute value longer than allowed'),
  /** A control or bidi character (src/protocol/names.ts) in `addr` or an attribute key or value. */
  PUSH_CONTROL_CHARACTER: wire('a PUSH_LOAD_INFO whose addr or an attribute key or value holds a control or bidi character'),
  PUSH_ADDR_CHANGED: wire('a node pushed a different address on the same connection'),
  /** A TLS slave pushed for a node id its certificate does not permit. */
  NODE_NOT_PERMITTED: wire('a TLS slave pushed for a node id its certificate does not permit'),
  /** A GOODBYE whose payload is neither empty nor a valid map with a string `reason`. */
  GOODBYE_MALFORMED: wire('a GOODBYE whose payload is neither empty nor a map with a string reason'),
  QUERY_MALFORMED: wire('a binary QUERY that does not decode'),
  WRITE_BACKLOG: { status: 503, exit: EXIT_FAILURE, summary: 'a slave connection was closed: the event log fell too far behind' },
  TOO_MANY_SLAVES: { status: 503, exit: EXIT_FAILURE, summary: 'a slave connection was refused: the master has as many as it takes' },
  /** --listen or --http: another process has the port (a run-time failure: exit 1). */
  ADDRESS_IN_USE: { status: 500, exit: EXIT_FAILURE, summary: '--listen or --http: another process has the port' },
  // storage
  LOG_LOCKED: { status: 500, exit: EXIT_FAILURE, summary: 'another process has the event log open' },
  /** The process may not read or write a path it was given (EACCES, EPERM): the message names it. */
  PERMISSION_DENIED: {
    status: 500,
    exit: EXIT_FAILURE,
    summary: 'the process may not read or write a file or directory it was given: the message names it',
  },
  /** replay/verify/export --data at a directory without a log: the person's input, so exit 2 like `--file missing`. */
  LOG_NOT_FOUND: { status: 500, exit: EXIT_USAGE, summary: 'no event log in the directory given' },
  LOG_FORMAT_UNSUPPORTED: { status: 500, exit: EXIT_FAILURE, summary: 'the event log was written in a format this version does not read' },
  LOG_CORRUPT: {
    status: 500,
    exit: EXIT_FAILURE,
    summary: 'the event log is damaged (a checksum, a gap, records LevelDB dropped): the message names the seqs',
  },
  LOG_WRITE_FAILED: { status: 500, exit: EXIT_FAILURE, summary: 'the event log refused a write (disk full, I/O error)' },
  SEQ_OUT_OF_RANGE: {
    status: 410,
    aheadStatus: 416,
    exit: EXIT_FAILURE,
    summary: 'a seq before the oldest retained event (410) or after the last one (416)',
  },
  // export files
  FILE_TRUNCATED: { status: 500, exit: EXIT_FAILURE, summary: 'an export file ends early' },
  FILE_CORRUPT: { status: 500, exit: EXIT_FAILURE, summary: 'an export file does not decode' },
  FILE_FORMAT_UNSUPPORTED: { status: 500, exit: EXIT_FAILURE, summary: 'an export file in a format this version does not read' },
  // people: flags, HTTP parameters
  BAD_ARGUMENT: { status: 400, exit: EXIT_USAGE, summary: 'a flag, config key, environment variable or HTTP parameter we cannot use' },
  NOT_FOUND: { status: 404, exit: EXIT_FAILURE, summary: 'no such endpoint, or no such node' },
  METHOD_NOT_ALLOWED: { status: 405, exit: EXIT_FAILURE, summary: 'the endpoint exists but not for this HTTP method' },
  NO_ELIGIBLE_NODE: { status: 503, exit: EXIT_FAILURE, summary: 'no node is eligible (or none matches the filter)' },
  /** The master cannot write its log (disk full, I/O error): it answers nothing from its table until it recovers. */
  MASTER_DOWN: {
    status: 503,
    exit: EXIT_FAILURE,
    summary: 'the master cannot write its event log: it answers nothing from its table until it recovers',
  },
  /** Master HA: a read with `?max-lag=` on a standby further behind than that. */
  STALE: { status: 503, exit: EXIT_FAILURE, summary: 'a standby is further behind its leader than the max-lag the read asked for' },
  /** Master HA: a write (drain) or `GET /v1/leader` on a master that does not lead. */
  NOT_LEADER: { status: 503, exit: EXIT_FAILURE, summary: 'this master is not the leader of its cluster (writes go to the leader)' },
  MASTER_UNREACHABLE: { status: 502, exit: EXIT_FAILURE, summary: 'the CLI could not reach the master' },
  /** An HTTP endpoint that needs the admin token got none, or a wrong one (401). */
  UNAUTHORIZED: { status: 401, exit: EXIT_FAILURE, summary: 'an endpoint that needs the token got none, or a wrong one' },
  /** A changing HTTP endpoint of a master started without --admin-token-file (403). */
  ADMIN_DISABLED: { status: 403, exit: EXIT_FAILURE, summary: 'a changing endpoint of a master started without --admin-token-file' },
  /** A master's event stream broke off: it ended early, skipped a seq, or cut off a client that fell behind. */
  EVENT_STREAM_BROKEN: {
    status: 500,
    exit: EXIT_FAILURE,
    summary: "a master's event stream ended early, skipped a seq, or cut off a client that took nothing for --follow-stall-timeout",
  },
  /** `GET /v1/events?follow=1` on a master that already serves --max-followers live tails. */
  TOO_MANY_FOLLOWERS: { status: 503, exit: EXIT_FAILURE, summary: 'a live tail (/v1/events?follow=1) beyond --max-followers' },
  /** A time-travel query (`/v1/state?at=`, `/v1/diff`, `/v1/nodes/{id}/history`) beyond the few a master answers at once. */
  TIME_TRAVEL_BUSY: {
    status: 503,
    exit: EXIT_FAILURE,
    summary: 'a time-travel query (/v1/state?at=, /v1/diff, history) beyond the few a master folds at once',
  },
  LOAD_SOURCE_FAILED: { status: 502, exit: EXIT_FAILURE, summary: 'a slave could not read its load source' },
  /** A bug: an exception nobody raised on purpose, answered as 500. */
  INTERNAL: { status: 500, exit: EXIT_FAILURE, summary: 'an unexpected failure (a bug): the message says what' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;
/** The codes by name (ErrorCode.LOG_CORRUPT === 'LOG_CORRUPT'). */
export const ErrorCode = Object.freeze(Object.fromEntries(Object.keys(ERRORS).map((c) => [c, c]))) as { readonly [C in ErrorCode]: C };

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERRORS, code);
}

/** The HTTP status an answer with `code` has (`ahead`: a seq after the last one, for SEQ_OUT_OF_RANGE). */
export function httpStatus<C extends ErrorCode>(code: C): (typeof ERRORS)[C]['status'];
export function httpStatus(code: ErrorCode, ahead: boolean): number;
export function httpStatus(code: ErrorCode, ahead = false): number {
  const spec: ErrorSpec = ERRORS[code];
  return ahead && spec.aheadStatus !== undefined ? spec.aheadStatus : spec.status;
}

/** The exit code of a CLI that dies of `code` (an unknown code or none: a failure at run time). */
export function exitCode(code: string | undefined): 1 | 2 {
  return isErrorCode(code) ? ERRORS[code].exit : EXIT_FAILURE;
}

/** A range of seqs; `to` absent when its end is not known. */
export interface SeqRange {
  from: number;
  to?: number;
}

export class LoadLedgerError extends Error {
  override readonly name = 'LoadLedgerError';
  /** The seqs the error is about: for LOG_CORRUPT, the damaged range. */
  readonly seqs: SeqRange | undefined;
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown; seqs?: SeqRange },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.seqs = options?.seqs;
  }
}

/** A person gave us something we cannot use (a flag, a parameter). */
export function badArgument(message: string): LoadLedgerError {
  return new LoadLedgerError(ErrorCode.BAD_ARGUMENT, message);
}

export function isLoadLedgerError(e: unknown): e is LoadLedgerError {
  return e instanceof LoadLedgerError;
}
