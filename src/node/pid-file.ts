import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, LoadLedgerError } from '../errors.js';

/** Creates the data directory (BAD_ARGUMENT when the path is taken by something else). */
export function makeDataDir(data: string): void {
  try {
    mkdirSync(data, { recursive: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new LoadLedgerError(ErrorCode.BAD_ARGUMENT, `--data ${data}: ${code === 'EEXIST' || code === 'ENOTDIR' ? 'not a directory' : (e as Error).message}`, { cause: e });
  }
}

/** `master.pid` in the data directory: written once MasterStarted is in the log, removed at stop. */
export function writePidFile(data: string): void {
  writeFileSync(join(data, 'master.pid'), `${process.pid}\n`);
}

export function removePidFile(data: string): void {
  rmSync(join(data, 'master.pid'), { force: true });
}
