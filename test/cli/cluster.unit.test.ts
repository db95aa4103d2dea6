/**
 * `loadledger cluster`'s table (src/cli/commands/cluster.ts) from GET /v1/cluster documents
 * of the shape docs/ha.md gives: the leader line, one row per member (what it says of
 * itself where it was asked, else what the others list), unreachable addresses, and the
 * cases an operator must not misread (no leader, members that disagree, lone masters).
 */
import { describe, expect, it } from 'vitest';
import { clusterText, type Answer, type ClusterDoc } from '../../src/cli/commands/cluster.js';

const members = [
  { node: 'a', listen: '10.0.0.1:7400', http: '10.0.0.1:7480', role: 'leader' },
  { node: 'b', listen: '10.0.0.2:7400', http: '10.0.0.2:7480', role: 'standby' },
  { node: 'c', listen: '10.0.0.3:7400', http: '10.0.0.3:7480', role: 'standby' },
];
const leaderA = { node: 'a', listen: '10.0.0.1:7400', http: '10.0.0.1:7480' };

function doc(node: string, role: string, over: Partial<ClusterDoc> = {}): ClusterDoc {
  return {
    role,
    term: 7,
    node,
    leader: leaderA,
    seq: 1000,
    lag: { seq: 0, ms: 0 },
    ack: { mode: 'standby', inSync: ['b'], local: false },
    members,
    ...over,
  };
}

describe('clusterText', () => {
  it('the leader first, each member with its role, term, seq and lag; a member not asked from the list', () => {
    const answers: Answer[] = [
      { url: 'http://10.0.0.2:7480', cluster: doc('b', 'standby', { seq: 997, lag: { seq: 3, ms: 12 } }) },
      { url: 'http://10.0.0.1:7480', cluster: doc('a', 'leader', { seq: 1000 }) },
    ];
    expect(clusterText(answers)).toBe(
      [
        'leader a (term 7), HTTP 10.0.0.1:7480, slaves 10.0.0.1:7400',
        'NODE  ROLE     TERM  SEQ   LAG              HTTP                  NOTE',
        'a     leader   7     1000  -                http://10.0.0.1:7480  ack standby, in sync: b',
        'b     standby  7     997   3 events, 12 ms  http://10.0.0.2:7480',
        'c     standby  -     -     -                10.0.0.3:7480         not asked (listed by b)',
        '',
      ].join('\n'),
    );
  });

  it('an address that did not answer is a row of its own with what it said', () => {
    const text = clusterText([
      { url: 'http://10.0.0.1:7480', cluster: doc('a', 'leader', { ack: { mode: 'standby', inSync: [], local: true } }) },
      { url: 'http://10.0.0.9:7480', error: 'unreachable (ECONNREFUSED)', code: 'MASTER_UNREACHABLE' },
    ]);
    expect(text).toMatch(/^a +leader .* ack standby, none in sync: acknowledging locally$/m);
    expect(text).toMatch(/^\? +\? +- +- +- +http:\/\/10\.0\.0\.9:7480 +unreachable \(ECONNREFUSED\)$/m);
  });

  it('says so when there is no leader, and when members disagree on it', () => {
    expect(clusterText([{ url: 'http://b', cluster: doc('b', 'standby', { leader: null }) }]).split('\n')[0]).toBe('no leader right now');
    const split = clusterText([
      { url: 'http://a', cluster: doc('a', 'leader', { term: 8, leader: leaderA }) },
      { url: 'http://b', cluster: doc('b', 'leader', { term: 9, leader: { node: 'b' } }) },
    ]);
    expect(split.split('\n')[0]).toBe('members disagree on the leader: a says a (term 8), b says b (term 9)');
  });

  it('masters running alone are not a cluster', () => {
    const alone = (node: string): ClusterDoc => ({
      role: 'standalone',
      term: 0,
      node,
      leader: null,
      seq: 5,
      lag: { seq: 0, ms: 0 },
      members: [],
    });
    expect(clusterText([{ url: 'http://x', cluster: alone('') }]).split('\n')[0]).toBe('a master running alone (no --etcd)');
    expect(
      clusterText([
        { url: 'http://x', cluster: alone('') },
        { url: 'http://y', cluster: alone('') },
      ]).split('\n')[0],
    ).toBe('masters running alone (no --etcd): not one cluster');
  });
});
