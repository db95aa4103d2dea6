/**
 * The flapping decision (src/decisions/flapping.ts) alone, time passed in: up to
 * `takeovers` takeovers of a node within `window` are allowed; the next one is flapping
 * (refused, the holder keeps the node for `holdDown`, the warning once per window); after the
 * hold-down the count starts over; other nodes are not affected; 0 turns it off.
 */
import { describe, expect, it } from 'vitest';
import { FLAPPING_DEFAULTS, FlapGuard, type Peer, type TakeoverVerdict } from '../../src/decisions/flapping.js';

const A: Peer = { conn: 1, remote: '10.0.0.1:40001' };
const B: Peer = { conn: 2, remote: '10.0.0.2:40002' };
const OPTS = { takeovers: 3, window: 60_000, holdDown: 300_000 };

/** Takeovers of `node` alternating between A and B, `every` ms apart from `t0`; the verdicts. */
function flap(g: FlapGuard, node: string, n: number, t0: number, every = 1000): TakeoverVerdict[] {
  return Array.from({ length: n }, (_, i) =>
    i % 2 === 0 ? g.takeover(node, A, B, t0 + i * every) : g.takeover(node, B, A, t0 + i * every),
  );
}

describe('FlapGuard', () => {
  it('allows `takeovers` takeovers within the window; the next is flapping: refused, naming both peers, warned', () => {
    const g = new FlapGuard(OPTS);
    const v = flap(g, 'n:1', 4, 0);
    expect(v.slice(0, 3).every((x) => x.take)).toBe(true);
    const fourth = v[3]!;
    expect(fourth.take).toBe(false);
    if (fourth.take) return;
    expect(fourth.detected).toEqual({
      node: 'n:1',
      takeovers: 4,
      window: 60_000,
      holder: B,
      newcomer: A,
      until: 3000 + 300_000,
      holdDown: 300_000,
      warn: true,
    });
    expect(fourth.reason).toBe(
      'node n:1 is flapping (taken over 4 times within 1m, by connections from 10.0.0.2:40002 and 10.0.0.1:40001): it stays with connection 2 from 10.0.0.2:40002, others are refused for 5m',
    );
  });

  it('refuses every takeover during the hold-down (no new detection, no warning), and allows them after it', () => {
    const g = new FlapGuard(OPTS);
    flap(g, 'n:1', 4, 0);
    const during = g.takeover('n:1', B, A, 3000 + 299_000);
    expect(during).toEqual({
      take: false,
      reason: 'node n:1 is flapping: it stays with connection 2 from 10.0.0.2:40002 for another 1.0s',
    });
    expect(g.takeover('n:1', B, A, 3000 + 300_000).take).toBe(true);
  });

  it('a takeover now and then is never flapping: the window slides', () => {
    const g = new FlapGuard(OPTS);
    // one every 20 s: at most 3 within any 60 s
    expect(flap(g, 'n:1', 50, 0, 20_000).every((x) => x.take)).toBe(true);
  });

  it('warns once per window: a second detection within it is refused without a warning', () => {
    const g = new FlapGuard({ takeovers: 1, window: 60_000, holdDown: 10_000 });
    const first = flap(g, 'n:1', 2, 0)[1]!;
    expect(!first.take && first.detected?.warn).toBe(true);
    // the hold-down (10 s) ends well within the window (60 s): flapping again at 12 s
    const again = flap(g, 'n:1', 2, 11_000)[1]!;
    expect(!again.take && again.detected).toMatchObject({ warn: false });
    // a window after the first warning: warned again
    const later = flap(g, 'n:1', 2, 70_000)[1]!;
    expect(!later.take && later.detected).toMatchObject({ warn: true });
  });

  it('counts each node on its own', () => {
    const g = new FlapGuard(OPTS);
    flap(g, 'n:1', 4, 0);
    expect(flap(g, 'n:2', 3, 4000).every((x) => x.take)).toBe(true);
  });

  it('0 takeovers: off', () => {
    const g = new FlapGuard({ ...OPTS, takeovers: 0 });
    expect(flap(g, 'n:1', 100, 0, 10).every((x) => x.take)).toBe(true);
    expect(g.tracked).toBe(0);
  });

  it('forgets nodes with nothing in force (memory bounded by recent takeovers)', () => {
    const g = new FlapGuard(FLAPPING_DEFAULTS);
    for (let i = 0; i < 1000; i++) g.takeover(`n:${i}`, A, B, i);
    expect(g.tracked).toBe(1000);
    g.takeover('x:1', A, B, 10 * 60_000);
    expect(g.tracked).toBe(1);
  });
});
