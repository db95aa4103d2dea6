/**
 * `loadledger query least-loaded --binary HOST:PORT`: the built CLI asks an in-process
 * master on its slave port (QUERY / QUERY_REPLY) and prints what HTTP would.
 */
import { afterEach, expect, it } from 'vitest';
import { Cleanup } from '../helpers/cleanup.js';
import { runCli } from '../helpers/cli.js';
import { api, slavePort, startMaster } from '../helpers/master.js';
import { RawClient, closedPort } from '../helpers/net.js';
import { waitFor } from '../helpers/wait.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

it('query least-loaded --binary prints the node HTTP gives; no match, bad flags and no master are one line each', async () => {
  const master = await startMaster(cleanup, { helloInterval: 10_000, deadAfter: 20_000 });
  for (const [addr, load, zone] of [
    ['a:1', 5, 'eu-1'],
    ['b:1', 9, 'us-1'],
  ] as const) {
    const s = await RawClient.connect(slavePort(master), { answerHello: true });
    cleanup.defer(addr, () => s.destroy());
    s.push({ addr, load, attrs: { zone } });
  }
  await waitFor(() => master.projection.index.size === 2, { what: 'two eligible nodes' });
  const at = `127.0.0.1:${slavePort(master)}`;
  const run = (...args: string[]) => runCli(cleanup, ['query', 'least-loaded', ...args]);

  const [plain, zone, json, none] = await Promise.all([
    run('--binary', at),
    run('--binary', at, '--where', 'zone=us-1', '--policy', 'p2c'),
    run('--binary', at, '--json'),
    run('--binary', at, '--where', 'zone=nowhere'),
  ]);
  expect(plain).toMatchObject({ code: 0, stdout: `${(await api(master, '/v1/least-loaded')).body.id}\n`, stderr: '' });
  expect(plain.stdout).toBe('a:1\n');
  expect(zone).toMatchObject({ code: 0, stdout: 'b:1\n' });
  expect(json.code).toBe(0);
  expect(JSON.parse(json.stdout)).toMatchObject({
    ok: true,
    node: { id: 'a:1', load: 5, capacity: 1, attrs: { zone: 'eu-1' } },
    seq: expect.any(Number),
  });
  expect(none).toMatchObject({ code: 1, stdout: '', stderr: 'loadledger query: no eligible node matches zone=nowhere\n' });

  const port = await closedPort();
  const [refused, badAddr, state, both] = await Promise.all([
    run('--binary', `127.0.0.1:${port}`),
    run('--binary', 'not an address'),
    runCli(cleanup, ['query', 'state', '--binary', at]),
    run('--binary', at, '--http', 'http://127.0.0.1:1'),
  ]);
  // the same words over binary and HTTP (and the command's name, like its usage errors)
  const overHttp = await run('--http', `http://127.0.0.1:${port}`);
  expect([refused.code, overHttp.code]).toEqual([1, 1]);
  expect(refused.stderr).toMatch(new RegExp(`^loadledger query: master unreachable at 127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)\\n$`));
  expect(overHttp.stderr).toMatch(
    new RegExp(`^loadledger query: master unreachable at http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)\\n$`),
  );
  // --http aimed at the slave port: a master there sends its HELLO to a quiet connection
  // (hello-interval; the one above waits 10 s), which is not HTTP
  const chatty = await startMaster(cleanup, { helloInterval: 300, deadAfter: 10_000 });
  const slavePortAsHttp = await run('--http', `http://127.0.0.1:${slavePort(chatty)}`);
  expect(slavePortAsHttp.code).toBe(1);
  expect(slavePortAsHttp.stderr).toMatch(
    /^loadledger query: master unreachable at http:\/\/127\.0\.0\.1:\d+ \(that is not HTTP \(HPE_\w+\): is it the master's slave port\? the HTTP API is --http\)\n$/,
  );
  for (const r of [badAddr, state, both]) {
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  }
  expect(badAddr.stderr).toMatch(/--binary: expected host or host:port/);
  expect(state.stderr).toMatch(/--binary applies to least-loaded, not state/);
  expect(both.stderr).toMatch(/--binary and --http/);
});
