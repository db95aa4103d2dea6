/**
 * Envoy EDS as pure functions (src/selection/eds.ts): the DiscoveryRequest parser on good
 * and bad bodies, endpoints for each node state, one assignment per cluster named, and a
 * version that moves with the answer and only with it. (Every answer is checked against
 * Envoy's own protos in test/integrations/envoy-eds-proto.int.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { WeightBoard } from '../../src/ledger/weights.js';
import {
  clusterLoadAssignments,
  EDS_MAX_NAMES,
  EDS_TYPE_URL,
  edsAnswer,
  edsVersion,
  isIpLiteral,
  parseClusterName,
  parseDiscoveryRequest,
  socketAddressOf,
  type EdsSource,
} from '../../src/selection/eds.js';
import { ENVOY_POLL } from '../helpers/envoy-poll.js';
import { ev } from '../helpers/events.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { Table } from './table.js';

function source(t: Table, weights: Record<string, number> = {}): EdsSource {
  return {
    nodes: t.projection.nodes.values(),
    serviceOf: (n) => (Object.hasOwn(n.attrs, 'service') ? String(n.attrs['service']) : ''),
    weight: (n) => (n.state === 'PUSH_LOAD_INFO' && !n.drained ? (weights[n.id] ?? 100) : undefined),
  };
}

const endpoint = (address: string, port: number, health_status: string, load_balancing_weight: number) => ({
  endpoint: { address: { socket_address: { address, port_value: port } } },
  health_status,
  load_balancing_weight,
});

describe('parseDiscoveryRequest', () => {
  it("takes Envoy's poll, snake_case or lowerCamelCase, nulls as defaults; names each once, in order", () => {
    expect(parseDiscoveryRequest(JSON.stringify(ENVOY_POLL))).toEqual({ names: ['api'], version: '' });
    expect(parseDiscoveryRequest(JSON.stringify({ ...ENVOY_POLL, version_info: 'abc', resource_names: ['b', 'a', 'b'] }))).toEqual({
      names: ['b', 'a'],
      version: 'abc',
    });
    expect(
      parseDiscoveryRequest(
        '{"versionInfo":"v1","resourceNames":["api"],"typeUrl":null,"responseNonce":"","errorDetail":{"code":3,"message":"rejected"},"resourceLocators":[]}',
      ),
    ).toEqual({ names: ['api'], version: 'v1' });
    expect(parseDiscoveryRequest('{"resource_names":["api"]}')).toEqual({ names: ['api'], version: '' }); // no type_url: the path says it
  });

  it('refuses a bad body with one line saying why', () => {
    const cases: Array<[string, string | RegExp]> = [
      ['', /^the body is not JSON \(.*\): POST a DiscoveryRequest$/],
      ['{"resource_names":["api"]', /^the body is not JSON/],
      ['["api"]', 'the body is not a JSON object: POST a DiscoveryRequest'],
      ['null', 'the body is not a JSON object: POST a DiscoveryRequest'],
      [
        '{"resource_names":["api"],"resource_name":["x"]}',
        /^unknown field "resource_name" in the DiscoveryRequest \(its fields: version_info, node, resource_names/,
      ],
      ['{"resource_names":["api"],"resourceNames":["x"]}', 'resource_names given twice (as resource_names and resourceNames)'],
      [
        `{"resource_names":["api"],"type_url":"type.googleapis.com/envoy.config.cluster.v3.Cluster"}`,
        `type_url must be ${EDS_TYPE_URL} (got "type.googleapis.com/envoy.config.cluster.v3.Cluster"): this path serves EDS only`,
      ],
      ['{"resource_names":["api"],"type_url":7}', 'type_url must be a string'],
      ['{"resource_names":["api"],"version_info":1}', 'version_info must be a string'],
      ['{"resource_names":["api"],"node":"envoy"}', 'node must be an object'],
      [
        '{"resource_names":["api"],"resource_locators":[{"name":"xdstp://x"}]}',
        'resource_locators (xdstp:// names) are not served: name the clusters in resource_names',
      ],
      [
        JSON.stringify({ ...ENVOY_POLL, resource_names: [] }),
        'resource_names is empty: name the clusters (services) to answer, as Envoy does',
      ],
      [
        '{"type_url":"type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"}',
        'resource_names is empty: name the clusters (services) to answer, as Envoy does',
      ],
      ['{"resource_names":"api"}', 'resource_names must be a list of cluster names'],
      ['{"resource_names":["api",3]}', 'resource_names must be a list of strings'],
      ['{"resource_names":[""]}', 'a cluster name must be 1 to 1024 characters without control characters (got "")'],
      ['{"resource_names":["a\\u0000b"]}', /^a cluster name must be 1 to 1024 characters without control characters/],
      [
        JSON.stringify({ resource_names: Array.from({ length: EDS_MAX_NAMES + 1 }, (_, i) => `s${i}`) }),
        `resource_names has ${EDS_MAX_NAMES + 1} names; at most ${EDS_MAX_NAMES}`,
      ],
    ];
    for (const [body, why] of cases) {
      const r = parseDiscoveryRequest(body);
      expect(typeof r, body).toBe('string');
      if (typeof why === 'string') expect(r, body).toBe(why);
      else expect(r, body).toMatch(why);
    }
  });
});

describe('socket addresses', () => {
  it('only an IP literal and a port make an Envoy address', () => {
    expect(socketAddressOf('10.0.0.5:8080')).toEqual({ address: '10.0.0.5', port_value: 8080 });
    expect(socketAddressOf('[::1]:8080')).toEqual({ address: '::1', port_value: 8080 });
    expect(socketAddressOf('[2001:db8::1]:80')).toEqual({ address: '2001:db8::1', port_value: 80 });
    for (const id of [
      'db1:8080',
      '10.0.0.5',
      '::1',
      'db1',
      '10.0.0.256:80',
      '010.0.0.1:80',
      '[fe80::1%eth0]:80',
      '[::g]:80',
      '10.0.0.1:0',
      '10.0.0.1:65536',
    ])
      expect(socketAddressOf(id), id).toBeUndefined();
    expect(isIpLiteral('0.0.0.0')).toBe(true);
    expect(isIpLiteral('::ffff:10.0.0.1')).toBe(true);
    expect(isIpLiteral('1:2:3:4:5:6:7:8:9')).toBe(false);
  });
});

describe('clusterLoadAssignments', () => {
  it('eligible → HEALTHY with its weight, drained → DRAINING, DOWN → UNHEALTHY; sorted by id; other services and unusable ids left out', () => {
    const t = new Table()
      .report('127.0.0.3:80', 10, { attrs: { service: 'api' } })
      .report('127.0.0.1:80', 0, { attrs: { service: 'api' } })
      .report('127.0.0.2:80', 5, { attrs: { service: 'api' } })
      .report('127.0.0.4:80', 5, { attrs: { service: 'api' } })
      .report('[::1]:81', 5, { attrs: { service: 'api' } })
      .report('db.local:80', 5, { attrs: { service: 'api' } })
      .report('127.0.0.9:80', 1, { attrs: { service: 'db' } })
      .report('127.0.0.8:80', 1);
    t.apply(ev.drained('127.0.0.2:80'));
    t.down('127.0.0.4:80');
    t.apply(ev.connected(99));
    expect(clusterLoadAssignments(['api'], source(t, { '127.0.0.1:80': 100, '127.0.0.3:80': 37 }))).toEqual([
      {
        '@type': EDS_TYPE_URL,
        cluster_name: 'api',
        endpoints: [
          {
            lb_endpoints: [
              endpoint('127.0.0.1', 80, 'HEALTHY', 100),
              endpoint('127.0.0.2', 80, 'DRAINING', 1),
              endpoint('127.0.0.3', 80, 'HEALTHY', 37),
              endpoint('127.0.0.4', 80, 'UNHEALTHY', 1),
              endpoint('::1', 81, 'HEALTHY', 100),
            ],
          },
        ],
      },
    ]);
  });

  it('one assignment per name, in the order asked; a service with no node has no endpoint', () => {
    const t = new Table().report('127.0.0.9:80', 1, { attrs: { service: 'db' } });
    expect(clusterLoadAssignments(['none', 'db'], source(t))).toEqual([
      { '@type': EDS_TYPE_URL, cluster_name: 'none', endpoints: [] },
      { '@type': EDS_TYPE_URL, cluster_name: 'db', endpoints: [{ lb_endpoints: [endpoint('127.0.0.9', 80, 'HEALTHY', 100)] }] },
    ]);
  });

  it('a drained node that goes DOWN is UNHEALTHY; a node kept eligible by mass-failure protection is HEALTHY', () => {
    const t = new Table().report('127.0.0.1:80', 1, { attrs: { service: 'api' } });
    t.apply(ev.drained('127.0.0.1:80'));
    t.down('127.0.0.1:80');
    expect(clusterLoadAssignments(['api'], source(t))[0]!.endpoints[0]!.lb_endpoints[0]!.health_status).toBe('UNHEALTHY');
    const p = new Table().report('127.0.0.1:80', 1, { attrs: { service: 'api' } });
    p.node('127.0.0.1:80').protected = true;
    expect(clusterLoadAssignments(['api'], source(p))[0]!.endpoints[0]!.lb_endpoints[0]!.health_status).toBe('HEALTHY');
  });
});

describe('edsAnswer and its version', () => {
  it('the same state gives the same version (a HELLO or a load that moves no weight changes nothing); a weight, a drain or a DOWN changes it; 304 when Envoy has it', async () => {
    const t = new Table()
      .report('127.0.0.1:80', 10, { attrs: { service: 'api' } })
      .report('127.0.0.2:80', 10, { attrs: { service: 'api' } });
    const clock = new ManualClock();
    const board = new WeightBoard(t, { scheduler: clock, interval: 1000, policy: { min: 10, step: 100 }, serviceKey: 'service' });
    board.start();
    const src: EdsSource = { nodes: t.projection.nodes.values(), serviceOf: (n) => board.serviceOf(n), weight: (n) => board.weight(n) };
    const ask = (version = '') => edsAnswer({ names: ['api'], version }, { ...src, nodes: t.projection.nodes.values() });
    const first = ask();
    expect(first.notModified).toBe(false);
    expect(first).toMatchObject({ response: { version_info: first.version, type_url: EDS_TYPE_URL } });
    expect(first.version).toMatch(/^[0-9a-f]{16}$/);
    expect(ask(first.version)).toEqual({ notModified: true, version: first.version });

    t.apply(ev.helloReceived(1)); // a heartbeat: the answer is the same
    t.apply(ev.pushed(1, '127.0.0.1:80', 10, { attrs: { service: 'api' } })); // the same load again
    await clock.advance(1000);
    expect(ask().version).toBe(first.version);

    t.apply(ev.pushed(1, '127.0.0.1:80', 90, { attrs: { service: 'api' } }));
    expect(ask().version).toBe(first.version); // weights move at the next tick, not before
    await clock.advance(1000);
    const loaded = ask();
    expect(loaded.version).not.toBe(first.version);
    expect(ask(first.version).notModified).toBe(false);

    t.apply(ev.drained('127.0.0.2:80'));
    const drained = ask();
    expect(drained.version).not.toBe(loaded.version);
    expect(drained.notModified ? undefined : drained.response.resources[0]!.endpoints[0]!.lb_endpoints[1]!.health_status).toBe('DRAINING');
  });

  it('the version is a function of the resources alone', () => {
    const t = new Table().report('127.0.0.1:80', 1, { attrs: { service: 'api' } });
    const a = clusterLoadAssignments(['api'], source(t));
    expect(edsVersion(a)).toBe(edsVersion(structuredClone(a)));
    expect(edsVersion(a)).not.toBe(edsVersion(clusterLoadAssignments(['api'], source(t, { '127.0.0.1:80': 99 }))));
    expect(edsVersion(a)).not.toBe(edsVersion(clusterLoadAssignments(['api', 'db'], source(t))));
  });
});

describe('a cluster name with attribute filters', () => {
  it('api?zone=eu-1 is the nodes of api in zone eu-1, named as asked; each name answered on its own', () => {
    const t = new Table()
      .report('127.0.0.1:80', 1, { attrs: { service: 'api', zone: 'eu-1', tier: 'gold' } })
      .report('127.0.0.2:80', 1, { attrs: { service: 'api', zone: 'eu-2' } })
      .report('127.0.0.3:80', 1, { attrs: { service: 'api', zone: 'eu 1' } })
      .report('127.0.0.4:80', 1, { attrs: { service: 'web', zone: 'eu-1' } });
    const ids = (names: string[]) =>
      clusterLoadAssignments(names, source(t)).map((c) => [
        c.cluster_name,
        c.endpoints.flatMap((l) => l.lb_endpoints.map((e) => e.endpoint.address.socket_address.address)),
      ]);
    expect(ids(['api?zone=eu-1', 'api', 'api?zone=eu-1&tier=gold', 'api?zone=eu+1', 'api?zone=eu%2D2', 'api?zone=nowhere'])).toEqual([
      ['api?zone=eu-1', ['127.0.0.1']],
      ['api', ['127.0.0.1', '127.0.0.2', '127.0.0.3']],
      ['api?zone=eu-1&tier=gold', ['127.0.0.1']],
      ['api?zone=eu+1', ['127.0.0.3']],
      ['api?zone=eu%2D2', ['127.0.0.2']],
      ['api?zone=nowhere', []],
    ]);
  });

  it('refuses a name with no service or no filter after "?"', () => {
    expect(parseClusterName('api?zone=eu-1&tier=gold')).toEqual({
      service: 'api',
      filters: [
        ['zone', 'eu-1'],
        ['tier', 'gold'],
      ],
    });
    expect(parseClusterName('api')).toEqual({ service: 'api', filters: [] });
    for (const [name, why] of [
      ['?zone=eu-1', 'the cluster name "?zone=eu-1" names no service before its "?"'],
      ['api?', 'the cluster name "api?": after "?" come attribute filters KEY=VALUE joined by "&"'],
      ['api?=x', 'the cluster name "api?=x": after "?" come attribute filters KEY=VALUE joined by "&"'],
    ]) {
      expect(parseClusterName(name!)).toBe(why);
      expect(parseDiscoveryRequest(JSON.stringify({ resource_names: ['web', name] }))).toBe(why);
    }
    expect(parseClusterName('api?zone=%E2%80%AEx')).toMatch(/^the cluster name "api\?zone=%E2%80%AEx": /);
  });
});
