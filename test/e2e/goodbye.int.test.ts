/**
 * Graceful leave with real processes: `loadledger slave` gets SIGTERM (or SIGINT), says
 * GOODBYE, and the master's /v1/state shows the node DOWN with reason "left" at once,
 * although --dead-after is 30 s on both sides.
 */
import { existsSync } from 'node:fs';
import { afterEach, beforeAll, expect, it } from 'vitest';
import type { NodeDocument, StateDocument } from '../../src/projection/document.js';
import { Cleanup } from '../helpers/cleanup.js';
import { MAIN, runCli, spawnCli, waitForUp } from '../helpers/cli.js';
import { getJson } from '../helpers/master.js';
import { waitFor, withTimeout } from '../helpers/wait.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

beforeAll(() => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: build first (npm run build; npm test does it)`);
});

const UP_RE = /^loadledger master: UP_LISTENING .*slaves on 127\.0\.0\.1:(\d+), HTTP on (http:\/\/127\.0\.0\.1:\d+)/m;

async function startCliMaster(extra: string[]): Promise<{ dir: string; slavePort: number; http: string } & ReturnType<typeof spawnCli>> {
  const dir = await cleanup.tempDir('loadledger-cli-');
  const p = spawnCli(cleanup, ['master', '--data', dir, '--listen', '127.0.0.1:0', '--http', '127.0.0.1:0', ...extra]);
  const m = await waitForUp(p, UP_RE);
  return { ...p, dir, slavePort: Number(m[1]), http: m[2]! };
}

it('SIGTERM / SIGINT to `loadledger slave`: GOODBYE, the node DOWN "left (SIGNAL)" within a few hundred ms (dead-after 30 s), exit 0', async () => {
  const master = await startCliMaster(['--hello-interval', '1s', '--dead-after', '30s']);
  const signals = ['SIGTERM', 'SIGINT'] as const;
  const slaves = signals.map((_, i) =>
    spawnCli(cleanup, [
      'slave',
      '--master',
      `127.0.0.1:${master.slavePort}`,
      '--addr',
      `10.0.0.${i + 1}:8080`,
      '--load',
      String(10 * (i + 1)),
      '--interval',
      '100ms',
      '--dead-after',
      '30s',
      '-q',
    ]),
  );
  const nodes = async (): Promise<NodeDocument[]> => (await getJson<StateDocument>(`${master.http}/v1/state`)).body.nodes;
  await waitFor(async () => (await nodes()).filter((n) => n.state === 'PUSH_LOAD_INFO').length === 2, {
    what: 'both slaves up',
    timeout: 30_000,
    interval: 20,
  });

  for (const [i, signal] of signals.entries()) {
    const id = `10.0.0.${i + 1}:8080`;
    const t0 = performance.now();
    slaves[i]!.child.kill(signal);
    const down = await waitFor(async () => (await nodes()).find((n) => n.id === id && n.state === 'DOWN'), {
      what: `${id} DOWN after ${signal}`,
      timeout: 5000,
      interval: 10,
    });
    const ms = performance.now() - t0;
    expect(down.reason).toBe(`left (${signal})`);
    expect(ms).toBeLessThan(10_000); // "a few hundred ms" on an idle machine; dead-after is 30 s (a bound a busy machine cannot reach)
    expect(await withTimeout(slaves[i]!.exit, 3000, `the slave to exit after ${signal}`)).toEqual({ code: 0, signal: null });
  }

  master.child.kill('SIGTERM');
  expect(await withTimeout(master.exit, 5000, 'the master to exit')).toEqual({ code: 0, signal: null });
  const explain = await runCli(cleanup, ['replay', '--data', master.dir, '--explain', '10.0.0.1:8080']);
  expect(explain.code).toBe(0);
  expect(explain.stdout).toMatch(/PUSH_LOAD_INFO → DOWN: left: connection \d+ said GOODBYE \(SIGTERM\)/);
  const events = await runCli(cleanup, ['replay', '--data', master.dir, '--events', '--type', 'SlaveLeft']);
  expect(events.code).toBe(0);
  expect(events.stdout).toMatch(/SlaveLeft\s+\d+\s+10\.0\.0\.1:8080\s+GOODBYE: SIGTERM/);
  expect(events.stdout).toMatch(/SlaveLeft\s+\d+\s+10\.0\.0\.2:8080\s+GOODBYE: SIGINT/);
});
