/**
 * `POST /v3/discovery:endpoints` (Envoy EDS over REST) on a real master on loopback with raw
 * slaves (src/http/routes/discovery.ts, src/selection/eds.ts): off by default (404 naming
 * the flag); Envoy's poll answered with one ClusterLoadAssignment per cluster named, every
 * answer checked against Envoy's own protos (test/helpers/envoy-proto.ts); weights follow
 * loads; a drain → DRAINING, a dead slave → UNHEALTHY; 304 while the version is the one
 * Envoy has, also across heartbeats; bad requests → 400 BAD_ARGUMENT, never a crash;
 * counted in /healthz, /v1/cluster and /metrics; and a standby answers from its own log.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import { AdminToken } from '../../src/http/auth.js';
import type { Master } from '../../src/node/master.js';
import { EDS_MAX_BODY_BYTES, EDS_TYPE_URL } from '../../src/selection/eds.js';
import { Cleanup } from '../helpers/cleanup.js';
import { checkDiscoveryResponse, documentedEnvoyConfig, type DecodedAssignment } from '../helpers/envoy-proto.js';
import { ENVOY_POLL } from '../helpers/envoy-poll.js';
import { etcdAvailable, startEtcd, type TestEtcd } from '../helpers/etcd.js';
import { bearer, request, type RawResponse } from '../helpers/http.js';
import { api, httpBase, logEvents, pushedClient, startMaster, pretendDegraded } from '../helpers/master.js';
import { waitFor } from '../helpers/wait.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const TOKEN = 'eds-test-token.0123456789';
/** Slow liveness (a node goes DOWN when its connection closes); weights settle in one 100 ms tick. */
const TIMING = { helloInterval: 10_000, deadAfter: 20_000, weightInterval: 100, weightStep: 100 } as const;
const PATH = '/v3/discovery:endpoints';

/** Envoy's poll for `names`, with the version it has. */
function poll(names: string[], version = ''): string {
  return JSON.stringify({ ...ENVOY_POLL, version_info: version, resource_names: names });
}

function post(m: Master, body: string, headers: Record<string, string> = {}): Promise<RawResponse> {
  return request(httpBase(m) + PATH, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
}

interface Endpoint {
  id: string;
  health: string;
  weight: number;
}

/** A 200 answer, checked against Envoy's protos: its version and each cluster's endpoints as `ip:port`. */
async function answer(r: RawResponse): Promise<{ version: string; clusters: Record<string, Endpoint[]> }> {
  expect(r.status, r.text).toBe(200);
  expect(r.headers['content-type']).toBe('application/json');
  const checked = await checkDiscoveryResponse(JSON.parse(r.text));
  expect(checked.typeUrl).toBe(EDS_TYPE_URL);
  const clusters: Record<string, Endpoint[]> = {};
  for (const cla of checked.resources) {
    clusters[cla['cluster_name'] as string] = ((cla['endpoints'] ?? []) as DecodedAssignment[]).flatMap((l) =>
      ((l['lb_endpoints'] ?? []) as DecodedAssignment[]).map((e) => {
        const sa = e['endpoint'].address.socket_address as { address: string; port_value: number };
        return {
          id: `${sa.address}:${sa.port_value}`,
          health: e['health_status'] as string,
          weight: e['load_balancing_weight'].value as number,
        };
      }),
    );
  }
  return { version: checked.version, clusters };
}

/** Polls until the answer for `names` satisfies `ok` (weights move on the master's ticks). */
async function until(m: Master, names: string[], ok: (a: Awaited<ReturnType<typeof answer>>) => boolean, what: string) {
  let last: unknown;
  return waitFor(
    async () => {
      const a = await answer(await post(m, poll(names)));
      last = a;
      return ok(a) ? a : undefined;
    },
    { what, describe: () => last },
  );
}

describe('POST /v3/discovery:endpoints (Envoy EDS over REST)', () => {
  it('is off by default: 404 NOT_FOUND naming --envoy-eds; only POST', async () => {
    const m = await startMaster(cleanup, TIMING);
    const r = await post(m, poll(['api']));
    expect(r.status).toBe(404);
    expect(r.json).toEqual({ code: ErrorCode.NOT_FOUND, error: `${PATH} is off on this master (start it with --envoy-eds)` });
    expect((await api(m, '/healthz')).body.integrations).toEqual({});
    const get = await request(httpBase(m) + PATH);
    expect(get.status).toBe(405);
    expect(get.headers['allow']).toBe('POST');
  });

  it("answers Envoy's poll with every endpoint of each cluster: weights follow loads, drained → DRAINING, DOWN → UNHEALTHY; 304 while nothing changed, across heartbeats", async () => {
    const m = await startMaster(cleanup, { ...TIMING, envoyEds: true, auth: { token: new AdminToken(TOKEN), openReads: true } });
    const api1 = await pushedClient(cleanup, m, { addr: '127.0.0.11:8080', load: 0, attrs: { service: 'api' } });
    const api2 = await pushedClient(cleanup, m, { addr: '127.0.0.12:8080', load: 50, attrs: { service: 'api' } });
    await pushedClient(cleanup, m, { addr: '127.0.0.13:8080', load: 50, attrs: { service: 'api' } });
    await pushedClient(cleanup, m, { addr: '127.0.0.21:5432', load: 3, attrs: { service: 'db' } });

    // loads 0 / 50 / 50 → weights 100 / 40 / 40 (docs/selection.md#weights); no node in "none"
    const first = await until(
      m,
      ['api', 'none'],
      (a) => a.clusters['api']?.map((e) => e.weight).join() === '100,40,40',
      'weights 100/40/40',
    );
    expect(first.clusters).toEqual({
      api: [
        { id: '127.0.0.11:8080', health: 'HEALTHY', weight: 100 },
        { id: '127.0.0.12:8080', health: 'HEALTHY', weight: 40 },
        { id: '127.0.0.13:8080', health: 'HEALTHY', weight: 40 },
      ],
      none: [],
    });
    const raw = await post(m, poll(['api', 'none']));
    expect(raw.headers['etag']).toBe(`"${first.version}"`);
    expect(raw.json.resources[1]).toEqual({ '@type': EDS_TYPE_URL, cluster_name: 'none', endpoints: [] });

    // Envoy has this version: 304, no body
    const same = await post(m, poll(['api', 'none'], first.version));
    expect(same.status).toBe(304);
    expect(same.text).toBe('');

    // a heartbeat (HELLO) and the same load again: events in the log, the same answer, the same version
    const seq = m.log.lastSeq;
    api1.cl.hello();
    api1.cl.push({ addr: '127.0.0.11:8080', load: 0, attrs: { service: 'api' } });
    await waitFor(
      async () =>
        (await logEvents(m)).some((e) => e.seq > seq && e.type === 'HelloReceived') &&
        (await logEvents(m)).some((e) => e.seq > seq && e.type === 'LoadPushed'),
      {
        what: 'the HELLO and the push in the log',
      },
    );
    const tick = m.weights.tick;
    await waitFor(() => m.weights.tick >= tick + 2, { what: 'two weight ticks' });
    expect((await post(m, poll(['api', 'none'], first.version))).status).toBe(304);

    // a load change: the version moves, the weights follow (0 / 0 / 50 → 100 / 100 / 25)
    api2.cl.push({ addr: '127.0.0.12:8080', load: 0, attrs: { service: 'api' } });
    const moved = await until(
      m,
      ['api', 'none'],
      (a) => a.version !== first.version && a.clusters['api']?.map((e) => e.weight).join() === '100,100,25',
      'weights 100/100/25',
    );
    expect((await post(m, poll(['api', 'none'], first.version))).status).toBe(200);
    expect((await post(m, poll(['api', 'none'], moved.version))).status).toBe(304);

    // drained → DRAINING (weight 1, Envoy sends it nothing)
    const drain = await request(`${httpBase(m)}/v1/nodes/${encodeURIComponent('127.0.0.13:8080')}/drain`, {
      method: 'POST',
      headers: bearer(TOKEN),
    });
    expect(drain.status).toBe(200);
    const drained = await answer(await post(m, poll(['api'])));
    expect(drained.clusters['api']).toContainEqual({ id: '127.0.0.13:8080', health: 'DRAINING', weight: 1 });

    // its slave gone → DOWN → UNHEALTHY
    api2.cl.destroy();
    await waitFor(() => m.projection.nodes.get('127.0.0.12:8080')?.state === 'DOWN', { what: '127.0.0.12:8080 DOWN' });
    const down = await answer(await post(m, poll(['api', 'db'])));
    expect(down.clusters).toEqual({
      api: [
        { id: '127.0.0.11:8080', health: 'HEALTHY', weight: 100 },
        { id: '127.0.0.12:8080', health: 'UNHEALTHY', weight: 1 },
        { id: '127.0.0.13:8080', health: 'DRAINING', weight: 1 },
      ],
      db: [{ id: '127.0.0.21:5432', health: 'HEALTHY', weight: 100 }],
    });
    expect(new Set([first.version, moved.version, drained.version, down.version]).size).toBe(4);
  });

  it("answers the EDS cluster of docs/integrations.md's Envoy configuration", async () => {
    const config = documentedEnvoyConfig();
    const eds = (config['static_resources'].clusters as Array<Record<string, any>>).find((c) => c['type'] === 'EDS')!;
    const service = eds['eds_cluster_config'].service_name as string;
    const m = await startMaster(cleanup, { ...TIMING, envoyEds: true });
    await pushedClient(cleanup, m, { addr: '127.0.0.11:8080', load: 1, attrs: { service } });
    const a = await until(m, [service], (x) => x.clusters[service]?.[0]?.weight === 100, `${service} at weight 100`);
    expect(a.clusters).toEqual({ [service]: [{ id: '127.0.0.11:8080', health: 'HEALTHY', weight: 100 }] });
  });

  it('refuses a bad request with 400 BAD_ARGUMENT and one line, never a crash; counted as errors in /healthz, /v1/cluster and /metrics', async () => {
    const m = await startMaster(cleanup, { ...TIMING, envoyEds: true });
    await pushedClient(cleanup, m, { addr: '127.0.0.11:8080', load: 1, attrs: { service: 'api' } });
    const bad: Array<[string, string | RegExp]> = [
      ['not json', /^the body is not JSON/],
      ['', /^the body is not JSON/],
      [
        JSON.stringify({ ...ENVOY_POLL, type_url: 'type.googleapis.com/envoy.config.cluster.v3.Cluster' }),
        /^type_url must be type.googleapis.com\/envoy.config.endpoint.v3.ClusterLoadAssignment/,
      ],
      [JSON.stringify({ ...ENVOY_POLL, resource_namez: ['api'] }), /^unknown field "resource_namez" in the DiscoveryRequest/],
      [
        JSON.stringify({ ...ENVOY_POLL, resource_names: undefined }),
        'resource_names is empty: name the clusters (services) to answer, as Envoy does',
      ],
      [
        JSON.stringify({ ...ENVOY_POLL, node: { id: 'x'.repeat(EDS_MAX_BODY_BYTES) } }),
        `the body is larger than ${EDS_MAX_BODY_BYTES} bytes`,
      ],
    ];
    for (const [body, why] of bad) {
      const r = await post(m, body);
      expect(r.status, body.slice(0, 80)).toBe(400);
      expect(r.json.code).toBe(ErrorCode.BAD_ARGUMENT);
      if (typeof why === 'string') expect(r.json.error).toBe(why);
      else expect(r.json.error).toMatch(why);
    }
    expect((await answer(await post(m, poll(['api'])))).clusters['api']).toHaveLength(1); // still answering
    const counted = { 'envoy-eds': { at: `POST ${PATH}`, requests: 7, errors: 6 } };
    expect((await api(m, '/healthz')).body.integrations).toEqual(counted);
    expect((await api(m, '/v1/cluster')).body.integrations).toEqual(counted);
    const metrics = (await request(httpBase(m) + '/metrics')).text;
    expect(metrics).toContain('loadledger_integration_requests_total{interface="envoy-eds"} 7');
    expect(metrics).toContain('loadledger_integration_errors_total{interface="envoy-eds"} 6');
    expect(metrics).toContain('loadledger_integration_answer_seconds_count{interface="envoy-eds"} 7');
  });

  it('answers 503 MASTER_DOWN while the log cannot be written (Envoy keeps what it has)', async () => {
    const m = await startMaster(cleanup, { ...TIMING, envoyEds: true });
    const recover = pretendDegraded(m);
    const r = await post(m, poll(['api']));
    expect(r.status).toBe(503);
    expect(r.json.code).toBe(ErrorCode.MASTER_DOWN);
    recover();
    expect((await post(m, poll(['api']))).status).toBe(200);
  });

  it('needs --http', async () => {
    await expect(startMaster(cleanup, { envoyEds: true, http: null })).rejects.toThrow(
      '--envoy-eds is served on the HTTP API: it needs --http (not --no-http)',
    );
  });
});

const run = etcdAvailable();
const etcdCleanup = new Cleanup();
let etcd: TestEtcd;
beforeAll(async () => {
  if (run) etcd = await startEtcd(etcdCleanup);
});
afterAll(() => etcdCleanup.run());

describe.runIf(run)('Envoy EDS on a standby', () => {
  it('answers from its own log: the same endpoints and the same version as its leader', async () => {
    const cluster = `eds-${process.pid}`;
    const ha = (node: string) => ({ ...TIMING, envoyEds: true, etcd: [etcd.url], nodeId: node, leaseTtl: 5000, cluster });
    const a = await startMaster(cleanup, ha('a'));
    await waitFor(async () => (await api(a, '/v1/leader')).status === 200, { what: 'a to lead' });
    const b = await startMaster(cleanup, ha('b'));
    await pushedClient(cleanup, a, { addr: '127.0.0.11:8080', load: 0, attrs: { service: 'api' } });
    await pushedClient(cleanup, a, { addr: '127.0.0.12:8080', load: 50, attrs: { service: 'api' } });
    await waitFor(() => b.log.lastSeq === a.log.lastSeq && b.projection.nodes.get('127.0.0.12:8080')?.load === 50, {
      what: 'the standby to follow',
    });
    expect((await api(b, '/v1/cluster')).body.role).toBe('standby');
    // loads 0 / 50 → weights 100 / 33 (docs/selection.md#weights), on each master's own table
    const fromStandby = await until(
      b,
      ['api'],
      (x) => x.clusters['api']?.map((e) => e.weight).join() === '100,33',
      'the standby to weigh 100/33',
    );
    const fromLeader = await until(
      a,
      ['api'],
      (x) => x.clusters['api']?.map((e) => e.weight).join() === '100,33',
      'the leader to weigh 100/33',
    );
    expect(fromStandby).toEqual(fromLeader);
    expect((await post(b, poll(['api'], fromLeader.version))).status).toBe(304);
  });
});
