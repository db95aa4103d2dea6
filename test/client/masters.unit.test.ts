/**
 * The masters of a cluster as a client sees them (src/client/masters.ts): the order reads
 * and writes try them in, what counts as a miss, and the one line when none answered. The
 * lists given by a person (--master, --http, --binary) and their mistakes.
 */
import { describe, expect, it } from 'vitest';
import { parseMasterUrls, readCredentials } from '../../src/client/http-client.js';
import { describeUrl, httpMasters } from '../../src/client/http-masters.js';
import { Masters, firstAnswer, unreachableError, type Attempt } from '../../src/client/masters.js';
import { ErrorCode, LoadLedgerError } from '../../src/errors.js';
import { formatHostPort, parseHostPortList } from '../../src/util/hostport.js';
import { errorOf, thrown } from '../helpers/errors.js';

const cluster = (...names: string[]): Masters<string> => new Masters(names, (n) => n);

describe('Masters', () => {
  it('reads try the one that answered last first, then the others in the order given', () => {
    const m = cluster('a', 'b', 'c');
    expect(m.readOrder()).toEqual(['a', 'b', 'c']);
    m.answered('c');
    expect(m.readOrder()).toEqual(['c', 'a', 'b']);
    m.answered('b');
    expect(m.readOrder()).toEqual(['b', 'a', 'c']);
  });

  it('writes try the last leader first; a read elsewhere does not move it', () => {
    const m = cluster('a', 'b', 'c');
    m.led('b');
    m.answered('c');
    expect(m.writeOrder()).toEqual(['b', 'a', 'c']);
    expect(m.readOrder()).toEqual(['c', 'a', 'b']);
  });

  it('a write with no leader known yet starts where the last read was answered', () => {
    const m = cluster('a', 'b');
    m.answered('b');
    expect(m.writeOrder()).toEqual(['b', 'a']);
  });

  it('refuses an empty list', () => {
    expect(thrown(() => new Masters([], String)).code).toBe(ErrorCode.BAD_ARGUMENT);
  });
});

describe('firstAnswer', () => {
  const down = (where: string) => () => Promise.reject(unreachableError(where, 'ECONNREFUSED'));
  const refuses =
    (code: ErrorCode, said: string): (() => Promise<Attempt<string>>) =>
    () =>
      Promise.resolve({ ok: false, code, said });
  const answers =
    (v: string): (() => Promise<Attempt<string>>) =>
    () =>
      Promise.resolve({ ok: true, value: v });

  it('skips members that cannot be reached or refuse, and says who answered', async () => {
    const m = cluster('a', 'b', 'c');
    const by: Record<string, () => Promise<Attempt<string>>> = {
      a: down('a'),
      b: refuses(ErrorCode.STALE, 'HTTP 503 STALE: 900 ms behind'),
      c: answers('ok'),
    };
    const asked: string[] = [];
    const r = await firstAnswer(m, m.readOrder(), 'answered', (x) => (asked.push(x), by[x]!()));
    expect(r).toEqual({ member: 'c', value: 'ok' });
    expect(asked).toEqual(['a', 'b', 'c']);
  });

  it('none answered: one line naming each member and what it said, MASTER_UNREACHABLE when they differ', async () => {
    const m = cluster('http://a:7480', 'http://b:7480');
    const by: Record<string, () => Promise<Attempt<string>>> = {
      'http://a:7480': down('http://a:7480'),
      'http://b:7480': refuses(ErrorCode.NOT_LEADER, 'HTTP 503 NOT_LEADER: a standby'),
    };
    const e = await errorOf(firstAnswer(m, m.readOrder(), 'leads', (x) => by[x]!()));
    expect(e.code).toBe(ErrorCode.MASTER_UNREACHABLE);
    expect(e.message).toBe(
      'no master leads (2 tried): http://a:7480: unreachable (ECONNREFUSED); http://b:7480: HTTP 503 NOT_LEADER: a standby',
    );
    expect(e.message).not.toContain('\n');
  });

  it('none answered with one code: that code', async () => {
    const m = cluster('a', 'b');
    const e = await errorOf(firstAnswer(m, m.readOrder(), 'leads', refuses(ErrorCode.NOT_LEADER, 'HTTP 503 NOT_LEADER')));
    expect(e.code).toBe(ErrorCode.NOT_LEADER);
  });

  it('an error that is not about reaching the member ends the search (a bad token is bad everywhere)', async () => {
    const m = cluster('a', 'b');
    const asked: string[] = [];
    const e = await errorOf(
      firstAnswer(m, m.readOrder(), 'answered', (x) => {
        asked.push(x);
        return Promise.reject(new LoadLedgerError(ErrorCode.UNAUTHORIZED, 'refused the token'));
      }),
    );
    expect(e.code).toBe(ErrorCode.UNAUTHORIZED);
    expect(asked).toEqual(['a']);
  });

  it('one member: its own error, word for word', async () => {
    const m = cluster('http://a:7480');
    const e = await errorOf(firstAnswer(m, m.readOrder(), 'answered', down('http://a:7480')));
    expect(e.message).toBe('master unreachable at http://a:7480 (ECONNREFUSED)');
  });
});

describe('address lists given by a person', () => {
  it('--master a:7400,b,[::1]:7401: each as host:port (port 7400 by default)', () => {
    expect(parseHostPortList('a:7400, b ,[::1]:7401', '--master', { defaultPort: 7400 })).toEqual([
      { host: 'a', port: 7400 },
      { host: 'b', port: 7400 },
      { host: '::1', port: 7401 },
    ]);
    expect(parseHostPortList(['a', 'b:1'], '--master', { defaultPort: 7400 }).map(formatHostPort)).toEqual(['a:7400', 'b:1']);
  });

  it.each([
    ['a:7400,,b:7400', /^--master: address 2 of 3 is empty/],
    ['a:7400,', /^--master: address 2 of 2 is empty/],
    ['a:7400,A:7400', /^--master: A:7400 is listed twice$/],
    ['a:7400,b:99999', /^--master: expected host or host:port/],
    ['', /^--master: address 1 of 1 is empty/],
  ])('refuses %j in one line', (s, re) => {
    const e = thrown(() => parseHostPortList(s, '--master', { defaultPort: 7400 }));
    expect(e.code).toBe(ErrorCode.BAD_ARGUMENT);
    expect(e.message).toMatch(re);
    expect(e.message).not.toContain('\n');
  });

  it('--http http://a:7480,https://b:7480/ll: URLs in their order', () => {
    expect(parseMasterUrls('http://a:7480, https://b:7480/ll').map(describeUrl)).toEqual(['http://a:7480', 'https://b:7480/ll']);
    expect(httpMasters('http://a:7480,http://b:7480').all.map(describeUrl)).toEqual(['http://a:7480', 'http://b:7480']);
  });

  it.each([
    ['http://a:7480,,http://b:7480', /^--http: URL 2 of 3 is empty/],
    ['http://a:7480,http://a:7480/', /^--http: http:\/\/a:7480 is listed twice$/],
    ['http://a:7480,b:7480', /^--http: expected an http:\/\/ URL/],
    ['http://a:7480,not a url', /^--http: expected a URL like/],
  ])('refuses %j in one line', (s, re) => {
    const e = thrown(() => parseMasterUrls(s));
    expect(e.code).toBe(ErrorCode.BAD_ARGUMENT);
    expect(e.message).toMatch(re);
  });

  it('--ca with a list: refused only when no URL is https://', () => {
    expect(thrown(() => readCredentials({ ca: '/nonexistent' }, parseMasterUrls('http://a:1,http://b:2'), {})).message).toBe(
      '--ca: applies to https:// URLs only, got http://a:1, http://b:2',
    );
    expect(thrown(() => readCredentials({ ca: '/nonexistent' }, parseMasterUrls('http://a:1,https://b:2'), {})).message).not.toMatch(
      /applies to https/,
    );
  });
});
