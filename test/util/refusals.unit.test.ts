/**
 * RefusalLog (src/util/refusals.ts): a port that refuses thousands of connections a second
 * reports one line per kind per window (the first at once, the rest counted), on a manual
 * clock; and Descriptors' reserve.
 */
import { describe, expect, it } from 'vitest';
import { Descriptors } from '../../src/util/descriptors.js';
import { RefusalLog, type Refusal } from '../../src/util/refusals.js';
import { ManualClock } from '../helpers/manual-clock.js';

describe('RefusalLog', () => {
  it('reports the first refusal at once and the others of its window together, at its end', async () => {
    const clock = new ManualClock();
    const seen: Refusal[] = [];
    const log = new RefusalLog(clock, (r) => seen.push(r), 10_000);
    log.note('http', 'max-connections', 'first');
    expect(seen).toEqual([{ port: 'http', kind: 'max-connections', reason: 'first', count: 1 }]);
    for (let i = 0; i < 999; i++) log.note('http', 'max-connections', `again ${i}`);
    log.note('slave', 'descriptors', 'another kind'); // a kind of its own: at once
    expect(seen).toHaveLength(2);
    await clock.advance(9_999);
    expect(seen).toHaveLength(2);
    await clock.advance(1);
    expect(seen[2]).toEqual({ port: 'http', kind: 'max-connections', reason: 'again 998', count: 999 });
    // A quiet window reports nothing; the next refusal after it is at once again.
    await clock.advance(60_000);
    expect(seen).toHaveLength(3);
    log.note('http', 'max-connections', 'later');
    expect(seen[3]).toMatchObject({ reason: 'later', count: 1 });
    log.close();
    expect(clock.timers).toBe(0);
  });
});

describe('Descriptors', () => {
  it('keeps a reserve of 5% of the limit, at least 32, and refuses nothing without a limit', () => {
    expect(new Descriptors(1024).reserve).toBe(52);
    expect(new Descriptors(256).reserve).toBe(32);
    const unknown = new Descriptors(undefined);
    expect(unknown.exhausted()).toBe(false);
  });
});
