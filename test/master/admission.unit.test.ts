/**
 * Admission: --allow ranges, the per-peer connection rate, and the one-refusal-record-
 * per-second rule, with the time passed in (no clock, no sockets).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Admission, parseAllowList } from '../../src/master/admission.js';
import { thrown } from '../helpers/errors.js';

const open = { allow: [], rate: 0, burst: 1 };

describe('--allow', () => {
  it('admits only peers inside one of the ranges, IPv4 and IPv6', () => {
    const a = new Admission({ ...open, allow: ['10.0.0.0/8', '192.0.2.7', 'fd00::/8'] });
    expect(a.admit('10.1.2.3', 0).ok).toBe(true);
    expect(a.admit('192.0.2.7', 0).ok).toBe(true);
    expect(a.admit('fd12::1', 0).ok).toBe(true);
    const no = a.admit('192.0.2.8', 0);
    expect(no).toEqual({ ok: false, reason: '192.0.2.8 is not in --allow (10.0.0.0/8, 192.0.2.7, fd00::/8)' });
    expect(a.admit('::1', 0).ok).toBe(false);
    expect(a.admit('11.0.0.1', 0).ok).toBe(false);
  });

  it('without ranges admits everyone', () => {
    expect(new Admission(open).admit('203.0.113.9', 0).ok).toBe(true);
  });

  it.each(['foo', '10.0.0.0/33', '10.0.0.0/', '10.0.0.0/-1', '::1/129', '10.0.0/8', ''])('refuses %j as BAD_ARGUMENT', (bad) => {
    expect(thrown(() => parseAllowList([bad])).code).toBe('BAD_ARGUMENT');
  });
});

describe('connection rate per peer', () => {
  it('takes a burst at once, then the rate, per IP', () => {
    const a = new Admission({ allow: [], rate: 10, burst: 5 });
    const admitted = (ip: string, t: number) => a.admit(ip, t).ok;
    for (let i = 0; i < 5; i++) expect(admitted('10.0.0.1', 0)).toBe(true);
    const refused = a.admit('10.0.0.1', 0);
    expect(refused).toEqual({ ok: false, reason: 'connection rate limit (10/s per peer, bursts of 5)' });
    expect(admitted('10.0.0.2', 0)).toBe(true); // another peer has its own bucket
    expect(admitted('10.0.0.1', 99)).toBe(false);
    expect(admitted('10.0.0.1', 100)).toBe(true); // one token per 100 ms
    expect(admitted('10.0.0.1', 150)).toBe(false);
  });

  it('a peer in a tight loop gets at most burst + rate × seconds connections', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200 }),
        fc.integer({ min: 1, max: 500 }),
        fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 1, maxLength: 2000 }),
        (rate, burst, gaps) => {
          const a = new Admission({ allow: [], rate, burst });
          let t = 0;
          let ok = 0;
          for (const g of gaps) {
            t += g;
            if (a.admit('10.0.0.1', t).ok) ok++;
          }
          expect(ok).toBeLessThanOrEqual(burst + Math.floor((rate * t) / 1000) + 1);
        },
      ),
    );
  });

  it('rate 0 is no limit', () => {
    const a = new Admission({ allow: [], rate: 0, burst: 1 });
    for (let i = 0; i < 10_000; i++) expect(a.admit('10.0.0.1', 0).ok).toBe(true);
  });
});

describe('recording refusals', () => {
  it('records one per second per peer and counts the ones in between', () => {
    const a = new Admission(open);
    expect(a.refusal('10.0.0.1', 0)).toEqual({ record: true, unrecorded: 0 });
    expect(a.refusal('10.0.0.1', 10)).toEqual({ record: false, unrecorded: 0 });
    expect(a.refusal('10.0.0.1', 999)).toEqual({ record: false, unrecorded: 0 });
    expect(a.refusal('10.0.0.2', 999)).toEqual({ record: true, unrecorded: 0 });
    expect(a.refusal('10.0.0.1', 1000)).toEqual({ record: true, unrecorded: 2 });
    expect(a.refusal('10.0.0.1', 5000)).toEqual({ record: true, unrecorded: 0 });
  });

  it('forgets idle peers, so memory does not grow with every address ever seen', () => {
    const a = new Admission({ allow: [], rate: 10, burst: 10 });
    for (let i = 0; i < 1000; i++) a.admit(`10.0.${i >> 8}.${i & 255}`, 0);
    expect(a.trackedPeers).toBe(1000);
    a.prune(30_000);
    expect(a.trackedPeers).toBe(1000);
    a.admit('10.9.9.9', 70_000);
    a.prune(70_001);
    expect(a.trackedPeers).toBe(1);
  });
});
