/**
 * TLS with client certificates on the slave port, and what a certificate lets a slave
 * claim.
 *
 * A slave must present a certificate signed by the configured CA; anything else (no
 * certificate, another CA, expired, not TLS at all, a stalled handshake) is refused before
 * it is a connection: a `SlaveRefused` event, never a `SlaveConnected`.
 *
 * The certificate binds the node ids (`addr` values) the slave may report for:
 * - from its subjectAltName: `URI:loadledger:node:<addr>` permits exactly that addr;
 *   `IP:<ip>` and `DNS:<name>` permit any addr whose host is that IP or name (any port,
 *   or none);
 * - or, for the certificate names (CN) it lists, from an identities map
 *   `{ "<CN>": ["10.0.0.5:8080", "10.0.0.6"] }` (a bare host permits any port), which
 *   then replaces the SAN.
 */
import { isIP, isIPv6, Socket } from 'node:net';
import { createServer as createTlsServer, type PeerCertificate, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { badArgument, ErrorCode, LoadLedgerError } from '../errors.js';
import { isValidAddr } from '../protocol/push.js';
import { checkTlsMaterial, readTlsFile, type Pem } from '../util/tls-files.js';

/** CN → the addrs (`host:port`) or hosts (`host`: any port) it may report for. */
export type IdentityMap = Readonly<Record<string, readonly string[]>>;

export interface MasterTlsOptions {
  /** The master's certificate (PEM), with its chain if any. */
  cert: Pem;
  /** Its private key (PEM, unencrypted). */
  key: Pem;
  /** The CA(s) that sign slave certificates (PEM). */
  ca: Pem;
  /** Certificate names (CN) mapped to the node ids they may report for; replaces the SAN for the CNs it names. */
  identities?: IdentityMap;
}

/** What a verified slave certificate is, and may claim. */
export interface TlsPeer {
  /** The certificate's subject CN, or `sha256:<fingerprint>` without one (what `SlaveConnected.identity` records). */
  readonly identity: string;
  /** True when the certificate may report for node id `node`. */
  permits(node: string): boolean;
}

/** The URI SAN prefix that names one node id. */
export const NODE_URI_PREFIX = 'loadledger:node:';

/** The TLS handshake gets the master's handshake timeout, but never more than this (ms). */
export const MAX_TLS_HANDSHAKE_MS = 10_000;

// ---------------------------------------------------------------- identities

interface Permit {
  /** Canonical host: an IP as `isIP` writes it back canonically, a name in lower case. */
  host: string;
  /** The port, '' for an addr without one, or undefined for any port. */
  port: string | undefined;
}

/** Splits a node id (`host`, `host:port`, `[v6]:port`, `[v6]`, or a bare IPv6 remote IP). */
function splitNode(node: string): { host: string; port: string } | undefined {
  if (node.startsWith('[')) {
    const end = node.indexOf(']');
    if (end < 0) return undefined;
    const rest = node.slice(end + 1);
    if (rest !== '' && !/^:\d+$/.test(rest)) return undefined;
    return { host: canonicalHost(node.slice(1, end)), port: rest.slice(1) };
  }
  if (isIPv6(node)) return { host: canonicalHost(node), port: '' };
  const i = node.lastIndexOf(':');
  if (i < 0) return { host: canonicalHost(node), port: '' };
  return { host: canonicalHost(node.slice(0, i)), port: node.slice(i + 1) };
}

/** One spelling per host: IPv6 compressed and lower case (a SAN prints `0:0:0:0:0:0:0:1`), names lower case. */
function canonicalHost(host: string): string {
  if (isIPv6(host)) {
    try {
      return new URL(`http://[${host}]/`).hostname.slice(1, -1);
    } catch {
      return host.toLowerCase();
    }
  }
  return host.toLowerCase();
}

function matches(permits: readonly Permit[], node: string): boolean {
  const n = splitNode(node);
  if (!n) return false;
  return permits.some((p) => p.host === n.host && (p.port === undefined || p.port === n.port));
}

/**
 * The entries of a certificate's subjectAltName as Node prints it: `TYPE:value` joined by
 * ", ", where a value with special characters is a JSON string (so a comma inside a name
 * cannot smuggle in a second entry).
 */
export function splitAltNames(altNames: string): string[] {
  const out: string[] = [];
  let token = '';
  let i = 0;
  while (i < altNames.length) {
    const sep = altNames.indexOf(',', i);
    const quote = altNames.indexOf('"', i);
    if (quote !== -1 && (sep === -1 || quote < sep)) {
      token += altNames.slice(i, quote);
      // eslint-disable-next-line no-control-regex -- a JSON string literal excludes raw control bytes
      const m = /^"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/.exec(altNames.slice(quote));
      if (!m) return out; // not Node's format: trust nothing after this point
      token += JSON.parse(m[0]) as string;
      i = quote + m[0].length;
    } else if (sep !== -1) {
      out.push(token + altNames.slice(i, sep));
      token = '';
      i = sep + 2;
    } else {
      out.push(token + altNames.slice(i));
      i = altNames.length;
    }
  }
  return out;
}

/** The node ids a certificate's subjectAltName permits. */
export function permitsFromAltNames(altNames: string | undefined): Permit[] {
  const out: Permit[] = [];
  for (const entry of splitAltNames(altNames ?? '')) {
    const colon = entry.indexOf(':');
    if (colon < 0) continue;
    const type = entry.slice(0, colon).trim();
    const value = entry.slice(colon + 1);
    if (type === 'IP Address' && isIP(value)) out.push({ host: canonicalHost(value), port: undefined });
    else if (type === 'DNS' && value !== '' && !value.includes('*')) out.push({ host: canonicalHost(value), port: undefined });
    else if (type === 'URI' && value.startsWith(NODE_URI_PREFIX)) {
      const addr = value.slice(NODE_URI_PREFIX.length);
      const n = isValidAddr(addr) ? splitNode(addr) : undefined;
      if (n) out.push({ host: n.host, port: n.port });
    }
  }
  return out;
}

/** The node ids an identities-map entry permits (`host:port` exactly, `host` any port). */
function permitsFromList(list: readonly string[]): Permit[] {
  return list.flatMap((addr) => {
    const n = splitNode(addr);
    return n ? [{ host: n.host, port: n.port === '' ? undefined : n.port }] : [];
  });
}

/**
 * The certificate's CN as one printable string (several CNs joined by "+"), or, without a
 * CN, its SHA-256 fingerprint (public, and names exactly one certificate).
 */
function certIdentity(cert: PeerCertificate): { cn: string; identity: string } {
  const raw: unknown = cert.subject?.CN;
  const text = Array.isArray(raw) ? raw.map(String).join('+') : typeof raw === 'string' ? raw : '';
  // It goes into the log and onto terminals (explain): no control characters, bounded.
  // eslint-disable-next-line no-control-regex -- control bytes in a peer's CN are replaced before logging
  const cn = text.replace(/[\u0000-\u001f\u007f]/g, '?').slice(0, 256);
  return { cn, identity: cn !== '' ? cn : `sha256:${cert.fingerprint256}` };
}

/** What the verified certificate of `socket` is and may claim. */
export function peerOf(socket: TLSSocket, identities: IdentityMap | undefined): TlsPeer {
  const cert = socket.getPeerCertificate();
  const { cn, identity } = certIdentity(cert);
  const mapped = identities && cn !== '' && Object.hasOwn(identities, cn) ? identities[cn] : undefined;
  const permits = mapped ? permitsFromList(mapped) : permitsFromAltNames(cert.subjectaltname);
  return { identity, permits: (node) => matches(permits, node) };
}

// ---------------------------------------------------------------- the identities file

/**
 * Reads an identities file: a JSON object of CN → list of `host` or `host:port`.
 * Errors name the flag and the position, never the file's content.
 */
export function readIdentities(path: string, flag = '--tls-identities'): IdentityMap {
  const label = `${flag} ${path}`;
  let doc: unknown;
  try {
    doc = JSON.parse(readTlsFile(path, label));
  } catch (e) {
    if (e instanceof LoadLedgerError) throw e;
    // V8's message quotes the text around the error: not shown.
    throw badArgument(`${label}: not valid JSON`);
  }
  return checkIdentities(doc, label);
}

/** Checks an identities map (from a file or a library caller). */
export function checkIdentities(doc: unknown, label: string): IdentityMap {
  const shape = 'expected a JSON object of "<certificate CN>": ["host:port" or "host", ...]';
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw badArgument(`${label}: ${shape}`);
  const out: Record<string, string[]> = Object.create(null) as Record<string, string[]>;
  Object.entries(doc).forEach(([cn, list], i) => {
    const where = `entry ${i + 1}`;
    if (cn === '') throw badArgument(`${label}: ${where} has an empty CN`);
    if (!Array.isArray(list) || list.some((a) => typeof a !== 'string'))
      throw badArgument(`${label}: ${where} is not a list of strings (${shape})`);
    const bad = (list as string[]).findIndex((a) => !isValidAddr(a) || !splitNode(a));
    if (bad >= 0) throw badArgument(`${label}: ${where}, item ${bad + 1}: expected host or host:port (IPv6 as [::1]:8080)`);
    out[cn] = [...(list as string[])];
  });
  return out;
}

/** Reads the files of `--tls-cert`, `--tls-key`, `--tls-ca` (and `--tls-identities`) and checks them. */
export function readMasterTlsFiles(files: { cert: string; key: string; ca: string; identities?: string | undefined }): MasterTlsOptions {
  const labels = { cert: `--tls-cert ${files.cert}`, key: `--tls-key ${files.key}`, ca: `--tls-ca ${files.ca}` };
  const opts: MasterTlsOptions = {
    cert: readTlsFile(files.cert, labels.cert),
    key: readTlsFile(files.key, labels.key),
    ca: readTlsFile(files.ca, labels.ca),
  };
  checkTlsMaterial(opts, labels);
  if (files.identities !== undefined) opts.identities = readIdentities(files.identities);
  return opts;
}

// ---------------------------------------------------------------- the server

export interface TlsServerHandlers {
  /** Before the handshake: whether this peer may connect at all (--allow, connection rate). */
  admit(tcp: Socket): { ok: true } | { ok: false; reason: string };
  /** A slave with a verified certificate; the socket is paused. */
  secure(socket: TLSSocket, peer: TlsPeer): void;
  /** A connection that failed TLS: to be recorded and closed. */
  refused(socket: Socket, reason: string): void;
}

/**
 * The slave port's TLS server: client certificates required and verified by Node
 * (`rejectUnauthorized`), every failed handshake reported to `refused` with its reason.
 *
 * @throws LoadLedgerError BAD_ARGUMENT when the certificate, key or CA is unusable.
 */
export function createSlaveTlsServer(opts: MasterTlsOptions, handshakeTimeout: number, on: TlsServerHandlers): TlsServer {
  const timeout = Math.min(MAX_TLS_HANDSHAKE_MS, handshakeTimeout);
  checkTlsMaterial(opts, { cert: 'tls.cert', key: 'tls.key', ca: 'tls.ca' });
  const identities = opts.identities === undefined ? undefined : checkIdentities(opts.identities, 'tls.identities');
  let server: TlsServer;
  try {
    server = createTlsServer(
      {
        cert: opts.cert,
        key: opts.key,
        ca: opts.ca,
        requestCert: true,
        rejectUnauthorized: true,
        minVersion: 'TLSv1.2',
        handshakeTimeout: timeout,
        noDelay: true,
      },
      (socket) => {
        socket.pause(); // read nothing until the master accepts it (after MasterStarted)
        // What the connection may claim is decided from this certificate: no renegotiating another.
        socket.disableRenegotiation();
        on.secure(socket, peerOf(socket, identities));
      },
    );
  } catch (e) {
    throw new LoadLedgerError(
      ErrorCode.BAD_ARGUMENT,
      `tls: unusable certificate, key or CA (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
      { cause: e },
    );
  }
  /** TCP sockets refused before their handshake: their TLS socket's end is not news. */
  const admitted = new WeakSet<Socket>();
  server.on('connection', (tcp: Socket) => {
    // A handshake that fails after Node verified the certificate destroys the TLS socket
    // first, and with it the peer's address: reading it here keeps it on the TCP socket.
    const verdict = on.admit(tcp);
    if (verdict.ok) admitted.add(tcp);
    else on.refused(tcp, verdict.reason);
  });
  server.on('tlsClientError', (err: NodeJS.ErrnoException & { reason?: string }, socket: TLSSocket) => {
    socket.destroy();
    // Node keeps the TCP socket under a server-side TLS socket as `_parent`.
    const parent = (socket as TLSSocket & { _parent?: unknown })._parent;
    const tcp = parent instanceof Socket ? parent : socket;
    if (parent instanceof Socket && !admitted.has(parent)) return; // refused already, before its handshake
    on.refused(tcp, `tls: ${handshakeFailure(err, socket, timeout)}`);
  });
  return server;
}

/** Why a handshake failed, in a few words and a stable code (never key material: OpenSSL's reasons are fixed strings). */
export function handshakeFailure(err: NodeJS.ErrnoException & { reason?: string }, socket: TLSSocket, timeout: number): string {
  if (socket.authorizationError) return `certificate verification failed (${String(socket.authorizationError)})`;
  switch (err.code) {
    case 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE':
      return 'no client certificate (ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE)';
    case 'ERR_TLS_HANDSHAKE_TIMEOUT':
      return `no handshake within ${timeout} ms (ERR_TLS_HANDSHAKE_TIMEOUT)`;
    case 'ECONNRESET':
      return 'connection closed during the handshake (ECONNRESET)';
    default:
      return err.reason ? `handshake failed: ${err.reason} (${err.code ?? 'error'})` : `handshake failed (${err.code ?? 'error'})`;
  }
}
