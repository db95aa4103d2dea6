/**
 * What a careless user found (issue 12, low items), as a user runs it: the built CLI in
 * child processes. Each case is one line on stderr and the exit code it promises
 * (docs/errors.md: 2 for usage), within a deadline: before the fixes, several never ended.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cleanup } from '../helpers/cleanup.js';
import { MAIN, lines, runCli } from '../helpers/cli.js';

const cleanup = new Cleanup();
const suite = new Cleanup();
afterAll(async () => {
  await cleanup.run();
  await suite.run();
});

let dir = '';
let fifo = '';
beforeAll(async () => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: build first (npm run build; npm test does it)`);
  dir = await suite.tempDir('loadledger-careless-');
  fifo = join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
});

/** Runs the CLI and expects one line on stderr and `code`; returns that line. */
async function oneLine(args: string[], code: number, env: Record<string, string | undefined> = {}): Promise<string> {
  const r = await runCli(cleanup, args, { env, timeout: 20_000 });
  const err = lines(r.stderr);
  expect(err, r.stderr).toHaveLength(1);
  expect(r.code, r.stderr).toBe(code);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  return err[0]!;
}

// Item 8: --admin-token-file /dev/zero and --config /dev/zero read until 3.6 GB; a FIFO hung.
describe('files a person names: only regular files, with a size limit, exit 2', () => {
  it.each([
    [['master', '--config', '<fifo>'], '--config <fifo>: is a FIFO, not a regular file'],
    [['master', '--admin-token-file', '<fifo>'], '--admin-token-file <fifo>: is a FIFO, not a regular file'],
    [['master', '--config', '/dev/zero'], '--config /dev/zero: is a character device, not a regular file'],
    [['master', '--admin-token-file', '/dev/zero'], '--admin-token-file /dev/zero: is a character device, not a regular file'],
    [['query', 'nodes', '--token-file', '<fifo>'], '--token-file <fifo>: is a FIFO, not a regular file'],
    [['master', '--tls-cert', '<fifo>', '--tls-key', '<fifo>', '--tls-ca', '<fifo>'], 'is a FIFO, not a regular file'],
  ])('%j', async (args, message) => {
    const line = await oneLine(
      args.map((a) => a.replace('<fifo>', fifo)),
      2,
      { LOADLEDGER_DATA: join(dir, 'data') },
    );
    expect(line).toContain(message.replaceAll('<fifo>', fifo));
  });
});
