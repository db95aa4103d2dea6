/**
 * The flags that name secret and certificate files, read in-process (src/cli/secrets.ts,
 * http-security.ts, http-client.ts readCredentials): every refusal is BAD_ARGUMENT with
 * one line naming the flag and the file, and never what the file holds. Certificates are
 * made at test time (test/helpers/certs.ts). The CLI's exit 2 for them is in
 * test/e2e/http-security.int.test.ts.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpSecurity, type HttpSecurityFlags } from '../../src/cli/http-security.js';
import { readCredentials, type CredentialFlags } from '../../src/client/http-client.js';
import { openSource } from '../../replay/sources.js';
import { ErrorCode } from '../../src/errors.js';
import { Pki, type CertFiles } from '../helpers/certs.js';
import { Cleanup } from '../helpers/cleanup.js';
import { codeOf, thrown } from '../helpers/errors.js';

const SECRET = 'sec-Yb4.Nq9_Fw2~Kp7-Lc';
const suite = new Cleanup();
let cert: CertFiles;
let encryptedKey: string;
const f = { token: '', short: '', empty: '', twoLines: '', spaced: '', notPem: '', otherKey: '', dir: '' };

beforeAll(async () => {
  const pki = await Pki.create(suite);
  cert = pki.issue('127.0.0.1', { san: ['IP:127.0.0.1'], usage: 'server' });
  f.otherKey = pki.issue('someone-else').key;
  f.dir = await suite.tempDir('loadledger-secrets-');
  const put = (name: string, text: string): string => {
    const p = join(f.dir, name);
    writeFileSync(p, text, { mode: 0o600 });
    return p;
  };
  f.token = put('token', `  ${SECRET}\r\n`);
  f.short = put('short', 'tiny-Tok3n\n');
  f.empty = put('empty', '  \n');
  f.twoLines = put('two-lines', `${SECRET}\n${SECRET}\n`);
  f.spaced = put('spaced', `${SECRET} ${SECRET}\n`);
  f.notPem = put('not-pem', 'hello, I am not a certificate\n');
  // An encrypted key: what `openssl genpkey -aes256` gives; the master cannot use it unattended.
  const { generateKeyPairSync } = await import('node:crypto');
  const { privateKey } = generateKeyPairSync('ec', {
    namedCurve: 'P-256',
    privateKeyEncoding: { type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  encryptedKey = put('encrypted.key', privateKey);
});
afterAll(() => suite.run());

/** The BAD_ARGUMENT message of `fn`, checked to show none of the files' content. */
function refusal(fn: () => unknown): string {
  const e = thrown(fn);
  expect(e.code).toBe(ErrorCode.BAD_ARGUMENT);
  expect(e.message).not.toContain('\n');
  for (const text of [SECRET, 'tiny-Tok3n', 'PRIVATE KEY', 'BEGIN CERTIFICATE', 'I am not a certificate'])
    expect(e.message).not.toContain(text);
  return e.message;
}

const http = { host: '127.0.0.1', port: 0 };

describe('the master: httpSecurity(flags)', () => {
  const sec = (flags: Partial<HttpSecurityFlags>) => httpSecurity({ http, ...flags });

  it('reads a good certificate, key and token; nothing given is nothing set', () => {
    const s = sec({ httpTlsCert: cert.cert, httpTlsKey: cert.key, adminTokenFile: f.token, openReads: true });
    expect(s.httpTls?.cert.toString()).toContain('BEGIN CERTIFICATE');
    expect(s.auth?.openReads).toBe(true);
    // the token is trimmed (a final newline, CRLF, leading blanks) and kept only as a digest
    expect(s.auth?.token?.matches(SECRET)).toBe(true);
    expect(JSON.stringify(s.auth)).not.toContain(SECRET);
    expect(sec({})).toEqual({});
  });

  it.each<[string, () => Partial<HttpSecurityFlags>, RegExp]>([
    ['cert without key', () => ({ httpTlsCert: cert.cert }), /^--http-tls-cert needs --http-tls-key: give both or neither$/],
    ['key without cert', () => ({ httpTlsKey: cert.key }), /^--http-tls-key needs --http-tls-cert: give both or neither$/],
    [
      'missing cert file',
      () => ({ httpTlsCert: join(f.dir, 'nope.crt'), httpTlsKey: cert.key }),
      /^--http-tls-cert \S+nope\.crt: no such file$/,
    ],
    ['a directory as cert', () => ({ httpTlsCert: f.dir, httpTlsKey: cert.key }), /^--http-tls-cert \S+: is a directory, not a file$/],
    ['the key as cert', () => ({ httpTlsCert: cert.key, httpTlsKey: cert.key }), /^--http-tls-cert \S+: not a PEM certificate/],
    ['text as cert', () => ({ httpTlsCert: f.notPem, httpTlsKey: cert.key }), /^--http-tls-cert \S+: not a PEM certificate/],
    ['the cert as key', () => ({ httpTlsCert: cert.cert, httpTlsKey: cert.cert }), /^--http-tls-key \S+: not a PEM private key$/],
    ['an encrypted key', () => ({ httpTlsCert: cert.cert, httpTlsKey: encryptedKey }), /^--http-tls-key \S+: the key is encrypted/],
    [
      'another certificate’s key',
      () => ({ httpTlsCert: cert.cert, httpTlsKey: f.otherKey }),
      /^--http-tls-key \S+ is not the key of the certificate in --http-tls-cert \S+$/,
    ],
    ['a short token', () => ({ adminTokenFile: f.short }), /^--admin-token-file \S+short: the token is shorter than 16 characters$/],
    ['an empty token', () => ({ adminTokenFile: f.empty }), /^--admin-token-file \S+: it is empty$/],
    [
      'two lines',
      () => ({ adminTokenFile: f.twoLines }),
      /^--admin-token-file \S+: more than one line; a token file holds the token alone, on one line$/,
    ],
    ['a space inside', () => ({ adminTokenFile: f.spaced }), /^--admin-token-file \S+: a token is one line/],
    ['a missing token file', () => ({ adminTokenFile: join(f.dir, 'nope') }), /^--admin-token-file \S+nope: no such file$/],
    ['--open-reads alone', () => ({ openReads: true }), /^--open-reads goes with --admin-token-file/],
    [
      '--no-http with a token',
      () => ({ http: false, adminTokenFile: f.token }),
      /^--admin-token-file applies to the HTTP API, which --no-http turns off$/,
    ],
    [
      '--no-http with TLS',
      () => ({ http: false, httpTlsCert: cert.cert, httpTlsKey: cert.key }),
      /^--http-tls-cert applies to the HTTP API/,
    ],
  ])('%s → BAD_ARGUMENT naming the flag', (_what, flags, message) => {
    expect(refusal(() => sec(flags()))).toMatch(message);
  });
});

describe('the clients: readCredentials(flags, url, env)', () => {
  const https = new URL('https://127.0.0.1:7480');
  const read = (flags: CredentialFlags, url = https, env: NodeJS.ProcessEnv = {}) => readCredentials(flags, url, env);

  it('--token-file, else $LOADLEDGER_TOKEN_FILE; --ca for https://', () => {
    expect(read({ tokenFile: f.token }).token).toBe(SECRET);
    expect(read({}, https, { LOADLEDGER_TOKEN_FILE: f.token }).token).toBe(SECRET);
    // the flag wins over the environment
    expect(read({ tokenFile: f.token }, https, { LOADLEDGER_TOKEN_FILE: join(f.dir, 'nope') }).token).toBe(SECRET);
    expect(read({}, https, { LOADLEDGER_TOKEN_FILE: '' })).toEqual({});
    expect(read({ ca: cert.ca }).ca?.toString()).toContain('BEGIN CERTIFICATE');
  });

  // (functions: the files exist only once beforeAll has run)
  it.each<[string, () => [CredentialFlags, URL, NodeJS.ProcessEnv], RegExp]>([
    ['a short token', () => [{ tokenFile: f.short }, https, {}], /^--token-file \S+: the token is shorter/],
    ['a missing token file', () => [{ tokenFile: join(f.dir, 'nope') }, https, {}], /^--token-file \S+: no such file$/],
    [
      'a bad token file from the environment',
      () => [{}, https, { LOADLEDGER_TOKEN_FILE: f.empty }],
      /^LOADLEDGER_TOKEN_FILE \S+: it is empty$/,
    ],
    ['a CA that is not PEM', () => [{ ca: f.notPem }, https, {}], /^--ca \S+: not a PEM certificate/],
    ['a token file as CA', () => [{ ca: f.token }, https, {}], /^--ca \S+: not a PEM certificate/],
    ['--ca with http://', () => [{ ca: cert.ca }, new URL('http://127.0.0.1:7480'), {}], /^--ca: applies to https:\/\/ URLs only/],
  ])('%s → BAD_ARGUMENT naming the flag', (_what, args, message) => {
    expect(refusal(() => read(...args()))).toMatch(message);
  });

  it('replay and export: --token-file and --ca go with --http only', async () => {
    expect(await codeOf(openSource({ data: f.dir, tokenFile: f.token }))).toBe(ErrorCode.BAD_ARGUMENT);
    expect(await codeOf(openSource({ file: join(f.dir, 'x.llog'), ca: cert.ca }))).toBe(ErrorCode.BAD_ARGUMENT);
    expect(await codeOf(openSource({ http: 'https://127.0.0.1:9', ca: f.notPem }))).toBe(ErrorCode.BAD_ARGUMENT);
  });
});
