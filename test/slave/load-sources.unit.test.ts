import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode, LoadLedgerError } from '../../src/errors.js';
import { commandSource, cpuSource, parseLoadSource } from '../../src/slave/load-sources.js';
import { thrown } from '../helpers/errors.js';

async function rejection(p: Promise<unknown>): Promise<LoadLedgerError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(LoadLedgerError);
    return e as LoadLedgerError;
  }
  throw new Error('expected a rejection');
}

describe('parseLoadSource: spec', () => {
  it.each([
    ['42', 42],
    ['12.5', 12.5],
    ['0', 0],
    [' 7 ', 7],
    ['1e2', 100],
  ])('a number literal %j is a constant %d', async (spec, n) => {
    const src = parseLoadSource(spec);
    expect(await src.read()).toBe(n);
    expect(await src.read()).toBe(n);
  });

  it.each(['x', '', 'LOADAVG', 'load', 'file', 'cmd', 'http://x', 'Infinity', 'NaN'])('refuses %j', (spec) => {
    const e = thrown(() => parseLoadSource(spec));
    expect(e.code).toBe(ErrorCode.BAD_ARGUMENT);
    expect(e.message).toBe(`--load: expected a number, loadavg, cpu, file:PATH or cmd:COMMAND, got ${JSON.stringify(spec)}`);
  });

  it.each(['-1', '1e999', '+3', '1.2.3', '0x10'])('refuses a bad constant %j', (spec) => {
    const e = thrown(() => parseLoadSource(spec));
    expect(e.code).toBe(ErrorCode.BAD_ARGUMENT);
    expect(e.message).toMatch(/^--load: /);
  });

  it('refuses file: and cmd: without an argument, and names the given flag', () => {
    expect(thrown(() => parseLoadSource('file:')).message).toMatch(/^--load: file: needs a path/);
    expect(thrown(() => parseLoadSource('cmd:  ')).message).toMatch(/^--load: cmd: needs a command/);
    expect(thrown(() => parseLoadSource('x', { flag: '--load-source' })).message).toMatch(/^--load-source: /);
  });

  it('refuses a bad cmdTimeout', () => {
    expect(thrown(() => parseLoadSource('cmd:echo 1', { cmdTimeout: 0 })).code).toBe(ErrorCode.BAD_ARGUMENT);
  });
});

describe('loadavg and cpu', () => {
  it('loadavg is the 1-minute load average per core × 100', async () => {
    const src = parseLoadSource('loadavg');
    expect(src.describe).toBe('loadavg');
    const n = await src.read();
    expect(Number.isFinite(n)).toBe(true);
    expect(n).toBeGreaterThanOrEqual(0);
  });

  it('cpu gives a busy % in 0–100; the first read measures over a short window', async () => {
    const src = parseLoadSource('cpu', { cpuWindow: 30 });
    const t0 = performance.now();
    const first = await src.read();
    expect(performance.now() - t0).toBeGreaterThanOrEqual(25);
    expect(first).toBeGreaterThanOrEqual(0);
    expect(first).toBeLessThanOrEqual(100);
    const second = await src.read(); // since the previous read: no waiting
    expect(second).toBeGreaterThanOrEqual(0);
    expect(second).toBeLessThanOrEqual(100);
  });

  it('an aborted first cpu read rejects with LOAD_SOURCE_FAILED', async () => {
    const ac = new AbortController();
    const p = cpuSource({ window: 10_000 }).read(ac.signal);
    ac.abort();
    expect((await rejection(p)).code).toBe(ErrorCode.LOAD_SOURCE_FAILED);
  });
});

describe('file:PATH', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'loadledger-load-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads the trimmed number a gateway writes, on every read', async () => {
    const path = join(dir, 'gw.load');
    await writeFile(path, ' 37.5\n');
    const src = parseLoadSource(`file:${path}`);
    expect(src.describe).toBe(`file:${path}`);
    expect(await src.read()).toBe(37.5);
    await writeFile(path, '0');
    expect(await src.read()).toBe(0);
  });

  it('a missing file fails with LOAD_SOURCE_FAILED naming the file', async () => {
    const path = join(dir, 'missing.load');
    const e = await rejection(parseLoadSource(`file:${path}`).read());
    expect(e.code).toBe(ErrorCode.LOAD_SOURCE_FAILED);
    expect(e.message).toContain(path);
    expect(e.message).toContain('ENOENT');
  });

  it.each([
    ['empty', '', /is empty/],
    ['blank', '  \n', /is empty/],
    ['a word', 'busy', /not a number: "busy"/],
    ['negative', '-3', /negative/],
    ['two numbers', '12 13', /not a number/],
    ['overflowing', '1e999', /not a finite number/],
    ['NaN', 'NaN', /not a number/],
    ['5000 digits', '9'.repeat(5000), /larger than/],
  ])('content: %s fails with LOAD_SOURCE_FAILED', async (_label, content, why) => {
    const path = join(dir, 'gw.load');
    await writeFile(path, content);
    const e = await rejection(parseLoadSource(`file:${path}`).read());
    expect(e.code).toBe(ErrorCode.LOAD_SOURCE_FAILED);
    expect(e.message).toContain(`file:${path}`);
    expect(e.message).toMatch(why);
  });

  it('a directory fails with LOAD_SOURCE_FAILED', async () => {
    expect((await rejection(parseLoadSource(`file:${dir}`).read())).code).toBe(ErrorCode.LOAD_SOURCE_FAILED);
  });
});

describe('cmd:COMMAND', () => {
  it('parses the stdout of /bin/sh -c COMMAND', async () => {
    const src = parseLoadSource("cmd:echo 21 | awk '{ print $1 * 2 }'");
    expect(src.describe).toBe("cmd:echo 21 | awk '{ print $1 * 2 }'");
    expect(await src.read()).toBe(42);
    expect(await src.read()).toBe(42);
  });

  it('a non-zero exit fails, with the code and the first stderr line', async () => {
    const e = await rejection(parseLoadSource('cmd:echo gateway down >&2; echo 5; exit 3').read());
    expect(e.code).toBe(ErrorCode.LOAD_SOURCE_FAILED);
    expect(e.message).toContain('cmd:echo gateway down');
    expect(e.message).toMatch(/exited with code 3 \(stderr: gateway down\)/);
  });

  it.each([
    ['echo busy', /not a number: "busy"/],
    ['true', /is empty/],
    ['echo " -4"', /negative/],
    ['printf "1\\n2\\n"', /not a number/],
  ])('output of %j fails', async (cmd, why) => {
    const e = await rejection(parseLoadSource(`cmd:${cmd}`).read());
    expect(e.code).toBe(ErrorCode.LOAD_SOURCE_FAILED);
    expect(e.message).toMatch(why);
  });

  it('a command that runs too long is killed (with what it started) and fails at the timeout', async () => {
    const t0 = performance.now();
    // The sleep is a child of sh; if only sh were killed it would hold stdout open for 30 s.
    const e = await rejection(commandSource('sleep 30; echo 1', { timeout: 150 }).read());
    const took = performance.now() - t0;
    expect(e.code).toBe(ErrorCode.LOAD_SOURCE_FAILED);
    expect(e.message).toMatch(/timed out after 150 ms/);
    expect(took).toBeGreaterThanOrEqual(140);
    expect(took).toBeLessThan(5000);
  });

  it('the default timeout is 2 s and it is an option of the spec', async () => {
    const e = await rejection(parseLoadSource('cmd:sleep 30', { cmdTimeout: 100 }).read());
    expect(e.message).toMatch(/timed out after 100 ms/);
  });

  it('an abort kills the command', async () => {
    const ac = new AbortController();
    const p = commandSource('sleep 30').read(ac.signal);
    ac.abort();
    const e = await rejection(p);
    expect(e.code).toBe(ErrorCode.LOAD_SOURCE_FAILED);
    expect(e.message).toMatch(/aborted/);
  });

  it('a command killed by a signal fails', async () => {
    const e = await rejection(parseLoadSource('cmd:kill -TERM $$').read());
    expect(e.message).toMatch(/killed by SIGTERM/);
  });
});
