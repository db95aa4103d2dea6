import { X509Certificate, createPrivateKey } from 'node:crypto';
import { badArgument } from '../errors.js';
import { tokenProblem } from './token.js';
import { readFileForFlag } from './tls-files.js';
import { MAX_TOKEN_FILE_BYTES, readRegularFile } from './files.js';

/**
 * Files named by flags that hold secrets or certificates: token files, TLS certificates and
 * keys, CAs. Every refusal is one line naming the flag and the file, and never quotes what
 * the file holds (BAD_ARGUMENT: exit 2).
 */

function readFlagFile(path: string, flag: string): Buffer {
  return readFileForFlag(path, `${flag} ${path}`);
}

/**
 * The token in a file: one line (surrounding whitespace and a final newline are ignored), in
 * a regular file of at most 4 KiB (`/dev/zero` or a FIFO is refused at once, not read for ever).
 */
export function readTokenFile(path: string, flag: string): string {
  const token = readRegularFile(path, `${flag} ${path}`, MAX_TOKEN_FILE_BYTES, 'a token file holds one line').toString('utf8').trim();
  if (/[\r\n]/.test(token)) throw badArgument(`${flag} ${path}: more than one line; a token file holds the token alone, on one line`);
  const problem = tokenProblem(token);
  if (problem) throw badArgument(`${flag} ${path}: ${problem}`);
  return token;
}

function pemCertificate(path: string, flag: string): Buffer {
  const pem = readFlagFile(path, flag);
  try {
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new Error('no PEM certificate');
    new X509Certificate(pem);
  } catch {
    throw badArgument(`${flag} ${path}: not a PEM certificate`);
  }
  return pem;
}

/** A CA certificate (or bundle) to trust for https:// URLs. */
export function readCaFile(path: string, flag = '--ca'): Buffer {
  return pemCertificate(path, flag);
}

/** The master's HTTPS certificate and key, checked to be PEM and to belong together. */
export function readHttpTls(certPath: string, keyPath: string): { cert: Buffer; key: Buffer } {
  const cert = pemCertificate(certPath, '--http-tls-cert');
  const key = readFlagFile(keyPath, '--http-tls-key');
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (e) {
    // (OpenSSL 3 reports a missing passphrase as "interrupted or cancelled": look at the PEM)
    const encrypted = (e as { code?: string }).code === 'ERR_MISSING_PASSPHRASE' || key.includes('ENCRYPTED');
    throw badArgument(
      `--http-tls-key ${keyPath}: ${encrypted ? 'the key is encrypted; give an unencrypted PEM key (readable by the master only)' : 'not a PEM private key'}`,
    );
  }
  if (!new X509Certificate(cert).checkPrivateKey(privateKey)) {
    throw badArgument(`--http-tls-key ${keyPath} is not the key of the certificate in --http-tls-cert ${certPath}`);
  }
  return { cert, key };
}
