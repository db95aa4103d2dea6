/**
 * What a slave certificate permits: its subjectAltName as Node prints it, and the
 * identities map that replaces it for the CNs it names. Pure functions, no sockets.
 */
import type { TLSSocket } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { checkIdentities, handshakeFailure, peerOf, splitAltNames } from '../../src/master/tls.js';
import { thrown } from '../helpers/errors.js';

/** A TLS socket stand-in whose peer certificate has this CN and subjectAltName. */
function socketWith(cn: string | string[] | undefined, subjectaltname?: string): TLSSocket {
  const cert = { subject: cn === undefined ? {} : { CN: cn }, subjectaltname, fingerprint256: 'AB:CD' };
  return { getPeerCertificate: () => cert } as unknown as TLSSocket;
}

function permits(san: string, node: string, identities?: Record<string, string[]>, cn = 'gw-a'): boolean {
  return peerOf(socketWith(cn, san), identities).permits(node);
}

describe('subjectAltName as Node prints it', () => {
  it('splits entries on ", " and decodes JSON-quoted values, so a comma in a value is not a new entry', () => {
    expect(splitAltNames('IP Address:127.0.0.1, DNS:localhost, URI:loadledger:node:10.0.0.5:8080')).toEqual([
      'IP Address:127.0.0.1',
      'DNS:localhost',
      'URI:loadledger:node:10.0.0.5:8080',
    ]);
    expect(splitAltNames('DNS:"evil.example, DNS:good.example", DNS:x')).toEqual(['DNS:evil.example, DNS:good.example', 'DNS:x']);
    expect(splitAltNames('')).toEqual([]);
  });

  it('a JSON-quoted DNS value with a comma permits neither of the names it smuggles', () => {
    expect(permits('DNS:"evil.example, DNS:good.example"', 'good.example:80')).toBe(false);
  });
});

describe('SAN: URI:loadledger:node:<addr> permits exactly that addr', () => {
  const san = 'URI:loadledger:node:10.0.0.5:8080, URI:loadledger:node:[::1]:9000, URI:loadledger:node:gw-b';
  it.each([
    ['10.0.0.5:8080', true],
    ['10.0.0.5:8081', false],
    ['10.0.0.5', false],
    ['10.0.0.6:8080', false],
    ['[::1]:9000', true],
    ['[0:0:0:0:0:0:0:1]:9000', true],
    ['[::1]:9001', false],
    ['gw-b', true],
    ['gw-b:80', false],
  ])('%s → %s', (node, ok) => {
    expect(permits(san, node)).toBe(ok);
  });

  it('other URIs permit nothing', () => {
    expect(permits('URI:https://10.0.0.5:8080/, URI:loadledger:nodes:10.0.0.5:8080', '10.0.0.5:8080')).toBe(false);
  });
});

describe('SAN: IP and DNS permit their host on any port, or none', () => {
  // Node prints an IPv6 SAN uncompressed: "IP Address:0:0:0:0:0:0:0:1".
  const san = 'IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, DNS:GW.example';
  it.each([
    ['127.0.0.1', true], // the default node id: the remote IP
    ['127.0.0.1:8080', true],
    ['127.0.0.2:8080', false],
    ['::1', true], // a remote IPv6 as the master writes it (bare)
    ['[::1]:8080', true],
    ['[::2]:8080', false],
    ['gw.example:443', true],
    ['gw.EXAMPLE', true],
    ['gw.example.evil:443', false],
    ['evil.gw.example', false],
  ])('%s → %s', (node, ok) => {
    expect(permits(san, node)).toBe(ok);
  });

  it('a wildcard DNS name permits nothing (names are literal)', () => {
    expect(permits('DNS:*.example', 'gw.example:80')).toBe(false);
  });

  it('a certificate without a SAN permits nothing', () => {
    expect(peerOf(socketWith('gw-a'), undefined).permits('127.0.0.1')).toBe(false);
  });
});

describe('the identities map replaces the SAN for the CNs it names', () => {
  const san = 'IP Address:127.0.0.1, URI:loadledger:node:10.0.0.5:8080';
  const map = { 'gw-a': ['10.0.0.7', '10.0.0.8:8080', '[::1]:9000'] };

  it('a bare host permits any port; host:port exactly that one', () => {
    expect(permits(san, '10.0.0.7:1234', map)).toBe(true);
    expect(permits(san, '10.0.0.7', map)).toBe(true);
    expect(permits(san, '10.0.0.8:8080', map)).toBe(true);
    expect(permits(san, '10.0.0.8:8081', map)).toBe(false);
    expect(permits(san, '[::1]:9000', map)).toBe(true);
  });

  it('the SAN of a mapped CN no longer counts', () => {
    expect(permits(san, '10.0.0.5:8080', map)).toBe(false);
    expect(permits(san, '127.0.0.1', map)).toBe(false);
  });

  it('a CN the map does not name keeps its SAN', () => {
    expect(permits(san, '10.0.0.5:8080', map, 'gw-b')).toBe(true);
    expect(permits(san, '10.0.0.7', map, 'gw-b')).toBe(false);
  });

  it('an empty list permits nothing', () => {
    expect(permits(san, '127.0.0.1', { 'gw-a': [] })).toBe(false);
  });
});

describe('identity: what SlaveConnected records', () => {
  it('is the CN; several CNs joined by "+"; control characters replaced', () => {
    expect(peerOf(socketWith('gw-a'), undefined).identity).toBe('gw-a');
    expect(peerOf(socketWith(['a', 'b']), undefined).identity).toBe('a+b');
    expect(peerOf(socketWith('gw\n-a\u001b'), undefined).identity).toBe('gw?-a?');
  });

  it('is the SHA-256 fingerprint without a CN', () => {
    expect(peerOf(socketWith(undefined, 'IP Address:127.0.0.1'), undefined).identity).toBe('sha256:AB:CD');
  });

  it('a map entry for "+"-joined CNs applies only to exactly those CNs', () => {
    expect(peerOf(socketWith(['a', 'b'], ''), { a: ['10.0.0.1'] }).permits('10.0.0.1')).toBe(false);
    expect(peerOf(socketWith(['a', 'b'], ''), { 'a+b': ['10.0.0.1'] }).permits('10.0.0.1')).toBe(true);
  });
});

describe('checkIdentities (the --tls-identities file) names the position, never the content', () => {
  it.each([
    [[], 'expected a JSON object'],
    ['x', 'expected a JSON object'],
    [null, 'expected a JSON object'],
    [{ a: 'secret-host' }, 'entry 1 is not a list of strings'],
    [{ a: ['10.0.0.1'], b: [1] }, 'entry 2 is not a list of strings'],
    [{ a: ['10.0.0.1', 'no spaces allowed'] }, 'entry 1, item 2: expected host or host:port'],
    [{ a: ['::1'] }, 'entry 1, item 1: expected host or host:port'],
    [{ '': ['10.0.0.1'] }, 'entry 1 has an empty CN'],
  ])('%j → %s', (doc, message) => {
    const e = thrown(() => checkIdentities(doc, '--tls-identities f.json'));
    expect(e.code).toBe('BAD_ARGUMENT');
    expect(e.message).toContain(`--tls-identities f.json: ${message}`);
    expect(e.message).not.toContain('secret-host');
    expect(e.message).not.toContain('no spaces allowed');
  });

  it('accepts hosts, host:port and bracketed IPv6', () => {
    expect(checkIdentities({ a: ['10.0.0.1', 'gw:80', '[::1]', '[::1]:8080'] }, 'x')).toEqual({
      a: ['10.0.0.1', 'gw:80', '[::1]', '[::1]:8080'],
    });
  });
});

describe('handshake', () => {
  it('a failure after verification names the verification error', () => {
    const socket = { authorizationError: 'CERT_HAS_EXPIRED' } as unknown as TLSSocket;
    expect(handshakeFailure(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), socket, 1000)).toBe(
      'certificate verification failed (CERT_HAS_EXPIRED)',
    );
  });
});
