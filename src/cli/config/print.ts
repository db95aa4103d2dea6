/** `--print-config`: the effective configuration as YAML that `--config` reads back. */
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { formatParsed } from '../options.js';
import { ENV_PREFIX, settingsOf, takesValue, type Provenance, type Setting, type Source } from './settings.js';

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
