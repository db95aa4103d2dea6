/**
 * The reducer, given/when/then (emmett's DeciderSpecification, for a projection):
 * given these events were folded, when this event is folded, then the /v1/state document
 * (and the load index) is this. Plus determinism: the same log folds to the same state,
 * a snapshot round trip through the log's encoding loses nothing, and the index agrees
 * with a brute-force minimum on random event sequences.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { LedgerEvent, NewEvent } from '../../src/events.js';
import { stateDocument } from '../../src/projection/document.js';
import { evolve, foldEvents } from '../../src/projection/evolve.js';
import { fromSnapshot, toSnapshot, type ProjectionSnapshot } from '../../src/projection/snapshot.js';
import { createProjection, type NodeEntry, type Projection } from '../../src/projection/state.js';
import { logPackr } from '../../storage/format.js';
import { RECORDED_LOG, Stamper, T0, ev } from '../helpers/events.js';
import { given, node, type Then } from '../helpers/given.js';

// ---------------------------------------------------------------- given / when / then (test/helpers/given.ts)

/** Eligible node ids in index order (load, then id). */
function indexOrder(p: Projection): string[] {
  return [...p.index.ordered()].map((n) => n.id);
}

/** The document is exactly what it was, but for the seq of the new event. */
function onlySeqChanged({ doc, before, event }: Then): void {
  expect(doc).toEqual({ ...before, seq: event.seq });
}

const started = ev.masterStarted(1);

// ---------------------------------------------------------------- master events

describe('MasterStarted', () => {
  it('on an empty log: the master is UP_LISTENING in the given epoch, since the event', () => {
    given()
      .when(ev.masterStarted(1))
      .then(({ doc, event }) => {
        expect(doc).toEqual({ seq: 1, master: { state: 'UP_LISTENING', epoch: 1, since: event.ts }, nodes: [], pending: [] });
      });
  });

  it('nodes of the earlier epoch go DOWN, keep their last load and leave the index', () => {
    given(
      started,
      ev.connected(1),
      ev.pushed(1, 'a:1', 5, { attrs: { zone: 'eu-1' } }),
      ev.connected(2),
      ev.pushed(2, 'b:1', 3),
      ev.connected(3),
    )
      .when(ev.masterStarted(2))
      .then(({ doc, event, projection }) => {
        expect(doc.master).toEqual({ state: 'UP_LISTENING', epoch: 2, since: event.ts });
        for (const [id, load] of [
          ['a:1', 5],
          ['b:1', 3],
        ] as const) {
          expect(node(doc, id)).toMatchObject({ state: 'DOWN', load, since: event.ts, epoch: 1, reason: 'master restarted (epoch 2)' });
        }
        expect(node(doc, 'a:1').attrs).toEqual({ zone: 'eu-1' });
        expect(doc.pending).toEqual([]);
        expect(projection.conns.size).toBe(0);
        expect(projection.index.size).toBe(0);
        expect(projection.index.least()).toBeUndefined();
        expect(projection.lastConn).toBe(3);
      });
  });

  it('a node of an earlier epoch that was never closed in the log (a crash) is not eligible either', () => {
    // No MasterStopped: the master died with the connection open.
    given(started, ev.connected(1), ev.pushed(1, 'a:1', 5))
      .when(ev.masterStarted(2))
      .then(({ doc, projection }) => {
        expect(node(doc, 'a:1')).toMatchObject({ state: 'DOWN', load: 5 });
        expect(projection.index.least()).toBeUndefined();
      });
  });

  it('a node of the earlier epoch is eligible again once it pushes in the new epoch', () => {
    given(started, ev.connected(1), ev.pushed(1, 'a:1', 5), ev.masterStopped(1), ev.masterStarted(2), ev.connected(2))
      .when(ev.pushed(2, 'a:1', 6))
      .then(({ doc, event, projection }) => {
        expect(node(doc, 'a:1')).toMatchObject({ state: 'PUSH_LOAD_INFO', load: 6, epoch: 2, since: event.ts });
        expect(node(doc, 'a:1')).not.toHaveProperty('reason');
        expect(projection.index.least()?.id).toBe('a:1');
      });
  });
});

describe('MasterStopped', () => {
  it('the master is DOWN in the same epoch; its nodes go DOWN with the reason, loads kept', () => {
    given(started, ev.connected(1), ev.pushed(1, 'a:1', 7), ev.connected(2))
      .when(ev.masterStopped(1, 'SIGTERM'))
      .then(({ doc, event, projection }) => {
        expect(doc.master).toEqual({ state: 'DOWN', epoch: 1, since: event.ts });
        expect(node(doc, 'a:1')).toMatchObject({ state: 'DOWN', load: 7, since: event.ts, reason: 'master stopped (SIGTERM)' });
        expect(doc.pending).toEqual([]);
        expect(projection.index.size).toBe(0);
      });
  });
});

// ---------------------------------------------------------------- connections

describe('SlaveConnected', () => {
  it('adds a pending connection in state CONNECTED, not a node, not eligible', () => {
    given(started)
      .when(ev.connected(1, '10.0.0.9:5000'))
      .then(({ doc, event, projection }) => {
        expect(doc.pending).toEqual([{ conn: 1, remote: '10.0.0.9:5000', state: 'CONNECTED', since: event.ts, lastSeen: event.ts }]);
        expect(doc.nodes).toEqual([]);
        expect(projection.index.size).toBe(0);
        expect(projection.lastConn).toBe(1);
      });
  });

  it('pending connections are listed by conn number', () => {
    given(started, ev.connected(3), ev.connected(1))
      .when(ev.connected(2))
      .then(({ doc }) => expect(doc.pending.map((p) => p.conn)).toEqual([1, 2, 3]));
  });
});

describe('LoadPushed', () => {
  it('binds the connection to the node: PUSH_LOAD_INFO with load, capacity, attrs; eligible', () => {
    given(started, ev.connected(1))
      .when(ev.pushed(1, 'gw:80', 12, { capacity: 2, attrs: { zone: 'eu-1', canary: true } }))
      .then(({ doc, event, projection }) => {
        expect(doc.pending).toEqual([]);
        expect(doc.nodes).toEqual([
          {
            id: 'gw:80',
            addr: 'gw:80',
            state: 'PUSH_LOAD_INFO',
            load: 12,
            capacity: 2,
            attrs: { zone: 'eu-1', canary: true },
            lastSeen: event.ts,
            since: event.ts,
            epoch: 1,
          },
        ]);
        expect(node(doc, 'gw:80')).not.toHaveProperty('reason');
        expect(projection.index.least()?.id).toBe('gw:80');
        expect(projection.nodes.get('gw:80')?.conn).toBe(1);
      });
  });

  it("every push, even of the same load, moves the node's reportSeq to its seq", () => {
    given(started, ev.connected(1), ev.pushed(1, 'gw:80', 12))
      .when(ev.pushed(1, 'gw:80', 12))
      .then(({ event, projection }) => {
        expect(projection.nodes.get('gw:80')?.reportSeq).toBe(event.seq);
      });
  });

  it('a later push on the same connection updates load and lastSeen, not since', () => {
    given(started, ev.connected(1), ev.pushed(1, 'gw:80', 12))
      .when(ev.pushed(1, 'gw:80', 4, { attrs: { zone: 'eu-2' } }))
      .then(({ doc, before, event }) => {
        expect(node(doc, 'gw:80')).toMatchObject({
          state: 'PUSH_LOAD_INFO',
          load: 4,
          lastSeen: event.ts,
          since: node(before, 'gw:80').since,
          attrs: { zone: 'eu-2' },
        });
      });
  });

  it('the index orders eligible nodes by load: 30, 10, 20 → the 10 one is least', () => {
    given(started, ev.connected(1), ev.pushed(1, 'n30', 30), ev.connected(2), ev.pushed(2, 'n10', 10), ev.connected(3))
      .when(ev.pushed(3, 'n20', 20))
      .then(({ projection }) => {
        expect(indexOrder(projection)).toEqual(['n10', 'n20', 'n30']);
        expect(projection.index.least()?.id).toBe('n10');
      });
  });

  it('a load change reorders the index', () => {
    given(
      started,
      ev.connected(1),
      ev.pushed(1, 'n30', 30),
      ev.connected(2),
      ev.pushed(2, 'n10', 10),
      ev.connected(3),
      ev.pushed(3, 'n20', 20),
    )
      .when(ev.pushed(2, 'n10', 40))
      .then(({ projection }) => {
        expect(indexOrder(projection)).toEqual(['n20', 'n30', 'n10']);
        expect(projection.index.least()?.id).toBe('n20');
        expect(projection.index.size).toBe(3);
      });
  });

  it('ties are broken by id', () => {
    given(started, ev.connected(1), ev.pushed(1, 'b', 5), ev.connected(2), ev.pushed(2, 'c', 5), ev.connected(3))
      .when(ev.pushed(3, 'a', 5))
      .then(({ projection }) => {
        expect(indexOrder(projection)).toEqual(['a', 'b', 'c']);
        expect(projection.index.least()?.id).toBe('a');
      });
  });

  it('a filter returns the least-loaded node that matches', () => {
    given(started, ev.connected(1), ev.pushed(1, 'x', 1, { attrs: { zone: 'eu-1' } }), ev.connected(2))
      .when(ev.pushed(2, 'y', 9, { attrs: { zone: 'eu-2' } }))
      .then(({ projection }) => {
        expect(projection.index.least((n: NodeEntry) => n.attrs['zone'] === 'eu-2')?.id).toBe('y');
        expect(projection.index.least((n: NodeEntry) => n.attrs['zone'] === 'us-1')).toBeUndefined();
      });
  });

  it('a DOWN node that pushes on a new connection is eligible again, since the push, without a reason', () => {
    given(started, ev.connected(1), ev.pushed(1, 'a:1', 5), ev.timedOut(1), ev.connected(2))
      .when(ev.pushed(2, 'a:1', 8))
      .then(({ doc, event, projection }) => {
        expect(node(doc, 'a:1')).toMatchObject({ state: 'PUSH_LOAD_INFO', load: 8, since: event.ts, lastSeen: event.ts });
        expect(node(doc, 'a:1')).not.toHaveProperty('reason');
        expect(projection.index.least()?.id).toBe('a:1');
      });
  });

  it('a push on a connection the log never saw open changes nothing', () => {
    given(started, ev.connected(1))
      .when(ev.pushed(9, 'ghost:1', 1))
      .then(onlySeqChanged);
  });
});

// ---------------------------------------------------------------- signs of life

describe.each([
  ['HelloReceived', ev.helloReceived],
  ['HelloAckReceived', ev.helloAckReceived],
  ['UnknownFrameSkipped', (c: number) => ev.unknownSkipped(c)],
] as const)('%s (a sign of life)', (_name, make) => {
  it('moves lastSeen of a pending connection, nothing else', () => {
    given(started, ev.connected(1))
      .when(make(1))
      .then(({ doc, before, event }) => {
        expect(doc.pending).toEqual([{ ...before.pending[0]!, lastSeen: event.ts }]);
        expect(doc.nodes).toEqual([]);
      });
  });

  it("moves lastSeen of the connection's node; state, since, load and index unchanged", () => {
    given(started, ev.connected(1), ev.pushed(1, 'a:1', 5), ev.connected(2), ev.pushed(2, 'b:1', 7))
      .when(make(2))
      .then(({ doc, before, event, projection }) => {
        expect(doc).toEqual({ ...before, seq: event.seq, nodes: [node(before, 'a:1'), { ...node(before, 'b:1'), lastSeen: event.ts }] });
        expect(indexOrder(projection)).toEqual(['a:1', 'b:1']);
      });
  });

  it('for a connection that is gone, changes nothing', () => {
    given(started, ev.connected(1), ev.pushed(1, 'a:1', 5), ev.disconnected(1))
      .when(make(1))
      .then(onlySeqChanged);
  });
});

// ---------------------------------------------------------------- facts with no effect on state

describe.each([
  ['HelloAckSent', ev.helloAckSent(1)],
  ['HelloSent', ev.helloSent(1)],
  ['SlaveRefused', ev.refused('10.0.0.50:1234', 'max-slaves (1) reached')],
] as const)('%s', (_name, event) => {
  it('changes nothing but seq', () => {
    given(started, ev.connected(1), ev.pushed(1, 'a:1', 5), ev.connected(2))
      .when(event)
      .then(onlySeqChanged);
  });
});

describe('SlaveRefused with a connection (a flapping hold-down refused its first push)', () => {
  it('ends that connection; the node stays with its holder, unchanged', () => {
    const refused: NewEvent = { type: 'SlaveRefused', remote: '10.0.0.2:40002', reason: 'node a:1 is flapping: …', conn: 2, node: 'a:1' };
    given(started, ev.connected(1), ev.pushed(1, 'a:1', 5), ev.connected(2))
      .when(refused)
      .then(({ doc, before, event, projection }) => {
        expect(doc).toEqual({ ...before, seq: event.seq, pending: [] });
        expect(projection.conns.has(2)).toBe(false);
        expect(projection.nodes.get('a:1')?.conn).toBe(1);
      });
  });
});

// ---------------------------------------------------------------- the end of a connection

describe.each([
  ['SlaveTimedOut', ev.timedOut(1, 3012), 'no frame for 3.0s'],
  ['SlaveDisconnected', ev.disconnected(1, 'closed by slave'), 'disconnected (closed by slave)'],
  [
    'ProtocolViolated',
    ev.violated(1, 'PUSH_ADDR_CHANGED', 'connection bound to a:1 pushed for z:1'),
    'protocol violation PUSH_ADDR_CHANGED: connection bound to a:1 pushed for z:1',
  ],
  ['SlaveLeft', ev.left(1), 'left'],
  ['SlaveLeft with a reason', ev.left(1, 'SIGTERM'), 'left (SIGTERM)'],
] as const)('%s', (_name, event, reason) => {
  it(`the node goes DOWN ("${reason}"), leaves the index, its last load stays visible`, () => {
    given(
      started,
      ev.connected(1),
      ev.pushed(1, 'a:1', 10, { capacity: 3, attrs: { zone: 'eu-1' } }),
      ev.connected(2),
      ev.pushed(2, 'b:1', 20),
    )
      .when(event)
      .then(({ doc, before, event: e, projection }) => {
        expect(node(doc, 'a:1')).toEqual({ ...node(before, 'a:1'), state: 'DOWN', since: e.ts, reason });
        expect(node(doc, 'a:1')).toMatchObject({ load: 10, capacity: 3, attrs: { zone: 'eu-1' } });
        expect(node(doc, 'b:1')).toEqual(node(before, 'b:1'));
        expect(indexOrder(projection)).toEqual(['b:1']);
        expect(projection.conns.has(1)).toBe(false);
        expect(projection.nodes.get('a:1')?.conn).toBeNull();
      });
  });

  it('a pending connection just goes away; the nodes are untouched', () => {
    given(started, ev.connected(2), ev.pushed(2, 'b:1', 20), ev.connected(1))
      .when(event)
      .then(({ doc, before, event: e }) => {
        expect(doc).toEqual({ ...before, seq: e.seq, pending: [] });
      });
  });
});

describe('SlaveSuperseded', () => {
  const history = [started, ev.connected(1), ev.pushed(1, 'n:1', 10), ev.connected(2)];

  it('the old connection is dropped: the node is DOWN until the new one pushes', () => {
    given(...history)
      .when(ev.superseded(1, 'n:1', 2))
      .then(({ doc, event, projection }) => {
        expect(node(doc, 'n:1')).toMatchObject({ state: 'DOWN', load: 10, since: event.ts, reason: 'superseded by connection 2' });
        expect(doc.pending.map((p) => p.conn)).toEqual([2]);
        expect(projection.conns.has(1)).toBe(false);
        expect(projection.index.size).toBe(0);
      });
  });

  it('then the new connection binds the node (the order the recorder writes them in)', () => {
    given(...history, ev.superseded(1, 'n:1', 2))
      .when(ev.pushed(2, 'n:1', 4))
      .then(({ doc, event, projection }) => {
        expect(node(doc, 'n:1')).toMatchObject({ state: 'PUSH_LOAD_INFO', load: 4, since: event.ts });
        expect(doc.pending).toEqual([]);
        expect(projection.nodes.get('n:1')?.conn).toBe(2);
        expect(projection.index.least()?.id).toBe('n:1');
      });
  });

  it('afterwards, frames or the end of the old connection do not touch the node', () => {
    given(...history, ev.superseded(1, 'n:1', 2), ev.pushed(2, 'n:1', 4), ev.helloReceived(1))
      .when(ev.disconnected(1))
      .then(({ doc, before, event }) => {
        onlySeqChanged({ doc, before, event, projection: createProjection() });
        expect(node(doc, 'n:1').state).toBe('PUSH_LOAD_INFO');
      });
  });
});

// ---------------------------------------------------------------- determinism

describe('folding a recorded log', () => {
  const log = new Stamper().stampAll(RECORDED_LOG);

  it('covers every event type', async () => {
    const { EVENT_TYPES } = await import('../../src/events.js');
    expect(new Set(log.map((e) => e.type))).toEqual(new Set(EVENT_TYPES));
  });

  it('twice gives the identical state document and snapshot', () => {
    const a = foldEvents(createProjection(), log);
    const b = foldEvents(createProjection(), log);
    expect(stateDocument(b)).toEqual(stateDocument(a));
    expect(toSnapshot(b)).toEqual(toSnapshot(a));
    expect(indexOrder(b)).toEqual(indexOrder(a));
    expect(JSON.stringify(stateDocument(b))).toBe(JSON.stringify(stateDocument(a)));
  });

  describe('never reads a clock or a random number', () => {
    afterEach(() => {
      vi.useRealTimers();
      vi.restoreAllMocks();
    });

    it('folds to the same state at another wall-clock time with another Math.random', () => {
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(new Date('2001-01-01T00:00:00Z'));
      vi.spyOn(Math, 'random').mockReturnValue(0.1);
      const a = stateDocument(foldEvents(createProjection(), log));
      vi.setSystemTime(new Date('2099-12-31T23:59:59Z'));
      vi.spyOn(Math, 'random').mockReturnValue(0.9);
      const b = stateDocument(foldEvents(createProjection(), log));
      expect(b).toEqual(a);
    });
  });

  /** Up to the kill -9 (the crash and restart after it are tested below). */
  const twoEpochs = log.slice(
    0,
    log.findIndex((e) => e.type === 'MasterCrashed'),
  );

  it('gives the expected end state', () => {
    const d = stateDocument(foldEvents(createProjection(), twoEpochs));
    expect(d.seq).toBe(twoEpochs.length);
    expect(d.master).toMatchObject({ state: 'UP_LISTENING', epoch: 2 });
    expect(d.nodes.map((n) => [n.id, n.state, n.load, n.drained ?? false])).toEqual([
      ['10.0.0.6', 'DOWN', 5, false],
      ['gw-a:8080', 'PUSH_LOAD_INFO', 26, false],
      ['gw-b:8080', 'DOWN', 30, false],
      ['gw-c:8080', 'PUSH_LOAD_INFO', 3, true],
      ['gw-d:8080', 'DOWN', 12, false],
      ['gw-e:8080', 'DOWN', 1, false],
    ]);
    expect(d.nodes.find((n) => n.id === 'gw-d:8080')?.reason).toBe('left (SIGTERM)');
    expect(d.nodes.find((n) => n.id === 'gw-c:8080')?.drainReason).toBe('kernel upgrade');
    expect(d.nodes.find((n) => n.id === 'gw-e:8080')?.reason).toBe(
      'no frame for 3.0s; kept eligible by mass-failure protection until it ended (expired)',
    );
    expect(d.pending.map((p) => p.conn)).toEqual([8]);
  });
});

describe('MasterCrashed and LogDamaged (the next start after a kill -9, on a damaged log)', () => {
  const log = new Stamper().stampAll(RECORDED_LOG);
  const at = (type: string): number => log.findIndex((e) => e.type === type) + 1;

  it("MasterCrashed: the master is DOWN (crashed) from its epoch's last event, and so are its nodes, not from the restart", () => {
    const crash = log[at('MasterCrashed') - 1]!;
    expect(crash.ts).toBeGreaterThan(T0 + 520);
    const d = stateDocument(foldEvents(createProjection(), log.slice(0, at('MasterCrashed'))));
    expect(d.master).toEqual({ state: 'DOWN', epoch: 2, since: T0 + 520, reason: 'crashed' });
    const a = d.nodes.find((n) => n.id === 'gw-a:8080')!;
    expect(a).toMatchObject({ state: 'DOWN', since: T0 + 520, reason: 'master crashed (its last event: seq 52)', load: 26 });
    expect(d.nodes.filter((n) => n.state !== 'DOWN')).toEqual([]);
    expect(d.pending).toEqual([]);
  });

  it('LogDamaged keeps the master DOWN with the reason it had; MasterStarted brings it up without one', () => {
    const d = stateDocument(foldEvents(createProjection(), log.slice(0, at('LogDamaged'))));
    expect(d.master).toEqual({ state: 'DOWN', epoch: 2, since: T0 + 520, reason: 'crashed' });
    const up = stateDocument(
      foldEvents(
        createProjection(),
        log.slice(
          0,
          log.findIndex((e) => e.type === 'LeaderElected'),
        ),
      ),
    );
    expect(up.master).toMatchObject({ state: 'UP_LISTENING', epoch: 3 });
    expect(up.master.reason).toBeUndefined();
    expect(up.nodes.find((n) => n.id === 'gw-b:8080')).toMatchObject({ state: 'PUSH_LOAD_INFO', load: 12 });
  });

  it("LeaderElected (master HA): the term is recorded; the previous term's connections stay through its MasterStarted, until their slaves re-register or time out", () => {
    const started = log.findIndex((e) => e.type === 'LeaderElected') + 2;
    expect(log[started - 1]!.type).toBe('MasterStarted');
    const p = foldEvents(createProjection(), log.slice(0, started));
    expect(p.takingOver).toBe(false);
    const atStart = stateDocument(p);
    expect(atStart.term).toMatchObject({ term: 7, node: 'b' });
    expect(atStart.master).toMatchObject({ state: 'UP_LISTENING', epoch: 4 });
    expect(atStart.nodes.find((n) => n.id === 'gw-b:8080')).toMatchObject({ state: 'PUSH_LOAD_INFO', load: 12 });
    expect(p.conns.has(24)).toBe(true);
    const d = stateDocument(foldEvents(createProjection(), log));
    expect(d.nodes.find((n) => n.id === 'gw-b:8080')).toMatchObject({ state: 'DOWN', reason: 'no frame for 3.0s' });
    expect(d.nodes.find((n) => n.id === 'gw-a:8080')).toMatchObject({ state: 'PUSH_LOAD_INFO', load: 27 });
  });

  it('a takeover of a leader that died: LeaderElected, MasterCrashed, MasterStarted keep the connections; a restart alone after it drops them', () => {
    const s = new Stamper();
    const base = [ev.masterStarted(1), ev.connected(1), ev.pushed(1, 'n:1', 5)];
    const p = foldEvents(createProjection(), s.stampAll([...base, ev.leaderElected(3, 'b'), ev.crashed(1, 3, T0), ev.masterStarted(2)]));
    expect(p.nodes.get('n:1')).toMatchObject({ state: 'PUSH_LOAD_INFO', conn: 1 });
    expect(p.master).toMatchObject({ state: 'UP_LISTENING', epoch: 2 });
    // the next MasterStarted without a LeaderElected is a restart: it drops them
    foldEvents(p, s.stampAll([ev.masterStopped(2, 'SIGTERM'), ev.masterStarted(3)]));
    expect(p.nodes.get('n:1')).toMatchObject({ state: 'DOWN' });
    expect(p.conns.size).toBe(0);
  });

  it('LogDamaged on a master that was UP (a hand-made log): DOWN since the event, its connections closed', () => {
    const p = foldEvents(createProjection(), log.slice(0, at('MasterCrashed') - 1));
    evolve(p, { seq: 53, ts: T0 + 9000, type: 'LogDamaged', from: 50, to: 52, reason: 'missing' });
    const d = stateDocument(p);
    expect(d.master).toEqual({ state: 'DOWN', epoch: 2, since: T0 + 9000, reason: 'event log damaged' });
    expect(d.nodes.find((n) => n.id === 'gw-a:8080')).toMatchObject({ state: 'DOWN', reason: 'event log damaged (seqs 50..52 lost)' });
  });
});

/** toSnapshot → the log's msgpackr encoding → fromSnapshot. */
function roundTrip(p: Projection): Projection {
  const bytes = logPackr.pack(toSnapshot(p));
  return fromSnapshot(logPackr.unpack(bytes) as ProjectionSnapshot);
}

describe('snapshot round trip (toSnapshot → logPackr → fromSnapshot)', () => {
  const log = new Stamper().stampAll(RECORDED_LOG);

  it.each(log.map((_, i) => i + 1))('after %i events: equals the fold, and folding on from it equals folding the whole log', (k) => {
    const direct = foldEvents(createProjection(), log.slice(0, k));
    const restored = roundTrip(direct);
    expect(stateDocument(restored)).toEqual(stateDocument(direct));
    expect(toSnapshot(restored)).toEqual(toSnapshot(direct));
    expect(indexOrder(restored)).toEqual(indexOrder(direct));
    expect(restored.lastConn).toBe(direct.lastConn);

    foldEvents(restored, log.slice(k));
    const whole = foldEvents(createProjection(), log);
    expect(stateDocument(restored)).toEqual(stateDocument(whole));
    expect(indexOrder(restored)).toEqual(indexOrder(whole));
  });

  it('reportSeq is not in snapshots (the format is unchanged) and loads as 0', () => {
    const direct = foldEvents(createProjection(), log.slice(0, 5));
    expect([...direct.nodes.values()].every((n) => n.reportSeq > 0)).toBe(true);
    const snap = toSnapshot(direct);
    expect(snap.nodes.every((n) => !Object.hasOwn(n, 'reportSeq'))).toBe(true);
    expect([...roundTrip(direct).nodes.values()].map((n) => n.reportSeq)).toEqual(snap.nodes.map(() => 0));
  });

  it('the restored projection shares nothing with the original', () => {
    const direct = foldEvents(createProjection(), log.slice(0, 5));
    const restored = roundTrip(direct);
    const before = stateDocument(direct);
    evolve(restored, { seq: 6, ts: 1, type: 'LoadPushed', conn: 2, node: 'gw-b:8080', load: 99, capacity: 2, attrs: { zone: 'x' } });
    expect(stateDocument(direct)).toEqual(before);
  });
});

// ---------------------------------------------------------------- property: index vs brute force

const NODE_IDS = ['a', 'b', 'c', '10.0.0.1:80', '[::1]:80'] as const;

type Op =
  | { k: 'connect' }
  | { k: 'push'; c: number; node: number; load: number }
  | { k: 'life'; t: 'helloReceived' | 'helloAckReceived' | 'unknownSkipped'; c: number }
  | { k: 'noop'; t: 'helloAckSent' | 'helloSent' | 'refused'; c: number }
  | { k: 'end'; t: 'timedOut' | 'disconnected' | 'violated' | 'left'; c: number }
  | { k: 'supersede'; c: number; by: number }
  | { k: 'start' }
  | { k: 'stop' }
  | { k: 'drain'; node: number }
  | { k: 'undrain'; node: number };

const conn = fc.nat(11);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.constant<Op>({ k: 'connect' }) },
  {
    weight: 6,
    arbitrary: fc.record({
      k: fc.constant('push' as const),
      c: conn,
      node: fc.nat(NODE_IDS.length - 1),
      // small integers force ties; doubles exercise the order
      load: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.double({ min: 0, max: 100, noNaN: true, noDefaultInfinity: true })),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant('life' as const),
      t: fc.constantFrom('helloReceived' as const, 'helloAckReceived' as const, 'unknownSkipped' as const),
      c: conn,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      k: fc.constant('noop' as const),
      t: fc.constantFrom('helloAckSent' as const, 'helloSent' as const, 'refused' as const),
      c: conn,
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      k: fc.constant('end' as const),
      t: fc.constantFrom('timedOut' as const, 'disconnected' as const, 'violated' as const, 'left' as const),
      c: conn,
    }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('supersede' as const), c: conn, by: conn }) },
  { weight: 1, arbitrary: fc.constant<Op>({ k: 'start' }) },
  { weight: 1, arbitrary: fc.constant<Op>({ k: 'stop' }) },
  // node ids past NODE_IDS: drains of nodes that never report
  { weight: 2, arbitrary: fc.record({ k: fc.constant('drain' as const), node: fc.nat(NODE_IDS.length) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('undrain' as const), node: fc.nat(NODE_IDS.length) }) },
);

/** Turns ops into a log a master could have written: conn numbers fresh on connect, epochs rising. */
function toEvents(ops: readonly Op[]): LedgerEvent[] {
  const clock = new Stamper();
  let lastConn = 0;
  let epoch = 1;
  // Mostly connections that were opened (live or closed since), sometimes one that never was.
  const pick = (c: number): number => (lastConn === 0 ? c + 1 : (c % (lastConn + 1)) + 1);
  const out: NewEvent[] = [ev.masterStarted(1)];
  for (const op of ops) {
    switch (op.k) {
      case 'connect':
        out.push(ev.connected(++lastConn));
        break;
      case 'push':
        out.push(ev.pushed(pick(op.c), NODE_IDS[op.node]!, op.load));
        break;
      case 'life':
        out.push(op.t === 'unknownSkipped' ? ev.unknownSkipped(pick(op.c)) : ev[op.t](pick(op.c)));
        break;
      case 'noop':
        out.push(op.t === 'refused' ? ev.refused() : ev[op.t](pick(op.c)));
        break;
      case 'end':
        out.push(ev[op.t](pick(op.c)));
        break;
      case 'supersede':
        out.push(ev.superseded(pick(op.c), NODE_IDS[0], pick(op.by)));
        break;
      case 'start':
        out.push(ev.masterStarted(++epoch));
        break;
      case 'stop':
        out.push(ev.masterStopped(epoch));
        break;
      case 'drain':
        out.push(ev.drained(NODE_IDS[op.node] ?? 'never:1', op.node % 2 === 0 ? 'maintenance' : undefined));
        break;
      case 'undrain':
        out.push(ev.undrained(NODE_IDS[op.node] ?? 'never:1'));
        break;
    }
  }
  return clock.stampAll(out);
}

function byLoadThenId(a: { load: number; id: string }, b: { load: number; id: string }): number {
  if (a.load !== b.load) return a.load < b.load ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function bruteForce(p: Projection): NodeEntry[] {
  return [...p.nodes.values()].filter((n) => n.state === 'PUSH_LOAD_INFO' && !n.drained).sort(byLoadThenId);
}

describe('the load index (property)', () => {
  it('after every event of a random log, least() is the brute-force minimum by (load, id) over undrained nodes in PUSH_LOAD_INFO', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 80, size: 'max' }), (ops) => {
        const p = createProjection();
        for (const e of toEvents(ops)) {
          evolve(p, e);
          const expected = bruteForce(p);
          expect(p.index.least()?.id).toBe(expected[0]?.id);
          expect(p.index.size).toBe(expected.length);
          expect(indexOrder(p)).toEqual(expected.map((n) => n.id));
          // the array p2c draws from: exactly the eligible nodes
          expect(Array.from({ length: p.index.size }, (_, i) => p.index.at(i)!.id).sort()).toEqual(expected.map((n) => n.id).sort());
        }
      }),
      { numRuns: 300 },
    );
  });

  it('a snapshot round trip at any point, then the rest of the log, equals folding the whole log', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 60, size: 'max' }), fc.nat(), (ops, cut) => {
        const log = toEvents(ops);
        const k = cut % (log.length + 1);
        const whole = foldEvents(createProjection(), log);
        const resumed = foldEvents(roundTrip(foldEvents(createProjection(), log.slice(0, k))), log.slice(k));
        expect(stateDocument(resumed)).toEqual(stateDocument(whole));
        expect(indexOrder(resumed)).toEqual(indexOrder(whole));
      }),
      { numRuns: 200 },
    );
  });
});
