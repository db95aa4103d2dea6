/** Reading a `--config` file: JSON or YAML, a map of settings, mistakes named by line and column. */
import { extname } from 'node:path';
import { parseDocument } from 'yaml';
import type { LoadLedgerError } from '../../errors.js';
import { MAX_SETTINGS_FILE_BYTES, readRegularFile } from '../../util/files.js';
import { configError, describe } from './settings.js';

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
  // Only a regular file of at most 4 MiB: `--config /dev/zero` or a FIFO is refused at once.
  const text = readRegularFile(file, `--config ${file}`, MAX_SETTINGS_FILE_BYTES, 'a config file holds settings').toString('utf8');
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
      const what =
        err.code === 'MULTIPLE_DOCS'
          ? 'more than one document (---)'
          : (err.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
      throw fail(`not valid YAML: ${at ? `line ${at.line}, column ${at.col}: ` : ''}${what}`);
    }
    try {
      value = doc.toJS();
    } catch (e) {
      // an alias bomb ("Excessive alias count …") and the like: the file's fault, not ours
      throw fail(`not valid YAML: ${(e as Error).message.split('\n')[0] ?? ''}`);
    }
  }
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw fail(`expected a map of settings (like dead-after: 5s), got ${describe(value)}`);
  }
  return value as Record<string, unknown>;
}
