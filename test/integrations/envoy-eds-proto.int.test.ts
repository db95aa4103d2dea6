/**
 * EDS answers (src/selection/eds.ts) against Envoy's own protos (test/helpers/envoy-proto.ts,
 * the .proto files `@grpc/grpc-js-xds` ships, loaded with protobufjs; int tier because it
 * reads them from disk): the checker itself refuses what Envoy's JSON parser or its
 * protoc-gen-validate rules would refuse, our request parser knows exactly the fields of
 * Envoy's DiscoveryRequest, and every answer for random tables passes, decodes to what it
 * says, and has a version that changes exactly when the answer does.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DISCOVERY_REQUEST_FIELDS,
  EDS_TYPE_URL,
  edsAnswer,
  edsVersion,
  type ClusterLoadAssignment,
  type EdsSource,
} from '../../src/selection/eds.js';
import {
  BOOTSTRAP,
  checkDiscoveryResponse,
  CLUSTER_LOAD_ASSIGNMENT,
  DISCOVERY_REQUEST,
  documentedEdsAnswer,
  documentedEnvoyConfig,
  envoyRoot,
  fromProto3Json,
} from '../helpers/envoy-proto.js';
import { MASTER_DEFAULTS } from '../../src/node/options.js';
import { ENVOY_POLL } from '../helpers/envoy-poll.js';
import { ev } from '../helpers/events.js';
import { Table } from '../selection/table.js';

const GOOD = {
  version_info: 'v1',
  type_url: EDS_TYPE_URL,
  resources: [
    {
      '@type': EDS_TYPE_URL,
      cluster_name: 'api',
      endpoints: [
        {
          lb_endpoints: [
            {
              endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 80 } } },
              health_status: 'HEALTHY',
              load_balancing_weight: 7,
            },
          ],
        },
      ],
    },
  ],
};

/** GOOD with its one LbEndpoint replaced. */
const withEndpoint = (lb: unknown) => ({ ...GOOD, resources: [{ ...GOOD.resources[0], endpoints: [{ lb_endpoints: [lb] }] }] });

describe("the checker (Envoy's protos)", () => {
  it('takes a good answer, in snake_case or lowerCamelCase, and decodes it', async () => {
    const r = await checkDiscoveryResponse(GOOD);
    expect(r.version).toBe('v1');
    expect(r.typeUrl).toBe(EDS_TYPE_URL);
    expect(r.resources).toEqual([
      {
        cluster_name: 'api',
        endpoints: [
          {
            lb_endpoints: [
              {
                endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 80 } } },
                health_status: 'HEALTHY',
                load_balancing_weight: { value: 7 },
              },
            ],
          },
        ],
      },
    ]);
    const camel = {
      versionInfo: 'v1',
      typeUrl: EDS_TYPE_URL,
      resources: [
        {
          '@type': EDS_TYPE_URL,
          clusterName: 'api',
          endpoints: [
            {
              lbEndpoints: [
                {
                  endpoint: { address: { socketAddress: { address: '127.0.0.1', portValue: 80 } } },
                  healthStatus: 'HEALTHY',
                  loadBalancingWeight: 7,
                },
              ],
            },
          ],
        },
      ],
    };
    expect((await checkDiscoveryResponse(camel)).resources).toEqual(r.resources);
  });

  it('refuses what Envoy would refuse: a wrong field name, a wrong type, a broken validate rule, a bad Any', async () => {
    const lb = GOOD.resources[0]!.endpoints[0]!.lb_endpoints[0]!;
    const bad: Array<[unknown, RegExp]> = [
      [{ ...GOOD, versionInfo2: 'x' }, /^versionInfo2: no field "versionInfo2" in envoy.service.discovery.v3.DiscoveryResponse/],
      [withEndpoint({ ...lb, load_balancing_wieght: 7 }), /lb_endpoints\[0\]\.load_balancing_wieght: no field/],
      [withEndpoint({ ...lb, weight: 7 }), /no field "weight" in envoy.config.endpoint.v3.LbEndpoint/],
      [withEndpoint({ ...lb, load_balancing_weight: 0 }), /load_balancing_weight: >= 1 \(validate.rules uint32.gte 1\), got 0/],
      [withEndpoint({ ...lb, load_balancing_weight: { value: 3 } }), /a uint32 expected/],
      [withEndpoint({ ...lb, load_balancing_weight: -1 }), /a uint32 expected/],
      [withEndpoint({ ...lb, health_status: 'DRAINED' }), /"DRAINED" is not a value of .envoy.config.core.v3.HealthStatus/],
      [
        withEndpoint({ ...lb, endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 70000 } } } }),
        /port_value: <= 65535 \(validate.rules uint32.lte 65535\), got 70000/,
      ],
      [
        withEndpoint({ ...lb, endpoint: { address: { socket_address: { address: '', port_value: 80 } } } }),
        /socket_address.address: at least 1 characters \(validate.rules string.min_len 1\)/,
      ],
      [
        withEndpoint({ ...lb, endpoint: { address: { socketAddress: { address: '127.0.0.1', port: 80 } } } }),
        /no field "port" in envoy.config.core.v3.SocketAddress/,
      ],
      [withEndpoint({ ...lb, endpoint: { address: {} } }), /oneof address is required/],
      [
        withEndpoint({ ...lb, endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 80, named_port: 'http' } } } }),
        /oneof port_specifier: port_value and named_port both set/,
      ],
      [{ ...GOOD, resources: [{ ...GOOD.resources[0], cluster_name: '' }] }, /cluster_name: at least 1 characters/],
      [{ ...GOOD, resources: [{ cluster_name: 'api' }] }, /"@type" must be type.googleapis.com/],
      [{ ...GOOD, resources: [{ ...GOOD.resources[0], '@type': 'type.googleapis.com/envoy.config.endpoint.v3.NoSuch' }] }, /no such type/i],
      [{ ...GOOD, resources: { api: 1 } }, /a list expected for repeated resources/],
      [{ ...GOOD, version_info: 1 }, /version_info: a string expected/],
    ];
    for (const [json, why] of bad) await expect(checkDiscoveryResponse(json), JSON.stringify(json)).rejects.toThrow(why);
  });
});

describe('our side of the protocol, against the protos', () => {
  it("the request parser's field list is Envoy's DiscoveryRequest's, and Envoy's poll is a DiscoveryRequest", async () => {
    const root = await envoyRoot();
    const DR = root.lookupType(DISCOVERY_REQUEST);
    expect([...DISCOVERY_REQUEST_FIELDS].sort()).toEqual(DR.fieldsArray.map((f) => f.name).sort());
    expect(fromProto3Json(root, DR, ENVOY_POLL)).toMatchObject({ resource_names: ['api'], type_url: EDS_TYPE_URL });
    expect(root.lookupType(CLUSTER_LOAD_ASSIGNMENT).fullName).toBe(`.${EDS_TYPE_URL.split('/')[1]!}`);
  });

  it("Envoy polls the path we serve, and the configuration of docs/integrations.md is a valid bootstrap that polls the master's HTTP API over REST", async () => {
    const root = await envoyRoot();
    const fetch = root.lookupService('envoy.service.endpoint.v3.EndpointDiscoveryService').methods['FetchEndpoints']!;
    expect(fetch.options?.['(google.api.http).post']).toBe('/v3/discovery:endpoints');

    const config = documentedEnvoyConfig();
    const checked = fromProto3Json(root, root.lookupType(BOOTSTRAP), config) as Record<string, any>;
    const clusters = checked['static_resources'].clusters as Array<Record<string, any>>;
    const eds = clusters.find((c) => c['type'] === 'EDS')!;
    const source = eds['eds_cluster_config'].eds_config;
    expect(source.resource_api_version).toBe('V3');
    expect(source.api_config_source).toMatchObject({
      api_type: 'REST',
      transport_api_version: 'V3',
      refresh_delay: { seconds: 1, nanos: 0 },
    });
    const master = clusters.find((c) => c['name'] === source.api_config_source.cluster_names[0])!;
    expect(master['type']).toBe('STATIC');
    expect(master['load_assignment'].endpoints[0].lb_endpoints[0].endpoint.address.socket_address).toEqual({
      address: MASTER_DEFAULTS.http.host,
      port_value: MASTER_DEFAULTS.http.port,
    });
    // the sample answer of the same section is a valid one, with its true version
    const sample = documentedEdsAnswer();
    expect(
      (await checkDiscoveryResponse(sample)).resources.map((r) =>
        r.endpoints[0].lb_endpoints.map((e: { health_status: string }) => e.health_status),
      ),
    ).toEqual([['HEALTHY', 'DRAINING', 'UNHEALTHY']]);
    expect(sample['version_info']).toBe(edsVersion(sample['resources'] as ClusterLoadAssignment[]));
    // a typo in it would be refused, as Envoy refuses it
    const typo = structuredClone(config);
    typo['static_resources'].clusters[0].eds_cluster_config.eds_config.api_config_source.refresh_dealy = '1s';
    expect(() => fromProto3Json(root, root.lookupType(BOOTSTRAP), typo)).toThrow(
      /no field "refresh_dealy" in envoy.config.core.v3.ApiConfigSource/,
    );
  });

  it('every answer for a random table passes, decodes to what it says, and its version changes exactly when the answer does', async () => {
    const ids = ['127.0.0.1:80', '127.0.0.2:8080', '10.1.2.3:65535', '[::1]:81', '[2001:db8::7]:443', 'db.local:80', '10.0.0.9'];
    const services = ['api', 'web', 'db', 'ünïcode-svc', 'a b'];
    const node = fc.record({
      id: fc.constantFrom(...ids),
      load: fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.double({ min: 0, max: 1e6, noNaN: true })),
      service: fc.option(fc.constantFrom(...services), { nil: undefined }),
      zone: fc.option(fc.constantFrom('eu-1', 'eu-2'), { nil: undefined }),
      fate: fc.constantFrom('report', 'drain', 'down', 'drain-down'),
      weight: fc.integer({ min: 1, max: 100 }),
    });
    const versions = new Map<string, string>();
    await fc.assert(
      fc.asyncProperty(
        fc.array(node, { maxLength: 12 }),
        fc.uniqueArray(fc.constantFrom(...services, 'none', 'api?zone=eu-1', 'web?zone=eu-2&x=y'), { minLength: 1, maxLength: 4 }),
        async (nodes, names) => {
          const t = new Table();
          const weights = new Map<string, number>();
          for (const n of nodes) {
            if (t.projection.nodes.get(n.id)?.state === 'DOWN') continue;
            t.report(n.id, n.load, {
              attrs: { ...(n.service !== undefined && { service: n.service }), ...(n.zone !== undefined && { zone: n.zone }) },
            });
            weights.set(n.id, n.weight);
            if (n.fate.startsWith('drain') && !t.node(n.id).drained) t.apply(ev.drained(n.id));
            if (n.fate.endsWith('down')) t.down(n.id);
          }
          const source: EdsSource = {
            nodes: t.projection.nodes.values(),
            serviceOf: (e) => (Object.hasOwn(e.attrs, 'service') ? String(e.attrs['service']) : ''),
            weight: (e) => (e.state === 'PUSH_LOAD_INFO' && !e.drained ? weights.get(e.id) : undefined),
          };
          const a = edsAnswer({ names, version: '' }, source);
          if (a.notModified) throw new Error('no version was given');
          const text = JSON.stringify(a.response);
          const checked = await checkDiscoveryResponse(JSON.parse(text));
          expect(checked.version).toBe(a.version);
          expect(checked.resources.map((r) => r.cluster_name)).toEqual(names);
          for (const r of checked.resources) {
            for (const lb of (r.endpoints ?? []).flatMap((e: { lb_endpoints: unknown[] }) => e.lb_endpoints)) {
              expect(lb.load_balancing_weight.value).toBeGreaterThanOrEqual(1);
              expect(['HEALTHY', 'DRAINING', 'UNHEALTHY']).toContain(lb.health_status);
            }
          }
          // the same resources ↔ the same version (across every case of this run)
          const resources = JSON.stringify(a.response.resources);
          const seen = versions.get(a.version);
          if (seen !== undefined) expect(seen).toBe(resources);
          versions.set(a.version, resources);
        },
      ),
      { numRuns: 200 },
    );
    expect(versions.size).toBeGreaterThan(20);
  });
});
