/**
 * The slaves of the previous term after a takeover (src/decisions/takeover.ts), driven
 * through the master's liveness timer on a manual clock: the nodes of the log stay
 * eligible for one dead-after; the ones that re-register are superseded by their new
 * connections; the others time out at the deadline, and mass-failure protection does not
 * take that for a partition. A restart (MasterStarted) leaves nothing to wait for.
 */
import { describe, expect, it } from 'vitest';
import type { Recorder } from '../../storage/recorder.js';
import { ProtectionGuard } from '../../src/decisions/protection.js';
import { ReconnectGrace } from '../../src/decisions/takeover.js';
import type { LedgerEvent, NewEvent } from '../../src/events.js';
import { Liveness } from '../../src/master/liveness.js';
import type { SlaveConnection } from '../../src/master/connection.js';
import { evolve, foldEvents } from '../../src/projection/evolve.js';
import { createProjection, type Projection } from '../../src/projection/state.js';
import { Stamper, ev } from '../helpers/events.js';
import { ManualClock } from '../helpers/manual-clock.js';

const DEAD_AFTER = 3000;
const PROTECT = { share: 0.5, forMs: 120_000, minNodes: 3 };

/** The log as the previous leader left it: nodes a:1..d:1 on its connections 1..4. */
const previousTerm: NewEvent[] = [
  ev.masterStarted(1),
  ...[1, 2, 3, 4].flatMap((c) => [ev.connected(c), ev.pushed(c, `${'abcd'[c - 1]}:1`, c * 10)]),
];

/** A master's liveness over a projection; what it records is folded at once, as committed. */
function takeover(history: readonly NewEvent[]) {
  const clock = new ManualClock();
  const stamper = new Stamper((seq) => clock.wall() + seq);
  const projection: Projection = foldEvents(createProjection(), stamper.stampAll(history));
  const recorded: LedgerEvent[] = [];
  const record = (e: NewEvent): LedgerEvent => {
    const le = stamper.stamp(e);
    evolve(projection, le);
    recorded.push(le);
    return le;
  };
  const recorder = { record: (e: NewEvent, effect?: () => void) => (record(e), effect?.(), recorded.at(-1)) } as unknown as Recorder;
  const conns = new Map<number, SlaveConnection>();
  const host = { conns, projection, recorder, prune: () => {}, now: () => clock.now() };
  const liveness = new Liveness(
    host,
    { helloInterval: 1000, deadAfter: DEAD_AFTER, handshakeTimeout: 3000, clock: clock.wall, scheduler: clock },
    PROTECT,
  );
  /** A slave re-registers on this master: a new connection that pushes (not read by liveness here). */
  const reconnect = (conn: number, node: string, load: number): void => {
    conns.set(conn, { conn, paused: true } as unknown as SlaveConnection);
    record(ev.connected(conn));
    record(ev.pushed(conn, node, load));
  };
  return { clock, projection, recorded, liveness, reconnect };
}

const eligible = (p: Projection): string[] => [...p.index.ordered()].map((n) => n.id).sort();
const types = (es: LedgerEvent[]): string[] =>
  es.map((e) => `${e.type}${'conn' in e ? ` ${e.conn}` : ''}${e.type === 'SlaveSuperseded' ? ` by ${e.by}` : ''}`);

describe('after a takeover, the slaves of the previous term', () => {
  it('stay eligible for one dead-after; the ones that come back are superseded, the others time out at the deadline', async () => {
    const t = takeover(previousTerm);
    expect(t.liveness.termBegan()).toBe(4);
    t.liveness.start();
    expect(eligible(t.projection)).toEqual(['a:1', 'b:1', 'c:1', 'd:1']); // answered with what the log has

    await t.clock.advance(800);
    t.reconnect(5, 'a:1', 11);
    await t.clock.advance(300); // the next ticks
    expect(types(t.recorded)).toEqual(['SlaveConnected 5', 'LoadPushed 5', 'SlaveSuperseded 1 by 5']);
    expect(t.projection.conns.has(1)).toBe(false);
    expect(t.projection.nodes.get('a:1')).toMatchObject({ conn: 5, load: 11, state: 'PUSH_LOAD_INFO' });

    await t.clock.advance(DEAD_AFTER - 1100 - 10); // just before the deadline
    expect(eligible(t.projection)).toEqual(['a:1', 'b:1', 'c:1', 'd:1']);
    expect(t.recorded).toHaveLength(3);

    await t.clock.advance(300);
    expect(types(t.recorded.slice(3))).toEqual(['SlaveTimedOut 2', 'SlaveTimedOut 3', 'SlaveTimedOut 4']);
    // three of four eligible nodes went DOWN in one tick: more than --protect-share, and yet
    // no ProtectionStarted: they are slaves that did not come to this master, not a partition
    expect(t.recorded.some((e) => e.type === 'ProtectionStarted')).toBe(false);
    expect(eligible(t.projection)).toEqual(['a:1']);
    expect(t.projection.nodes.get('b:1')).toMatchObject({ state: 'DOWN', conn: null });
    expect(t.projection.nodes.get('b:1')!.reason).toMatch(/^no frame for \d+\.\ds$/);
    expect([...t.projection.conns.keys()]).toEqual([5]);
    expect(t.liveness.grace.active).toBe(false);
    await t.clock.advance(10 * DEAD_AFTER);
    expect(t.recorded).toHaveLength(6); // decided once each
    t.liveness.stop();
  });

  it('through the term start as the master records it (LeaderElected, MasterCrashed, MasterStarted): the same four wait', () => {
    const t = takeover([...previousTerm, ev.leaderElected(5, 'b'), ev.crashed(1, 9, 0), ev.masterStarted(2)]);
    expect(t.liveness.termBegan()).toBe(4);
    expect(eligible(t.projection)).toEqual(['a:1', 'b:1', 'c:1', 'd:1']);
  });

  it('the same three timing out as live connections would have started protection (what the grace keeps it from seeing)', () => {
    const t = takeover(previousTerm);
    const guard = new ProtectionGuard({ ...PROTECT, deadAfter: DEAD_AFTER });
    const e = guard.timeouts(
      t.clock.now(),
      t.clock.wall(),
      t.projection,
      [2, 3, 4].map((conn) => ({ node: `${'abcd'[conn - 1]}:1`, conn })),
    );
    expect(e?.type).toBe('ProtectionStarted');
  });

  it('a restart is not a takeover: MasterStarted already dropped every connection of the log, nothing waits or times out', async () => {
    // the previous master crashed (no MasterStopped); this one starts alone on its log
    const t = takeover([...previousTerm, ev.masterStarted(2)]);
    expect(t.liveness.termBegan()).toBe(0);
    t.liveness.start();
    expect(eligible(t.projection)).toEqual([]);
    expect(t.projection.nodes.get('c:1')).toMatchObject({ state: 'DOWN', reason: 'master restarted (epoch 2)' });
    await t.clock.advance(3 * DEAD_AFTER);
    expect(t.recorded).toEqual([]);
    t.reconnect(5, 'c:1', 7); // and a slave that comes back re-registers as always
    expect(eligible(t.projection)).toEqual(['c:1']);
    t.liveness.stop();
  });
});

describe('ReconnectGrace', () => {
  it("leaves out the connections that are the master's own, and one the log closes itself", () => {
    const p = foldEvents(createProjection(), new Stamper().stampAll(previousTerm));
    const grace = new ReconnectGrace({ deadAfter: 1000 });
    expect(grace.begin(0, p, (conn) => conn === 4)).toBe(3);
    expect([1, 2, 3, 4].map((c) => grace.covers(c))).toEqual([true, true, true, false]);
    evolve(p, new Stamper(() => 2).stamp(ev.disconnected(3))); // (a hand-made log: nothing else closes it)
    expect(grace.due(500, 1, p)).toEqual([]);
    expect(grace.due(1000, 1_700_000_000_100, p).map((e) => ('conn' in e ? e.conn : 0))).toEqual([1, 2]);
    expect(grace.active).toBe(false);
  });
});
