/**
 * The slave's options as a gateway gives them, and their checks: every mistake is a
 * BAD_ARGUMENT naming the option, thrown by createSlave before anything connects.
 */
import type { ConnectionOptions } from 'node:tls';
import { badArgument } from '../errors.js';
import { DEFAULT_LIMITS, FORBIDDEN_KEY, controlProblem, encodePush, isValidAddr, type Attrs } from '../protocol/index.js';
import { parseDuration } from '../util/duration.js';
import { parseHostPort, parseHostPortList, type HostPort } from '../util/hostport.js';
import type { Clock } from '../clock.js';
import { systemClock } from '../util/system-clock.js';
import type { BackoffOptions } from './backoff.js';
import { functionSource, type LoadFunction } from './load-loop.js';
import { parseLoadSource, type LoadSource } from './load-sources.js';
import { resolveTls, type SlaveTlsOptions } from './tls.js';

/** The backoff cap of a slave with several masters (ms): see `backoff` below. */
export const LIST_BACKOFF_MAX_MS = 300;

/** PROTOCOL.md "Transport": default master port for slaves. */
export const DEFAULT_MASTER_PORT = 7400;

/** A duration: milliseconds, or a string for parseDuration (`500ms`, `3s`, …). */
export type DurationInput = number | string;

export interface SlaveOptions {
  /**
   * `host:port` (`[::1]:7400`; the port defaults to 7400) or `{ host, port }`; or the
   * masters of a cluster (master HA): a comma-separated `a:7400,b:7400`, or a list. The
   * slave goes to whichever takes it (the leader), trying every address once right away
   * when it loses one, then with backoff (backoff.ts).
   */
  master: string | HostPort | readonly (string | HostPort)[];
  /** The address clients are given for this node (`host` or `host:port`). Default: the master uses our IP. */
  addr?: string;
  /** Where the load comes from: a function, a LoadSource, or a spec for parseLoadSource. */
  load: LoadFunction | LoadSource | string;
  /** Extra attributes pushed with every load (e.g. `{ zone: 'eu-1' }`). */
  attrs?: Attrs;
  /** Relative capacity, finite > 0. Default: not sent (the master assumes 1). */
  capacity?: number;
  /** Period of HELLO and of pushes. Default 1000 ms. */
  interval?: DurationInput;
  /** Silence from the master after which it is declared dead. Default 3000 ms; must exceed `interval`. */
  deadAfter?: DurationInput;
  /** Reconnect backoff between passes over the masters. Default 100 ms doubling to 5 s (300 ms with several masters), jitter 0.5. */
  backoff?: BackoffOptions;
  /** The jitter's randomness, uniform in [0, 1) (tests pass a seeded one). Default Math.random. */
  random?: () => number;
  /** Give up a connection attempt after this long. Default: `deadAfter`. */
  connectTimeout?: DurationInput;
  /** Talk TLS to the master (which requires a client certificate: `cert` and `key`). Default: plain TCP. */
  tls?: SlaveTlsOptions;
  /** Monotonic time and timers (HELLO ticks, dead-master check, connect timeout, backoff); tests drive a manual one. Default: the real ones. */
  scheduler?: Clock;
}

/** The options checked, with their defaults filled in. */
export interface ResolvedOptions {
  /** The masters, in the order given (one, without HA). */
  masters: HostPort[];
  addr: string | undefined;
  capacity: number | undefined;
  attrs: Attrs | undefined;
  source: LoadSource;
  interval: number;
  deadAfter: number;
  connectTimeout: number;
  backoff: Required<BackoffOptions>;
  /** TLS options for each master, in the same order. */
  tls: Array<{ connect: ConnectionOptions; servername: string }> | undefined;
  scheduler: Clock;
  random: () => number;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

/** Checks the options and fills in the defaults. */
export function resolveOptions(o: SlaveOptions): ResolvedOptions {
  if (typeof o !== 'object' || o === null) throw badArgument('slave options: expected an object');
  const masters = resolveMasters(o.master);

  if (o.addr !== undefined) {
    const control = typeof o.addr === 'string' ? controlProblem(o.addr, 'the address') : undefined;
    if (control !== undefined) throw badArgument(`addr: ${control}`);
    if (typeof o.addr !== 'string' || !isValidAddr(o.addr)) {
      throw badArgument(`addr: expected host or host:port (IPv6 as [::1]:8080), got ${JSON.stringify(o.addr)}`);
    }
    if (Buffer.byteLength(o.addr) > DEFAULT_LIMITS.maxStringBytes)
      throw badArgument(`addr: longer than ${DEFAULT_LIMITS.maxStringBytes} bytes`);
  }
  if (o.capacity !== undefined && (typeof o.capacity !== 'number' || !Number.isFinite(o.capacity) || o.capacity <= 0)) {
    throw badArgument(`capacity: expected a finite number > 0, got ${String(o.capacity)}`);
  }
  const attrs = o.attrs === undefined ? undefined : resolveAttrs(o.attrs);

  let source: LoadSource;
  if (typeof o.load === 'function') source = functionSource(o.load);
  else if (typeof o.load === 'string') source = parseLoadSource(o.load, { flag: 'load' });
  else if (typeof o.load === 'object' && o.load !== null && typeof o.load.read === 'function') source = o.load;
  else throw badArgument('load: expected a function, a LoadSource or a load-source spec');

  const interval = duration(o.interval, 1000, 'interval');
  const deadAfter = duration(o.deadAfter, 3000, 'deadAfter');
  if (deadAfter <= interval) {
    throw badArgument(
      `deadAfter: must be longer than interval (${interval} ms), got ${deadAfter} ms; the master answers HELLO once per interval`,
    );
  }
  const connectTimeout = duration(o.connectTimeout, deadAfter, 'connectTimeout');

  const b = o.backoff ?? {};
  if (typeof b !== 'object' || b === null) throw badArgument('backoff: expected { initial, max, jitter }');
  const initial = duration(b.initial, 100, 'backoff.initial');
  // With several masters one of them is about to lead: a failover is over one lease TTL after
  // the leader died, and each slave must be back within a second of that (docs/ha.md), with
  // its registration; a 1 s cap made 1,000 slaves take 1.2 s after the new leader answered
  // (bench: failover 3.4 s at TTL 2 s). 300 ms, half of it jitter, keeps them spread out.
  const max = duration(b.max, Math.max(initial, masters.length > 1 ? LIST_BACKOFF_MAX_MS : 5000), 'backoff.max');
  if (max < initial) throw badArgument(`backoff.max: must be ≥ backoff.initial (${initial} ms), got ${max} ms`);
  const jitter = b.jitter ?? 0.5;
  if (typeof jitter !== 'number' || !(jitter >= 0 && jitter <= 1))
    throw badArgument(`backoff.jitter: expected a number from 0 to 1, got ${String(jitter)}`);

  // The master refuses an oversized payload: fail here, not on every push.
  const sample = encodePush({
    load: Number.MAX_VALUE,
    ...(o.addr !== undefined && { addr: o.addr }),
    ...(o.capacity !== undefined && { capacity: o.capacity }),
    ...(attrs && { attrs }),
  });
  if (sample.length - 4 > DEFAULT_LIMITS.maxPayload) {
    throw badArgument(`attrs: a push would be ${sample.length - 4} bytes, more than the ${DEFAULT_LIMITS.maxPayload} a master accepts`);
  }

  const tlsOptions = o.tls;
  const tls =
    tlsOptions === undefined
      ? undefined
      : masters.map((m) => ({ connect: resolveTls(tlsOptions, m.host), servername: tlsOptions.servername ?? m.host }));
  const random = o.random ?? Math.random;
  if (typeof random !== 'function') throw badArgument('random: expected a function returning a number in [0, 1)');
  return {
    masters,
    addr: o.addr,
    capacity: o.capacity,
    attrs,
    source,
    interval,
    deadAfter,
    connectTimeout,
    backoff: { initial, max, jitter },
    tls,
    scheduler: o.scheduler ?? systemClock,
    random,
  };
}

function resolveMasters(m: SlaveOptions['master']): HostPort[] {
  if (typeof m === 'string') return parseHostPortList(m, 'master', { defaultPort: DEFAULT_MASTER_PORT });
  if (Array.isArray(m)) {
    const list = (m as readonly (string | HostPort)[]).map((x) =>
      typeof x === 'string' ? parseHostPort(x, 'master', { defaultPort: DEFAULT_MASTER_PORT }) : resolveMaster(x),
    );
    if (list.length === 0) throw badArgument('master: expected at least one address');
    const seen = new Set<string>();
    for (const hp of list) {
      const key = `${hp.host.toLowerCase()}|${hp.port}`;
      if (seen.has(key)) throw badArgument(`master: ${hp.host.includes(':') ? `[${hp.host}]` : hp.host}:${hp.port} is listed twice`);
      seen.add(key);
    }
    return list;
  }
  return [resolveMaster(m as string | HostPort)];
}

function resolveMaster(m: string | HostPort): HostPort {
  if (typeof m === 'string') return parseHostPort(m, 'master', { defaultPort: DEFAULT_MASTER_PORT });
  if (typeof m === 'object' && m !== null) {
    const { host, port } = m;
    if (typeof host !== 'string' || host.trim() === '' || /\s/.test(host))
      throw badArgument(`master.host: expected a host name or IP, got ${JSON.stringify(host)}`);
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
      throw badArgument(`master.port: expected an integer 1-65535, got ${String(port)}`);
    }
    // Accept a bracketed IPv6 as people write it; net.connect wants it bare.
    const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
    return { host: bare, port };
  }
  throw badArgument('master: expected host:port or { host, port }');
}

const RESERVED_KEYS = new Set(['load', 'addr', 'capacity']);

function resolveAttrs(a: Attrs): Attrs {
  if (typeof a !== 'object' || a === null || Array.isArray(a))
    throw badArgument('attrs: expected an object of string, number or boolean values');
  const out: Attrs = Object.create(null) as Attrs;
  const entries = Object.entries(a);
  if (entries.length > DEFAULT_LIMITS.maxAttrs)
    throw badArgument(`attrs: at most ${DEFAULT_LIMITS.maxAttrs} attributes, got ${entries.length}`);
  for (const [k, v] of entries) {
    if (RESERVED_KEYS.has(k)) throw badArgument(`attrs: "${k}" is not an attribute; use the ${k} option`);
    if (k === FORBIDDEN_KEY) throw badArgument(`attrs: key "${k}" is not allowed (a master refuses it)`);
    const keyControl = controlProblem(k, 'a key');
    if (keyControl !== undefined) throw badArgument(`attrs: ${keyControl}`);
    const valueControl = typeof v === 'string' ? controlProblem(v, 'the value') : undefined;
    if (valueControl !== undefined) throw badArgument(`attrs.${k}: ${valueControl}`);
    if (Buffer.byteLength(k) > DEFAULT_LIMITS.maxKeyBytes)
      throw badArgument(`attrs: key "${k.slice(0, 20)}…" is longer than ${DEFAULT_LIMITS.maxKeyBytes} bytes`);
    if (typeof v === 'string') {
      if (Buffer.byteLength(v) > DEFAULT_LIMITS.maxStringBytes)
        throw badArgument(`attrs.${k}: longer than ${DEFAULT_LIMITS.maxStringBytes} bytes`);
    } else if (typeof v === 'number') {
      if (!Number.isFinite(v)) throw badArgument(`attrs.${k}: expected a finite number, got ${v}`);
    } else if (typeof v !== 'boolean') {
      throw badArgument(`attrs.${k}: expected a string, number or boolean, got ${v === null ? 'null' : typeof v}`);
    }
    out[k] = v;
  }
  return out;
}

function duration(v: DurationInput | undefined, dflt: number, name: string): number {
  if (v === undefined) return dflt;
  const ms = typeof v === 'string' ? parseDuration(v, name) : v;
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0 || ms > MAX_TIMER_MS) {
    throw badArgument(`${name}: expected a duration > 0 and at most ${MAX_TIMER_MS} ms, got ${JSON.stringify(v)}`);
  }
  return ms;
}
