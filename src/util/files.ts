/**
 * Reading a small file a person named (a config file, a token, a certificate): only a regular
 * file, only up to a limit, never blocking. `--admin-token-file /dev/zero` used to read until
 * the heap ran out, and a FIFO with no writer blocked the start for ever (issue 12 item 8):
 * the file is opened with O_NONBLOCK (a FIFO opens at once instead of waiting for a writer),
 * checked with fstat on the descriptor that was opened (not a stat of the path before, which a
 * rename could change), and read to at most `maxBytes` + 1 bytes.
 */
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { badArgument } from '../errors.js';

/** The default limit for a config, certificate or identities file. */
export const MAX_SETTINGS_FILE_BYTES = 4 * 1024 * 1024;
/** A token file holds one line: a token is at most a few hundred bytes. */
export const MAX_TOKEN_FILE_BYTES = 4 * 1024;

// Absent on Windows, where there are no FIFOs to block on in the same way.
const O_NONBLOCK: number = (constants as { O_NONBLOCK?: number }).O_NONBLOCK ?? 0;

/** `4 MiB`, `4 KiB`, `100 bytes`. */
export function formatBytes(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

function kindOf(st: Stats): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'a special file';
}

/** Why a file cannot be opened, in a few words (ENOENT → `no such file`). */
export function openProblem(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOENT':
    case 'ENOTDIR':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory, not a file';
    case 'ELOOP':
      return 'too many symbolic links';
    default:
      return `cannot read it (${code ?? (e as Error).message})`;
  }
}

/**
 * The bytes of a regular file of at most `maxBytes`.
 * @param label starts each error line: `--admin-token-file ./token`, `--config lb.yaml`.
 * @param what names the file in the size refusal (`a token file holds one line`).
 * @throws LoadLedgerError BAD_ARGUMENT (exit 2), one line: `LABEL: is a FIFO, not a regular file`.
 */
export function readRegularFile(path: string, label: string, maxBytes: number, what = ''): Buffer {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | O_NONBLOCK);
  } catch (e) {
    throw badArgument(`${label}: ${openProblem(e)}`);
  }
  const tooLarge = (): Error => badArgument(`${label}: larger than ${formatBytes(maxBytes)}${what ? `; ${what}` : ''}`);
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw badArgument(`${label}: is a directory, not a file`);
    if (!st.isFile()) throw badArgument(`${label}: is ${kindOf(st)}, not a regular file`);
    if (st.size > maxBytes) throw tooLarge();
    // The size may be wrong (/proc reports 0) or grow while we read: read to the limit + 1.
    let buf = Buffer.alloc(Math.min(maxBytes + 1, Math.max(st.size + 1, 64 * 1024)));
    let got = 0;
    for (;;) {
      if (got === buf.length) {
        if (got > maxBytes) throw tooLarge();
        const bigger = Buffer.alloc(Math.min(maxBytes + 1, buf.length * 2));
        buf.copy(bigger);
        buf = bigger;
      }
      const n = readSync(fd, buf, got, buf.length - got, null);
      if (n === 0) return buf.subarray(0, got);
      got += n;
    }
  } catch (e) {
    // An I/O error while reading (EIO, EAGAIN on a device): one line too.
    if (typeof (e as NodeJS.ErrnoException).errno === 'number') throw badArgument(`${label}: ${openProblem(e)}`);
    throw e;
  } finally {
    closeSync(fd);
  }
}
