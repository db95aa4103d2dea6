import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { ErrorCode, badArgument, httpStatus } from '../errors.js';

/**
 * Who may call what on the HTTP API. Pure: takes the route's access class, the request's
 * Authorization header and the configuration; answers nothing (allowed) or the refusal.
 *
 * | access  | no token configured  | token                | token + openReads |
 * |---------|----------------------|----------------------|-------------------|
 * | open    | open                 | open                 | open              |
 * | read    | open                 | token                | open              |
 * | admin   | 403 ADMIN_DISABLED   | token                | token             |
 */

export { MIN_TOKEN_LENGTH, tokenProblem } from '../util/token.js';
import { tokenProblem } from '../util/token.js';

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/**
 * The master's admin token. Compares with its SHA-256, in constant time: digests of equal
 * length through crypto.timingSafeEqual, so neither the length nor a common prefix of a
 * guess shows in the answer's timing. The token itself is kept too, for one use: a standby
 * presents it to its leader (the members of a cluster share one token), whose reads may need
 * it. Both are private fields: they do not show in logs, `util.inspect` or JSON of the
 * options that carry them.
 */
export class AdminToken {
  readonly #digest: Buffer;
  readonly #token: string;

  /** Throws BAD_ARGUMENT (naming `what`, never the token) when `token` is unusable. */
  constructor(token: string, what = 'the admin token') {
    const problem = tokenProblem(token);
    if (problem) throw badArgument(`${what}: ${problem}`);
    this.#digest = digest(token);
    this.#token = token;
  }

  /** The token, to send as a bearer token to another member of the cluster (replication). */
  bearer(): string {
    return this.#token;
  }

  matches(presented: string): boolean {
    return timingSafeEqual(this.#digest, digest(presented));
  }

  toJSON(): string {
    return '[AdminToken]';
  }
}

export interface HttpAuthOptions {
  /** Without one, reads are open and admin endpoints answer 403 ADMIN_DISABLED. */
  token?: AdminToken | undefined;
  /** With a token: leave the read endpoints open (admin endpoints still need the token). */
  openReads?: boolean | undefined;
}

/** What a route needs: `open` (health checks), `read`, or `admin` (it changes something). */
export type Access = 'open' | 'read' | 'admin';

export interface Refusal {
  /** httpStatus(code): 401 or 403. */
  status: 401 | 403;
  code: ErrorCode;
  error: string;
  headers: Record<string, string>;
}

/** The token of an `Authorization: Bearer <token>` header (scheme case-insensitive). */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const m = /^bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return m ? m[1] : undefined;
}

/**
 * Undefined when the request may go on; else the answer. A refusal never contains what the
 * client presented.
 */
export function authorize(access: Access, authorization: string | undefined, auth: HttpAuthOptions, what: string): Refusal | undefined {
  if (access === 'open') return undefined;
  const { token } = auth;
  if (!token) {
    if (access === 'read') return undefined;
    return {
      status: httpStatus(ErrorCode.ADMIN_DISABLED),
      code: ErrorCode.ADMIN_DISABLED,
      error: `${what} is disabled: start the master with --admin-token-file to enable`,
      headers: {},
    };
  }
  if (access === 'read' && auth.openReads) return undefined;
  const presented = bearerToken(authorization);
  if (presented === undefined) {
    const error =
      authorization === undefined
        ? `${what} needs a token: send Authorization: Bearer <token>`
        : `${what} needs a token: the Authorization header is not "Bearer <token>"`;
    return {
      status: httpStatus(ErrorCode.UNAUTHORIZED),
      code: ErrorCode.UNAUTHORIZED,
      error,
      headers: { 'www-authenticate': 'Bearer realm="loadledger"' },
    };
  }
  if (token.matches(presented)) return undefined;
  return {
    status: httpStatus(ErrorCode.UNAUTHORIZED),
    code: ErrorCode.UNAUTHORIZED,
    error: `${what}: the bearer token is not valid`,
    headers: { 'www-authenticate': 'Bearer realm="loadledger", error="invalid_token"' },
  };
}

/** True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost). */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return isIP(v4) === 4 && v4.startsWith('127.');
}
