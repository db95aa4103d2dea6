import { badArgument } from '../errors.js';
import { AdminToken, isLoopback } from '../http/auth.js';
import type { Master, MasterOptions } from '../node/master.js';
import type { HostPort } from '../util/hostport.js';
import { readHttpTls, readTokenFile } from '../util/secrets.js';

/** The master's flags that secure its HTTP API. */
export interface HttpSecurityFlags {
  http: HostPort | false;
  httpTlsCert?: string;
  httpTlsKey?: string;
  adminTokenFile?: string;
  openReads?: boolean;
}

/**
 * The master's TLS and token settings from its flags, with the files read and checked
 * (BAD_ARGUMENT naming the flag, never the files' content).
 */
export function httpSecurity(flags: HttpSecurityFlags): Pick<MasterOptions, 'httpTls' | 'auth'> {
  const given = (
    [
      ['--http-tls-cert', flags.httpTlsCert],
      ['--http-tls-key', flags.httpTlsKey],
      ['--admin-token-file', flags.adminTokenFile],
      ['--open-reads', flags.openReads],
    ] as const
  ).filter(([, v]) => v !== undefined && v !== false);
  if (flags.http === false && given.length > 0) throw badArgument(`${given[0]![0]} applies to the HTTP API, which --no-http turns off`);
  if ((flags.httpTlsCert === undefined) !== (flags.httpTlsKey === undefined)) {
    throw badArgument(
      `${flags.httpTlsCert === undefined ? '--http-tls-key needs --http-tls-cert' : '--http-tls-cert needs --http-tls-key'}: give both or neither`,
    );
  }
  if (flags.openReads && flags.adminTokenFile === undefined) {
    throw badArgument('--open-reads goes with --admin-token-file: without a token every read is open already');
  }
  const out: Pick<MasterOptions, 'httpTls' | 'auth'> = {};
  if (flags.httpTlsCert !== undefined && flags.httpTlsKey !== undefined) out.httpTls = readHttpTls(flags.httpTlsCert, flags.httpTlsKey);
  if (flags.adminTokenFile !== undefined) {
    out.auth = {
      token: new AdminToken(readTokenFile(flags.adminTokenFile, '--admin-token-file'), '--admin-token-file'),
      openReads: flags.openReads === true,
    };
  }
  return out;
}

/** What a person should know about how exposed a started master's HTTP API is (one line each). */
export function securityWarnings(master: Master): string[] {
  const http = master.addresses.http;
  if (!http || isLoopback(http.host)) return [];
  const at = http.host.includes(':') ? `[${http.host}]:${http.port}` : `${http.host}:${http.port}`;
  const { auth, httpTls } = master.options;
  if (!auth?.token) {
    return [
      `the HTTP API on ${at} is open to the network without a token: anyone who reaches it reads the load table and the event log (give --admin-token-file, or bind --http to 127.0.0.1)`,
    ];
  }
  if (!httpTls)
    return [
      `the HTTP API on ${at} takes its token over plain HTTP: anyone on the path can read it (give --http-tls-cert and --http-tls-key)`,
    ];
  return [];
}
