/**
 * `GET /v1/sd/prometheus` on an in-process master (src/http/routes/discovery.ts): off by
 * default (404 naming the flag), `[]` and application/json when empty, the table with its
 * labels, filters and `?port=`, one clear 400 BAD_ARGUMENT for a bad parameter, 503
 * MASTER_DOWN while the log cannot be written, and the counts in /healthz, /v1/cluster and
 * /metrics.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import { Cleanup } from '../helpers/cleanup.js';
import { request } from '../helpers/http.js';
import { api, httpBase, slavePort, startMaster, pretendDegraded } from '../helpers/master.js';
import { RawClient } from '../helpers/net.js';
import { waitFor } from '../helpers/wait.js';
import type { Master } from '../../src/node/master.js';
import type { Attrs } from '../../src/protocol/messages.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const SLOW = { helloInterval: 10_000, deadAfter: 20_000 } as const;

async function report(master: Master, addr: string, load: number, attrs: Attrs): Promise<void> {
  const cl = await RawClient.connect(slavePort(master), { answerHello: true });
  cleanup.defer(`client ${addr}`, () => cl.destroy());
  cl.push({ addr, load, attrs });
  await waitFor(() => master.projection.nodes.get(addr)?.load === load, { what: `${addr} in the table` });
}

describe('GET /v1/sd/prometheus', () => {
  it('is off by default: 404 NOT_FOUND naming --prometheus-sd; /healthz and /v1/cluster list no interface', async () => {
    const m = await startMaster(cleanup, SLOW);
    const r = await api(m, '/v1/sd/prometheus');
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ code: ErrorCode.NOT_FOUND, error: '/v1/sd/prometheus is off on this master (start it with --prometheus-sd)' });
    expect((await api(m, '/healthz')).body.integrations).toEqual({});
    expect((await api(m, '/v1/cluster')).body.integrations).toEqual({});
  });

  it('answers [] as application/json on an empty table, then every node with its labels', async () => {
    const m = await startMaster(cleanup, { ...SLOW, prometheusSd: true });
    const empty = await request(httpBase(m) + '/v1/sd/prometheus');
    expect(empty.status).toBe(200);
    expect(empty.headers['content-type']).toBe('application/json');
    expect(empty.text).toBe('[]');

    await report(m, '127.0.0.11:8080', 37, { service: 'api', zone: 'eu-1' });
    await report(m, '127.0.0.12:8080', 5, { service: 'db' });
    const all = await api(m, '/v1/sd/prometheus');
    expect(all.body).toEqual([
      {
        targets: ['127.0.0.11:8080'],
        labels: {
          __meta_loadledger_node: '127.0.0.11:8080',
          __meta_loadledger_state: 'PUSH_LOAD_INFO',
          __meta_loadledger_drained: 'false',
          __meta_loadledger_eligible: 'true',
          __meta_loadledger_service: 'api',
          __meta_loadledger_load: '37',
          __meta_loadledger_capacity: '1',
          __meta_loadledger_attr_service: 'api',
          __meta_loadledger_attr_zone: 'eu-1',
        },
      },
      expect.objectContaining({ targets: ['127.0.0.12:8080'] }),
    ]);
    const api9100 = await api(m, '/v1/sd/prometheus?service=api&port=9100');
    expect(api9100.body.map((g: { targets: string[] }) => g.targets)).toEqual([['127.0.0.11:9100']]);
    expect((await api(m, '/v1/sd/prometheus?zone=eu-2')).body).toEqual([]);
    expect((await api(m, '/v1/sd/prometheus?state=DOWN')).body).toEqual([]);
  });

  it('refuses a bad parameter with one line and BAD_ARGUMENT, counted as an error', async () => {
    const m = await startMaster(cleanup, { ...SLOW, prometheusSd: true });
    for (const [query, message] of [
      ['port=0', 'port must be an integer from 1 to 65535 (got "0")'],
      ['port=http', 'port must be an integer from 1 to 65535 (got "http")'],
      ['state=UP', 'state must be PUSH_LOAD_INFO or DOWN (got "UP")'],
      ['service=a&service=b', 'service given 2 times; give it once'],
    ]) {
      const r = await api(m, `/v1/sd/prometheus?${query}`);
      expect(r.status, query).toBe(400);
      expect(r.body, query).toEqual({ code: ErrorCode.BAD_ARGUMENT, error: message });
    }
    await api(m, '/v1/sd/prometheus');
    expect((await api(m, '/healthz')).body.integrations).toEqual({
      'prometheus-sd': { at: 'GET /v1/sd/prometheus', requests: 5, errors: 4 },
    });
    expect((await api(m, '/v1/cluster')).body.integrations).toEqual({
      'prometheus-sd': { at: 'GET /v1/sd/prometheus', requests: 5, errors: 4 },
    });
    const metrics = (await request(httpBase(m) + '/metrics')).text;
    expect(metrics).toContain('loadledger_integration_requests_total{interface="prometheus-sd"} 5');
    expect(metrics).toContain('loadledger_integration_errors_total{interface="prometheus-sd"} 4');
    expect(metrics).toContain('loadledger_integration_answer_seconds_count{interface="prometheus-sd"} 5');
  });

  it('answers 503 MASTER_DOWN while the log cannot be written (Prometheus keeps its last targets)', async () => {
    const m = await startMaster(cleanup, { ...SLOW, prometheusSd: true });
    const recover = pretendDegraded(m);
    const r = await api(m, '/v1/sd/prometheus');
    expect(r.status).toBe(503);
    expect(r.body.code).toBe(ErrorCode.MASTER_DOWN);
    recover();
    expect((await api(m, '/v1/sd/prometheus')).status).toBe(200);
  });

  it('needs --http', async () => {
    await expect(startMaster(cleanup, { prometheusSd: true, http: null })).rejects.toThrow(
      '--prometheus-sd is served on the HTTP API: it needs --http (not --no-http)',
    );
  });
});
