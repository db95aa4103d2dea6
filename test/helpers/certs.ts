/**
 * Throw-away certificates for TLS tests, made with the system's `openssl` in a temp dir
 * at test time: nothing that anything trusts is ever committed.
 *
 * A `Pki` is one CA; `issue()` signs a server or client certificate with the SANs given
 * (`IP:127.0.0.1`, `DNS:localhost`, `URI:loadledger:node:10.0.0.5:8080`).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Cleanup } from './cleanup.js';

export interface CertFiles {
  cert: string;
  key: string;
  /** The issuing CA's certificate (PEM file). */
  ca: string;
}

export interface IssueOptions {
  /** subjectAltName entries, e.g. ['IP:127.0.0.1', 'DNS:localhost']. */
  san?: string[];
  /** Days valid; a negative number makes a certificate that expired that many days ago. */
  days?: number;
  usage?: 'server' | 'client';
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

export class Pki {
  private serial = 1;

  private constructor(
    readonly dir: string,
    readonly name: string,
    /** CA certificate, PEM file path. */
    readonly ca: string,
    private readonly caKey: string,
  ) {}

  /** A new CA (EC P-256, fast to make) in a temp dir removed at cleanup. */
  static async create(cleanup: Cleanup, name = 'loadledger-test-ca'): Promise<Pki> {
    const dir = await cleanup.tempDir('loadledger-pki-');
    const ca = join(dir, `${name}.crt`);
    const key = join(dir, `${name}.key`);
    openssl(
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        key,
        '-out',
        ca,
        '-days',
        '2',
        '-subj',
        `/CN=${name}`,
        '-addext',
        'basicConstraints=critical,CA:TRUE',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
      ],
      dir,
    );
    return new Pki(dir, name, ca, key);
  }

  /** Signs a certificate for `cn`; returns its files (cert, key, and this CA). */
  issue(cn: string, opts: IssueOptions = {}): CertFiles {
    const base = join(this.dir, `${cn.replace(/[^a-zA-Z0-9.-]/g, '_')}-${this.serial}`);
    const key = `${base}.key`;
    const csr = `${base}.csr`;
    const cert = `${base}.crt`;
    const ext = `${base}.ext`;
    const lines = [
      'basicConstraints=CA:FALSE',
      `extendedKeyUsage=${opts.usage === 'server' ? 'serverAuth' : opts.usage === 'client' ? 'clientAuth' : 'serverAuth,clientAuth'}`,
    ];
    if (opts.san && opts.san.length > 0) lines.push(`subjectAltName=${opts.san.join(',')}`);
    writeFileSync(ext, `${lines.join('\n')}\n`);
    openssl(
      ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${cn}`],
      this.dir,
    );
    // OpenSSL 3.0 takes a negative -days: notAfter lands before notBefore (now), i.e. expired.
    openssl(
      [
        'x509',
        '-req',
        '-in',
        csr,
        '-CA',
        this.ca,
        '-CAkey',
        this.caKey,
        '-set_serial',
        String(this.serial++),
        '-out',
        cert,
        '-extfile',
        ext,
        '-days',
        String(opts.days ?? 2),
      ],
      this.dir,
    );
    return { cert, key, ca: this.ca };
  }

  /** The PEM text of a file this PKI made (for in-process TLS options). */
  static read(path: string): string {
    return readFileSync(path, 'utf8');
  }
}

/** The slave-port fixture most TLS tests share: a CA, a foreign CA, the master's certificate and gw-a's. */
export interface SlavePortPki {
  pki: Pki;
  /** Another CA: certificates from it must be refused. */
  foreign: Pki;
  /** The master's: IP 127.0.0.1 and localhost. */
  server: CertFiles;
  /** CN gw-a: may report for 127.0.0.1 (any port) and exactly 10.0.0.5:8080. */
  gwA: CertFiles;
}

export async function slavePortPki(cleanup: Cleanup): Promise<SlavePortPki> {
  const pki = await Pki.create(cleanup);
  const foreign = await Pki.create(cleanup, 'foreign-ca');
  const server = pki.issue('loadledger-master', { san: ['IP:127.0.0.1', 'DNS:localhost'], usage: 'server' });
  const gwA = pki.issue('gw-a', { san: ['IP:127.0.0.1', 'URI:loadledger:node:10.0.0.5:8080'], usage: 'client' });
  return { pki, foreign, server, gwA };
}
