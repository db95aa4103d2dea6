import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** `master.pid` in the data directory: written once MasterStarted is in the log, removed at stop. */
export function writePidFile(data: string): void {
  writeFileSync(join(data, 'master.pid'), `${process.pid}\n`);
}

export function removePidFile(data: string): void {
  rmSync(join(data, 'master.pid'), { force: true });
}
