/**
 * `--config FILE` and LOADLEDGER_* as a user runs them: the built CLI in child processes
 * (`node dist/src/cli/main.js master --config f.yaml`). A master started from a file serves
 * /v1/state and logs the settings it took (MasterStarted); --print-config starts nothing;
 * a bad file is one line on stderr and exit 2.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Cleanup } from '../helpers/cleanup.js';
import { MAIN, runCli, spawnCli, waitForUp } from '../helpers/cli.js';
import { getJson } from '../helpers/master.js';
import { withTimeout } from '../helpers/wait.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

beforeAll(() => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: build first (npm run build; npm test does it)`);
});

const UP_RE = /UP_LISTENING .*slaves on 127\.0\.0\.1:(\d+), HTTP on (http:\/\/127\.0\.0\.1:\d+)/;

describe('loadledger master --config', () => {
  it('a master started from a YAML file, one setting from the environment: /v1/state answers and MasterStarted has the settings', async () => {
    const dir = await cleanup.tempDir('loadledger-config-');
    const config = join(dir, 'lb.yaml');
    await writeFile(
      config,
      [
        `data: ${JSON.stringify(join(dir, 'data'))}`,
        'listen: 127.0.0.1:0',
        'http: 127.0.0.1:0',
        'dead-after: 7s',
        'hello-interval: 3s',
        'fsync: true',
        'allow: [127.0.0.1]',
        '',
      ].join('\n'),
    );
    const master = spawnCli(cleanup, ['master', '--config', config], { env: { LOADLEDGER_HELLO_INTERVAL: '1500ms' } });
    const up = await waitForUp(master, UP_RE);
    const http = up[2]!;

    const state = await getJson<{ master: { state: string } }>(`${http}/v1/state`);
    expect(state.status).toBe(200);
    expect(state.body.master.state).toBe('UP_LISTENING');

    const res = await fetch(`${http}/v1/events?to=1`);
    const [started] = (await res.text())
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(started).toMatchObject({ type: 'MasterStarted', deadAfter: 7000, helloInterval: 1500, listen: `127.0.0.1:${up[1]}` });
    expect(existsSync(join(dir, 'data'))).toBe(true);

    master.child.kill('SIGTERM');
    expect(await withTimeout(master.exit, 5000, 'the master to exit after SIGTERM')).toEqual({ code: 0, signal: null });
  });

  it('--print-config prints the effective configuration and exits 0 without starting anything', async () => {
    const dir = await cleanup.tempDir('loadledger-config-');
    const config = join(dir, 'lb.json');
    await writeFile(config, JSON.stringify({ data: join(dir, 'data'), 'dead-after': '7s', http: false }));
    const r = await runCli(cleanup, ['master', '--config', config, '--print-config', '--retain', '30d'], {
      env: { LOADLEDGER_LISTEN: '127.0.0.1:0' },
    });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^dead-after: 7s +# config .*lb\.json$/m);
    expect(r.stdout).toMatch(/^http: false +# config /m);
    expect(r.stdout).toMatch(/^listen: 127\.0\.0\.1:0 +# env LOADLEDGER_LISTEN$/m);
    expect(r.stdout).toMatch(/^retain: 30d +# cli$/m);
    expect(r.stdout).toMatch(/^hello-interval: 1s +# default$/m);
    expect(existsSync(join(dir, 'data'))).toBe(false);
  });

  it('slave --print-config: required flags from the file', async () => {
    const dir = await cleanup.tempDir('loadledger-config-');
    const config = join(dir, 'slave.yaml');
    await writeFile(config, 'master: 127.0.0.1:7400\nload: loadavg\nattr:\n  - zone=eu-1\n');
    const r = await runCli(cleanup, ['slave', '--config', config, '--print-config']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^master: 127\.0\.0\.1:7400 +# config /m);
    expect(r.stdout).toMatch(/^attr: \[zone=eu-1\] +# config /m);
  });

  it('a bad value or an unknown key in the file: one line on stderr naming the file and the key, exit 2', async () => {
    const dir = await cleanup.tempDir('loadledger-config-');
    const config = join(dir, 'lb.yaml');
    await writeFile(config, 'dead-after: 5\n');
    let r = await runCli(cleanup, ['master', '--config', config]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `loadledger master: --config ${config}: dead-after: expected a duration with a unit, like 500ms, 3s, 1m, 2h, 7d, got "5"\n`,
    );

    await writeFile(config, 'dead-after: 5s\ndead-aftr: 3s\n');
    r = await runCli(cleanup, ['master', '--config', config]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `loadledger master: --config ${config}: unknown key "dead-aftr" (did you mean dead-after?); keys are the flags of loadledger master without the dashes\n`,
    );

    r = await runCli(cleanup, ['master', '--print-config'], { env: { LOADLEDGER_MAX_SLAVES: 'many' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('loadledger master: LOADLEDGER_MAX_SLAVES: expected an integer from 1 to 9007199254740991, got "many"\n');
  });
});
