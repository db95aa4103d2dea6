/**
 * Small files a person names (config, tokens, certificates): only regular files, only up to a
 * limit, never blocking (issue 12 item 8: `--admin-token-file /dev/zero` and `--config
 * /dev/zero` grew to 3.6 GB and never started; a FIFO hung). Real files in a temp dir, a real
 * FIFO (mkfifo), /dev/zero. Each refusal is one BAD_ARGUMENT line naming the label.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import { formatBytes, readRegularFile } from '../../src/util/files.js';
import { readTokenFile } from '../../src/util/secrets.js';
import { readTlsFile } from '../../src/util/tls-files.js';
import { readConfigFile } from '../../src/cli/config.js';
import { fileSource } from '../../src/slave/load-sources.js';
import { ExportFile } from '../../replay/file-reader.js';
import { Cleanup } from '../helpers/cleanup.js';
import { errorOf, thrown } from '../helpers/errors.js';

const suite = new Cleanup();
let dir = '';
let fifo = '';
afterAll(() => suite.run());
beforeAll(async () => {
  dir = await suite.tempDir('loadledger-files-');
  fifo = join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
});

function refusal(fn: () => unknown): string {
  const e = thrown(fn);
  expect(e.code).toBe(ErrorCode.BAD_ARGUMENT);
  expect(e.message).not.toContain('\n');
  return e.message;
}

describe('readRegularFile', () => {
  it('reads a regular file, and one whose size says 0 (/proc)', () => {
    const p = join(dir, 'small');
    writeFileSync(p, 'hello\n');
    expect(readRegularFile(p, 'L', 100).toString()).toBe('hello\n');
    expect(readRegularFile('/proc/self/status', 'L', 1024 * 1024).toString()).toMatch(/^Name:/);
  });

  it('refuses a FIFO at once (no writer: it would block for ever), a device, a directory, a missing file', () => {
    expect(refusal(() => readRegularFile(fifo, `--x ${fifo}`, 100))).toBe(`--x ${fifo}: is a FIFO, not a regular file`);
    expect(refusal(() => readRegularFile('/dev/zero', '--x /dev/zero', 100))).toBe(
      '--x /dev/zero: is a character device, not a regular file',
    );
    expect(refusal(() => readRegularFile(dir, '--x d', 100))).toBe('--x d: is a directory, not a file');
    expect(refusal(() => readRegularFile(join(dir, 'nope'), '--x n', 100))).toBe('--x n: no such file');
  });

  it('refuses a file over the limit, by its size and by what it holds (a /proc file says 0)', () => {
    const p = join(dir, 'big');
    writeFileSync(p, 'x'.repeat(101));
    expect(refusal(() => readRegularFile(p, 'L', 100, 'what it is'))).toBe('L: larger than 100 bytes; what it is');
    writeFileSync(p, 'x'.repeat(100));
    expect(readRegularFile(p, 'L', 100).length).toBe(100);
    expect(refusal(() => readRegularFile('/proc/self/status', 'L', 10))).toBe('L: larger than 10 bytes');
    expect(formatBytes(4 * 1024 * 1024)).toBe('4 MiB');
  });
});

describe('every file the CLI reads goes through it', () => {
  it('token files: a device, a FIFO, over 4 KiB, two lines', () => {
    expect(refusal(() => readTokenFile('/dev/zero', '--admin-token-file'))).toBe(
      '--admin-token-file /dev/zero: is a character device, not a regular file',
    );
    expect(refusal(() => readTokenFile(fifo, '--token-file'))).toBe(`--token-file ${fifo}: is a FIFO, not a regular file`);
    const big = join(dir, 'big-token');
    writeFileSync(big, 'x'.repeat(4097));
    expect(refusal(() => readTokenFile(big, '--admin-token-file'))).toBe(
      `--admin-token-file ${big}: larger than 4 KiB; a token file holds one line`,
    );
  });

  it('config, TLS and identities files', () => {
    expect(refusal(() => readConfigFile('/dev/zero'))).toBe('--config /dev/zero: is a character device, not a regular file');
    expect(refusal(() => readConfigFile(fifo))).toBe(`--config ${fifo}: is a FIFO, not a regular file`);
    expect(refusal(() => readTlsFile('/dev/zero', '--tls-key'))).toBe('--tls-key: is a character device, not a regular file');
  });

  it('a slave file: load source and a replay --file: a FIFO or a device is refused, not waited on', async () => {
    const e = await errorOf(fileSource(fifo).read());
    expect(e.code).toBe(ErrorCode.LOAD_SOURCE_FAILED);
    expect(e.message).toMatch(/not a regular file/);
    for (const p of [fifo, '/dev/zero']) {
      const r = await errorOf(ExportFile.open(p));
      expect([r.code, r.message]).toEqual([ErrorCode.BAD_ARGUMENT, `${p}: not a regular file (a FIFO or a device), not an export file`]);
    }
    expect(existsSync(fifo)).toBe(true);
  });
});
