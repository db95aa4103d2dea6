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
import { CommanderError, type Command, type Option } from 'commander';
import { exitCode } from '../errors.js';
import { readConfigFile } from './config/file.js';
import { closestKey } from './config/keys.js';
import { formatConfig } from './config/print.js';
import {
  ENV_PREFIX,
  configError,
  envName,
  envSettingValue,
  isBadArgument,
  parseSettingValue,
  settingsOf,
  type Setting,
  type Source,
} from './config/settings.js';

export { readConfigFile } from './config/file.js';
export { closestKey } from './config/keys.js';
export { formatConfig, isSecret } from './config/print.js';
export {
  ENV_PREFIX,
  envName,
  envSettingValue,
  parseSettingValue,
  settingsOf,
  type Provenance,
  type Setting,
  type Source,
} from './config/settings.js';

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
  refuseUnknownEnv(cmd, env);
  const sources = new Map<string, Source>();
  for (const s of settings) {
    const current = cmd.getOptionValueSource(s.attr);
    if (current === 'cli' || (current !== undefined && current !== 'default')) {
      sources.set(s.attr, FROM_COMMANDER[current] ?? { kind: 'cli' });
    } else if (overruled(cmd, s)) {
      // `replay --http URL` with LOADLEDGER_DATA set (for a master): the flag wins over the
      // other source of the same thing, rather than the two refusing each other
      sources.set(s.attr, { kind: 'unset' });
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

/** LOADLEDGER_* variables that are no flag's: LOADLEDGER_DEBUG (a stack trace with an unexpected error). */
const OTHER_ENV = new Set([`${ENV_PREFIX}DEBUG`]);

/**
 * A LOADLEDGER_* variable that no command has a flag for (`LOADLEDGER_LSTEN`) is refused like
 * an unknown config key. A variable of another command's flag is fine: one environment often
 * serves several commands (LOADLEDGER_TOKEN_FILE for query beside a master's settings).
 */
function refuseUnknownEnv(cmd: Command, env: NodeJS.ProcessEnv): void {
  let root = cmd;
  while (root.parent) root = root.parent;
  const known = new Set(OTHER_ENV);
  for (const c of [root, ...root.commands]) for (const s of settingsOf(c)) known.add(s.env);
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith(ENV_PREFIX) || known.has(name) || env[name] === undefined || env[name] === '') continue;
    const key = closestKey(
      name.slice(ENV_PREFIX.length).toLowerCase().replace(/_/g, '-'),
      settingsOf(cmd).map((s) => s.key),
    );
    const hint = key === undefined ? undefined : envName(key);
    throw configError(
      `${name}: no such setting${hint ? ` (did you mean ${hint}?)` : ''}; the variables are ${ENV_PREFIX} and a flag of loadledger ${cmd.name()} in upper snake case`,
    );
  }
}

/** A flag given on the command line that `s` cannot go with (commander's `conflicts`, either way round). */
function overruled(cmd: Command, s: Setting): boolean {
  const given = (attr: string): boolean => cmd.getOptionValueSource(attr) === 'cli';
  const own = [...conflictsOf(s.option), ...conflictsOf(s.negate)];
  return own.some(given) || cmd.options.some((o) => conflictsOf(o).includes(s.attr) && given(o.attributeName()));
}

/** What `.conflicts([...])` recorded on an option (commander keeps it, its types do not say so). */
function conflictsOf(o: Option | undefined): readonly string[] {
  const names: unknown = o === undefined ? undefined : Reflect.get(o, 'conflictsWith');
  return Array.isArray(names) ? names.filter((n): n is string => typeof n === 'string') : [];
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
