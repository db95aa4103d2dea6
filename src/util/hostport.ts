import { isIPv6 } from 'node:net';
import { badArgument } from '../errors.js';

export interface HostPort {
  /** Host name or IP; an IPv6 address without its brackets (ready for `net.connect`). */
  host: string;
  port: number;
}

export interface ParseHostPortOptions {
  /** Port to use when `s` has none (e.g. 7400 for a master). Without it a port is required. */
  defaultPort?: number;
  /** Accept port 0 (listen on any free port). Default false. */
  allowPortZero?: boolean;
}

// [v6]:port | [v6] | host:port | host. The host part is deliberately loose (names, IPv4),
// but refuses what can only be a mistake: whitespace, slashes, a bare IPv6 without brackets.
const BRACKETED_RE = /^\[([^\]]+)\](?::(\d*))?$/;
const PLAIN_RE = /^([A-Za-z0-9._-]+)(?::(\d*))?$/;

/**
 * Parses `host:port` or `[ipv6]:port` as given by a person.
 *
 * @param flag names the flag or option in the error, e.g. `--master`.
 * @throws LoadLedgerError BAD_ARGUMENT with one line naming `flag`.
 */
export function parseHostPort(s: string, flag: string, opts: ParseHostPortOptions = {}): HostPort {
  const text = typeof s === 'string' ? s.trim() : '';
  const expected = opts.defaultPort === undefined ? 'host:port (IPv6 as [::1]:7400)' : 'host or host:port (IPv6 as [::1]:7400)';
  const fail = (why?: string) => badArgument(`${flag}: expected ${expected}${why ? ` (${why})` : ''}, got ${JSON.stringify(s)}`);

  let host: string | undefined;
  let portText: string | undefined;
  const b = BRACKETED_RE.exec(text);
  if (b) {
    host = b[1];
    portText = b[2];
    if (host === undefined || !isIPv6(host)) throw fail('not an IPv6 address in the brackets');
  } else {
    const p = PLAIN_RE.exec(text);
    if (!p) throw fail(text.split(':').length > 2 ? 'put an IPv6 address in brackets' : undefined);
    host = p[1];
    portText = p[2];
  }
  if (host === undefined || host === '') throw fail();

  let port: number;
  if (portText === undefined) {
    if (opts.defaultPort === undefined) throw fail('no port');
    port = opts.defaultPort;
  } else {
    port = portText === '' ? NaN : Number(portText);
    const min = opts.allowPortZero ? 0 : 1;
    if (!Number.isInteger(port) || port < min || port > 65535) throw fail(`port must be ${min}-65535`);
  }
  return { host, port };
}

/**
 * A comma-separated list of `host:port` as given by a person (`--master a:7400,b:7400`), or
 * the items of a list already split (a config file's YAML list). Every item goes through
 * parseHostPort; an empty item (`a,,b`, a trailing comma) and the same address twice are
 * refused, so a typo never silently shortens the list.
 *
 * @throws LoadLedgerError BAD_ARGUMENT with one line naming `flag` and the item.
 */
export function parseHostPortList(s: string | readonly string[], flag: string, opts: ParseHostPortOptions = {}): HostPort[] {
  const items = typeof s === 'string' ? s.split(',') : [...s];
  if (items.length === 0) throw badArgument(`${flag}: expected at least one address`);
  const out: HostPort[] = [];
  const seen = new Set<string>();
  for (const [i, item] of items.entries()) {
    if (typeof item !== 'string' || item.trim() === '') {
      throw badArgument(
        `${flag}: address ${i + 1} of ${items.length} is empty${typeof s === 'string' ? ` in ${JSON.stringify(s)}` : ''}; separate addresses with single commas`,
      );
    }
    const hp = parseHostPort(item, flag, opts);
    const key = `${hp.host.toLowerCase()}|${hp.port}`;
    if (seen.has(key)) throw badArgument(`${flag}: ${item.trim()} is listed twice`);
    seen.add(key);
    out.push(hp);
  }
  return out;
}

/** `host:port`, IPv6 in brackets: what a person writes and reads. */
export function formatHostPort(hp: HostPort): string {
  return hp.host.includes(':') ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}
