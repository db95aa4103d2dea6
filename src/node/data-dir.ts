import { accessSync, constants, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ErrorCode, LoadLedgerError, badArgument } from '../errors.js';

/** Entries a directory may hold and still take a new log: a fresh filesystem's lost+found. */
const IGNORED = new Set(['lost+found']);

/** A data directory made ready for a master, and how to undo that if its start fails. */
export interface DataDir {
  /** Removes what this start created (a new directory, or the files of a new log in an empty one), nothing else. */
  undo(): void;
}

function denied(path: string, what: string, e: unknown): LoadLedgerError {
  return new LoadLedgerError(ErrorCode.PERMISSION_DENIED, `--data ${path}: permission denied ${what}`, { cause: e });
}

/**
 * Checks `--data` and creates it where it is missing, one directory at a time (Node 20's
 * recursive mkdir loops for ever under /proc). A directory that holds anything but a
 * LevelDB is refused, naming what is there; one the process may not read or write is
 * PERMISSION_DENIED, naming it.
 */
export function prepareDataDir(data: string): DataDir {
  const missing: string[] = [];
  let at = resolve(data);
  for (;;) {
    let st;
    try {
      st = statSync(at);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EACCES' || code === 'EPERM') throw denied(data, `looking at ${at}`, e);
      if (code === 'ENOTDIR') throw badArgument(`--data ${data}: ${at} is inside something that is not a directory`);
      if (code !== 'ENOENT') throw badArgument(`--data ${data}: ${(e as Error).message}`);
      missing.unshift(at);
      const up = dirname(at);
      if (up === at) throw badArgument(`--data ${data}: no such file system root`);
      at = up;
      continue;
    }
    if (!st.isDirectory()) throw badArgument(`--data ${data}: ${at} is not a directory`);
    break;
  }
  for (const dir of missing) {
    try {
      mkdirSync(dir);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (missing[0] !== dir) rmSync(missing[0]!, { recursive: true, force: true });
      if (code === 'EACCES' || code === 'EPERM') throw denied(data, `creating ${dir}`, e);
      throw badArgument(
        `--data ${data}: cannot create ${dir}: ${code === 'ENOENT' ? `${dirname(dir)} takes no new directories` : (e as Error).message}`,
      );
    }
  }
  const dir = resolve(data);
  try {
    accessSync(dir, constants.R_OK | constants.W_OK | constants.X_OK);
  } catch (e) {
    throw denied(data, '(it must be readable and writable)', e);
  }
  if (missing.length > 0) return { undo: () => rmSync(missing[0]!, { recursive: true, force: true }) };
  const before = readdirSync(dir);
  if (before.includes('CURRENT')) return { undo: () => {} };
  const others = before.filter((n) => !IGNORED.has(n));
  if (others.length > 0) {
    const shown = others.sort().slice(0, 5).join(', ') + (others.length > 5 ? `, … (${others.length} entries)` : '');
    const leveldb = others.some((n) => /^MANIFEST-|\.(ldb|sst|log)$/.test(n));
    throw badArgument(
      `--data ${data}: not an event log, and not empty: it holds ${shown}${leveldb ? ' (LevelDB files without a CURRENT file: a damaged log?)' : ''}; give an empty or a new directory`,
    );
  }
  const kept = new Set(before);
  return {
    undo: () => {
      for (const name of readdirSync(dir)) if (!kept.has(name)) rmSync(join(dir, name), { recursive: true, force: true });
    },
  };
}
