/**
 * The --tls-* flags of `master` and `slave` as the commands read them: every mistake is
 * one BAD_ARGUMENT line naming the flag (and file) and the problem, never the content of
 * the file. Certificates are made by openssl in a temp dir (test/helpers/certs.ts).
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { masterTlsFromFlags } from '../../src/cli/commands/master.js';
import { slaveTlsFromFlags } from '../../src/cli/commands/slave.js';
import { Pki, type CertFiles } from '../helpers/certs.js';
import { Cleanup } from '../helpers/cleanup.js';
import { thrown } from '../helpers/errors.js';

const cleanup = new Cleanup();
let pki: Pki;
let server: CertFiles;
let other: CertFiles;
let dir: string;
afterAll(() => cleanup.run());
beforeAll(async () => {
  pki = await Pki.create(cleanup);
  server = pki.issue('loadledger-master', { san: ['IP:127.0.0.1'], usage: 'server' });
  other = pki.issue('other', { usage: 'client' });
  dir = await cleanup.tempDir('loadledger-tls-flags-');
});

/** The one line a bad flag gives; checked to be BAD_ARGUMENT and to quote no key. */
function failure(fn: () => unknown): string {
  const e = thrown(fn);
  expect(e.code).toBe('BAD_ARGUMENT');
  expect(e.message).not.toContain('\n');
  expect(e.message).not.toContain('PRIVATE KEY');
  for (const key of [server.key, other.key]) {
    for (const line of Pki.read(key)
      .split('\n')
      .filter((l) => l.length >= 40))
      expect(e.message).not.toContain(line);
  }
  return e.message;
}

describe('master --tls-cert --tls-key --tls-ca [--tls-identities]', () => {
  const all = () => ({ tlsCert: server.cert, tlsKey: server.key, tlsCa: pki.ca });

  it('none: plain TCP; all three: the PEM texts; with --tls-identities: the map', () => {
    expect(masterTlsFromFlags({})).toBeUndefined();
    const tls = masterTlsFromFlags(all())!;
    expect(tls.cert).toBe(Pki.read(server.cert));
    expect(tls.identities).toBeUndefined();
    const ids = join(dir, 'ids.json');
    writeFileSync(ids, JSON.stringify({ 'gw-a': ['10.0.0.5:8080', '10.0.0.6'] }));
    expect(masterTlsFromFlags({ ...all(), tlsIdentities: ids })!.identities).toEqual({ 'gw-a': ['10.0.0.5:8080', '10.0.0.6'] });
  });

  it.each([
    [{ tlsCert: 'c' }, '--tls-cert, --tls-key and --tls-ca go together: missing --tls-key and --tls-ca'],
    [{ tlsKey: 'k', tlsCa: 'a' }, '--tls-cert, --tls-key and --tls-ca go together: missing --tls-cert'],
    [{ tlsIdentities: 'x.json' }, '--tls-identities: needs TLS (--tls-cert, --tls-key and --tls-ca)'],
  ])('%j → %s', (flags, message) => {
    expect(failure(() => masterTlsFromFlags(flags))).toBe(message);
  });

  it('unreadable files, bad PEM, a key that is not the certificate’s', () => {
    const missing = join(dir, 'missing.pem');
    expect(failure(() => masterTlsFromFlags({ ...all(), tlsCert: missing }))).toBe(`--tls-cert ${missing}: no such file`);
    expect(failure(() => masterTlsFromFlags({ ...all(), tlsCa: dir }))).toBe(`--tls-ca ${dir}: is a directory, not a file`);
    expect(failure(() => masterTlsFromFlags({ ...all(), tlsCert: server.key }))).toBe(
      `--tls-cert ${server.key}: no PEM certificate in it (expected "-----BEGIN CERTIFICATE-----")`,
    );
    expect(failure(() => masterTlsFromFlags({ ...all(), tlsKey: server.cert }))).toBe(`--tls-key ${server.cert}: not a PEM private key`);
    expect(failure(() => masterTlsFromFlags({ ...all(), tlsCa: server.key }))).toBe(
      `--tls-ca ${server.key}: no PEM certificate in it (expected "-----BEGIN CERTIFICATE-----")`,
    );
    expect(failure(() => masterTlsFromFlags({ ...all(), tlsKey: other.key }))).toBe(
      `--tls-key ${other.key}: does not match the certificate of --tls-cert ${server.cert}`,
    );
  });

  it('an encrypted key is refused with a reason', () => {
    const encrypted = join(dir, 'encrypted.key');
    execFileSync('openssl', ['pkcs8', '-topk8', '-in', server.key, '-passout', 'pass:not-a-secret', '-out', encrypted], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    expect(failure(() => masterTlsFromFlags({ ...all(), tlsKey: encrypted }))).toBe(
      `--tls-key ${encrypted}: the key is encrypted; give an unencrypted PEM key (readable by its owner only)`,
    );
  });

  it('a malformed identities file: the position, never the text (a key given by mistake stays unprinted)', () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ 'gw-a': ['10.0.0.5:8080', 'no such addr'] }));
    expect(failure(() => masterTlsFromFlags({ ...all(), tlsIdentities: bad }))).toBe(
      `--tls-identities ${bad}: entry 1, item 2: expected host or host:port (IPv6 as [::1]:8080)`,
    );
    expect(failure(() => masterTlsFromFlags({ ...all(), tlsIdentities: server.key }))).toBe(
      `--tls-identities ${server.key}: not valid JSON`,
    );
    const list = join(dir, 'list.json');
    writeFileSync(list, '["10.0.0.5"]');
    expect(failure(() => masterTlsFromFlags({ ...all(), tlsIdentities: list }))).toMatch(/: expected a JSON object of/);
  });
});

describe('slave --tls-cert --tls-key --tls-ca --tls-servername', () => {
  it('none: plain TCP; any of them: TLS', () => {
    expect(slaveTlsFromFlags({})).toBeUndefined();
    expect(slaveTlsFromFlags({ tlsCa: pki.ca })).toEqual({ ca: Pki.read(pki.ca) });
    expect(slaveTlsFromFlags({ tlsServername: 'master.example' })).toEqual({ servername: 'master.example' });
    expect(slaveTlsFromFlags({ tlsCert: other.cert, tlsKey: other.key })).toEqual({ cert: Pki.read(other.cert), key: Pki.read(other.key) });
  });

  it('bad combinations and files', () => {
    const missing = join(dir, 'missing.pem');
    expect(failure(() => slaveTlsFromFlags({ tlsCert: other.cert }))).toBe('--tls-cert and --tls-key go together: missing --tls-key');
    expect(failure(() => slaveTlsFromFlags({ tlsKey: other.key }))).toBe('--tls-cert and --tls-key go together: missing --tls-cert');
    expect(failure(() => slaveTlsFromFlags({ tlsCa: missing }))).toBe(`--tls-ca ${missing}: no such file`);
    expect(failure(() => slaveTlsFromFlags({ tlsCa: other.key }))).toBe(
      `--tls-ca ${other.key}: no PEM certificate in it (expected "-----BEGIN CERTIFICATE-----")`,
    );
    expect(failure(() => slaveTlsFromFlags({ tlsCert: other.cert, tlsKey: other.cert }))).toBe(
      `--tls-key ${other.cert}: not a PEM private key`,
    );
    expect(failure(() => slaveTlsFromFlags({ tlsCert: other.cert, tlsKey: server.key }))).toBe(
      `--tls-key ${server.key}: does not match the certificate of --tls-cert ${other.cert}`,
    );
  });
});
