/**
 * `loadledger master` logging, as a user runs it (the built CLI in a child process, stderr
 * a pipe): JSON Lines by default off a terminal, --log-level, LOADLEDGER_LOG_LEVEL, debug
 * lines for connections, bad levels refused with exit 2.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import { Cleanup } from '../helpers/cleanup.js';
import { lines, runCli, spawnCli, type Proc } from '../helpers/cli.js';
import { RawClient, rawFrame } from '../helpers/net.js';
import { waitFor, withTimeout } from '../helpers/wait.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** The log format the default picks: the helpers ask for the human one. */
const DEFAULT_FORMAT = { LOADLEDGER_LOG_FORMAT: undefined, LOADLEDGER_LOG_LEVEL: undefined };

interface Rec {
  level: string;
  time: string;
  pid: number;
  msg: string;
  event?: string;
  [k: string]: unknown;
}

/** Every stderr line, each of which must be a JSON object. */
function records(stderr: string): Rec[] {
  return lines(stderr).map((l) => {
    try {
      return JSON.parse(l) as Rec;
    } catch {
      throw new Error(`not a JSON line on stderr: ${l}`);
    }
  });
}

async function master(args: string[], env: Record<string, string | undefined> = {}): Promise<{ p: Proc; dir: string }> {
  const dir = await cleanup.tempDir('loadledger-log-');
  const p = spawnCli(cleanup, ['master', '--data', dir, '--listen', '127.0.0.1:0', '--http', '127.0.0.1:0', ...args], {
    env: { ...DEFAULT_FORMAT, ...env },
  });
  return { p, dir };
}

async function started(p: Proc): Promise<Rec> {
  return waitFor(
    () =>
      p.child.exitCode !== null
        ? Promise.reject(new Error(`the master exited: ${p.out.stderr}`))
        : records(p.out.stderr).find((r) => r.event === 'started'),
    {
      what: 'the started line',
      timeout: 10_000,
      describe: () => p.out.stderr,
    },
  );
}

async function stop(p: Proc): Promise<void> {
  p.child.kill('SIGTERM');
  expect(await withTimeout(p.exit, 10_000, 'the master to stop')).toEqual({ code: 0, signal: null });
}

describe('loadledger master logs', () => {
  it('JSON Lines when stderr is not a terminal: level, time, msg and the start fields; debug lines per connection; no token', async () => {
    const dir = await cleanup.tempDir('loadledger-log-token-');
    const token = join(dir, 'token');
    writeFileSync(token, 'tok-Zq8.Rm3_Hs6~Wd1-Xa\n', { mode: 0o600 });
    const { p, dir: data } = await master(['--log-level', 'debug', '--admin-token-file', token]);
    const up = await started(p);
    expect(up).toMatchObject({
      level: 'info',
      pid: p.child.pid,
      epoch: 1,
      seq: 1,
      nodes: 0,
      listen: expect.stringMatching(/^127\.0\.0\.1:\d+$/),
      http: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
      data,
      tls: false,
    });
    expect(new Date(up.time).toISOString()).toBe(up.time);
    expect(up.msg).toBe(
      `UP_LISTENING epoch 1, slaves on ${up.listen as string}, HTTP on ${up.http as string}, log ${data} (seq 1, 0 nodes known)`,
    );

    const cl = await RawClient.connect(Number((up.listen as string).split(':')[1]));
    cleanup.defer('client', () => cl.destroy());
    cl.send(rawFrame(0, Buffer.from([0x07]))); // not a map: a violation
    await cl.waitClosed();
    await waitFor(() => records(p.out.stderr).find((r) => r.event === 'ProtocolViolated'), {
      what: 'the debug line of the violation',
      describe: () => p.out.stderr,
    });
    await stop(p);
    const recs = records(p.out.stderr);
    expect(recs.find((r) => r.event === 'SlaveConnected')).toMatchObject({
      level: 'debug',
      conn: 1,
      msg: expect.stringMatching(/^connection 1 from 127\.0\.0\.1:\d+$/),
    });
    expect(recs.find((r) => r.event === 'ProtocolViolated')).toMatchObject({ level: 'debug', conn: 1, code: ErrorCode.PUSH_NOT_MAP });
    // Not at trace: no line for every event.
    expect(recs.filter((r) => r.level === 'trace')).toEqual([]);
    expect(recs.at(-1)).toMatchObject({
      level: 'info',
      event: 'stopped',
      signal: 'SIGTERM',
      seq: expect.any(Number),
      msg: expect.stringMatching(/^stopped \(SIGTERM\) at seq \d+$/),
    });
    expect(p.out.stderr).not.toContain('tok-Zq8');
  });

  it('--log-format human: the start line scripts parse, as on a terminal', async () => {
    const { p } = await master(['--log-format', 'human']);
    await waitFor(
      () =>
        /^loadledger master: UP_LISTENING epoch 1, slaves on 127\.0\.0\.1:\d+, HTTP on http:\/\/127\.0\.0\.1:\d+, log .* \(seq 1, 0 nodes known\)$/m.test(
          p.out.stderr,
        ),
      {
        what: 'the human start line',
        describe: () => p.out.stderr,
      },
    );
    await stop(p);
    expect(lines(p.out.stderr).at(-1)).toMatch(/^loadledger master: stopped \(SIGTERM\) at seq \d+$/);
  });

  it.each([
    ['--log-level warn', ['--log-level', 'warn'], {}],
    ['LOADLEDGER_LOG_LEVEL=warn', [], { LOADLEDGER_LOG_LEVEL: 'warn' }],
  ])('%s hides the start and stop lines, not a warning', async (_name, args, env) => {
    // An API open to the network without a token: a warning, logged after the start line would be.
    const { p } = await master([...args, '--http', '0.0.0.0:0'], env);
    const warning = await waitFor(
      () =>
        records(p.out.stderr).find((r) => r.level === 'warn') ??
        (p.child.exitCode !== null ? Promise.reject(new Error(p.out.stderr)) : undefined),
      {
        what: 'the warning',
        timeout: 10_000,
        describe: () => p.out.stderr,
      },
    );
    expect(warning).toMatchObject({
      event: 'insecure',
      msg: expect.stringMatching(/^the HTTP API on 0\.0\.0\.0:\d+ is open to the network without a token/),
    });
    await stop(p);
    expect(records(p.out.stderr)).toEqual([warning]);
  });

  it.each([
    ['--log-level loud', ['--log-level', 'loud'], {}],
    ['LOADLEDGER_LOG_LEVEL=loud', [], { LOADLEDGER_LOG_LEVEL: 'loud' }],
    ['--log-format xml', ['--log-format', 'xml'], {}],
  ])('%s: exit 2, one line', async (_name, args, env) => {
    const dir = await cleanup.tempDir('loadledger-log-bad-');
    const r = await runCli(cleanup, ['master', '--data', dir, '--listen', '127.0.0.1:0', '--no-http', ...args], { env });
    expect(r.code).toBe(2);
    expect(lines(r.stderr), r.stderr).toHaveLength(1);
    // a flag: commander's words; the environment: the config layer's (src/cli/config.ts)
    expect(r.stderr).toMatch(
      /^loadledger master: (option '--log-(level|format) <(level|format)>' (argument|value) '(loud|xml)' is invalid\. Allowed choices are |LOADLEDGER_LOG_LEVEL: Allowed choices are .*got "loud")/,
    );
    expect(r.stderr).not.toContain('    at ');
  });
});
