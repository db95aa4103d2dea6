/**
 * The built CLI as a user runs it: `node dist/src/cli/main.js …` in child processes (the
 * test script compiles first, so dist/ is fresh), a master on 127.0.0.1 port 0 with its
 * log in a temp dir, slaves as separate processes. Ports are read from the master's
 * "UP_LISTENING" line on stderr.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { StateDocument } from '../../src/projection/document.js';
import { Cleanup } from '../helpers/cleanup.js';
import { getJson } from '../helpers/master.js';
import { waitFor, withTimeout } from '../helpers/wait.js';
import { closedPort } from '../helpers/net.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = join(ROOT, 'dist', 'src', 'cli', 'main.js');

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

beforeAll(() => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: build first (npm run build; npm test does it)`);
});

// ---------------------------------------------------------------- processes

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

interface Proc {
  readonly child: ChildProcess;
  readonly out: { stdout: string; stderr: string };
  readonly exit: Promise<Exit>;
}

function spawnCli(args: string[]): Proc {
  const child = spawn(process.execPath, [MAIN, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LOADLEDGER_DEBUG: '' },
  });
  const out = { stdout: '', stderr: '' };
  child.stdout.setEncoding('utf8').on('data', (s: string) => (out.stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (out.stderr += s));
  const exit = new Promise<Exit>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  cleanup.defer(`kill ${args.slice(0, 2).join(' ')}`, async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exit;
    }
  });
  return { child, out, exit };
}

async function runCli(args: string[], timeout = 45_000): Promise<Exit & { stdout: string; stderr: string }> {
  const p = spawnCli(args);
  const exit = await withTimeout(p.exit, timeout, `loadledger ${args.join(' ')}`);
  return { ...exit, ...p.out };
}

/**
 * runCli for tests that run side by side: the process is not left to the shared cleanup
 * (another test's afterEach would run it meanwhile); killed here if it outlives `timeout`.
 */
async function runAlone(args: string[], timeout = 45_000): Promise<Exit & { stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [MAIN, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LOADLEDGER_DEBUG: '' },
  });
  const out = { stdout: '', stderr: '' };
  child.stdout.setEncoding('utf8').on('data', (s: string) => (out.stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (out.stderr += s));
  const exit = new Promise<Exit>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  try {
    return { ...(await withTimeout(exit, timeout, `loadledger ${args.join(' ')}`)), ...out };
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

interface CliMaster extends Proc {
  dir: string;
  slavePort: number;
  http: string;
}

/**
 * The master's start line as a program reads it: stderr is a pipe, so the log is JSON
 * Lines (the default off a terminal); its `listen` and `http` fields. null until it is there.
 */
function upLine(stderr: string): { listen: string; http: string } | null {
  for (const line of stderr.split('\n')) {
    if (!line.startsWith('{')) continue;
    const rec = JSON.parse(line) as { event?: string; listen: string; http: string };
    if (rec.event === 'started') return rec;
  }
  return null;
}

/**
 * Slaves report every 50 ms, so a log grows fast; nobody here times out: dead-after 10 s on
 * both sides, as a process of two suites on 2 cores can be off the CPU for a moment.
 */
async function startCliMaster(extra: string[] = []): Promise<CliMaster> {
  const dir = await cleanup.tempDir('loadledger-cli-');
  const p = spawnCli([
    'master',
    '--data',
    dir,
    '--listen',
    '127.0.0.1:0',
    '--http',
    '127.0.0.1:0',
    '--hello-interval',
    '1s',
    '--dead-after',
    '10s',
    ...extra,
  ]);
  const m = await waitFor(() => upLine(p.out.stderr) ?? (p.child.exitCode !== null ? { failed: true as const } : undefined), {
    what: 'the master UP_LISTENING line on stderr',
    timeout: 30_000,
    describe: () => p.out.stderr,
  });
  if ('failed' in m) throw new Error(`the master exited: ${p.out.stderr}`);
  return { ...p, dir, slavePort: Number(m.listen.split(':')[1]), http: m.http };
}

const SLAVES = [
  ['10.0.0.1:8080', '30'],
  ['10.0.0.2:8080', '10'],
  ['10.0.0.3:8080', '20'],
] as const;
const LEAST = '10.0.0.2:8080';

/** A `loadledger slave` reporting `load` for `addr` to `master` every 50 ms (dead-after 10 s: nothing here tests timeouts). */
function startCliSlave(master: CliMaster, addr: string, load: string, extra: string[] = []): Proc {
  return spawnCli([
    'slave',
    '--master',
    `127.0.0.1:${master.slavePort}`,
    '--addr',
    addr,
    '--load',
    load,
    '--interval',
    '50ms',
    '--dead-after',
    '10s',
    '-q',
    ...extra,
  ]);
}

function startCliSlaves(master: CliMaster): Proc[] {
  return SLAVES.map(([addr, load]) => startCliSlave(master, addr, load));
}

async function clusterUp(master: CliMaster): Promise<void> {
  await waitFor(
    async () => {
      const r = await getJson<StateDocument>(`${master.http}/v1/state`);
      return r.body.nodes.filter((n) => n.state === 'PUSH_LOAD_INFO').length === 3;
    },
    { what: 'three slaves in PUSH_LOAD_INFO', timeout: 30_000, interval: 20 },
  );
}

function lines(s: string): string[] {
  return s.split('\n').filter((l) => l.trim() !== '');
}

// ---------------------------------------------------------------- tests

describe('loadledger CLI', () => {
  it('master and three slave processes: query least-loaded prints the 10 node; query state --json parses; SIGTERM with slaves connected → exit 0', async () => {
    const master = await startCliMaster();
    startCliSlaves(master);
    await clusterUp(master);

    const least = await runCli(['query', 'least-loaded', '--http', master.http]);
    expect(least).toMatchObject({ code: 0, stdout: `${LEAST}\n` });

    const state = await runCli(['query', 'state', '--json', '--http', master.http]);
    expect(state.code).toBe(0);
    const doc = JSON.parse(state.stdout) as StateDocument;
    expect(doc.master).toMatchObject({ state: 'UP_LISTENING', epoch: 1 });
    expect(doc.nodes.map((n) => [n.id, n.load, n.state])).toEqual(SLAVES.map(([a, l]) => [a, Number(l), 'PUSH_LOAD_INFO']));

    master.child.kill('SIGTERM');
    const exit = await withTimeout(master.exit, 5000, 'the master to exit after SIGTERM');
    expect(exit).toEqual({ code: 0, signal: null });
    expect(master.out.stderr).toMatch(/stopped \(SIGTERM\)/);
  });

  it('master --policy capacity --compensation 0.5: query least-loaded answers by load / capacity; --policy least-loaded and --policy p2c choose per query', async () => {
    const master = await startCliMaster(['--policy', 'capacity', '--compensation', '0.5']);
    const slave = (addr: string, load: string, extra: string[] = []): Proc => startCliSlave(master, addr, load, extra);
    slave('10.0.0.1:8080', '30', ['--capacity', '4']); // 7.5 by capacity
    slave('10.0.0.2:8080', '10'); // least loaded
    await waitFor(
      async () =>
        (await getJson<StateDocument>(`${master.http}/v1/state`)).body.nodes.filter((n) => n.state === 'PUSH_LOAD_INFO').length === 2,
      {
        what: 'two slaves in PUSH_LOAD_INFO',
        timeout: 30_000,
        interval: 20,
      },
    );
    // compensation 0.5 per answer cannot close a gap of 20 (or of 2.5 by capacity) in a few answers between 50 ms reports
    const [byCapacity, byLoad, p2c] = await Promise.all([
      runCli(['query', 'least-loaded', '--http', master.http]),
      runCli(['query', 'least-loaded', '--policy', 'least-loaded', '--http', master.http]),
      runCli(['query', 'least-loaded', '--policy', 'p2c', '--http', master.http]),
    ]);
    expect(byCapacity).toMatchObject({ code: 0, stdout: '10.0.0.1:8080\n', stderr: '' });
    expect(byLoad).toMatchObject({ code: 0, stdout: '10.0.0.2:8080\n', stderr: '' });
    expect(p2c).toMatchObject({ code: 0, stdout: '10.0.0.2:8080\n', stderr: '' }); // of two nodes p2c draws both
  });

  it('after the master stops, replay --at S --json equals the /v1/state it served at seq S', async () => {
    // Snapshots every 25 events, so that replay starts from a snapshot and folds the tail.
    const master = await startCliMaster(['--snapshot-every', '25']);
    const slaves = startCliSlaves(master);
    await clusterUp(master);
    await waitFor(async () => (await getJson<StateDocument>(`${master.http}/v1/state`)).body.seq > 60, {
      what: 'a log past a few snapshots',
      timeout: 30_000,
    });
    const served = (await getJson<StateDocument>(`${master.http}/v1/state`)).body;
    expect(served.nodes.some((n) => n.state === 'PUSH_LOAD_INFO')).toBe(true);

    for (const s of slaves) s.child.kill('SIGTERM');
    for (const s of slaves) expect(await withTimeout(s.exit, 5000, 'a slave to exit')).toEqual({ code: 0, signal: null });
    master.child.kill('SIGTERM');
    expect(await withTimeout(master.exit, 5000, 'the master to exit')).toEqual({ code: 0, signal: null });

    const at = await runCli(['replay', '--data', master.dir, '--at', String(served.seq), '--json']);
    expect(at.code).toBe(0);
    expect(JSON.parse(at.stdout)).toEqual(served);

    const end = await runCli(['replay', '--data', master.dir, '--json']);
    expect(end.code).toBe(0);
    const final = JSON.parse(end.stdout) as StateDocument;
    expect(final.seq).toBeGreaterThan(served.seq);
    expect(final.master).toMatchObject({ state: 'DOWN', epoch: 1 });
    expect(final.nodes.map((n) => [n.id, n.state])).toEqual(SLAVES.map(([a]) => [a, 'DOWN']));

    const text = await runCli(['replay', '--data', master.dir]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(LEAST);
  });

  it('replay --data on the log of a running master → exit 1, one line naming the running master', async () => {
    const master = await startCliMaster();
    const r = await runCli(['replay', '--data', master.dir, '--json']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(lines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toMatch(/running master/);
    expect(r.stderr).not.toContain('    at ');
  });

  // Five at a time: each is a process that parses its flags and exits.
  describe.concurrent('bad usage', () => {
    it.each([
      [['master', '--listen', 'nope']],
      [['slave', '--master', 'x', '--load', 'bogus']],
      [['query', 'bogus']],
      [['master', '--dead-after', 'soon']],
      [['slave', '--master', '127.0.0.1:9', '--load', '5', '--interval', 'fast']],
      [['master', '--retain', '30'], /expected a duration with a unit, like 500ms, 3s, 1m, 2h, 7d, got "30"/],
      [['slave', '--master', '127.0.0.1:9', '--load', '5', '--interval', '250'], /--interval .*expected a duration with a unit/],
      [
        ['master', '--hello-interval', '3s', '--dead-after', '3s'],
        /^loadledger master: --hello-interval \(3s\) must be shorter than --dead-after \(3s\): the master would never ping/,
      ],
      [
        ['slave', '--master', '127.0.0.1:9', '--load', '5', '--interval', '1s', '--dead-after', '500ms'],
        /^loadledger slave: --dead-after: must be longer than --interval \(1s\), got 500ms/,
      ],
      [['slave', '--master', '127.0.0.1:9', '--load', '5', '--attr', '__proto__=x'], /--attr .*"__proto__" is not allowed/],
      [
        ['slave', '--master', '127.0.0.1:9', '--load', '5', '--attr', 'load=3'],
        /^loadledger slave: --attr: "load" is not an attribute; use --load$/m,
      ],
      [
        ['query', 'least-loaded', '--policy', 'fastest'],
        /--policy .*'fastest' is invalid\. Allowed choices are least-loaded, p2c, capacity/,
      ],
      [['master', '--policy', 'round-robin'], /--policy .*Allowed choices are least-loaded, p2c, capacity/],
      [['master', '--compensation', '-1'], /--compensation .*expected a number ≥ 0/],
      [['query', 'nodes', '--policy', 'p2c'], /--policy applies to least-loaded, not nodes/],
      [['query', 'least-loaded', '--where', 'policy=p2c'], /"policy" is reserved on least-loaded/],
    ])('bad usage %j → exit 2, one line on stderr, no stack trace', async (args, message?: RegExp) => {
      const r = await runAlone(args);
      expect(r.code).toBe(2);
      expect(lines(r.stderr), r.stderr).toHaveLength(1);
      expect(r.stderr).not.toContain('    at ');
      expect(r.stdout).toBe('');
      if (message) expect(r.stderr).toMatch(message);
    });
  });

  it.each([
    ['port 1 (refused by fetch itself)', async () => 'http://127.0.0.1:1'],
    ['a closed port', async () => `http://127.0.0.1:${await closedPort()}`],
  ])('query least-loaded against %s → exit 1, one line "master unreachable"', async (_what, url) => {
    const r = await runCli(['query', 'least-loaded', '--http', await url()]);
    expect(r.code).toBe(1);
    expect(lines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toMatch(/master unreachable/);
    expect(r.stderr).not.toContain('    at ');
  });

  it('--help of the program and of every command exits 0 and prints usage', async () => {
    const root = await runCli(['--help']);
    expect(root.code).toBe(0);
    const commands = commandNames(root.stdout);
    expect(commands).toEqual(expect.arrayContaining(['master', 'slave', 'query', 'replay']));
    const results = await Promise.all(commands.map(async (c) => [c, await runCli([c, '--help'])] as const));
    for (const [c, r] of results) {
      expect({ command: c, code: r.code }).toEqual({ command: c, code: 0 });
      expect(r.stdout).toMatch(new RegExp(`^Usage: loadledger ${c} `, 'm'));
    }
  });
});

/** Command names from commander's "Commands:" section (without the implicit `help`). */
function commandNames(help: string): string[] {
  const section = help.split(/^Commands:\s*$/m)[1] ?? '';
  return [...section.matchAll(/^ {2}([a-z][\w-]*)/gm)].map((m) => m[1]!).filter((c) => c !== 'help');
}
