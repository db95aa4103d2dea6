import { InvalidArgumentError, Option, type Command } from 'commander';
import { isLoadLedgerError } from '../errors.js';
import { controlProblem } from '../protocol/names.js';
import { FORBIDDEN_KEY } from '../protocol/push.js';
import { MAX_TIMER_MS, maxTimerIn, parseDuration } from '../util/duration.js';
import { formatHostPort, parseHostPort, type HostPort } from '../util/hostport.js';
import { parseAllowList } from '../util/cidr.js';
import { MASTER_DEFAULTS } from '../node/options.js';

// What --config and LOADLEDGER_* need to know about a parser beyond commander's Option
// (src/cli/config.ts): whether the flag is repeatable (a list in a config file, comma-separated
// in the environment), and how to write a parsed value back as a person types it
// (--print-config: `5s`, not 5000). A flag whose parser is in neither registry still works
// through config and env; its value is printed as parsed.
const repeatableParsers = new WeakSet<object>();
const formatters = new WeakMap<object, (value: never) => unknown>();

/** Marks a parser `(value, previous) => accumulated` as a repeatable flag's. */
export function repeatable<T, P extends unknown[]>(parse: (s: string, ...rest: P) => T): (s: string, ...rest: P) => T {
  repeatableParsers.add(parse);
  return parse;
}

export function isRepeatableParser(parse: unknown): boolean {
  return typeof parse === 'function' && repeatableParsers.has(parse);
}

/** Registers how a parsed value of `parse` is written back as text (or a list of texts). */
export function withFormat<T, P extends unknown[]>(
  parse: (s: string, ...rest: P) => T,
  format: (value: T) => unknown,
): (s: string, ...rest: P) => T {
  formatters.set(parse, format);
  return parse;
}

/** The value as a person would write it in a config file (itself, without a registered formatter). */
export function formatParsed(parse: unknown, value: unknown): unknown {
  const format = typeof parse === 'function' ? formatters.get(parse) : undefined;
  return format ? format(value as never) : value;
}

/** Milliseconds in the largest unit that is exact: 300000 → `5m`, 1500 → `1500ms`, 0 → `0`. */
export function formatDurationArg(ms: number): string {
  if (ms === 0) return '0';
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

export { formatHostPort };

/** Where the HTTP clients (query, drain, cluster) look for a master by default: its default --http. */
export const DEFAULT_HTTP_URL = `http://${formatHostPort(MASTER_DEFAULTS.http)}`;

/** How a default reads in --help: as a person types it (`127.0.0.1:7400`, `1s`, `./data`), never JSON or milliseconds. */
export function shownDefault(parse: unknown, value: unknown): string {
  const v = formatParsed(parse, value);
  return Array.isArray(v) ? v.join(',') : String(v);
}

/**
 * An option with a default that --help shows as the flag is typed (commander's
 * `Option.default(value, description)`): `--listen <host:port> … (default: 127.0.0.1:7400)`,
 * not `{"host":…}`; `--interval <duration> … (default: 1s)`, not 1000. `shown` overrides the
 * formatted value where a word says it better (`keep all` for a 0 that means off).
 */
export function withDefault<T>(
  flags: string,
  description: string,
  value: NoInfer<T>,
  parse?: (s: string, previous: T) => T,
  shown?: string,
): Option {
  const option = new Option(flags, description);
  if (parse) option.argParser(parse);
  return option.default(value, shown ?? shownDefault(parse, value));
}

/** Wraps a LoadLedgerError parser as a commander argument parser (commander names the flag). */
function commanderParser<T>(parse: (s: string) => T): (s: string) => T {
  return (s) => {
    try {
      return parse(s);
    } catch (e) {
      if (isLoadLedgerError(e)) throw new InvalidArgumentError(e.message.replace(/^[^:]*: /, ''));
      throw e;
    }
  };
}

// A bare number: the library reads it as milliseconds, which on the command line is a trap
// (`--retain 30` would keep 30 ms of history). Flags require a unit; only 0 goes without one.
const BARE_NUMBER_RE = /^(\d+(?:\.\d+)?|\.\d+)$/;

function cliDuration(s: string): number {
  const t = s.trim();
  if (BARE_NUMBER_RE.test(t) && Number(t) !== 0) {
    throw new InvalidArgumentError(`expected a duration with a unit, like 500ms, 3s, 1m, 2h, 7d, got ${JSON.stringify(s)}`);
  }
  return parseDuration(s, 'duration');
}

/**
 * A duration that times something (an interval, a timeout, a grace period) is at most
 * MAX_TIMER_MS (~24.8 days), refused in the unit it was typed in: Node fires a longer timer
 * after 1 ms, and a longer interval every millisecond (issue 12: `--retention-interval 30d`).
 */
function timerDuration(s: string): number {
  const ms = cliDuration(s);
  if (ms > MAX_TIMER_MS)
    throw new InvalidArgumentError(`at most ${maxTimerIn(s)} (the longest timer Node.js can set), got ${JSON.stringify(s)}`);
  return ms;
}

/** An age, not a timer (`--retain`): ≥ 0, any length; a unit is required. */
export const ageArg = withFormat(commanderParser(cliDuration), (ms) => (ms === 0 ? 0 : formatDurationArg(ms)));

/** A duration flag (≥ 0, at most ~24.8d): `500ms`, `3s`, `1m`, `2h`, `7d`, or `0`; a unit is required. */
export const durationArg = withFormat(commanderParser(timerDuration), (ms) => (ms === 0 ? 0 : formatDurationArg(ms)));

/** A duration flag above 0 (at most ~24.8d); a unit is required. */
export const positiveDurationArg = withFormat(
  commanderParser((s) => {
    const ms = timerDuration(s);
    if (ms <= 0) throw new InvalidArgumentError(`expected a duration above 0, got ${JSON.stringify(s)}`);
    return ms;
  }),
  formatDurationArg,
);

/** `--allow CIDR`, repeatable: checked here, collected in order. */
export const allowArg = repeatable((s: string, prev: string[] = []): string[] => {
  commanderParser((v: string) => parseAllowList([v]))(s);
  return [...prev, s];
});

/** A comma-separated list (`a,b,c`), blanks dropped; written back the same way. */
export const commaListArg = withFormat(
  (s: string): string[] =>
    s
      .split(',')
      .map((x) => x.trim())
      .filter((x) => x !== ''),
  (list: string[]) => list.join(','),
);

export const hostPortArg = withFormat(
  commanderParser((s): HostPort => parseHostPort(s, 'address', { allowPortZero: true })),
  formatHostPort,
);

export function intArg(min: number, max = Number.MAX_SAFE_INTEGER): (s: string) => number {
  return (s) => {
    const n = Number(s);
    if (!/^\d+$/.test(s.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}, got ${JSON.stringify(s)}`);
    }
    return n;
  };
}

export function numberArg(min: number, exclusive = false): (s: string) => number {
  return (s) => {
    const n = Number(s);
    if (s.trim() === '' || !Number.isFinite(n) || n < min || (exclusive && n === min)) {
      throw new InvalidArgumentError(`expected a number ${exclusive ? '>' : '≥'} ${min}, got ${JSON.stringify(s)}`);
    }
    return n;
  };
}

/** `KEY=VALUE`, repeatable: collects into a record. */
export const keyValueArg = withFormat(
  repeatable((s: string, previous: Record<string, string> = {}): Record<string, string> => {
    const i = s.indexOf('=');
    if (i <= 0) throw new InvalidArgumentError(`expected KEY=VALUE, got ${JSON.stringify(s)}`);
    const key = s.slice(0, i);
    if (key === FORBIDDEN_KEY) throw new InvalidArgumentError(`the key ${JSON.stringify(key)} is not allowed (a master refuses it)`);
    const control = controlProblem(key, 'the key') ?? controlProblem(s.slice(i + 1), 'the value');
    if (control !== undefined) throw new InvalidArgumentError(control);
    return { ...previous, [key]: s.slice(i + 1) };
  }),
  (attrs: Record<string, string>) => Object.entries(attrs).map(([k, v]) => `${k}=${v}`),
);

/**
 * Adds --data, --file and --http (mutually exclusive) to a command that reads a log, and
 * the credentials that go with --http (--token-file, --ca).
 * `fileHelp` says what --file is for in that command.
 */
export function addSourceOptions(cmd: Command, fileHelp: string): Command {
  cmd
    .addOption(new Option('--data <dir>', "a stopped master's log directory, or a copy of it (default ./data)").conflicts(['file', 'http']))
    .addOption(new Option('--file <file>', fileHelp).conflicts(['http']))
    .option(
      '--http <urls>',
      "a running master, e.g. http://127.0.0.1:7480 or https://…; a cluster's masters comma-separated (reads whichever answers)",
    );
  return addCredentialOptions(cmd, 'the --http master');
}

/**
 * Adds --token-file and --ca to a command that talks to a master over HTTP (see
 * readCredentials in http-client.ts; $LOADLEDGER_TOKEN_FILE stands in for --token-file).
 */
export function addCredentialOptions(cmd: Command, http = 'the master'): Command {
  return (
    cmd
      .option('--token-file <file>', `a file holding the token of ${http}, sent as a bearer token (default: $LOADLEDGER_TOKEN_FILE)`)
      .option('--ca <file>', `a CA certificate (PEM) to trust when ${http} is https:// with a private CA`)
      // $LOADLEDGER_TOKEN_FILE is readCredentials' own fallback, which names the variable in
      // its messages; the configuration layers' copy of it (source 'env') would be named --token-file.
      .hook('preAction', (c) => {
        if (c.getOptionValueSource('tokenFile') === 'env') c.setOptionValueWithSource('tokenFile', undefined, 'default');
      })
  );
}
