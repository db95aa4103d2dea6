/**
 * The settings of a command (one per option attribute) and how a value from a config file or
 * an environment variable becomes the value its flag would have given: through the flag's own
 * parser, so a refusal has the flag's words.
 */
import { InvalidArgumentError, type Command, type Option } from 'commander';
import { ErrorCode, isLoadLedgerError, LoadLedgerError } from '../../errors.js';
import { isRepeatableParser } from '../options.js';

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

export type Source =
  { kind: 'cli' } | { kind: 'env'; name: string } | { kind: 'config'; file: string } | { kind: 'default' } | { kind: 'unset' };

/** Where each setting's value came from. */
export type Provenance = ReadonlyMap<string, Source>;

/** A config file or environment variable the person got wrong: a BAD_ARGUMENT, one line, exit 2. */
export function configError(message: string): LoadLedgerError {
  return new LoadLedgerError(ErrorCode.BAD_ARGUMENT, message);
}

export function isBadArgument(e: unknown): e is LoadLedgerError {
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

export const takesValue = (o: Option | undefined): o is Option => o !== undefined && (o.required || o.optional);
const isRepeatable = (o: Option): boolean => o.variadic || isRepeatableParser(o.parseArg);

export function describe(v: unknown): string {
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
    // `LOADLEDGER_ALLOW=,,,` is a mistake, not an empty list (which would allow everyone)
    const items = text.split(',').map((t) => t.trim());
    if (items.some((t) => t === '')) throw configError(`an empty item in the comma-separated list ${JSON.stringify(text)}`);
    return items;
  }
  return text;
}
