/**
 * The commands that talk to masters, given a cluster's list (docs/ha.md#clients), as a user
 * runs them (the built CLI in child processes): `query` and `replay` read from whichever
 * master answers, `drain` goes to the one that leads, `cluster` prints the members; the
 * list also comes from LOADLEDGER_HTTP and --config. A real master, a closed port, and a
 * test server that answers as a standby does (503 NOT_LEADER for writes; its /v1/cluster).
 */
import { writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AdminToken } from '../../src/http/auth.js';
import { Cleanup } from '../helpers/cleanup.js';
import { lines, runCli, spawnCli } from '../helpers/cli.js';
import { httpBase, slavePort, startMaster } from '../helpers/master.js';
import { closedPort } from '../helpers/net.js';
import { waitFor } from '../helpers/wait.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const TOKEN = 'e2e-ha-clients-token-0123456789';
const QUIET = { helloInterval: 60_000, deadAfter: 60_000 } as const;

/** A standby as a client sees one: it serves /v1/cluster, refuses writes with 503 NOT_LEADER. */
async function standby(doc: object): Promise<{ url: string; seen: string[] }> {
  const seen: string[] = [];
  const s = createServer((req: IncomingMessage, res: ServerResponse) => {
    seen.push(`${req.method} ${req.url}`);
    req.resume();
    const json = (status: number, body: object): void =>
      void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.method === 'GET' && req.url === '/v1/cluster') return json(200, doc);
    json(503, { error: 'this master is a standby: drains go to the leader (a, HTTP on 10.0.0.1:7480)', code: 'NOT_LEADER' });
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  cleanup.defer('standby server', () => new Promise<void>((r) => (s.closeAllConnections(), s.close(() => r()))));
  return { url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, seen };
}

const cli = (args: string[], env: Record<string, string> = {}) =>
  runCli(cleanup, args, { env: { LOADLEDGER_TOKEN_FILE: '', LOADLEDGER_HTTP: '', ...env } });

describe('slave with a list', () => {
  it('LOADLEDGER_MASTER or the config file: it passes the dead address by and reports to the master', async () => {
    const master = await startMaster(cleanup, QUIET);
    const dead = `127.0.0.1:${await closedPort()}`;
    const real = `127.0.0.1:${slavePort(master)}`;
    const dir = await cleanup.tempDir('loadledger-ha-slave-');
    const config = join(dir, 'slave.yaml');
    writeFileSync(config, `master: ${dead},${real}\nload: 6\naddr: 10.0.0.7:8080\n`);
    const fromEnv = spawnCli(cleanup, ['slave', '--load', '5', '--addr', '10.0.0.6:8080'], {
      env: { LOADLEDGER_MASTER: `${dead},${real}` },
    });
    const fromFile = spawnCli(cleanup, ['slave', '--config', config]);
    await waitFor(() => ['10.0.0.6:8080', '10.0.0.7:8080'].every((n) => master.projection.nodes.get(n)?.state === 'PUSH_LOAD_INFO'), {
      timeout: 30_000,
      what: 'both slaves on the master',
      describe: () => [fromEnv.out.stderr, fromFile.out.stderr],
    });
    expect(master.projection.nodes.get('10.0.0.7:8080')?.load).toBe(6);
    for (const p of [fromEnv, fromFile]) {
      expect(p.out.stderr).toContain(`to whichever of ${dead}, ${real} leads`);
      expect(p.out.stderr).toContain(`loadledger slave: reconnecting to ${real} in 0ms (socket error: connect ECONNREFUSED ${dead})`);
      expect(p.out.stderr).toContain(`loadledger slave: connected to ${real}`);
    }
    const bad = await cli(['slave', '--load', '1', '--master', `${real},,${dead}`]);
    expect(bad).toMatchObject({ code: 2, stdout: '' });
    expect(lines(bad.stderr)).toEqual([
      'loadledger slave: --master: address 2 of 3 is empty in "' + `${real},,${dead}` + '"; separate addresses with single commas',
    ]);
  });
});

describe('query and replay with a list', () => {
  it('answer from the first master that does; none answering is one line naming each; the list comes from LOADLEDGER_HTTP and --config too', async () => {
    const master = await startMaster(cleanup, QUIET);
    const real = httpBase(master);
    const dead = `http://127.0.0.1:${await closedPort()}`;
    const dead2 = `http://127.0.0.1:${await closedPort()}`;
    const dir = await cleanup.tempDir('loadledger-ha-clients-');
    const config = join(dir, 'query.yaml');
    writeFileSync(config, `http: ${dead},${real}\n`);

    const [flag, env, file, replay, none] = await Promise.all([
      cli(['query', 'state', '--http', `${dead},${real}`]),
      cli(['query', 'nodes'], { LOADLEDGER_HTTP: `${dead},${real}` }),
      cli(['query', 'state', '--config', config]),
      cli(['replay', '--events'], { LOADLEDGER_HTTP: `${dead},${real}`, LOADLEDGER_DATA: '' }),
      cli(['query', 'state', '--http', `${dead},${dead2}`]),
    ]);
    expect(flag).toMatchObject({ code: 0, stderr: '' });
    expect(flag.stdout).toMatch(/^seq \d+ {2}master UP_LISTENING/);
    expect(env).toMatchObject({ code: 0, stdout: '(no nodes)\n' });
    expect(file).toMatchObject({ code: 0 });
    expect(file.stdout).toMatch(/^seq \d+ {2}master UP_LISTENING/);
    expect(replay.code, replay.stderr).toBe(0);
    expect(replay.stdout).toMatch(/MasterStarted/);
    expect(none).toMatchObject({ code: 1, stdout: '' });
    expect(lines(none.stderr)).toEqual([
      `loadledger query: no master answered (2 tried): ${dead}: unreachable (ECONNREFUSED); ${dead2}: unreachable (ECONNREFUSED)`,
    ]);

    const bad = await cli(['query', 'state', '--http', `${real},,${dead}`]);
    expect(bad).toMatchObject({ code: 2, stdout: '' });
    expect(lines(bad.stderr)).toEqual(['loadledger query: --http: URL 2 of 3 is empty; separate URLs with single commas']);
  });
});

describe('drain with a list', () => {
  it('goes past a standby to the leader; with no leader, one line naming each and exit 1', async () => {
    const master = await startMaster(cleanup, { ...QUIET, auth: { token: new AdminToken(TOKEN) } });
    const dir = await cleanup.tempDir('loadledger-ha-drain-');
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    const b = await standby({});
    const d = await cli([
      'drain',
      '10.0.0.5:8080',
      '--reason',
      'kernel',
      '--http',
      `${b.url},${httpBase(master)}`,
      '--token-file',
      tokenFile,
    ]);
    expect(d.code, d.stderr).toBe(0);
    expect(lines(d.stdout)).toEqual([expect.stringMatching(/^drained 10\.0\.0\.5:8080 \(kernel\) at seq \d+: not in the table yet/)]);
    expect(b.seen).toEqual(['POST /v1/nodes/10.0.0.5%3A8080/drain']);
    expect(master.projection.nodes.get('10.0.0.5:8080')?.drained?.reason).toBe('kernel');

    const dead = `http://127.0.0.1:${await closedPort()}`;
    const none = await cli(['undrain', '10.0.0.5:8080', '--http', `${b.url},${dead}`, '--token-file', tokenFile]);
    expect(none).toMatchObject({ code: 1, stdout: '' });
    expect(lines(none.stderr)).toEqual([
      `loadledger undrain: no master leads (2 tried): ${b.url}: HTTP 503 NOT_LEADER: this master is a standby: drains go to the leader (a, HTTP on 10.0.0.1:7480); ${dead}: unreachable (ECONNREFUSED)`,
    ]);
  });
});

describe('loadledger cluster', () => {
  it('prints the members from /v1/cluster of every address given; an address that does not answer is a row', async () => {
    const members = [
      { node: 'a', listen: '10.0.0.1:7400', http: '10.0.0.1:7480', role: 'leader' },
      { node: 'b', listen: '10.0.0.2:7400', http: '10.0.0.2:7480', role: 'standby' },
    ];
    const leader = { node: 'a', listen: '10.0.0.1:7400', http: '10.0.0.1:7480' };
    const common = { term: 7, leader, members, elections: 1 };
    const a = await standby({
      ...common,
      role: 'leader',
      node: 'a',
      seq: 1200,
      lag: { seq: 0, ms: 0 },
      ack: { mode: 'local', inSync: [], local: true },
    });
    const b = await standby({
      ...common,
      role: 'standby',
      node: 'b',
      seq: 1195,
      lag: { seq: 5, ms: 40 },
      ack: { mode: 'local', inSync: [], local: true },
    });
    const dead = `http://127.0.0.1:${await closedPort()}`;
    const r = await cli(['cluster', '--http', `${b.url},${a.url},${dead}`]);
    expect(r.code, r.stderr).toBe(0);
    expect(lines(r.stdout)).toEqual([
      'leader a (term 7), HTTP 10.0.0.1:7480, slaves 10.0.0.1:7400',
      expect.stringMatching(/^NODE +ROLE +TERM +SEQ +LAG +HTTP +NOTE$/),
      expect.stringMatching(new RegExp(`^a +leader +7 +1200 +- +${a.url} +ack local$`)),
      expect.stringMatching(new RegExp(`^b +standby +7 +1195 +5 events, 40 ms +${b.url}$`)),
      expect.stringMatching(new RegExp(`^\\? +\\? +- +- +- +${dead} +unreachable \\(ECONNREFUSED\\)$`)),
    ]);
    const json = await cli(['cluster', '--http', `${a.url},${dead}`, '--json']);
    expect(JSON.parse(json.stdout)).toEqual([
      { url: a.url, cluster: expect.objectContaining({ role: 'leader', node: 'a', term: 7 }) },
      { url: dead, error: 'unreachable (ECONNREFUSED)', code: 'MASTER_UNREACHABLE' },
    ]);
    const none = await cli(['cluster', '--http', dead]);
    expect(none).toMatchObject({ code: 1, stdout: '' });
    expect(lines(none.stderr)).toEqual([`loadledger cluster: ${dead}: unreachable (ECONNREFUSED)`]);
  });
});
