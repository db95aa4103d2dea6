/**
 * The slave's reconnect schedule (src/slave/backoff.ts), pure, with seeded randomness:
 * every address once right away, then passes with backoff and jitter; a connection that
 * worked starts it over; and 1,000 slaves that lose their master at the same instant do
 * not come back in one burst.
 */
import { describe, expect, it } from 'vitest';
import { ReconnectSchedule, backoffDelay, type NextAttempt } from '../../src/slave/backoff.js';
import { seededRandom } from '../../src/selection/random.js';

const B = { initial: 100, max: 1000, jitter: 0.5 };
const steps = (s: ReconnectSchedule, n: number): NextAttempt[] => Array.from({ length: n }, () => s.ended());

describe('ReconnectSchedule', () => {
  it('tries every address once right away, the failed one last, then passes with a growing delay', () => {
    const s = new ReconnectSchedule(3, B, () => 0); // no jitter drawn: the base delays
    expect(s.index).toBe(0);
    expect(steps(s, 8)).toEqual([
      { index: 1, delay: 0, attempt: 1 },
      { index: 2, delay: 0, attempt: 2 },
      { index: 0, delay: 100, attempt: 3 }, // the first pass found nothing
      { index: 1, delay: 0, attempt: 4 },
      { index: 2, delay: 0, attempt: 5 },
      { index: 0, delay: 200, attempt: 6 },
      { index: 1, delay: 0, attempt: 7 },
      { index: 2, delay: 0, attempt: 8 },
    ]);
  });

  it('after a connection that worked, the next failure starts a fresh pass at the next address, the backoff from the start', () => {
    const s = new ReconnectSchedule(3, B, () => 0);
    steps(s, 7); // a long outage: passes of 100, 200, 400 ms
    expect(s.index).toBe(1);
    s.worked(); // b leads now
    expect(steps(s, 4)).toEqual([
      { index: 2, delay: 0, attempt: 1 },
      { index: 0, delay: 0, attempt: 2 },
      { index: 1, delay: 0, attempt: 3 }, // b itself, last of the pass
      { index: 2, delay: 100, attempt: 4 },
    ]);
  });

  it('one master: the same address, once right away after it worked, then the backoff doubling to its cap', () => {
    const s = new ReconnectSchedule(1, { initial: 100, max: 5000, jitter: 0.5 }, () => 0);
    s.worked();
    expect(steps(s, 8).map((x) => [x.index, x.delay])).toEqual([
      [0, 0],
      [0, 100],
      [0, 200],
      [0, 400],
      [0, 800],
      [0, 1600],
      [0, 3200],
      [0, 5000],
    ]);
  });

  it('jitter: each delay in (base·(1−jitter), base], the same for the same seed', () => {
    const r = seededRandom(7);
    for (let n = 0; n < 12; n++) {
      const d = backoffDelay(B, n, r);
      const base = Math.min(B.max, B.initial * 2 ** n);
      expect(d).toBeGreaterThan(base * 0.5 - 1);
      expect(d).toBeLessThanOrEqual(base);
    }
    const a = new ReconnectSchedule(2, B, seededRandom(42));
    const b = new ReconnectSchedule(2, B, seededRandom(42));
    expect(steps(a, 20)).toEqual(steps(b, 20));
  });

  it('1,000 slaves that lose the leader at once: every address right away, then they reach the new leader spread out, within the cap', () => {
    // two masters, a and b; a dies at 0, b is elected at 2 s (refusing slaves until then)
    const ELECTED = 2000;
    const arrivals: number[] = [];
    for (let i = 0; i < 1000; i++) {
      const s = new ReconnectSchedule(2, B, seededRandom(1000 + i));
      s.worked(); // connected to a
      const first = [s.ended(), s.ended()];
      expect(first.map((x) => x.delay)).toEqual([0, 0]); // b, then a again: right away
      let now = 0;
      for (;;) {
        const next = s.ended();
        now += next.delay;
        if (now >= ELECTED && next.index === 1) break; // b answers from now on
      }
      arrivals.push(now);
    }
    // within one pass delay (the cap) of the election, plus the other address of that pass
    expect(Math.max(...arrivals)).toBeLessThanOrEqual(ELECTED + B.max);
    // and spread: no 10 ms holds more than 5% of them
    const buckets = new Map<number, number>();
    for (const x of arrivals) buckets.set(Math.floor(x / 10), (buckets.get(Math.floor(x / 10)) ?? 0) + 1);
    expect(Math.max(...buckets.values())).toBeLessThan(50);
  });
});
