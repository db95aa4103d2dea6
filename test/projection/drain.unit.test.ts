/**
 * NodeDrained / NodeUndrained in the reducer, given/when/then: a drained node keeps its
 * connection, its state and its reports, but is never in the load index; a drain of a node
 * not in the table makes an entry that stays ineligible when the node connects; snapshots
 * carry the drain.
 */
import { describe, expect, it } from 'vitest';
import type { NewEvent } from '../../src/events.js';
import { stateDocument, type NodeDocument, type StateDocument } from '../../src/projection/document.js';
import { NEVER_REPORTED, evolve, foldEvents } from '../../src/projection/evolve.js';
import { fromSnapshot, toSnapshot, type ProjectionSnapshot } from '../../src/projection/snapshot.js';
import { createProjection, type Projection } from '../../src/projection/state.js';
import { logPackr } from '../../storage/format.js';
import { Stamper, ev } from '../helpers/events.js';

function fold(...events: NewEvent[]): { p: Projection; clock: Stamper } {
  const clock = new Stamper();
  return { p: foldEvents(createProjection(), clock.stampAll(events)), clock };
}

function node(doc: StateDocument, id: string): NodeDocument | undefined {
  return doc.nodes.find((n) => n.id === id);
}

const eligible = (p: Projection): string[] => [...p.index.ordered()].map((n) => n.id);

const started = ev.masterStarted(1);
const twoUp = [started, ev.connected(1), ev.pushed(1, 'a:1', 5, { attrs: { zone: 'eu-1' } }), ev.connected(2), ev.pushed(2, 'b:1', 20)];

describe('NodeDrained', () => {
  it('given a reporting node, when drained: same state, connection and load; out of the index; the document says drained, since and reason', () => {
    const { p, clock } = fold(...twoUp);
    const before = stateDocument(p);
    const e = clock.stamp(ev.drained('a:1', 'kernel upgrade'));
    evolve(p, e);
    const doc = stateDocument(p);
    expect(node(doc, 'a:1')).toEqual({ ...node(before, 'a:1'), drained: true, drainedSince: e.ts, drainReason: 'kernel upgrade' });
    expect(node(doc, 'b:1')).toEqual(node(before, 'b:1'));
    expect(p.nodes.get('a:1')?.conn).toBe(1);
    expect(p.conns.get(1)?.node).toBe('a:1');
    expect(eligible(p)).toEqual(['b:1']);
    expect(p.index.least()?.id).toBe('b:1');
    expect(p.index.size).toBe(1);
  });

  it('without a reason: no drainReason', () => {
    const { p, clock } = fold(...twoUp);
    evolve(p, clock.stamp(ev.drained('a:1')));
    const d = node(stateDocument(p), 'a:1')!;
    expect(d.drained).toBe(true);
    expect(Object.hasOwn(d, 'drainReason')).toBe(false);
  });

  it('then the node keeps reporting: its load and lastSeen move, it stays drained and out of the index', () => {
    const { p, clock } = fold(...twoUp, ev.drained('a:1', 'deploy'));
    const drainedSince = node(stateDocument(p), 'a:1')!.drainedSince;
    const e = clock.stamp(ev.pushed(1, 'a:1', 1));
    evolve(p, e);
    evolve(p, clock.stamp(ev.helloReceived(1)));
    const d = node(stateDocument(p), 'a:1')!;
    expect(d).toMatchObject({ state: 'PUSH_LOAD_INFO', load: 1, drained: true, drainedSince, drainReason: 'deploy' });
    expect(d.lastSeen).toBeGreaterThan(e.ts);
    expect(eligible(p)).toEqual(['b:1']);
  });

  it('survives the node going DOWN and reconnecting, and a master restart', () => {
    const { p, clock } = fold(...twoUp, ev.drained('a:1'), ev.disconnected(1), ev.masterStopped(1), ev.masterStarted(2), ev.connected(3));
    expect(node(stateDocument(p), 'a:1')).toMatchObject({ state: 'DOWN', drained: true });
    evolve(p, clock.stamp(ev.pushed(3, 'a:1', 0)));
    expect(node(stateDocument(p), 'a:1')).toMatchObject({ state: 'PUSH_LOAD_INFO', load: 0, drained: true });
    expect(eligible(p)).toEqual([]);
  });

  it('of a drained node: nothing changes (the first drain, its since and reason, stands)', () => {
    const { p, clock } = fold(...twoUp, ev.drained('a:1', 'first'));
    const before = stateDocument(p);
    const e = clock.stamp(ev.drained('a:1', 'second'));
    evolve(p, e);
    expect(stateDocument(p)).toEqual({ ...before, seq: e.seq });
  });

  it('of a node not in the table: an entry, DOWN and never reported, drained; it is not eligible when it connects', () => {
    const { p, clock } = fold(started);
    const e = clock.stamp(ev.drained('c:1', 'not yet racked'));
    evolve(p, e);
    expect(node(stateDocument(p), 'c:1')).toEqual({
      id: 'c:1',
      addr: 'c:1',
      state: 'DOWN',
      load: 0,
      capacity: 1,
      attrs: {},
      lastSeen: 0,
      since: e.ts,
      epoch: 0,
      reason: NEVER_REPORTED,
      drained: true,
      drainedSince: e.ts,
      drainReason: 'not yet racked',
    });
    expect(eligible(p)).toEqual([]);
    evolve(p, clock.stamp(ev.connected(1)));
    const push = clock.stamp(ev.pushed(1, 'c:1', 7, { capacity: 2 }));
    evolve(p, push);
    expect(node(stateDocument(p), 'c:1')).toMatchObject({
      state: 'PUSH_LOAD_INFO',
      load: 7,
      capacity: 2,
      epoch: 1,
      lastSeen: push.ts,
      since: push.ts,
      drained: true,
    });
    expect(eligible(p)).toEqual([]);
  });
});

describe('NodeUndrained', () => {
  it('given a drained reporting node: eligible again at its current load, in order', () => {
    const { p, clock } = fold(...twoUp, ev.drained('a:1'), ev.pushed(1, 'a:1', 30));
    const before = stateDocument(p);
    const e = clock.stamp(ev.undrained('a:1'));
    evolve(p, e);
    const { drained: _d, drainedSince: _s, ...rest } = node(before, 'a:1')!;
    expect(node(stateDocument(p), 'a:1')).toEqual(rest);
    expect(eligible(p)).toEqual(['b:1', 'a:1']);
    expect(Object.hasOwn(p.nodes.get('a:1')!, 'drained')).toBe(false);
  });

  it('of a drained DOWN node: stays DOWN (eligible once it reports)', () => {
    const { p, clock } = fold(...twoUp, ev.drained('a:1'), ev.timedOut(1));
    evolve(p, clock.stamp(ev.undrained('a:1')));
    expect(node(stateDocument(p), 'a:1')).toMatchObject({ state: 'DOWN', reason: 'no frame for 3.0s' });
    expect(node(stateDocument(p), 'a:1')!.drained).toBeUndefined();
    expect(eligible(p)).toEqual(['b:1']);
  });

  it('of a node that was never drained, or is not in the table: nothing but seq changes', () => {
    for (const id of ['a:1', 'zz:1']) {
      const { p, clock } = fold(...twoUp);
      const before = stateDocument(p);
      const e = clock.stamp(ev.undrained(id));
      evolve(p, e);
      expect(stateDocument(p)).toEqual({ ...before, seq: e.seq });
    }
  });

  it('of a node drained before it ever reported: its entry goes, the table is as if it had never been drained', () => {
    const { p, clock } = fold(...twoUp);
    const before = stateDocument(p);
    evolve(p, clock.stamp(ev.drained('c:1')));
    const e = clock.stamp(ev.undrained('c:1'));
    evolve(p, e);
    expect(stateDocument(p)).toEqual({ ...before, seq: e.seq });
  });

  it('of a node drained before it reported, that has reported since: it stays, eligible', () => {
    const { p, clock } = fold(started, ev.drained('c:1'), ev.connected(1), ev.pushed(1, 'c:1', 4));
    evolve(p, clock.stamp(ev.undrained('c:1')));
    expect(node(stateDocument(p), 'c:1')).toMatchObject({ state: 'PUSH_LOAD_INFO', load: 4 });
    expect(eligible(p)).toEqual(['c:1']);
  });
});

describe('snapshots and folds', () => {
  const log = [
    ...twoUp,
    ev.drained('a:1', 'deploy'),
    ev.drained('c:1'),
    ev.pushed(1, 'a:1', 2),
    ev.connected(3),
    ev.pushed(3, 'd:1', 1),
    ev.drained('d:1'),
    ev.undrained('d:1'),
  ];

  it('a snapshot carries the drain (through the log encoding); folding on from it equals folding the whole log', () => {
    const stamped = new Stamper().stampAll(log);
    const whole = foldEvents(createProjection(), stamped);
    for (let k = 0; k <= stamped.length; k++) {
      const direct = foldEvents(createProjection(), stamped.slice(0, k));
      const restored = fromSnapshot(logPackr.unpack(logPackr.pack(toSnapshot(direct))) as ProjectionSnapshot);
      expect(stateDocument(restored)).toEqual(stateDocument(direct));
      expect(toSnapshot(restored)).toEqual(toSnapshot(direct));
      expect(eligible(restored)).toEqual(eligible(direct));
      foldEvents(restored, stamped.slice(k));
      expect(stateDocument(restored)).toEqual(stateDocument(whole));
      expect(eligible(restored)).toEqual(eligible(whole));
    }
    expect(eligible(whole)).toEqual(['d:1', 'b:1']);
    expect(toSnapshot(whole).nodes.find((n) => n.id === 'a:1')?.drained).toEqual({ since: stamped[5]!.ts, reason: 'deploy' });
  });

  it('a snapshot of undrained nodes has no drain field (snapshots of logs without drains are unchanged)', () => {
    const snap = toSnapshot(foldEvents(createProjection(), new Stamper().stampAll(twoUp)));
    expect(snap.nodes.every((n) => !Object.hasOwn(n, 'drained'))).toBe(true);
  });

  it('a bulk fold (index suspended, as replay and restart do) ends with the same eligible set as a live fold', () => {
    const stamped = new Stamper().stampAll(log);
    const live = foldEvents(createProjection(), stamped);
    const bulk = createProjection();
    bulk.index.suspend();
    foldEvents(bulk, stamped);
    bulk.index.resume(bulk.nodes.values());
    expect(eligible(bulk)).toEqual(eligible(live));
    expect(stateDocument(bulk)).toEqual(stateDocument(live));
  });
});
