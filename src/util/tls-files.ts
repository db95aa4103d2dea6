/**
 * Reading and checking TLS material given by a person (master and slave flags, library
 * options). Every failure is one BAD_ARGUMENT line naming the flag and the problem, and
 * never quotes the material: a key file given to the wrong flag must not end up on a
 * terminal or in a log.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { badArgument } from '../errors.js';
import { MAX_SETTINGS_FILE_BYTES, readRegularFile } from './files.js';

export type Pem = string | Buffer;

const CERT_BLOCK_RE = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g;

/**
 * The bytes of a file a person named (`label` starts the error line: `--tls-key`, or
 * `--admin-token-file ./token`); one line for what went wrong, never the content. Only a
 * regular file of at most 4 MiB (src/util/files.ts).
 */
export function readFileForFlag(path: string, label: string): Buffer {
  return readRegularFile(path, label, MAX_SETTINGS_FILE_BYTES);
}

/** The text of a TLS file (`flag` names it in errors: `--tls-key /etc/x.key`). */
export function readTlsFile(path: string, flag: string): string {
  return readFileForFlag(path, flag).toString('utf8');
}

/** Every certificate in a PEM bundle; at least one, each one parseable. */
export function certificatesIn(pem: Pem, label: string): X509Certificate[] {
  const text = typeof pem === 'string' ? pem : pem.toString('utf8');
  const blocks = text.match(CERT_BLOCK_RE) ?? [];
  if (blocks.length === 0) throw badArgument(`${label}: no PEM certificate in it (expected "-----BEGIN CERTIFICATE-----")`);
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch {
      throw badArgument(`${label}: certificate ${i + 1} of ${blocks.length} is not a valid X.509 certificate`);
    }
  });
}

/** The private key of a PEM file (unencrypted: there is no way to give a passphrase). */
export function privateKeyIn(pem: Pem, label: string): KeyObject {
  const text = typeof pem === 'string' ? pem : pem.toString('utf8');
  // PKCS#8 "ENCRYPTED PRIVATE KEY", or a traditional key with "Proc-Type: 4,ENCRYPTED"
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: *4, *ENCRYPTED/.test(text)) {
    throw badArgument(`${label}: the key is encrypted; give an unencrypted PEM key (readable by its owner only)`);
  }
  try {
    return createPrivateKey({ key: text, format: 'pem' });
  } catch {
    throw badArgument(`${label}: not a PEM private key`);
  }
}

/** Checks a certificate, its key and a CA bundle; labels name them in errors. */
export function checkTlsMaterial(
  m: { cert?: Pem | undefined; key?: Pem | undefined; ca?: Pem | undefined },
  labels: { cert: string; key: string; ca: string },
): void {
  if (m.ca !== undefined) certificatesIn(m.ca, labels.ca);
  if (m.cert === undefined || m.key === undefined) return;
  const [leaf] = certificatesIn(m.cert, labels.cert);
  const key = privateKeyIn(m.key, labels.key);
  if (!leaf!.checkPrivateKey(key)) throw badArgument(`${labels.key}: does not match the certificate of ${labels.cert}`);
}
