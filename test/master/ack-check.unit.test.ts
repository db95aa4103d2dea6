/**
 * The check the crash test and the soak rely on (bench/lib/crash.ts AckCheck): a HELLO_ACK
 * a client received without its HelloAckSent in the log, in that master's epoch, is found.
 */
import { describe, expect, it } from 'vitest';
import { AckCheck } from '../../bench/lib/crash.js';
import type { ConnRecord } from '../../bench/lib/swarm.js';
import { Stamper, ev } from '../helpers/events.js';

const A = '127.0.0.1:50001';
const B = '127.0.0.1:50002';

/** Epoch 1: A on conn 1 with two ACKs. Epoch 2: A (port reused) on conn 2 and B on conn 3, one ACK each. */
const LOG = new Stamper().stampAll([
  ev.masterStarted(1),
  ev.connected(1, A),
  ev.helloReceived(1),
  ev.helloAckSent(1),
  ev.helloReceived(1),
  ev.helloAckSent(1),
  ev.masterStarted(2),
  ev.connected(2, A),
  ev.connected(3, B),
  ev.helloReceived(2),
  ev.helloAckSent(2),
  ev.helloReceived(3),
  ev.helloAckSent(3),
]);

function check(epoch: number, conns: Partial<ConnRecord>[]): ReturnType<AckCheck['report']> {
  const c = new AckCheck(epoch);
  for (const e of LOG) c.visit(e);
  return c.report(conns.map((x) => ({ kind: 'healthy', remote: A, acks: 0, hellos: 0, port: 7400, at: 0, slot: 0, ...x })));
}

describe('AckCheck', () => {
  it('every ACK received is logged: no problem; counts per epoch only', () => {
    expect(
      check(2, [
        { remote: A, acks: 1 },
        { remote: B, acks: 1 },
        { remote: '127.0.0.1:9', acks: 0 },
      ]),
    ).toEqual({ received: 2, logged: 2, connections: 2, problems: [] });
    expect(check(1, [{ remote: A, acks: 2 }])).toMatchObject({ received: 2, logged: 2, problems: [] });
  });

  it('an ACK received that the log does not hold is a problem: more than logged, or a connection the epoch never saw', () => {
    // A had two ACKs in epoch 1, but only one in epoch 2: those of epoch 1 do not count.
    const r = check(2, [
      { remote: A, acks: 2 },
      { remote: B, acks: 1, kind: 'flooder' },
      { remote: '127.0.0.1:50009', acks: 1, kind: 'flapper' },
    ]);
    expect(r).toMatchObject({ received: 4, logged: 2, connections: 3 });
    expect(r.problems).toEqual([
      'healthy connection from 127.0.0.1:50001 received 2 HELLO_ACKs; the log holds 1 HelloAckSent for it in epoch 2',
      'flapper connection from 127.0.0.1:50009 received 1 HELLO_ACKs; the log holds 0 HelloAckSent for it in epoch 2',
    ]);
  });

  it('tracks the last event and the highest epoch', () => {
    const c = new AckCheck(undefined);
    for (const e of LOG) c.visit(e);
    expect([c.last?.seq, c.maxEpoch]).toEqual([LOG.length, 2]);
  });
});
