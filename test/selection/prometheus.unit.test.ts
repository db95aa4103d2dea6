/**
 * Prometheus HTTP SD documents (src/selection/prometheus.ts): the table as target groups,
 * filtered like /v1/nodes, with the port override, and the query's refusals.
 */
import { describe, expect, it } from 'vitest';
import { foldEvents } from '../../src/projection/evolve.js';
import { createProjection } from '../../src/projection/state.js';
import { joinHostPort, labelKey, parseSdQuery, splitNodeId, targetGroups, type SdQuery } from '../../src/selection/prometheus.js';
import { ev, Stamper } from '../helpers/events.js';

function table() {
  const s = new Stamper();
  return foldEvents(
    createProjection(),
    s.stampAll([
      ev.masterStarted(1),
      ev.connected(1),
      ev.pushed(1, '10.0.0.5:8080', 37.5, { attrs: { service: 'api', zone: 'eu-1', 'rack-id': 7 } }),
      ev.connected(2),
      ev.pushed(2, '10.0.0.6:8080', 12, { capacity: 2, attrs: { service: 'api', zone: 'eu-2' } }),
      ev.connected(3),
      ev.pushed(3, '[fd00::7]:9000', 0.1 + 0.2, { attrs: { service: 'db' } }),
      ev.connected(4),
      ev.pushed(4, '10.0.0.8', 5),
      ev.drained('10.0.0.6:8080', 'kernel upgrade'),
      ev.timedOut(4),
      ev.connected(5), // pending: never a target
    ]),
  );
}

const query = (s: string): SdQuery => {
  const q = parseSdQuery(new URLSearchParams(s));
  if (typeof q === 'string') throw new Error(q);
  return q;
};

describe('Prometheus SD target groups', () => {
  it('lists every node, one group each, sorted by id, with its labels', () => {
    const groups = targetGroups(table(), query(''), 'service');
    expect(groups.map((g) => g.targets)).toEqual([['10.0.0.5:8080'], ['10.0.0.6:8080'], ['10.0.0.8'], ['[fd00::7]:9000']]);
    expect(groups[0]!.labels).toEqual({
      __meta_loadledger_node: '10.0.0.5:8080',
      __meta_loadledger_state: 'PUSH_LOAD_INFO',
      __meta_loadledger_drained: 'false',
      __meta_loadledger_eligible: 'true',
      __meta_loadledger_service: 'api',
      __meta_loadledger_load: '37.5',
      __meta_loadledger_capacity: '1',
      __meta_loadledger_attr_rack_id: '7',
      __meta_loadledger_attr_service: 'api',
      __meta_loadledger_attr_zone: 'eu-1',
    });
    expect(groups[1]!.labels).toMatchObject({
      __meta_loadledger_drained: 'true',
      __meta_loadledger_eligible: 'false',
      __meta_loadledger_state: 'PUSH_LOAD_INFO',
      __meta_loadledger_capacity: '2',
    });
    expect(groups[2]!.labels).toMatchObject({
      __meta_loadledger_state: 'DOWN',
      __meta_loadledger_eligible: 'false',
      __meta_loadledger_service: '',
    });
    expect(groups[3]!.labels.__meta_loadledger_load).toBe('0.3');
    for (const g of groups) for (const k of Object.keys(g.labels)) expect(k).toMatch(/^[a-zA-Z_][a-zA-Z0-9_]*$/);
  });

  it('filters by service, state and attributes like /v1/nodes; [] when nothing matches', () => {
    const p = table();
    const ids = (s: string, key = 'service') => targetGroups(p, query(s), key).map((g) => g.labels.__meta_loadledger_node);
    expect(ids('service=api')).toEqual(['10.0.0.5:8080', '10.0.0.6:8080']);
    expect(ids('service=api&zone=eu-2')).toEqual(['10.0.0.6:8080']);
    expect(ids('state=DOWN')).toEqual(['10.0.0.8']);
    expect(ids('state=PUSH_LOAD_INFO&service=db')).toEqual(['[fd00::7]:9000']);
    expect(ids('rack-id=7')).toEqual(['10.0.0.5:8080']);
    expect(ids('service=nope')).toEqual([]);
    // another service key: ?service= names that attribute
    expect(ids('service=eu-1', 'zone')).toEqual(['10.0.0.5:8080']);
    expect(targetGroups(createProjection(), query(''), 'service')).toEqual([]);
  });

  it('?port= puts each target on that port, IPv6 in brackets', () => {
    const groups = targetGroups(table(), query('port=9100'), 'service');
    expect(groups.map((g) => g.targets[0])).toEqual(['10.0.0.5:9100', '10.0.0.6:9100', '10.0.0.8:9100', '[fd00::7]:9100']);
    expect(groups[0]!.labels.__meta_loadledger_node).toBe('10.0.0.5:8080');
  });

  it('refuses what it cannot use, in one line', () => {
    const refused = (s: string) => parseSdQuery(new URLSearchParams(s));
    expect(refused('port=0')).toMatch(/^port must be an integer from 1 to 65535 \(got "0"\)$/);
    expect(refused('port=65536')).toMatch(/^port must be/);
    expect(refused('port=9100x')).toMatch(/^port must be/);
    expect(refused('port=')).toMatch(/^port must be/);
    expect(refused('port=1&port=2')).toBe('port given 2 times; give it once');
    expect(refused('service=a&service=b')).toBe('service given 2 times; give it once');
    expect(refused('state=CONNECTED')).toMatch(/^state must be PUSH_LOAD_INFO or DOWN/);
    expect(refused('zone=%07')).toMatch(/control/);
    expect(refused('service=%1b')).toMatch(/control/);
    expect(query('zone=eu-1&port=9100&service=api')).toEqual({ service: 'api', port: 9100, attrs: [['zone', 'eu-1']] });
  });

  it('label names and host:port', () => {
    expect(labelKey('rack-id')).toBe('rack_id');
    expect(labelKey('a.b/c')).toBe('a_b_c');
    expect(labelKey('Zone_9')).toBe('Zone_9');
    expect(splitNodeId('10.0.0.5:8080')).toEqual({ host: '10.0.0.5', port: 8080 });
    expect(splitNodeId('[::1]:8080')).toEqual({ host: '::1', port: 8080 });
    expect(splitNodeId('[::1]')).toEqual({ host: '::1' });
    expect(splitNodeId('::1')).toEqual({ host: '::1' });
    expect(splitNodeId('db1')).toEqual({ host: 'db1' });
    expect(joinHostPort('::1', 1)).toBe('[::1]:1');
    expect(joinHostPort('db1', 1)).toBe('db1:1');
  });
});
