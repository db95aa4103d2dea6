/**
 * Mass-failure protection in the reducer, given/when/then: ProtectionStarted keeps the nodes
 * it names eligible with their last load (restoring those already DOWN), a timeout while it
 * lasts keeps the node eligible, a reconnect makes it an ordinary node again, and
 * ProtectionEnded sends the ones still absent DOWN. Pure: no clock, no master.
 */
import { describe, expect, it } from 'vitest';
import type { LedgerEvent, NewEvent } from '../../src/events.js';
import { stateDocument } from '../../src/projection/document.js';
import { evolve, foldEvents } from '../../src/projection/evolve.js';
import { fromSnapshot, toSnapshot } from '../../src/projection/snapshot.js';
import { createProjection, type Projection } from '../../src/projection/state.js';
import { logPackr } from '../../storage/format.js';
import { diffProjections } from '../../replay/compare.js';
import { NodeExplainer, formatTransitions } from '../../replay/explain.js';
import { Stamper, T0, ev } from '../helpers/events.js';
import { given, node } from '../helpers/given.js';
import { stateText } from '../../src/cli/commands/query.js';

const ids = (p: Projection): string[] => [...p.index.ordered()].map((n) => n.id);
const UNTIL = T0 + 60_000;

/** Four nodes a:1..d:1 on connections 1..4, loads 10, 20, 30, 40. */
const four: NewEvent[] = [
  ev.masterStarted(1),
  ...[1, 2, 3, 4].flatMap((c) => [ev.connected(c), ev.pushed(c, `${'abcd'[c - 1]}:1`, c * 10)]),
];

describe('ProtectionStarted', () => {
  it('restores the named nodes already DOWN by their timeout: eligible with their last load, protected, reason kept', () => {
    given(...four, ev.timedOut(1, 200), ev.timedOut(2, 210))
      .when(ev.protectionStarted(['a:1', 'b:1', 'c:1'], 3, 4, UNTIL))
      .then(({ doc, event, projection }) => {
        expect(doc.master.protection).toEqual({ since: event.ts, until: UNTIL, timedOut: 3, eligible: 4, nodes: ['a:1', 'b:1', 'c:1'] });
        expect(node(doc, 'a:1')).toMatchObject({
          state: 'PUSH_LOAD_INFO',
          load: 10,
          since: event.ts,
          protected: true,
          reason: 'no frame for 0.2s',
        });
        expect(node(doc, 'b:1')).toMatchObject({ state: 'PUSH_LOAD_INFO', load: 20, protected: true });
        // c:1's timeout is still to come: an ordinary node until then
        expect(node(doc, 'c:1')).not.toHaveProperty('protected');
        expect(ids(projection)).toEqual(['a:1', 'b:1', 'c:1', 'd:1']);
      });
  });

  it('a timeout while it lasts keeps the node eligible with its last load; its connection is gone', () => {
    given(...four, ev.timedOut(1, 200), ev.protectionStarted(['a:1', 'b:1', 'c:1'], 3, 4, UNTIL))
      .when(ev.timedOut(3, 205))
      .then(({ doc, before, projection }) => {
        expect(node(doc, 'c:1')).toMatchObject({
          state: 'PUSH_LOAD_INFO',
          load: 30,
          since: node(before, 'c:1').since,
          protected: true,
          reason: 'no frame for 0.2s',
        });
        expect(projection.conns.has(3)).toBe(false);
        expect(projection.nodes.get('c:1')?.conn).toBeNull();
        expect(ids(projection)).toEqual(['a:1', 'b:1', 'c:1', 'd:1']);
      });
  });

  it('a node not in the trigger that times out while it lasts is protected too, and added to its nodes', () => {
    given(...four, ev.protectionStarted(['a:1', 'b:1', 'c:1'], 3, 4, UNTIL))
      .when(ev.timedOut(4, 300))
      .then(({ doc }) => {
        expect(node(doc, 'd:1')).toMatchObject({ state: 'PUSH_LOAD_INFO', protected: true });
        expect(doc.master.protection?.nodes).toEqual(['a:1', 'b:1', 'c:1', 'd:1']);
      });
  });

  it('a slave that leaves (GOODBYE) or breaks the protocol while it lasts goes DOWN as always: only silence is protected', () => {
    given(...four, ev.protectionStarted(['a:1', 'b:1', 'c:1'], 3, 4, UNTIL))
      .when(ev.left(4, 'SIGTERM'))
      .then(({ doc, projection }) => {
        expect(node(doc, 'd:1')).toMatchObject({ state: 'DOWN', reason: 'left (SIGTERM)' });
        expect(ids(projection)).not.toContain('d:1');
      });
  });

  it('a protected node that reconnects is an ordinary eligible node again', () => {
    given(...four, ev.timedOut(1, 200), ev.protectionStarted(['a:1', 'b:1', 'c:1'], 3, 4, UNTIL), ev.connected(5))
      .when(ev.pushed(5, 'a:1', 15))
      .then(({ doc, projection }) => {
        expect(node(doc, 'a:1')).toMatchObject({ state: 'PUSH_LOAD_INFO', load: 15 });
        expect(node(doc, 'a:1')).not.toHaveProperty('protected');
        expect(node(doc, 'a:1')).not.toHaveProperty('reason');
        expect(projection.nodes.get('a:1')?.conn).toBe(5);
        expect(doc.master.protection?.nodes).toContain('a:1'); // it was protected in this episode
      });
  });
});

describe('ProtectionEnded', () => {
  const episode = [
    ...four,
    ev.timedOut(1, 200),
    ev.protectionStarted(['a:1', 'b:1', 'c:1'], 3, 4, UNTIL),
    ev.timedOut(2, 201),
    ev.timedOut(3, 202),
    ev.connected(5),
    ev.pushed(5, 'b:1', 22),
  ];

  it('expired: the protected nodes still absent go DOWN, with why; the reconnected one stays', () => {
    given(...episode)
      .when(ev.protectionEnded('expired'))
      .then(({ doc, event, projection }) => {
        expect(doc.master).not.toHaveProperty('protection');
        expect(projection.protection).toBeNull();
        expect(node(doc, 'a:1')).toEqual(
          expect.objectContaining({
            state: 'DOWN',
            load: 10,
            since: event.ts,
            reason: 'no frame for 0.2s; kept eligible by mass-failure protection until it ended (expired)',
          }),
        );
        expect(node(doc, 'c:1')).toMatchObject({ state: 'DOWN', load: 30 });
        expect(node(doc, 'a:1')).not.toHaveProperty('protected');
        expect(node(doc, 'b:1')).toMatchObject({ state: 'PUSH_LOAD_INFO', load: 22 });
        expect(ids(projection)).toEqual(['b:1', 'd:1']);
      });
  });

  it('recovered, once every one is back: nothing changes but the flag', () => {
    given(...episode, ev.connected(6), ev.pushed(6, 'a:1', 11), ev.connected(7), ev.pushed(7, 'c:1', 33))
      .when(ev.protectionEnded('recovered'))
      .then(({ doc, before }) => {
        expect(doc.nodes).toEqual(before.nodes);
        expect(doc.master).not.toHaveProperty('protection');
      });
  });

  it('MasterStopped ends it too: every node goes DOWN as on any stop', () => {
    given(...episode)
      .when(ev.masterStopped(1))
      .then(({ doc, projection }) => {
        expect(projection.protection).toBeNull();
        expect(doc.master).not.toHaveProperty('protection');
        for (const n of doc.nodes) expect(n).toMatchObject({ state: 'DOWN', reason: 'master stopped (SIGTERM)' });
        for (const n of doc.nodes) expect(n).not.toHaveProperty('protected');
      });
  });
});

describe('protection in snapshots and explain', () => {
  const log = new Stamper().stampAll([
    ...four,
    ev.timedOut(1, 200),
    ev.protectionStarted(['a:1', 'b:1', 'c:1'], 3, 4, UNTIL),
    ev.timedOut(2, 201),
  ]);

  it('a snapshot taken during protection (through the log encoding) restores it exactly', () => {
    const p = foldEvents(createProjection(), log);
    const back = fromSnapshot(logPackr.unpack(logPackr.pack(toSnapshot(p))));
    expect(diffProjections(back, p)).toBeUndefined();
    expect(stateDocument(back)).toEqual(stateDocument(p));
    // and it goes on the same way
    const end = new Stamper()
      .stampAll([
        ...four,
        ev.timedOut(1, 200),
        ev.protectionStarted(['a:1', 'b:1', 'c:1'], 3, 4, UNTIL),
        ev.timedOut(2, 201),
        ev.protectionEnded('expired'),
      ])
      .at(-1)!;
    expect(stateDocument(evolve(back, end))).toEqual(stateDocument(evolve(p, end)));
  });

  it('a snapshot that differs only in the protection is caught by verify', () => {
    const p = foldEvents(createProjection(), log);
    const q = fromSnapshot(toSnapshot(p));
    q.protection = null;
    expect(diffProjections(q, p)).toMatch(/^protection/);
  });

  it('explain tells the timeout, the restore by protection and the end', () => {
    const all = [
      ...log,
      ...new Stamper((s) => T0 + s * 10).stampAll([]),
      { seq: log.length + 1, ts: T0 + 9999, type: 'ProtectionEnded', reason: 'expired' } as LedgerEvent,
    ];
    const x = new NodeExplainer('a:1');
    const p = createProjection();
    for (const e of all) {
      x.before(p, e);
      evolve(p, e);
      x.after(p, e);
    }
    const text = formatTransitions(x.transitions);
    expect(x.transitions.map((t) => [t.from, t.to, t.event])).toEqual([
      ['ABSENT', 'PUSH_LOAD_INFO', 'LoadPushed'],
      ['PUSH_LOAD_INFO', 'DOWN', 'SlaveTimedOut'],
      ['DOWN', 'PUSH_LOAD_INFO', 'ProtectionStarted'],
      ['PUSH_LOAD_INFO', 'DOWN', 'ProtectionEnded'],
    ]);
    expect(text).toContain(
      'DOWN → PUSH_LOAD_INFO (protected): mass-failure protection: 3 of 4 eligible nodes timed out within one dead-after window',
    );
    expect(text).toContain('PUSH_LOAD_INFO (protected) → DOWN: mass-failure protection ended (expired) before it reconnected');
    // b:1 timed out during protection: no state change, but the flag is shown
    const y = new NodeExplainer('b:1');
    const q = createProjection();
    for (const e of all) {
      y.before(q, e);
      evolve(q, e);
      y.after(q, e);
    }
    expect(formatTransitions(y.transitions)).toContain(
      'PUSH_LOAD_INFO → PUSH_LOAD_INFO (protected): no frame for 0.2s (last HELLO never, last load 20); mass-failure protection is on: kept eligible with its last load',
    );
  });
});

describe('the state table (query state, replay)', () => {
  it('says protection is on, and which nodes it keeps', () => {
    const p = foldEvents(
      createProjection(),
      new Stamper().stampAll([...four, ev.timedOut(1, 200), ev.protectionStarted(['a:1', 'b:1', 'c:1'], 3, 4, UNTIL)]),
    );
    const text = stateText(stateDocument(p));
    expect(text).toContain(
      `mass-failure protection since ${new Date(p.protection!.since).toISOString()} until ${new Date(UNTIL).toISOString()} at the latest: 3 of 4 eligible nodes timed out at once`,
    );
    expect(text).toMatch(/^a:1 +PUSH_LOAD_INFO .*protected: no frame for 0\.2s$/m);
    expect(text).not.toMatch(/^d:1 .*protected/m);
  });
});
