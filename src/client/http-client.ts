import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { ErrorCode, LoadLedgerError, badArgument } from '../errors.js';
import { readCaFile, readTokenFile } from '../util/secrets.js';
import { unreachableError } from './masters.js';

/** Validates a master URL given by a person (`--http`). */
export function parseMasterUrl(s: string, flag = '--http'): URL {
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    throw badArgument(`${flag}: expected a URL like http://127.0.0.1:7480, got ${JSON.stringify(s)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw badArgument(`${flag}: expected an http:// URL, got ${JSON.stringify(s)}`);
  return url;
}

/**
 * The masters of a cluster given by a person (`--http http://a:7480,http://b:7480`), or the
 * items of a config file's list: each checked as parseMasterUrl does; an empty item and the
 * same URL twice are refused.
 */
export function parseMasterUrls(s: string | readonly string[], flag = '--http'): URL[] {
  const items = typeof s === 'string' ? s.split(',') : [...s];
  const out: URL[] = [];
  for (const [i, item] of items.entries()) {
    if (item.trim() === '') throw badArgument(`${flag}: URL ${i + 1} of ${items.length} is empty; separate URLs with single commas`);
    const url = parseMasterUrl(item.trim(), flag);
    if (out.some((u) => u.href === url.href)) throw badArgument(`${flag}: ${url.href.replace(/\/$/, '')} is listed twice`);
    out.push(url);
  }
  if (out.length === 0) throw badArgument(`${flag}: expected at least one URL`);
  return out;
}

/** What a client presents to a master: its bearer token, and a CA to trust for https://. */
export interface MasterCredentials {
  token?: string | undefined;
  ca?: string | Buffer | undefined;
}

/** The flags of every command that talks to a master over HTTP. */
export interface CredentialFlags {
  tokenFile?: string;
  ca?: string;
}

/** The environment variable that names a token file when --token-file is not given. */
export const TOKEN_FILE_ENV = 'LOADLEDGER_TOKEN_FILE';

/**
 * Reads --token-file (else $LOADLEDGER_TOKEN_FILE) and --ca for requests to `url` (or to
 * the masters of a list: the same token for each). --ca where no URL is https:// is
 * refused (it would silently do nothing).
 */
export function readCredentials(
  flags: CredentialFlags,
  url: URL | readonly URL[],
  env: NodeJS.ProcessEnv = process.env,
): MasterCredentials {
  const creds: MasterCredentials = {};
  if (flags.tokenFile !== undefined) creds.token = readTokenFile(flags.tokenFile, '--token-file');
  else if (env[TOKEN_FILE_ENV]) creds.token = readTokenFile(env[TOKEN_FILE_ENV], TOKEN_FILE_ENV);
  if (flags.ca !== undefined) {
    const urls: readonly URL[] = url instanceof URL ? [url] : url;
    if (!urls.some((u) => u.protocol === 'https:'))
      throw badArgument(`--ca: applies to https:// URLs only, got ${urls.map((u) => u.origin).join(', ')}`);
    creds.ca = readCaFile(flags.ca);
  }
  return creds;
}

/** The parts of a request that carry credentials (never logged: the token is only in a header). */
export function credentialOptions(creds: MasterCredentials): Pick<RequestOptions, 'headers'> & { ca?: string | Buffer } {
  const out: Pick<RequestOptions, 'headers'> & { ca?: string | Buffer } = { headers: {} };
  if (creds.token !== undefined) out.headers = { authorization: `Bearer ${creds.token}` };
  if (creds.ca !== undefined) out.ca = creds.ca;
  return out;
}

/** A 401 from a master, as one line that says what to do (and never the token). */
export function unauthorized(describe: string, tokenSent: boolean): LoadLedgerError {
  return new LoadLedgerError(
    ErrorCode.UNAUTHORIZED,
    tokenSent
      ? `${describe} refused the token (HTTP 401): check the file given with --token-file or ${TOKEN_FILE_ENV}`
      : `${describe} needs a token: use --token-file FILE (or ${TOKEN_FILE_ENV})`,
  );
}

const UNTRUSTED_CERT = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
]);

/** Why a connection to `url` failed, in a few words, with a hint for the TLS mistakes people make. */
export function networkReason(e: unknown, url?: URL): string {
  const err = e as NodeJS.ErrnoException;
  const code = err.code ?? err.name ?? String(e);
  if (UNTRUSTED_CERT.has(code)) return `${code}: the master's certificate is not trusted; give its CA with --ca FILE`;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `${code}: the master's certificate is not for this host name or IP`;
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') return `${code}: the master's certificate is not valid now`;
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'EPROTO')
    return `${code}: no TLS there; is the master http:// rather than https://?`;
  // An HTTPS master resets a connection that does not start with a TLS handshake.
  if (code === 'ECONNRESET' && url?.protocol === 'http:') return `${code}: if the master serves HTTPS, use an https:// URL`;
  // Node's HTTP parser (HPE_INVALID_CONSTANT, HPE_INVALID_VERSION, …): something answered, not in HTTP
  if (code.startsWith('HPE_')) return `that is not HTTP (${code}): is it the master's slave port? the HTTP API is --http`;
  return code;
}

/** GET a JSON document from a master; unreachable → MASTER_UNREACHABLE, 401 → UNAUTHORIZED (one clear line each). */
export function getJson(base: URL, path: string, options: MasterCredentials & { timeoutMs?: number } = {}): Promise<JsonAnswer> {
  return requestJson(base, path, options);
}

/** POST `body` as JSON to a master (admin endpoints); answers and failures as getJson's. */
export function postJson(
  base: URL,
  path: string,
  body: unknown,
  options: MasterCredentials & { timeoutMs?: number } = {},
): Promise<JsonAnswer> {
  return requestJson(base, path, { ...options, method: 'POST', body: JSON.stringify(body) });
}

/** A master's JSON answer, with its headers. */
export interface JsonAnswer {
  status: number;
  body: unknown;
  headers: IncomingHttpHeaders;
}

async function requestJson(
  base: URL,
  path: string,
  options: MasterCredentials & { timeoutMs?: number; method?: 'GET' | 'POST'; body?: string },
): Promise<JsonAnswer> {
  const url = new URL(path, base);
  const timeoutMs = options.timeoutMs ?? 5000;
  const { headers, ...tls } = credentialOptions(options);
  const payload = options.body;
  let res: IncomingMessage;
  let text = '';
  try {
    res = await new Promise<IncomingMessage>((resolve, reject) => {
      const sent = {
        ...headers,
        accept: 'application/json',
        ...(payload !== undefined && { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) }),
      };
      const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, {
        method: options.method ?? 'GET',
        agent: false,
        headers: sent,
        ...tls,
      });
      req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error(`no answer in ${timeoutMs} ms`), { code: 'ETIMEDOUT' })));
      req.on('error', reject);
      req.on('response', resolve);
      req.end(payload);
    });
    res.setEncoding('utf8');
    for await (const chunk of res as AsyncIterable<string>) text += chunk;
  } catch (e) {
    throw unreachableError(base.origin, networkReason(e, base), e);
  }
  if (res.statusCode === 401) throw unauthorized(`master ${base.origin}`, options.token !== undefined);
  try {
    return { status: res.statusCode ?? 0, body: JSON.parse(text) as unknown, headers: res.headers };
  } catch {
    throw new LoadLedgerError(ErrorCode.MASTER_UNREACHABLE, `${url.href} did not answer JSON (HTTP ${res.statusCode ?? '?'})`);
  }
}
