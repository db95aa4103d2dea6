/**
 * `--data`, as a careless user gives it (issue 12 item 12): a path under /proc hung the
 * start for ever (Node 20's recursive mkdir loops there), a directory holding other files
 * got a LevelDB written into it, a start that failed on a port in use left an empty
 * LevelDB behind, and a directory the process may not read was "no event log".
 */
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cleanup } from '../helpers/cleanup.js';
import { MAIN, ROOT, lines, runCli } from '../helpers/cli.js';

const cleanup = new Cleanup();
let dir = '';
let busy: Server;
let busyPort = 0;
beforeAll(async () => {
  dir = await cleanup.tempDir('loadledger-data-dir-');
  chmodSync(dir, 0o755);
  busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  busyPort = (busy.address() as { port: number }).port;
  cleanup.defer('close the busy port', () => new Promise((r) => busy.close(r)));
});
afterAll(() => cleanup.run());

async function oneLine(args: string[], code: number): Promise<string> {
  const r = await runCli(cleanup, args, { timeout: 20_000 });
  const err = lines(r.stderr);
  expect(err, r.stderr).toHaveLength(1);
  expect(r.code, r.stderr).toBe(code);
  return err[0]!;
}

const free = ['--listen', '127.0.0.1:0', '--http', '127.0.0.1:0'];

describe('master --data', () => {
  it('a directory that cannot be created (/proc) is one line, exit 2, at once', async () => {
    expect(await oneLine(['master', '--data', '/proc/loadledger-test/x', ...free], 2)).toMatch(
      /^loadledger master: --data \/proc\/loadledger-test\/x: cannot create \/proc\/loadledger-test/,
    );
  });

  it('a directory holding other files is refused, naming them, and left as it was', async () => {
    const d = join(dir, 'notes');
    mkdirSync(d);
    writeFileSync(join(d, 'readme.txt'), 'mine\n');
    expect(await oneLine(['master', '--data', d, ...free], 2)).toMatch(/not an event log, and not empty: it holds readme\.txt/);
    expect(readdirSync(d)).toEqual(['readme.txt']);
  });

  it('a start that fails on a port in use takes back the directory it created, and the log in an empty one', async () => {
    const created = join(dir, 'new', 'log');
    expect(await oneLine(['master', '--data', created, '--listen', `127.0.0.1:${busyPort}`, '--http', '127.0.0.1:0'], 1)).toMatch(
      /address already in use/,
    );
    expect(existsSync(join(dir, 'new'))).toBe(false);
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    expect(await oneLine(['master', '--data', empty, '--listen', `127.0.0.1:${busyPort}`, '--http', '127.0.0.1:0'], 1)).toMatch(
      /address already in use/,
    );
    expect(readdirSync(empty)).toEqual([]);
  });
});

/** Runs the CLI as a user who may not read `dir` (nobody, when the tests run as root). */
function asStranger(args: string[]): Promise<{ code: number; stderr: string }> {
  const root = process.getuid?.() === 0;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [MAIN, ...args],
      { cwd: ROOT, timeout: 20_000, env: { ...process.env, LOADLEDGER_DEBUG: '' }, ...(root && { uid: 65534, gid: 65534 }) },
      (err, _out, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stderr }),
    );
  });
}

describe('a data directory the process may not read', () => {
  it('is "permission denied", naming it, for replay and master', async () => {
    const d = join(dir, 'private');
    mkdirSync(d);
    chmodSync(d, process.getuid?.() === 0 ? 0o700 : 0o000);
    cleanup.defer('chmod back', () => chmodSync(d, 0o700));
    const replay = await asStranger(['replay', '--data', d]);
    expect(replay.code, replay.stderr).toBe(1);
    expect(lines(replay.stderr)).toEqual([expect.stringMatching(new RegExp(`^loadledger replay: --data ${d}: permission denied`))]);
    const master = await asStranger(['master', '--data', d, ...free]);
    expect(master.code, master.stderr).toBe(1);
    expect(lines(master.stderr)).toEqual([expect.stringMatching(new RegExp(`^loadledger master: --data ${d}: permission denied`))]);
  });
});
