/**
 * HAProxy's agent-check against a real HAProxy (Debian's haproxy): three tiny HTTP backends
 * on loopback, a slave (raw client) reporting for each, the master as every server's agent.
 * HAProxy's own view is read from its stats socket (`show servers state`): weights follow
 * the reported loads, `loadledger drain` puts a server in DRAIN and `undrain` brings it
 * back, a killed slave's server goes DOWN, and comes back UP in DRAIN when it returns
 * drained, and goes DOWN when its node leaves the backend's service (the agent-send scope);
 * and requests through HAProxy's frontend split in proportion to the weights
 * (600 requests, ±5 percentage points). Real time, generous bounds (30 s): behaviour,
 * not speed. Without haproxy the file is skipped with one line (fails under CI=true).
 */
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer, get as httpGet, type Server } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AdminToken } from '../../src/http/auth.js';
import { Cleanup } from '../helpers/cleanup.js';
import { runCli } from '../helpers/cli.js';
import { component } from '../helpers/component.js';
import { httpBase, pushedClient, startMaster } from '../helpers/master.js';
import { closedPort, type RawClient } from '../helpers/net.js';
import { waitFor } from '../helpers/wait.js';

const HAPROXY = component(
  'haproxy',
  ['/usr/sbin/haproxy', '/usr/local/sbin/haproxy', '/usr/bin/haproxy'],
  'haproxy',
  'HAProxy agent tests',
);
const run = HAPROXY.available();
const SECRET = 'agent-t0ken.for+tests~xyz';
const AGENT_INTER = 300;

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** The configuration docs/integrations.md shows (ports filled in). */
export function agentConfig(o: { socket: string; front: number; agent: number; servers: { name: string; port: number }[] }): string {
  return [
    'global',
    `  stats socket ${o.socket} mode 600 level admin`,
    '',
    'defaults',
    '  mode http',
    '  timeout connect 2s',
    '  timeout client 10s',
    '  timeout server 10s',
    '  timeout check 1s',
    '',
    'frontend web',
    `  bind 127.0.0.1:${o.front}`,
    '  default_backend app',
    '',
    'backend app',
    '  balance roundrobin',
    // weight 100: the agent's N% is a share of it, so srv_uweight is N
    `  default-server weight 100 check inter 1s agent-check agent-addr 127.0.0.1 agent-port ${o.agent} agent-inter ${AGENT_INTER}ms`,
    // the node id, then the scope: this backend is the `app` service's
    ...o.servers.map((s) => `  server ${s.name} 127.0.0.1:${s.port} agent-send "127.0.0.1:${s.port} service=app\\n"`),
    '',
  ].join('\n');
}

function admin(socket: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(socket);
    let text = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => (text += d));
    s.on('error', reject);
    s.on('end', () => resolve(text));
    s.write(`${command}\n`);
  });
}

interface ServerState {
  line: string;
  weight: number;
  op: number;
  admin: number;
}

/** `show servers state app`: by server name, the line and its srv_uweight, srv_op_state, srv_admin_state. */
async function serversState(socket: string): Promise<Record<string, ServerState>> {
  const text = await admin(socket, 'show servers state app');
  const rows = text.split('\n').filter((l) => l.trim() !== '');
  const header =
    rows
      .find((l) => l.startsWith('# '))
      ?.slice(2)
      .split(' ') ?? [];
  const col = (name: string) => header.indexOf(name);
  const out: Record<string, ServerState> = {};
  for (const line of rows) {
    if (line.startsWith('#') || !line.includes(' ')) continue;
    const f = line.split(' ');
    out[f[col('srv_name')]!] = {
      line: header
        .slice(0, 9)
        .map((h, i) => `${h}=${f[i]}`)
        .join(' '),
      weight: Number(f[col('srv_uweight')]),
      op: Number(f[col('srv_op_state')]),
      admin: Number(f[col('srv_admin_state')]),
    };
  }
  return out;
}

/** A tiny HTTP backend that counts the requests it served (HAProxy's TCP health checks send none). */
async function httpBackend(): Promise<{ server: Server; port: number; served: { count: number } }> {
  const served = { count: 0 };
  const server = createServer((_req, res) => {
    served.count++;
    res.end('ok\n');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  cleanup.defer('close backend', () => new Promise<void>((r) => server.close(() => r())));
  const a = server.address();
  return { server, port: typeof a === 'object' && a ? a.port : 0, served };
}

/** One GET through HAProxy's frontend on a fresh connection (so that every request is balanced on its own); its status. */
function get(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpGet({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
  });
}

describe.skipIf(!run)('HAProxy agent-check (real haproxy)', () => {
  it('weights follow loads, drain and undrain, a killed slave goes DOWN and returns drained — as HAProxy sees it', async () => {
    const dir = await cleanup.tempDir('loadledger-agent-');
    const agentPort = await closedPort();
    const master = await startMaster(cleanup, {
      helloInterval: 300,
      deadAfter: 3000,
      agent: { host: '127.0.0.1', port: agentPort },
      weightInterval: 200,
      weightStep: 100,
      protectShare: 0,
      auth: { token: new AdminToken(SECRET) },
    });
    expect(master.agent?.address.port).toBe(agentPort);
    const backends = [await httpBackend(), await httpBackend(), await httpBackend()];
    const names = ['s1', 's2', 's3'];
    const ids = backends.map((b) => `127.0.0.1:${b.port}`);
    const slaves: RawClient[] = [];
    const loads = [0, 50, 50];
    const services = ['app', 'app', 'app'];
    const fields = (i: number) => ({ addr: ids[i]!, load: loads[i]!, attrs: { service: services[i]! } });
    for (const i of ids.keys()) slaves.push((await pushedClient(cleanup, master, fields(i))).cl);
    // slaves report every 300 ms, as a real one does (a quiet one is DOWN after --dead-after)
    const reporting = setInterval(() => slaves.forEach((cl, i) => !cl.closed && cl.push(fields(i))), 300);
    cleanup.defer('stop reporting', () => clearInterval(reporting));

    const socket = join(dir, 'admin.sock');
    const file = join(dir, 'haproxy.cfg');
    const front = await closedPort();
    writeFileSync(
      file,
      agentConfig({ socket, front, agent: agentPort, servers: names.map((name, i) => ({ name, port: backends[i]!.port })) }),
    );
    const check = spawnSync(HAPROXY.bin!, ['-c', '-q', '-f', file], { encoding: 'utf8' });
    expect(check.status, `${check.stderr}${check.stdout}`).toBe(0);
    let output = '';
    const proc = spawn(HAPROXY.bin!, ['-db', '-f', file], { stdio: ['ignore', 'ignore', 'pipe'] });
    proc.stderr.setEncoding('utf8').on('data', (s: string) => (output = (output + s).slice(-4000)));
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    cleanup.defer('stop haproxy', async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      process.kill(proc.pid!, 'SIGTERM');
      await exited;
    });

    let last: Record<string, ServerState> = {};
    const until = async (what: string, ok: (s: Record<string, ServerState>) => boolean) => {
      const t0 = performance.now();
      await waitFor(
        async () => {
          if (proc.exitCode !== null) throw new Error(`haproxy exited: ${output}`);
          last = await serversState(socket).catch(() => ({}));
          return Object.keys(last).length === 3 && ok(last);
        },
        { what, timeout: 30_000, interval: 50, describe: () => ({ last, output }) },
      );
      console.log(`[${what}] after ${Math.round(performance.now() - t0)} ms:\n${names.map((n) => `  ${last[n]!.line}`).join('\n')}`);
    };
    const weights = (s: Record<string, ServerState>) => names.map((n) => s[n]!.weight);
    const UP = 2;
    const DOWN = 0;
    const DRAIN = 0x08 | 0x10;

    // loads 0, 50, 50 → targets 100, 40, 40 (docs/selection.md#weights)
    await until('loads 0/50/50', (s) => weights(s).join() === '100,40,40' && names.every((n) => s[n]!.op === UP && s[n]!.admin === 0));
    // Requests through the frontend split as the weights say: 600 requests (a count, not a
    // time window, so a busy machine only makes it slower), each on its own connection;
    // roundrobin gives each server weight/sum of them: 100/180, 40/180, 40/180 = 55.6%, 22.2%,
    // 22.2%. Tolerance: ±5 percentage points per server (roundrobin is exact over whole
    // cycles of 180; the margin is for a request of another cycle at the start or end, and
    // is far below what a wrong weight gives: equal weights would be 33.3% each).
    const REQUESTS = 600;
    const TOLERANCE = 0.05;
    const before = backends.map((b) => b.served.count);
    for (let i = 0; i < REQUESTS; i++) expect(await get(front)).toBe(200);
    const counts = backends.map((b, i) => b.served.count - before[i]!);
    const steady = await serversState(socket);
    expect(weights(steady).join(), 'the weights held during the requests').toBe('100,40,40');
    const sum = names.reduce((a, n) => a + steady[n]!.weight, 0);
    const split = names.map(
      (n, i) =>
        `${n} ${counts[i]} (${((100 * counts[i]!) / REQUESTS).toFixed(1)}%, weight ${steady[n]!.weight}: ${((100 * steady[n]!.weight) / sum).toFixed(1)}%)`,
    );
    console.log(`[traffic split over ${REQUESTS} requests] ${split.join('; ')}`);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(REQUESTS);
    for (const [i, n] of names.entries())
      expect(Math.abs(counts[i]! / REQUESTS - steady[n]!.weight / sum), `${n}'s share`).toBeLessThanOrEqual(TOLERANCE);
    // s1's load rises to 100 → 70, 100, 100
    loads[0] = 100;
    await until('s1 load 0 → 100', (s) => weights(s).join() === '70,100,100');

    const base = httpBase(master);
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, `${SECRET}\n`, { mode: 0o600 });
    const drained = await runCli(cleanup, ['drain', ids[1]!, '--reason', 'agent test', '--http', base, '--token-file', tokenFile]);
    expect(drained.code, drained.stderr).toBe(0);
    await until('loadledger drain s2', (s) => (s['s2']!.admin & DRAIN) !== 0 && s['s2']!.op === UP);
    const undrained = await runCli(cleanup, ['undrain', ids[1]!, '--http', base, '--token-file', tokenFile]);
    expect(undrained.code, undrained.stderr).toBe(0);
    await until('loadledger undrain s2', (s) => s['s2']!.admin === 0 && s['s2']!.op === UP);

    slaves[2]!.destroy(); // killed: its connection closes, the master marks it DOWN
    await waitFor(() => master.projection.nodes.get(ids[2]!)?.state === 'DOWN', {
      what: 's3 DOWN in the registry',
      timeout: 30_000,
      describe: () => master.projection.nodes.get(ids[2]!),
    });
    await until('slave of s3 killed', (s) => s['s3']!.op === DOWN && s['s1']!.op === UP && s['s2']!.op === UP);

    // drained while DOWN, then its slave comes back: UP in DRAIN. HAProxy changes only what a
    // reply names, so a bare `drain` would leave the agent's earlier `down` standing
    const drainedDown = await runCli(cleanup, ['drain', ids[2]!, '--reason', 'back drained', '--http', base, '--token-file', tokenFile]);
    expect(drainedDown.code, drainedDown.stderr).toBe(0);
    slaves[2] = (await pushedClient(cleanup, master, fields(2))).cl;
    await until('s3 back, drained', (s) => s['s3']!.op === UP && (s['s3']!.admin & DRAIN) !== 0);

    // s1's node moves to another service: out of this backend's scope, DOWN there
    services[0] = 'web';
    await until('s1 moved to service web', (s) => s['s1']!.op === DOWN && s['s2']!.op === UP);

    // the agent counted every check, and none was an error
    expect(master.agent!.stats.requests).toBeGreaterThan(10);
    expect(master.agent!.stats.errors).toBe(0);
  }, 120_000);
});
