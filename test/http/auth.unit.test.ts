/**
 * Who may call what (src/http/auth.ts), without sockets: the access table, the bearer
 * header, what a token may be, and that a refusal or the token object never shows a token.
 */
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { AdminToken, authorize, bearerToken, isLoopback, tokenProblem, type Access, type HttpAuthOptions } from '../../src/http/auth.js';
import { ErrorCode } from '../../src/errors.js';
import { thrown } from '../helpers/errors.js';

const SECRET = 'kT9x-2vQ.pL7_mZ4~wR8';
const token = new AdminToken(SECRET);
const bearer = `Bearer ${SECRET}`;

type Outcome = 'ok' | 401 | 403;

function outcome(access: Access, header: string | undefined, auth: HttpAuthOptions): Outcome {
  const r = authorize(access, header, auth, 'X /y');
  return r ? r.status : 'ok';
}

describe('authorize: the access table', () => {
  // [access, configuration, header] → outcome
  const none: HttpAuthOptions = {};
  const closed: HttpAuthOptions = { token };
  const openReads: HttpAuthOptions = { token, openReads: true };
  it.each([
    ['open', none, undefined, 'ok'],
    ['open', closed, undefined, 'ok'],
    ['open', openReads, 'Bearer wrong-wrong-wrong-wrong', 'ok'],
    ['read', none, undefined, 'ok'],
    ['read', closed, undefined, 401],
    ['read', closed, 'Bearer wrong-wrong-wrong-wrong', 401],
    ['read', closed, bearer, 'ok'],
    ['read', openReads, undefined, 'ok'],
    ['admin', none, undefined, 403],
    ['admin', none, bearer, 403],
    ['admin', closed, undefined, 401],
    ['admin', closed, bearer, 'ok'],
    ['admin', openReads, undefined, 401],
    ['admin', openReads, 'Bearer wrong-wrong-wrong-wrong', 401],
    ['admin', openReads, bearer, 'ok'],
  ] as const)('%s, %o, header %j → %s', (access, auth, header, expected) => {
    expect(outcome(access, header, auth)).toBe(expected);
  });

  it('a missing token is 401 UNAUTHORIZED with WWW-Authenticate: Bearer; a wrong one says invalid_token', () => {
    const missing = authorize('read', undefined, { token }, 'GET /v1/state')!;
    expect(missing).toMatchObject({ status: 401, code: ErrorCode.UNAUTHORIZED });
    expect(missing.headers['www-authenticate']).toMatch(/^Bearer /);
    expect(missing.error).toMatch(/^GET \/v1\/state needs a token/);
    const wrong = authorize('read', 'Bearer not-the-token-at-all', { token }, 'GET /v1/state')!;
    expect(wrong).toMatchObject({ status: 401, code: ErrorCode.UNAUTHORIZED });
    expect(wrong.headers['www-authenticate']).toMatch(/^Bearer .*error="invalid_token"/);
  });

  it('admin without a configured token is 403 ADMIN_DISABLED, naming the flag that enables it', () => {
    const r = authorize('admin', undefined, {}, 'POST /v1/admin/snapshot')!;
    expect(r).toMatchObject({ status: 403, code: ErrorCode.ADMIN_DISABLED });
    expect(r.error).toContain('--admin-token-file');
  });

  it('never puts what was presented into a refusal', () => {
    for (const presented of [
      'Bearer presented-secret-1234567',
      'Basic presented-secret-1234567',
      'presented-secret-1234567',
      `Bearer ${SECRET}x`,
    ]) {
      const r = authorize('admin', presented, { token }, 'POST /v1/admin/snapshot')!;
      expect(r.status).toBe(401);
      expect(JSON.stringify(r)).not.toContain('presented-secret');
      expect(JSON.stringify(r)).not.toContain(SECRET);
    }
  });
});

describe('bearerToken', () => {
  it.each([
    ['Bearer abc', 'abc'],
    ['bearer abc', 'abc'],
    ['BEARER  abc ', 'abc'],
    ['Basic abc', undefined],
    ['Bearer', undefined],
    ['Bearer a b', undefined],
    ['abc', undefined],
    [undefined, undefined],
  ])('%j → %j', (header, token) => {
    expect(bearerToken(header)).toBe(token);
  });
});

describe('AdminToken', () => {
  it('matches exactly its token (not a prefix, an extension, or another case)', () => {
    expect(token.matches(SECRET)).toBe(true);
    expect(token.matches(SECRET.slice(0, -1))).toBe(false);
    expect(token.matches(`${SECRET}x`)).toBe(false);
    expect(token.matches(SECRET.toUpperCase())).toBe(false);
    expect(token.matches('')).toBe(false);
  });

  it('does not show the token in JSON, util.inspect or String()', () => {
    for (const shown of [
      JSON.stringify({ auth: { token } }),
      inspect({ auth: { token } }, { depth: 5, showHidden: true }),
      // eslint-disable-next-line @typescript-eslint/no-base-to-string -- String(token) is what this test is about
      String(token),
    ]) {
      expect(shown).not.toContain(SECRET);
    }
  });

  it.each([
    ['', /empty/],
    ['short-token', /shorter than 16/],
    ['has a space inside it', /printable ASCII without spaces/],
    ['line-one-is-long\nline-two-is-long', /printable ASCII/],
    ['ünïcödé-tøken-that-is-long', /printable ASCII/],
  ])('refuses %j (BAD_ARGUMENT, without quoting it)', (bad, why) => {
    const e = thrown(() => new AdminToken(bad, '--admin-token-file t'));
    expect(e.code).toBe(ErrorCode.BAD_ARGUMENT);
    expect(e.message).toMatch(why);
    expect(e.message.startsWith('--admin-token-file t: ')).toBe(true);
    if (bad !== '') expect(e.message).not.toContain(bad);
    expect(tokenProblem(bad)).toBeDefined();
  });
});

describe('isLoopback', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.8.9.10', true],
    ['::1', true],
    ['[::1]', true],
    ['::ffff:127.0.0.1', true],
    ['localhost', true],
    ['0.0.0.0', false],
    ['::', false],
    ['10.0.0.5', false],
    ['::ffff:10.0.0.5', false],
    ['128.0.0.1', false],
  ])('%s → %s', (host, loopback) => {
    expect(isLoopback(host)).toBe(loopback);
  });
});
