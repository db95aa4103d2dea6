import {
  accessSync,
  constants,
  copyFileSync,
  existsSync,
  linkSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, LoadLedgerError } from '../src/errors.js';
import { EventLog } from '../storage/event-log.js';

/** Whether a process with this pid is alive (signal 0 probes without signalling). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pid of the master running on `dir`, if one is. */
export function runningMaster(dir: string): number | undefined {
  const file = join(dir, 'master.pid');
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid) ? pid : undefined;
}

export interface ReadOnlyLog {
  log: EventLog;
  close(): Promise<void>;
}

/**
 * Opens a master's log for reading without changing a byte of it.
 *
 * LevelDB has no read-only mode: opening a database replays its write-ahead log into a
 * table file, rewrites the manifest and may compact. So we open a private copy: table
 * files (immutable once written) are hard-linked, the few small mutable files copied.
 * The source directory stays exactly as it was, and a copy taken off another machine can
 * be replayed as often as needed.
 */
export async function openLogReadOnly(dir: string): Promise<ReadOnlyLog> {
  try {
    accessSync(dir, constants.R_OK | constants.X_OK);
    if (statSync(dir).isDirectory()) accessSync(join(dir, 'CURRENT'), constants.F_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM')
      throw new LoadLedgerError(ErrorCode.PERMISSION_DENIED, `--data ${dir}: permission denied reading it (${code})`, { cause: e });
  }
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new LoadLedgerError(ErrorCode.LOG_NOT_FOUND, `no event log at ${dir}`);
  }
  const pid = runningMaster(dir);
  if (pid !== undefined) {
    throw new LoadLedgerError(
      ErrorCode.LOG_LOCKED,
      `the event log in ${dir} is in use by a running master (pid ${pid}); stop it first, or read it live with --http`,
    );
  }
  if (!existsSync(join(dir, 'CURRENT'))) {
    throw new LoadLedgerError(ErrorCode.LOG_NOT_FOUND, `no event log at ${dir} (no LevelDB CURRENT file)`);
  }
  const copy = mkdtempSync(join(tmpdir(), 'loadledger-replay-'));
  try {
    for (const name of readdirSync(dir)) {
      if (name === 'LOCK' || name === 'master.pid') continue;
      const from = join(dir, name);
      if (!statSync(from).isFile()) continue;
      const to = join(copy, name);
      if (name.endsWith('.ldb') || name.endsWith('.sst')) {
        try {
          linkSync(from, to);
          continue;
        } catch {
          // another filesystem: fall back to a copy
        }
      }
      copyFileSync(from, to);
    }
    const log = await EventLog.open(copy, { create: false });
    log.label = dir;
    return {
      log,
      close: async () => {
        await log.close();
        rmSync(copy, { recursive: true, force: true });
      },
    };
  } catch (e) {
    rmSync(copy, { recursive: true, force: true });
    if (e instanceof LoadLedgerError) throw new LoadLedgerError(e.code, e.message.split(copy).join(dir), { cause: e.cause });
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM')
      throw new LoadLedgerError(
        ErrorCode.PERMISSION_DENIED,
        `--data ${dir}: permission denied reading ${(e as NodeJS.ErrnoException).path ?? dir}`,
        { cause: e },
      );
    throw e;
  }
}
