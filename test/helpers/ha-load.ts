/**
 * Load for the HA failure tests (test/e2e/ha-*.int.test.ts): real slaves (createSlave) that
 * report to a cluster through their lists, and clients that HELLO one master as fast as it
 * answers and count the HELLO_ACKs they received — each an acknowledgement the master gave
 * after its HelloAckSent was committed (and, with `--ack standby`, on a standby) — so a test
 * can check that none of them is missing from the log of the master that took over.
 */
import type { LedgerEvent } from '../../src/events.js';
import { createSlave, type Slave } from '../../src/slave/slave.js';
import type { Cleanup } from './cleanup.js';
import type { HaMaster } from './ha-master.js';
import { RawClient } from './net.js';

export type FleetSlave = Slave & { readonly addr: string };

/** `count` slaves (10.8.0.1:80 …) with the list of the masters' slave ports, pushing every `interval` ms. */
export function slaves(
  cleanup: Cleanup,
  count: number,
  masters: readonly Pick<HaMaster, 'listen'>[],
  opts: { interval?: number; deadAfter?: number; backoff?: { initial: number; max: number } } = {},
): FleetSlave[] {
  const out: FleetSlave[] = [];
  for (let i = 1; i <= count; i++) {
    const addr = `10.8.0.${i}:80`;
    const s = createSlave({
      master: masters.map((m) => m.listen),
      addr,
      load: () => i + Math.random(),
      interval: opts.interval ?? 50,
      deadAfter: opts.deadAfter ?? 3000,
      backoff: opts.backoff ?? { initial: 20, max: 200 },
    });
    s.on('error', () => {}); // refused by a standby, reset by a dead leader: it moves on
    cleanup.defer(`slave ${addr}`, () => s.close());
    out.push(Object.assign(s, { addr }));
  }
  return out;
}

export interface AckCounters {
  /** HELLO_ACKs received by all the clients so far. */
  received(): number;
  /** Stops sending (the counts stay). */
  stop(): void;
  readonly clients: readonly { remote: string; acks(): number }[];
}

/** `count` clients on `master`'s slave port, each a node (10.9.0.i:80) that sends HELLO every `every` ms. */
export async function ackCounters(cleanup: Cleanup, master: HaMaster, count: number, every = 5): Promise<AckCounters> {
  const clients: RawClient[] = [];
  const timers: NodeJS.Timeout[] = [];
  for (let i = 1; i <= count; i++) {
    const c = await RawClient.connect(master.listenPort, { answerHello: true });
    cleanup.defer(`ack counter ${i}`, () => c.destroy());
    c.push({ addr: `10.9.0.${i}:80`, load: 100 + i });
    timers.push(setInterval(() => !c.closed && c.hello(), every));
    clients.push(c);
  }
  const stop = (): void => timers.forEach((t) => clearInterval(t));
  cleanup.defer('ack counters', stop);
  return {
    received: () => clients.reduce((s, c) => s + c.count('HELLO_ACK'), 0),
    stop,
    clients: clients.map((c) => ({ remote: c.remote, acks: () => c.count('HELLO_ACK') })),
  };
}

/**
 * How many HELLO_ACKs the clients received that `events` (a log) has no HelloAckSent for:
 * per connection (found by its remote address in SlaveConnected), received − recorded.
 */
export function ackedMissing(events: readonly LedgerEvent[], acks: AckCounters): number {
  const connOf = new Map<string, number>();
  const sent = new Map<number, number>();
  for (const e of events) {
    if (e.type === 'SlaveConnected') connOf.set(e.remote, e.conn);
    else if (e.type === 'HelloAckSent') sent.set(e.conn, (sent.get(e.conn) ?? 0) + 1);
  }
  let missing = 0;
  for (const c of acks.clients) {
    const conn = connOf.get(c.remote);
    missing += Math.max(0, c.acks() - (conn === undefined ? 0 : (sent.get(conn) ?? 0)));
  }
  return missing;
}
