/**
 * --config FILE and LOADLEDGER_* for the master and slave commands, in process: the real
 * commands with their action replaced, so what a flag, a variable or a file set is what the
 * action would get. Precedence is flag > environment > file > default; a mistake in a file or
 * a variable is one line naming it, with the flag parser's words, and exit code 2.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { parse as parseYaml } from 'yaml';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Cleanup } from '../helpers/cleanup.js';
import { closestKey, configurable, settingsOf } from '../../src/cli/config.js';
import { durationArg, isRepeatableParser } from '../../src/cli/options.js';
import { masterCommand } from '../../src/cli/commands/master.js';
import { slaveCommand } from '../../src/cli/commands/slave.js';

const cleanup = new Cleanup();
afterEach(async () => {
  vi.unstubAllEnvs();
  await cleanup.run();
});

interface Run {
  /** The flags the action got (undefined when it did not run). */
  flags?: Record<string, unknown>;
  cmd: Command;
  stdout: string;
  stderr: string;
  /** The exit code commander asked for (undefined when the action ran). */
  exitCode?: number;
}

async function run(cmd: Command, args: string[]): Promise<Run> {
  const r: Run = { cmd, stdout: '', stderr: '' };
  cmd
    .exitOverride()
    .configureOutput({ writeOut: (s) => (r.stdout += s), writeErr: (s) => (r.stderr += s) })
    .action((flags: Record<string, unknown>) => {
      r.flags = flags;
    });
  try {
    await cmd.parseAsync(args, { from: 'user' });
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    r.exitCode = e.exitCode;
  }
  return r;
}

async function file(name: string, text: string): Promise<string> {
  const dir = await cleanup.tempDir('loadledger-config-');
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

const MASTER_YAML = `# a master
dead-after: 5s
fsync: true
allow:
  - 10.0.0.0/8
  - 192.168.0.0/16
listen: 127.0.0.1:7500
http: false
`;
const MASTER_JSON = JSON.stringify({
  'dead-after': '5s',
  fsync: true,
  allow: ['10.0.0.0/8', '192.168.0.0/16'],
  listen: '127.0.0.1:7500',
  http: false,
});

describe.each([
  ['YAML', 'lb.yaml', MASTER_YAML],
  ['JSON', 'lb.json', MASTER_JSON],
])('master --config (%s): file < env < flag', (_, name, text) => {
  it('the file alone: a duration, a boolean, a repeatable, a host:port and --no-http', async () => {
    const f = await file(name, text);
    const r = await run(masterCommand(), ['--config', f]);
    expect(r.stderr).toBe('');
    expect(r.flags).toMatchObject({
      deadAfter: 5000,
      fsync: true,
      allow: ['10.0.0.0/8', '192.168.0.0/16'],
      listen: { host: '127.0.0.1', port: 7500 },
      http: false,
    });
    for (const k of ['deadAfter', 'fsync', 'allow', 'listen', 'http']) expect(r.cmd.getOptionValueSource(k)).toBe('config');
    expect(r.cmd.getOptionValueSource('helloInterval')).toBe('default');
  });

  it('the environment wins over the file', async () => {
    const f = await file(name, text);
    vi.stubEnv('LOADLEDGER_DEAD_AFTER', '9s');
    vi.stubEnv('LOADLEDGER_FSYNC', 'false');
    vi.stubEnv('LOADLEDGER_ALLOW', '127.0.0.1, fd00::/8');
    vi.stubEnv('LOADLEDGER_LISTEN', '[::1]:7600');
    vi.stubEnv('LOADLEDGER_HTTP', '127.0.0.1:7601');
    const r = await run(masterCommand(), ['--config', f]);
    expect(r.stderr).toBe('');
    expect(r.flags).toMatchObject({
      deadAfter: 9000,
      fsync: false,
      allow: ['127.0.0.1', 'fd00::/8'],
      listen: { host: '::1', port: 7600 },
      http: { host: '127.0.0.1', port: 7601 },
    });
    for (const k of ['deadAfter', 'fsync', 'allow', 'listen', 'http']) expect(r.cmd.getOptionValueSource(k)).toBe('env');
  });

  it('a flag wins over both; a repeatable flag replaces the list, it does not add to it', async () => {
    const f = await file(name, text);
    vi.stubEnv('LOADLEDGER_DEAD_AFTER', '9s');
    vi.stubEnv('LOADLEDGER_FSYNC', 'false');
    vi.stubEnv('LOADLEDGER_ALLOW', '127.0.0.1');
    vi.stubEnv('LOADLEDGER_LISTEN', '[::1]:7600');
    vi.stubEnv('LOADLEDGER_HTTP', '127.0.0.1:7601');
    const r = await run(masterCommand(), [
      '--dead-after',
      '2s',
      '--fsync',
      '--allow',
      '172.16.0.0/12',
      '--config',
      f,
      '--listen',
      '0.0.0.0:7700',
      '--no-http',
    ]);
    expect(r.stderr).toBe('');
    expect(r.flags).toMatchObject({
      deadAfter: 2000,
      fsync: true,
      allow: ['172.16.0.0/12'],
      listen: { host: '0.0.0.0', port: 7700 },
      http: false,
    });
    for (const k of ['deadAfter', 'fsync', 'allow', 'listen', 'http']) expect(r.cmd.getOptionValueSource(k)).toBe('cli');
  });
});

describe('master --config: the forms of --http/--no-http, booleans and lists', () => {
  it('LOADLEDGER_HTTP=false is --no-http; http: true is the default address; 1/0 are booleans in the environment', async () => {
    vi.stubEnv('LOADLEDGER_HTTP', 'false');
    vi.stubEnv('LOADLEDGER_FSYNC', '1');
    let r = await run(masterCommand(), []);
    expect(r.flags).toMatchObject({ http: false, fsync: true });
    vi.unstubAllEnvs();
    r = await run(masterCommand(), ['--config', await file('lb.yaml', 'http: true\nfsync: false\n')]);
    expect(r.flags).toMatchObject({ http: { host: '127.0.0.1', port: 7480 }, fsync: false });
    expect(r.cmd.getOptionValueSource('http')).toBe('config');
  });

  it('a repeatable flag given one value in the file is a list of one; an empty list is none', async () => {
    let r = await run(masterCommand(), ['--config', await file('lb.yaml', 'allow: 10.0.0.0/8\n')]);
    expect(r.flags).toMatchObject({ allow: ['10.0.0.0/8'] });
    r = await run(masterCommand(), ['--config', await file('lb.yaml', 'allow: []\n')]);
    expect(r.flags).toMatchObject({ allow: [] });
  });
});

describe('master --config: what the person got wrong is one line naming the file and the key, exit 2', () => {
  async function refusal(text: string, name = 'lb.yaml'): Promise<{ path: string; stderr: string }> {
    const path = await file(name, text);
    const r = await run(masterCommand(), ['--config', path]);
    expect(r.flags).toBeUndefined();
    expect(r.exitCode).toBe(2);
    expect(r.stderr.trimEnd()).not.toContain('\n');
    return { path, stderr: r.stderr.trimEnd() };
  }

  it('an unknown key (a typo, camelCase, snake_case) is refused, with the key it most likely meant', async () => {
    for (const [key, meant] of [
      ['dead-afer', 'dead-after'],
      ['deadAfter', 'dead-after'],
      ['dead_after', 'dead-after'],
      ['no-http', 'http'],
    ] as const) {
      const { path, stderr } = await refusal(`${key}: 5s\n`);
      expect(stderr).toBe(
        `--config ${path}: unknown key "${key}" (did you mean ${meant}?); keys are the flags of loadledger master without the dashes`,
      );
    }
    const { path, stderr } = await refusal('frobnicate: 1\n');
    expect(stderr).toBe(`--config ${path}: unknown key "frobnicate"; keys are the flags of loadledger master without the dashes`);
  });

  it('a bad value is refused with the words of the flag parser, naming the key', async () => {
    const cases: Array<[string, string]> = [
      ['dead-after: 5\n', 'dead-after: expected a duration with a unit, like 500ms, 3s, 1m, 2h, 7d, got "5"'],
      ['retention-interval: 30d\n', 'retention-interval: at most 24.8d (the longest timer Node.js can set), got "30d"'],
      ['listen: 127.0.0.1\n', 'listen: expected host:port (IPv6 as [::1]:7400) (no port), got "127.0.0.1"'],
      ['allow: [10.0.0.0/8, 10.0.0.0/99]\n', 'allow: the prefix length must be 0..32, got "10.0.0.0/99"'],
      ['fsync: yes\n', 'fsync: expected true or false, got "yes"'],
      ['max-slaves: 0\n', 'max-slaves: expected an integer from 1 to 9007199254740991, got "0"'],
      ['policy: fastest\n', 'policy: Allowed choices are least-loaded, p2c, capacity, got "fastest"'],
      ['dead-after: [5s, 6s]\n', 'dead-after: expected one value, got a list (--dead-after is not repeatable)'],
      ['dead-after:\n', 'dead-after: no value (leave the key out for the default)'],
      ['allow: [{a: 1}]\n', 'allow: expected a value, got a map'],
    ];
    for (const [text, message] of cases) {
      const { path, stderr } = await refusal(text);
      expect(stderr, text).toBe(`--config ${path}: ${message}`);
    }
  });

  it('a bad environment variable is refused naming the variable, even when a flag overrides it', async () => {
    vi.stubEnv('LOADLEDGER_DEAD_AFTER', '5');
    const r = await run(masterCommand(), ['--dead-after', '5s']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toBe('LOADLEDGER_DEAD_AFTER: expected a duration with a unit, like 500ms, 3s, 1m, 2h, 7d, got "5"\n');
    vi.stubEnv('LOADLEDGER_DEAD_AFTER', '');
    vi.stubEnv('LOADLEDGER_FSYNC', 'maybe');
    expect((await run(masterCommand(), [])).stderr).toBe('LOADLEDGER_FSYNC: expected true, false, 1 or 0, got "maybe"\n');
    vi.stubEnv('LOADLEDGER_FSYNC', '');
    vi.stubEnv('LOADLEDGER_SNAPSHOT_INTERVAL', '1000h');
    expect((await run(masterCommand(), [])).stderr).toBe(
      'LOADLEDGER_SNAPSHOT_INTERVAL: at most 596.5h (the longest timer Node.js can set), got "1000h"\n',
    );
  });

  it('a LOADLEDGER_* variable that is no flag of any command is refused like an unknown key, with the one it most likely meant', async () => {
    vi.stubEnv('LOADLEDGER_LSTEN', '127.0.0.1:7400');
    const r = await run(masterCommand(), []);
    expect([r.exitCode, r.stderr]).toEqual([
      2,
      'LOADLEDGER_LSTEN: no such setting (did you mean LOADLEDGER_LISTEN?); the variables are LOADLEDGER_ and a flag of loadledger master in upper snake case\n',
    ]);
    vi.stubEnv('LOADLEDGER_LSTEN', '');
    // LOADLEDGER_DEBUG is no flag's but ours; an empty variable counts as unset
    vi.stubEnv('LOADLEDGER_DEBUG', '1');
    vi.stubEnv('LOADLEDGER_WHATEVER', '');
    expect((await run(masterCommand(), [])).exitCode).toBeUndefined();
  });

  it('a list variable with an empty item (LOADLEDGER_ALLOW=,,,) is refused, not read as an empty list that allows everyone', async () => {
    for (const text of [',,,', '10.0.0.0/8,,192.168.0.0/16', '127.0.0.1,']) {
      vi.stubEnv('LOADLEDGER_ALLOW', text);
      const r = await run(masterCommand(), []);
      expect([r.exitCode, r.stderr]).toEqual([2, `LOADLEDGER_ALLOW: an empty item in the comma-separated list ${JSON.stringify(text)}\n`]);
    }
  });

  it('a YAML alias bomb is a bad config file (exit 2), not an unexpected error', async () => {
    const bomb = [
      'a: &a [x, x, x, x, x, x, x, x, x]',
      'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]',
      'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]',
      'd: [*c, *c, *c, *c, *c, *c, *c, *c, *c]',
      '',
    ].join('\n');
    const path = await file('bomb.yaml', bomb);
    const r = await run(masterCommand(), ['--config', path]);
    expect([r.exitCode, r.stderr]).toEqual([
      2,
      `--config ${path}: not valid YAML: Excessive alias count indicates a resource exhaustion attack\n`,
    ]);
  });

  it('a file that is missing, not YAML, not JSON or not a map', async () => {
    const dir = await cleanup.tempDir();
    const missing = await run(masterCommand(), ['--config', join(dir, 'nope.yaml')]);
    expect([missing.exitCode, missing.stderr]).toEqual([2, `--config ${join(dir, 'nope.yaml')}: no such file\n`]);

    let r = await refusal('dead-after: 5s\n  fsync: [\n');
    expect(r.stderr).toBe(`--config ${r.path}: not valid YAML: line 1, column 13: Nested mappings are not allowed in compact mappings`);
    r = await refusal('fsync: true\nfsync: false\n');
    expect(r.stderr).toBe(`--config ${r.path}: not valid YAML: line 2, column 1: Map keys must be unique`);
    r = await refusal('{"dead-after": "5s",\n}', 'lb.json');
    expect(r.stderr).toMatch(new RegExp(`^--config ${r.path}: not valid JSON: line 2, column 1: `));
    r = await refusal('- dead-after: 5s\n');
    expect(r.stderr).toBe(`--config ${r.path}: expected a map of settings (like dead-after: 5s), got a list`);
  });

  it('an empty file (or comments only) sets nothing', async () => {
    const r = await run(masterCommand(), ['--config', await file('empty.yaml', '# nothing yet\n')]);
    expect(r.stderr).toBe('');
    expect(r.cmd.getOptionValueSource('deadAfter')).toBe('default');
  });
});

describe('slave --config', () => {
  it('required flags may come from the file or the environment; --attr as a YAML list', async () => {
    const f = await file('slave.yaml', 'load: "12"\nattr: [zone=eu-1, rack=3]\ninterval: 250ms\n');
    vi.stubEnv('LOADLEDGER_MASTER', '10.1.2.3:7400');
    const r = await run(slaveCommand(), ['--config', f]);
    expect(r.stderr).toBe('');
    expect(r.flags).toMatchObject({ master: '10.1.2.3:7400', load: '12', attr: { zone: 'eu-1', rack: '3' }, interval: 250 });
  });

  it('a required flag set nowhere is still refused by commander', async () => {
    const r = await run(slaveCommand(), ['--config', await file('slave.yaml', 'load: "12"\n')]);
    expect(r.exitCode).toBe(1); // commander's own code; main.ts turns every usage error into exit 2
    expect(r.stderr).toBe("error: required option '--master <host:port>' not specified\n");
  });

  it('a bad --attr in the file is refused with the flag words', async () => {
    const f = await file('slave.yaml', 'master: 127.0.0.1:7400\nload: "1"\nattr: [zone]\n');
    const r = await run(slaveCommand(), ['--config', f]);
    expect(r.stderr).toBe(`--config ${f}: attr: expected KEY=VALUE, got "zone"\n`);
  });
});

describe('--print-config', () => {
  it('master: every setting with its source, in the form --config reads back; exits 0 without running', async () => {
    const f = await file('lb.yaml', MASTER_YAML);
    vi.stubEnv('LOADLEDGER_HELLO_INTERVAL', '2s');
    const r = await run(masterCommand(), ['--config', f, '--print-config', '--retain', '7d']);
    expect(r.flags).toBeUndefined();
    expect(r.exitCode).toBe(0);
    const lines = r.stdout.split('\n');
    const line = (key: string): string | undefined => lines.find((l) => l.startsWith(`${key}:`) || l.startsWith(`# ${key}:`));
    expect(line('dead-after')).toMatch(new RegExp(`^dead-after: 5s +# config ${f}$`));
    expect(line('hello-interval')).toMatch(/^hello-interval: 2s +# env LOADLEDGER_HELLO_INTERVAL$/);
    expect(line('retain')).toMatch(/^retain: 7d +# cli$/);
    expect(line('allow')).toMatch(/^allow: \[10\.0\.0\.0\/8, 192\.168\.0\.0\/16\] +# config /);
    expect(line('listen')).toMatch(/^listen: 127\.0\.0\.1:7500 +# config /);
    expect(line('http')).toMatch(/^http: false +# config /);
    expect(line('snapshot-interval')).toMatch(/^snapshot-interval: 1m +# default$/);
    expect(line('retain-events')).toMatch(/^retain-events: 0 +# default$/);
    expect(line('tls-cert')).toMatch(/^# tls-cert: +# not set$/);
    expect(line('config')).toBeUndefined();

    // What it prints is a config file: read back, it gives the same values.
    const again = await run(masterCommand(), ['--config', await file('again.yaml', r.stdout)]);
    expect(again.stderr).toBe('');
    expect(again.flags).toMatchObject({
      deadAfter: 5000,
      helloInterval: 2000,
      retain: 7 * 86_400_000,
      allow: ['10.0.0.0/8', '192.168.0.0/16'],
      http: false,
      fsync: true,
    });
    expect(Object.keys(parseYaml(r.stdout) as object)).toContain('dead-after');
  });

  it('slave: required settings that are not set are said, and it still prints', async () => {
    vi.stubEnv('LOADLEDGER_MASTER', '127.0.0.1:7400');
    const r = await run(slaveCommand(), ['--print-config', '--attr', 'zone=eu-1', '--attr', 'rack=3']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^master: 127\.0\.0\.1:7400 +# env LOADLEDGER_MASTER$/m);
    expect(r.stdout).toMatch(/^# load: +# not set, required$/m);
    expect(r.stdout).toMatch(/^attr: \[zone=eu-1, rack=3\] +# cli$/m);
    expect(r.stdout).toMatch(/^interval: 1s +# default$/m);
  });

  it('a value that is itself a secret is masked; a path to a secret is not', async () => {
    const cmd = configurable(
      new Command('t')
        .option('--api-token <token>', 'a token')
        .option('--admin-token-file <file>', 'a path')
        .option('--db-password <pw>', 'a password'),
      { env: { LOADLEDGER_DB_PASSWORD: 'hunter2' } },
    );
    const r = await run(cmd, ['--print-config', '--api-token', 's3cr3t-t0ken', '--admin-token-file', '/etc/ll/token']);
    expect(r.stdout).not.toContain('s3cr3t');
    expect(r.stdout).not.toContain('hunter2');
    expect(r.stdout).toMatch(/^api-token: <hidden> +# cli$/m);
    expect(r.stdout).toMatch(/^db-password: <hidden> +# env LOADLEDGER_DB_PASSWORD$/m);
    expect(r.stdout).toMatch(/^admin-token-file: \/etc\/ll\/token +# cli$/m);
  });
});

describe('generic over the options of a command', () => {
  it('a flag registered after configurable() works from the file and the environment with no more code', async () => {
    const cmd = configurable(new Command('master'), { env: { LOADLEDGER_PROTECT_FOR: '30s' } })
      .option('--protect-share <fraction>', 'a new flag', parseFloat, 0.5)
      .option('--protect-for <duration>', 'another', durationArg, 60_000)
      .option('--log-level <level>', 'and another', 'info');
    const r = await run(cmd, ['--config', await file('x.yaml', 'protect-share: 0.25\nprotect-for: 10s\nlog-level: debug\n')]);
    expect(r.stderr).toBe('');
    expect(r.flags).toMatchObject({ protectShare: 0.25, protectFor: 30_000, logLevel: 'debug' });
  });

  it('every master and slave flag documented as repeatable has a repeatable parser (a list in the file)', () => {
    for (const cmd of [masterCommand(), slaveCommand()]) {
      for (const s of settingsOf(cmd)) {
        if (/repeatable/.test(s.option?.description ?? '')) expect(isRepeatableParser(s.option?.parseArg), `--${s.key}`).toBe(true);
      }
    }
  });

  it('a flag on the command line wins over the environment or file value of a flag it cannot go with (replay --http with LOADLEDGER_DATA set)', async () => {
    const source = (env: NodeJS.ProcessEnv): Command =>
      configurable(new Command('replay'), { env })
        .addOption(new Option('--data <dir>', 'a log').conflicts(['file', 'http']))
        .addOption(new Option('--file <file>', 'an export').conflicts(['http']))
        .option('--http <urls>', 'a master');
    const cli = await run(source({ LOADLEDGER_DATA: '/var/lib/loadledger' }), ['--http', 'http://a:7480']);
    expect(cli.stderr).toBe('');
    expect(cli.flags).toEqual({ http: 'http://a:7480' });
    // the other way round: the flag --data, the variable LOADLEDGER_HTTP
    const other = await run(source({ LOADLEDGER_HTTP: 'http://a:7480,http://b:7480' }), [
      '--data',
      './d',
      '--config',
      await file('r.yaml', 'file: x.llog\n'),
    ]);
    expect(other.stderr).toBe('');
    expect(other.flags).toEqual({ data: './d', config: expect.any(String) });
    // both from the layers: the person set both, and hears so
    const both = await run(source({ LOADLEDGER_DATA: './d', LOADLEDGER_HTTP: 'http://a:7480' }), []);
    expect(both.exitCode).toBe(1);
    expect(both.stderr).toMatch(/cannot be used with/);
  });

  it('closestKey', () => {
    const keys = ['dead-after', 'hello-interval', 'http', 'fsync'];
    expect(closestKey('deadAfter', keys)).toBe('dead-after');
    expect(closestKey('HELLO_INTERVAL', keys)).toBe('hello-interval');
    expect(closestKey('fsnyc', keys)).toBe('fsync');
    expect(closestKey('--no-http', keys)).toBe('http');
    expect(closestKey('policy', keys)).toBeUndefined();
  });
});

describe('--envoy-eds (docs/integrations.md#envoy-eds-over-rest)', () => {
  it('is off by default; on by the flag, the config key envoy-eds or LOADLEDGER_ENVOY_EDS', async () => {
    expect((await run(masterCommand(), [])).flags).toMatchObject({ envoyEds: false });
    expect((await run(masterCommand(), ['--envoy-eds'])).flags).toMatchObject({ envoyEds: true });
    expect((await run(masterCommand(), ['--config', await file('lb.yaml', 'envoy-eds: true\n')])).flags).toMatchObject({ envoyEds: true });
    vi.stubEnv('LOADLEDGER_ENVOY_EDS', 'true');
    expect((await run(masterCommand(), [])).flags).toMatchObject({ envoyEds: true });
  });
});
