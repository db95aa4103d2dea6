/**
 * The slave's side of TLS: its options, and failures said in one line a person can act
 * on. Every TLS failure reason starts with "TLS: " and has no varying part (no port, no
 * timing), so a caller can show each kind once rather than once per reconnect.
 */
import { isIP } from 'node:net';
import { checkServerIdentity, type ConnectionOptions, type PeerCertificate } from 'node:tls';
import { badArgument } from '../errors.js';
import { checkTlsMaterial, type Pem } from '../util/tls-files.js';

export interface SlaveTlsOptions {
  /** CA certificate(s) that sign the master's certificate (PEM). Default: Node's root CAs. */
  ca?: Pem;
  /** Our certificate (PEM), which the master requires; with `key`. */
  cert?: Pem;
  /** Its private key (PEM, unencrypted); with `cert`. */
  key?: Pem;
  /** The name the master's certificate must be valid for. Default: the master's host. */
  servername?: string;
}

export const TLS_REASON_PREFIX = 'TLS: ';

/**
 * Checks the options and turns them into `tls.connect` options for `host`.
 *
 * @throws LoadLedgerError BAD_ARGUMENT naming the option (`tls.key: …`).
 */
export function resolveTls(o: SlaveTlsOptions, host: string): ConnectionOptions {
  if (typeof o !== 'object' || o === null) throw badArgument('tls: expected { ca, cert, key, servername }');
  if ((o.cert === undefined) !== (o.key === undefined))
    throw badArgument(`tls.${o.cert === undefined ? 'cert' : 'key'}: tls.cert and tls.key go together`);
  checkTlsMaterial(o, { cert: 'tls.cert', key: 'tls.key', ca: 'tls.ca' });
  const name = o.servername ?? host;
  if (typeof name !== 'string' || name.trim() === '' || /\s/.test(name))
    throw badArgument(`tls.servername: expected a host name or IP, got ${JSON.stringify(name)}`);
  return {
    minVersion: 'TLSv1.2',
    ...(o.ca !== undefined && { ca: o.ca }),
    ...(o.cert !== undefined && o.key !== undefined && { cert: o.cert, key: o.key }),
    // SNI carries names only (RFC 6066); the check against the name is ours either way.
    ...(isIP(name) === 0 && { servername: name }),
    checkServerIdentity: (_host: string, cert: PeerCertificate) => checkServerIdentity(name, cert),
  };
}

const VERIFY_CODE_RE = /^(?:CERT_|UNABLE_TO_|SELF_SIGNED_|DEPTH_ZERO_|INVALID_CA|PATH_LENGTH_|INVALID_PURPOSE|HOSTNAME_MISMATCH)/;

/**
 * Why a TLS connection failed, for a socket error; undefined when it is not about TLS
 * (a refused or reset TCP connection says so itself).
 */
export function tlsFailure(
  err: NodeJS.ErrnoException & { reason?: string },
  phase: { tcp: boolean; secure: boolean },
  servername: string,
): string | undefined {
  const code = err.code ?? '';
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID')
    return `${TLS_REASON_PREFIX}the master's certificate is not valid for "${servername}" (${code})`;
  if (VERIFY_CODE_RE.test(code)) return `${TLS_REASON_PREFIX}the master's certificate is not trusted (${code}: ${err.message})`;
  if (code === 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED') {
    return `${TLS_REASON_PREFIX}the master requires a client certificate (${code})`;
  }
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) {
    return `${TLS_REASON_PREFIX}handshake failed: ${err.reason ?? code} (${code}); is the master using TLS?`;
  }
  if (phase.tcp && !phase.secure && (code === 'ECONNRESET' || code === 'EPIPE')) {
    return `${TLS_REASON_PREFIX}the master closed the connection during the handshake (${code}); is the master using TLS, and does it accept this TLS version?`;
  }
  return undefined;
}

/** A TLS connection the master closed before it sent a frame: it refused our certificate (or our first push, or was full). */
export const TLS_CLOSED_AT_ONCE = `${TLS_REASON_PREFIX}the master closed the connection before sending anything: it refused our certificate, or the node id we pushed for (or it is full, or a standby that takes no slaves)`;

/** TCP connected but the handshake never finished. */
export const TLS_NO_HANDSHAKE = `${TLS_REASON_PREFIX}connected, but no TLS handshake before the connect timeout: is the master using TLS?`;
