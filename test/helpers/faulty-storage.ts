/**
 * Storage that fails on demand: a real LevelDB event log (storage/event-log.ts) whose appends
 * fail while `disk.full`, as a full disk does, for the tests of what the master and each
 * interface do while the log cannot be written (startMaster's `openLog`).
 */
import { ErrorCode, LoadLedgerError } from '../../src/errors.js';
import { EventLog, type EventLogOptions } from '../../storage/event-log.js';

export /** A real LevelDB log whose appends fail while `disk.full`; `disk.writeThenFail` makes an append reach the disk and still report an error (a failed fsync). */
function faultyStorage() {
  const disk = { full: false, writeThenFail: false, failures: 0, opens: 0 };
  const openLog = async (dir: string, o: EventLogOptions): Promise<EventLog> => {
    disk.opens++;
    const log = await EventLog.open(dir, o);
    const append = log.append.bind(log);
    log.append = async (events) => {
      if (disk.writeThenFail) {
        disk.writeThenFail = false;
        disk.failures++;
        await append(events);
        throw new LoadLedgerError(ErrorCode.LOG_WRITE_FAILED, `cannot write to the event log in ${dir}: EIO: i/o error, fsync`);
      }
      if (disk.full) {
        disk.failures++;
        throw new LoadLedgerError(ErrorCode.LOG_WRITE_FAILED, `cannot write to the event log in ${dir}: ENOSPC: no space left on device`);
      }
      return append(events);
    };
    return log;
  };
  return { disk, openLog };
}
