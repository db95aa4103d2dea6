/**
 * A real Prometheus (Debian's prometheus) discovers its targets from a real master's
 * `GET /v1/sd/prometheus` (docs/integrations.md#prometheus): `http_sd_configs` with the
 * API token and a 1 s refresh, one job per service, one with `?port=` for the exporters.
 * Its `/api/v1/targets` lists the nodes with their `__meta_loadledger_*` labels; a drain and
 * a slave that leaves change them at the next refresh. Real processes and real time:
 * generous bounds, behaviour asserted, never speed.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AdminToken } from '../../src/http/auth.js';
import type { Master } from '../../src/node/master.js';
import { createSlave, type Slave } from '../../src/slave/slave.js';
import type { Attrs } from '../../src/protocol/messages.js';
import { Cleanup } from '../helpers/cleanup.js';
import { bearer, request } from '../helpers/http.js';
import { httpBase, slavePort, startMaster } from '../helpers/master.js';
import {
  prometheusAvailable,
  prometheusConfig,
  startPrometheus,
  type ActiveTarget,
  type SdJob,
  type TestPrometheus,
} from '../helpers/prometheus.js';
import { waitFor } from '../helpers/wait.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const TOKEN = 'pr0metheus-sd.t0ken+for~tests';
const TIMING = { helloInterval: 200, deadAfter: 1500 } as const;
// loopback: Prometheus will try to scrape them (nothing answers there)
const A = '127.0.0.11:8080';
const B = '127.0.0.12:8080';
const DB = '127.0.0.13:5432';

function slave(m: Master, addr: string, load: number, attrs: Attrs): Slave {
  const s = createSlave({
    master: `127.0.0.1:${slavePort(m)}`,
    addr,
    load: () => load,
    attrs,
    interval: TIMING.helloInterval,
    deadAfter: TIMING.deadAfter,
  });
  s.on('error', () => {});
  cleanup.defer(`slave ${addr}`, () => s.close());
  return s;
}

/** The active targets of `job`, by `__meta_loadledger_node`. */
async function byNode(p: TestPrometheus, job: string): Promise<Map<string, ActiveTarget>> {
  const out = new Map<string, ActiveTarget>();
  for (const t of await p.targets()) if (t.scrapePool === job) out.set(t.discoveredLabels.__meta_loadledger_node!, t);
  return out;
}

/** Waits until Prometheus's view of `job` passes `check` (a refresh is 1 s; generous on a busy machine). */
async function until(
  p: TestPrometheus,
  job: string,
  what: string,
  check: (t: Map<string, ActiveTarget>) => boolean,
): Promise<Map<string, ActiveTarget>> {
  let last = new Map<string, ActiveTarget>();
  await waitFor(
    async () => {
      last = await byNode(p, job);
      return check(last);
    },
    {
      what,
      timeout: 30_000,
      interval: 200,
      describe: () => ({ targets: [...last.values()].map((t) => t.discoveredLabels), prometheus: p.output() }),
    },
  );
  return last;
}

/**
 * The jobs of the test, and of docs/integrations.md (with the master's default address and
 * a token file under /etc): one per service, relabelled; one for the exporters on :9100.
 */
function jobs(base: string, tokenFile: string): SdJob[] {
  const sd = `${base}/v1/sd/prometheus`;
  return [
    {
      name: 'api',
      url: `${sd}?service=api`,
      tokenFile,
      extra: [
        'relabel_configs:',
        '  - source_labels: [__meta_loadledger_service]',
        '    target_label: service',
        '  - source_labels: [__meta_loadledger_attr_zone]',
        '    target_label: zone',
        '  - source_labels: [__meta_loadledger_state]',
        '    target_label: loadledger_state',
      ],
    },
    { name: 'node-exporter', url: `${sd}?port=9100`, tokenFile },
  ];
}

/** The Prometheus configuration docs/integrations.md shows. */
const DOC_CONFIG = prometheusConfig(jobs('http://127.0.0.1:7480', '/etc/loadledger/prometheus.token'), {
  refresh: '5s',
  scrapeInterval: '15s',
});

describe.skipIf(!prometheusAvailable())('Prometheus HTTP SD, read by a real Prometheus', () => {
  it('lists the nodes with their labels; a drain and a slave that leaves show at the next refresh', async () => {
    const m = await startMaster(cleanup, { ...TIMING, prometheusSd: true, auth: { token: new AdminToken(TOKEN) } });
    slave(m, A, 37, { service: 'api', zone: 'eu-1' });
    const b = slave(m, B, 12.5, { service: 'api', zone: 'eu-2' });
    slave(m, DB, 3, { service: 'db' });
    await waitFor(() => [A, B, DB].every((id) => m.projection.nodes.get(id)?.state === 'PUSH_LOAD_INFO'), {
      what: 'three nodes reporting',
      timeout: 10_000,
    });

    const dir = await cleanup.tempDir('loadledger-prometheus-token-');
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, TOKEN);
    const config = prometheusConfig(jobs(httpBase(m), tokenFile));
    const p = await startPrometheus(cleanup, config);

    const api = await until(p, 'api', 'both api nodes discovered', (t) => t.size === 2 && t.has(A) && t.has(B));
    const a = api.get(A)!;
    expect(a.discoveredLabels).toMatchObject({
      __address__: A,
      __meta_loadledger_state: 'PUSH_LOAD_INFO',
      __meta_loadledger_service: 'api',
      __meta_loadledger_attr_zone: 'eu-1',
      __meta_loadledger_load: '37',
      __meta_loadledger_drained: 'false',
      __meta_loadledger_eligible: 'true',
    });
    expect(a.labels).toMatchObject({ instance: A, job: 'api', service: 'api', zone: 'eu-1', loadledger_state: 'PUSH_LOAD_INFO' });
    expect(api.get(B)!.discoveredLabels.__meta_loadledger_load).toBe('12.5');
    console.log(
      `prometheus /api/v1/targets, job api, ${A}:\n${JSON.stringify({ discoveredLabels: a.discoveredLabels, labels: a.labels }, null, 2)}`,
    );

    // ?port=: every node, on the exporter's port
    const exporters = await until(p, 'node-exporter', 'three exporters', (t) => t.size === 3);
    expect([...exporters.values()].map((t) => t.labels.instance).sort()).toEqual(['127.0.0.11:9100', '127.0.0.12:9100', '127.0.0.13:9100']);

    // a drain: its labels change at the next refresh
    const drained = await request(`${httpBase(m)}/v1/nodes/${encodeURIComponent(A)}/drain`, { method: 'POST', headers: bearer(TOKEN) });
    expect(drained.status).toBe(200);
    const afterDrain = await until(p, 'api', `${A} drained`, (t) => t.get(A)?.discoveredLabels.__meta_loadledger_drained === 'true');
    expect(afterDrain.get(A)!.discoveredLabels).toMatchObject({
      __meta_loadledger_eligible: 'false',
      __meta_loadledger_state: 'PUSH_LOAD_INFO',
    });
    expect(afterDrain.get(B)!.discoveredLabels.__meta_loadledger_drained).toBe('false');

    // a slave that leaves: DOWN at the next refresh (still listed: its exporter may still be up)
    await b.close();
    const afterLeave = await until(p, 'api', `${B} DOWN`, (t) => t.get(B)?.discoveredLabels.__meta_loadledger_state === 'DOWN');
    expect(afterLeave.get(B)!.labels.loadledger_state).toBe('DOWN');
    expect(afterLeave.get(B)!.discoveredLabels.__meta_loadledger_eligible).toBe('false');
    const b2 = afterLeave.get(B)!;
    console.log(
      `after drain of ${A} and ${B} leaving:\n${JSON.stringify({ [A]: afterDrain.get(A)!.discoveredLabels, [B]: b2.discoveredLabels }, null, 2)}`,
    );

    const counted = m.integrations.find((i) => i.name === 'prometheus-sd')!.stats;
    expect(counted.requests).toBeGreaterThanOrEqual(4);
    expect(counted.errors).toBe(0);
  }, 120_000);

  it("the configuration docs/integrations.md shows is the test's, and one promtool accepts", async () => {
    const doc = readFileSync(new URL('../../docs/integrations.md', import.meta.url), 'utf8');
    const block = /## Prometheus[\s\S]*?```yaml\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(block, 'a ```yaml block in the Prometheus section of docs/integrations.md').toBe(DOC_CONFIG);
    const dir = await cleanup.tempDir('loadledger-prometheus-doc-');
    const file = join(dir, 'prometheus.yml');
    writeFileSync(file, block!.replaceAll('/etc/loadledger/prometheus.token', join(dir, 'token')));
    writeFileSync(join(dir, 'token'), TOKEN);
    const r = spawnSync('promtool', ['check', 'config', file], { encoding: 'utf8' });
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });
});
