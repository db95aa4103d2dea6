/**
 * `--config FILE` and `LOADLEDGER_*` environment variables for a command's flags.
 *
 * Precedence: a flag on the command line > an environment variable > the config file > the
 * default. Nothing here knows the flags of a command: the settings are derived from the
 * options registered on the commander Command (one setting per attribute, so `--http
 * <host:port>` and `--no-http` are one key `http`), and every value goes through the flag's
 * own parser, so a config file or the environment is refused with the same words as the flag.
 *
 * - config key: the long flag without its dashes (`dead-after`; `http` for `--no-http`);
 *   kebab-case only: an unknown key (`deadAfter`, a typo) is refused, never ignored.
 * - environment: `LOADLEDGER_` + the key in upper snake case (`LOADLEDGER_DEAD_AFTER`);
 *   repeatable flags take a comma-separated list; an empty variable counts as unset.
 * - booleans: `true`/`false` in a file; `true`, `false`, `1`, `0` in the environment.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { CommanderError, InvalidArgumentError, type Command, type Option } from 'commander';
import { parseDocument, stringify } from 'yaml';
import { ErrorCode, exitCode, isLoadLedgerError, LoadLedgerError } from '../errors.js';
import { formatParsed, isRepeatableParser } from './options.js';

export const ENV_PREFIX = 'LOADLEDGER_';

/** The options that are about the configuration itself, not settings. */
const OWN_OPTIONS = new Set(['config', 'print-config']);

/** One setting of a command: the options that set one attribute. */
export interface Setting {
  /** The config-file key: `dead-after`. */
  readonly key: string;
  /** The environment variable: `LOADLEDGER_DEAD_AFTER`. */
  readonly env: string;
  /** commander's attribute: `deadAfter`. */
  readonly attr: string;
  /** The option that takes a value, or the boolean flag (`--fsync`). */
  readonly option?: Option;
  /** `--no-<key>`. */
  readonly negate?: Option;
}

export type Source = { kind: 'cli' } | { kind: 'env'; name: string } | { kind: 'config'; file: string } | { kind: 'default' } | { kind: 'unset' };

/** Where each setting's value came from. */
export type Provenance = ReadonlyMap<string, Source>;

/** A config file or environment variable the person got wrong: a BAD_ARGUMENT, one line, exit 2. */
function configError(message: string): LoadLedgerError {
  return new LoadLedgerError(ErrorCode.BAD_ARGUMENT, message);
}

function isBadArgument(e: unknown): e is LoadLedgerError {
  return isLoadLedgerError(e) && e.code === ErrorCode.BAD_ARGUMENT;
}

export function envName(key: string): string {
  return ENV_PREFIX + key.toUpperCase().replace(/-/g, '_');
}

/** The settings of a command, in the order its options were registered. */
export function settingsOf(cmd: Command): Setting[] {
  const byAttr = new Map<string, { key: string; attr: string; option?: Option; negate?: Option }>();
  for (const o of cmd.options) {
    const long = o.long?.replace(/^--/, '');
    if (long === undefined || OWN_OPTIONS.has(long)) continue;
    const attr = o.attributeName();
    const key = o.negate ? long.replace(/^no-/, '') : long;
    const s = byAttr.get(attr) ?? { key, attr };
    if (o.negate) s.negate = o;
    else s.option = o;
    byAttr.set(attr, s);
  }
  return [...byAttr.values()].map((s) => ({ ...s, env: envName(s.key) }));
}

const takesValue = (o: Option | undefined): o is Option => o !== undefined && (o.required || o.optional);
const isRepeatable = (o: Option): boolean => o.variadic || isRepeatableParser(o.parseArg);

function describe(v: unknown): string {
  if (v === null) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  return JSON.stringify(v);
}

/** Runs one text through the option's parser; a refusal becomes a BAD_ARGUMENT with the parser's words. */
function parseText(o: Option, text: string, previous: unknown): unknown {
  if (!o.parseArg) return o.variadic ? [...((previous as unknown[] | undefined) ?? []), text] : text;
  try {
    return o.parseArg(text, previous as never);
  } catch (e) {
    const refused = e instanceof InvalidArgumentError || isBadArgument(e);
    if (!refused) throw e;
    // commander says which argument a flag parser refused; here the message must (a list has several).
    const quoted = JSON.stringify(text);
    throw configError(e.message.includes(quoted) ? e.message : `${e.message.replace(/\.$/, '')}, got ${quoted}`);
  }
}

function scalarText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw configError(`expected a value, got ${describe(v)}`);
}

/**
 * A value from a config file (a YAML/JSON value), parsed as the setting's flag would be.
 * @throws LoadLedgerError BAD_ARGUMENT with the reason (the caller names the key and the file).
 */
export function parseSettingValue(s: Setting, v: unknown): unknown {
  if (!takesValue(s.option)) {
    // --fsync, --open-reads, or a lone --no-<key>: true or false.
    if (typeof v !== 'boolean') throw configError(`expected true or false, got ${describe(v)}`);
    return v;
  }
  const o = s.option;
  if (s.negate && v === false) return false; // http: false is --no-http
  if (s.negate && v === true) return o.defaultValue; // http: true is the default --http
  if (v === null || v === undefined) throw configError('no value (leave the key out for the default)');
  if (isRepeatable(o)) {
    const items = Array.isArray(v) ? v : [v];
    if (items.length === 0) return o.defaultValue;
    let acc: unknown = undefined;
    for (const item of items) acc = parseText(o, scalarText(item), acc);
    return acc;
  }
  if (Array.isArray(v)) throw configError(`expected one value, got a list (--${s.key} is not repeatable)`);
  return parseText(o, scalarText(v), undefined);
}

/** An environment variable's text as the value a config file would hold. */
export function envSettingValue(s: Setting, text: string): unknown {
  if (!takesValue(s.option)) {
    const t = text.trim().toLowerCase();
    if (t === 'true' || t === '1') return true;
    if (t === 'false' || t === '0') return false;
    throw configError(`expected true, false, 1 or 0, got ${JSON.stringify(text)}`);
  }
  if (s.negate && text.trim() === 'false') return false;
  if (isRepeatable(s.option)) {
    return text
      .split(',')
      .map((t) => t.trim())
      .filter((t) => t !== '');
  }
  return text;
}

// ---------------------------------------------------------------- the file

function readError(e: NodeJS.ErrnoException): string {
  switch (e.code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory, not a file';
    default:
      return e.message;
  }
}

/** `Unexpected token } in JSON at position 12` → `line 2, column 3: Unexpected token }`. */
function jsonError(text: string, e: Error): string {
  const m = /^(.*?)(?: in JSON)? at position (\d+)/.exec(e.message);
  if (!m) return e.message;
  const before = text.slice(0, Number(m[2]));
  const line = before.split('\n').length;
  const column = before.length - before.lastIndexOf('\n');
  return `line ${line}, column ${column}: ${m[1]}`;
}

/**
 * Reads a config file: JSON if its name ends in .json, YAML otherwise. An empty file (or one
 * of comments only) holds no settings.
 * @throws LoadLedgerError BAD_ARGUMENT naming the file: unreadable, not YAML/JSON (line and column), not a map.
 */
export function readConfigFile(file: string): Record<string, unknown> {
  const fail = (why: string): LoadLedgerError => configError(`--config ${file}: ${why}`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw fail(readError(e as NodeJS.ErrnoException));
  }
  let value: unknown;
  if (extname(file).toLowerCase() === '.json') {
    try {
      value = JSON.parse(text);
    } catch (e) {
      throw fail(`not valid JSON: ${jsonError(text, e as Error)}`);
    }
  } else {
    const doc = parseDocument(text);
    const err = doc.errors[0];
    if (err) {
      const at = err.linePos?.[0];
      const what = err.code === 'MULTIPLE_DOCS' ? 'more than one document (---)' : (err.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
      throw fail(`not valid YAML: ${at ? `line ${at.line}, column ${at.col}: ` : ''}${what}`);
    }
    value = doc.toJS();
  }
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw fail(`expected a map of settings (like dead-after: 5s), got ${describe(value)}`);
  }
  return value as Record<string, unknown>;
}

// ---------------------------------------------------------------- unknown keys

function distance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return d[b.length]!;
}

/** The known key a mistyped one most likely meant: `deadAfter`, `dead_after`, `dead-afer` → `dead-after`. */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  const norm = (k: string): string => k.toLowerCase().replace(/[-_]/g, '');
  const same = known.find((k) => norm(k) === norm(key.replace(/^-+/, '').replace(/^no-/, '')));
  if (same) return same;
  let best: string | undefined;
  let bestD = 3;
  for (const k of known) {
    const dd = distance(key.toLowerCase(), k);
    if (dd < bestD) [best, bestD] = [k, dd];
  }
  return best;
}

// ---------------------------------------------------------------- layering

const FROM_COMMANDER: Partial<Record<string, Source>> = { cli: { kind: 'cli' }, default: { kind: 'default' } };

/**
 * Sets every setting that no flag set from the environment, else from the config file
 * (commander's value sources `env` and `config`); returns where each value came from. Every
 * key and value of the file and every LOADLEDGER_* variable of a setting is checked, even
 * where a flag wins over it: a mistake is reported, not hidden until the flag is dropped.
 */
export function applyLayers(cmd: Command, env: NodeJS.ProcessEnv): Map<string, Source> {
  const settings = settingsOf(cmd);
  const file = cmd.getOptionValue('config') as string | undefined;
  const fromFile = new Map<string, unknown>();
  if (file !== undefined) {
    const raw = readConfigFile(file);
    const byKey = new Map(settings.map((s) => [s.key, s]));
    for (const [key, v] of Object.entries(raw)) {
      const s = byKey.get(key);
      if (!s) {
        const hint = closestKey(key, [...byKey.keys()]);
        throw configError(
          `--config ${file}: unknown key ${JSON.stringify(key)}${hint ? ` (did you mean ${hint}?)` : ''}; keys are the flags of loadledger ${cmd.name()} without the dashes`,
        );
      }
      try {
        fromFile.set(s.attr, parseSettingValue(s, v));
      } catch (e) {
        if (isBadArgument(e)) throw configError(`--config ${file}: ${key}: ${e.message}`);
        throw e;
      }
    }
  }
  const fromEnv = new Map<string, unknown>();
  for (const s of settings) {
    const text = env[s.env];
    if (text === undefined || text === '') continue;
    try {
      fromEnv.set(s.attr, parseSettingValue(s, envSettingValue(s, text)));
    } catch (e) {
      if (isBadArgument(e)) throw configError(`${s.env}: ${e.message}`);
      throw e;
    }
  }
  const sources = new Map<string, Source>();
  for (const s of settings) {
    const current = cmd.getOptionValueSource(s.attr);
    if (current === 'cli' || (current !== undefined && current !== 'default')) {
      sources.set(s.attr, FROM_COMMANDER[current] ?? { kind: 'cli' });
    } else if (fromEnv.has(s.attr)) {
      cmd.setOptionValueWithSource(s.attr, fromEnv.get(s.attr), 'env');
      sources.set(s.attr, { kind: 'env', name: s.env });
    } else if (fromFile.has(s.attr)) {
      cmd.setOptionValueWithSource(s.attr, fromFile.get(s.attr), 'config');
      sources.set(s.attr, { kind: 'config', file: file! });
    } else {
      sources.set(s.attr, cmd.getOptionValue(s.attr) === undefined ? { kind: 'unset' } : { kind: 'default' });
    }
  }
  return sources;
}

// ---------------------------------------------------------------- --print-config

const SECRET_NAME_RE = /(^|-)(token|password|passphrase|secret|credentials?)(-|$)/;
const PATH_ARG_RE = /<(file|dir|path)>/;

/**
 * A setting whose value is itself a secret: its name says token/password/secret and its value
 * is not a path (`--admin-token-file <file>` is a path: printed; `--token <t>` would be masked).
 */
export function isSecret(s: Setting): boolean {
  return SECRET_NAME_RE.test(s.key) && !PATH_ARG_RE.test(s.option?.flags ?? '');
}

function sourceComment(src: Source): string {
  switch (src.kind) {
    case 'cli':
      return 'cli';
    case 'env':
      return `env ${src.name}`;
    case 'config':
      return `config ${src.file}`;
    case 'default':
      return 'default';
    case 'unset':
      return 'not set';
  }
}

const yamlValue = (v: unknown): string => stringify(v, { collectionStyle: 'flow', flowCollectionPadding: false, lineWidth: 0 }).trimEnd();

/**
 * The effective configuration as YAML that --config reads back: one `key: value` per setting
 * with its source as a comment; unset settings commented out; secrets masked.
 */
export function formatConfig(cmd: Command, sources: Provenance): string {
  const rows: Array<[string, string]> = [];
  for (const s of settingsOf(cmd)) {
    const src = sources.get(s.attr) ?? { kind: 'unset' };
    const value = cmd.getOptionValue(s.attr) as unknown;
    let comment = sourceComment(src);
    if (value === undefined) {
      if (s.option?.mandatory) comment += ', required';
      rows.push([`# ${s.key}:`, comment]);
      continue;
    }
    let shown: unknown;
    if (isSecret(s)) shown = '<hidden>';
    else if (value === false && takesValue(s.option)) shown = false;
    else shown = formatParsed(s.option?.parseArg, value);
    rows.push([`${s.key}: ${yamlValue(shown)}`, comment]);
  }
  const width = Math.min(48, Math.max(...rows.map(([l]) => l.length)));
  return (
    `# loadledger ${cmd.name()}: the effective configuration; after each value, where it came from\n` +
    `# (cli > env ${ENV_PREFIX}* > config file > default)\n` +
    rows.map(([line, comment]) => `${line.padEnd(width)}  # ${comment}`).join('\n') +
    '\n'
  );
}

// ---------------------------------------------------------------- wiring

export interface ConfigurableOptions {
  /** The environment to read LOADLEDGER_* from (default process.env). */
  env?: NodeJS.ProcessEnv;
}

/**
 * Adds `--config <file>` and `--print-config` to a command, and makes every option of it
 * (including ones registered after this call) settable from the file and the environment.
 *
 * The layers are applied right after commander reads the command line and before it checks
 * required options, so a required flag may come from the file or the environment. Mistakes
 * go through `cmd.error` (one line, exit 2); `--print-config` writes the configuration to
 * stdout and ends with a CommanderError of exit code 0 (the program uses exitOverride).
 */
export function configurable(cmd: Command, opts: ConfigurableOptions = {}): Command {
  const env = opts.env ?? process.env;
  cmd
    .option('--config <file>', 'read settings from this YAML or JSON file (keys: the flags without dashes); flags and env win')
    .option('--print-config', 'print the effective configuration (YAML, with where each value came from) and exit')
    .addHelpText(
      'after',
      `\nEvery flag can also come from --config FILE (dead-after: 5s) or the environment (${envName('dead-after')}=5s; lists comma-separated); a flag wins over the environment, which wins over the file.`,
    );
  const parseOptions = cmd.parseOptions.bind(cmd);
  cmd.parseOptions = (argv) => {
    const parsed = parseOptions(argv);
    if (parsed.unknown.includes('--help') || parsed.unknown.includes('-h')) return parsed; // help wins
    let sources: Map<string, Source>;
    try {
      sources = applyLayers(cmd, env);
    } catch (e) {
      if (isBadArgument(e)) cmd.error(e.message, { exitCode: exitCode(e.code), code: 'loadledger.badConfig' });
      throw e;
    }
    // An unknown flag is reported by commander, not printed around.
    if (cmd.getOptionValue('printConfig') === true && parsed.unknown.length === 0) {
      cmd.configureOutput().writeOut?.(formatConfig(cmd, sources));
      throw new CommanderError(0, 'loadledger.printConfig', 'printed the configuration');
    }
    return parsed;
  };
  return cmd;
}
