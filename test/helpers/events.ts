/**
 * Event builders for reducer tests. The builders return events without `seq`/`ts`
 * (NewEvent); `Stamper` numbers them the way the recorder does: seq gapless from 1, ts
 * from a fixed clock so that the expected documents are exact.
 */
import type { Attrs } from '../../src/protocol/messages.js';
import type { LedgerEvent, NewEvent } from '../../src/events.js';

/** 2023-11-14T22:13:20Z: any fixed instant will do; the reducer never reads a clock. */
export const T0 = 1_700_000_000_000;

export class Stamper {
  seq = 0;
  constructor(private readonly tsOf: (seq: number) => number = (seq) => T0 + seq * 10) {}

  stamp(e: NewEvent): LedgerEvent {
    const seq = ++this.seq;
    return { seq, ts: this.tsOf(seq), ...e };
  }

  stampAll(events: readonly NewEvent[]): LedgerEvent[] {
    return events.map((e) => this.stamp(e));
  }
}

export const ev = {
  masterStarted: (epoch: number): NewEvent => ({
    type: 'MasterStarted',
    epoch,
    listen: '127.0.0.1:7400',
    http: '127.0.0.1:7480',
    pid: 4242,
    helloInterval: 1000,
    deadAfter: 3000,
  }),
  masterStopped: (epoch: number, reason = 'SIGTERM'): NewEvent => ({ type: 'MasterStopped', epoch, reason }),
  connected: (conn: number, remote = `10.0.0.${conn}:${40000 + conn}`): NewEvent => ({ type: 'SlaveConnected', conn, remote }),
  refused: (remote = '10.0.0.99:40099', reason = 'max-slaves (1) reached'): NewEvent => ({ type: 'SlaveRefused', remote, reason }),
  helloReceived: (conn: number): NewEvent => ({ type: 'HelloReceived', conn }),
  helloAckSent: (conn: number): NewEvent => ({ type: 'HelloAckSent', conn }),
  helloSent: (conn: number): NewEvent => ({ type: 'HelloSent', conn }),
  helloAckReceived: (conn: number): NewEvent => ({ type: 'HelloAckReceived', conn }),
  pushed: (conn: number, node: string, load: number, opts: { capacity?: number; attrs?: Attrs } = {}): NewEvent => ({
    type: 'LoadPushed',
    conn,
    node,
    load,
    capacity: opts.capacity ?? 1,
    attrs: opts.attrs ?? {},
  }),
  unknownSkipped: (conn: number, code = 0x8001, length = 3): NewEvent => ({ type: 'UnknownFrameSkipped', conn, code, length }),
  timedOut: (conn: number, silentMs = 3000): NewEvent => ({ type: 'SlaveTimedOut', conn, silentMs }),
  disconnected: (conn: number, reason = 'closed by slave'): NewEvent => ({ type: 'SlaveDisconnected', conn, reason }),
  violated: (conn: number, code = 'PUSH_BAD_LOAD', reason = '"load" is missing'): NewEvent => ({
    type: 'ProtocolViolated',
    conn,
    code,
    reason,
  }),
  superseded: (conn: number, node: string, by: number): NewEvent => ({ type: 'SlaveSuperseded', conn, node, by }),
  left: (conn: number, reason?: string): NewEvent =>
    reason === undefined ? { type: 'SlaveLeft', conn } : { type: 'SlaveLeft', conn, reason },
  drained: (node: string, reason?: string): NewEvent =>
    reason === undefined ? { type: 'NodeDrained', node } : { type: 'NodeDrained', node, reason },
  undrained: (node: string): NewEvent => ({ type: 'NodeUndrained', node }),
  protectionStarted: (nodes: string[], timedOut: number, eligible: number, until: number): NewEvent => ({
    type: 'ProtectionStarted',
    timedOut,
    eligible,
    until,
    nodes,
  }),
  protectionEnded: (reason: 'expired' | 'recovered'): NewEvent => ({ type: 'ProtectionEnded', reason }),
  leaderElected: (term: number, node: string): NewEvent => ({ type: 'LeaderElected', term, node }),
  crashed: (epoch: number, lastSeq: number, lastAt: number): NewEvent => ({ type: 'MasterCrashed', epoch, lastSeq, lastAt }),
  logDamaged: (from: number, to: number | undefined, reason = 'the record at seq 40: the record fails its checksum (CRC-32C)'): NewEvent =>
    to === undefined ? { type: 'LogDamaged', from, reason } : { type: 'LogDamaged', from, to, reason },
};

/**
 * A log as a master records it over two epochs, with every event type: three slaves, a
 * refused one, pings, an unknown frame, a timeout, a violation, a supersession, a clean
 * stop, a restart, reconnections, a slave that leaves with GOODBYE, a connection that
 * leaves before it pushed, and an operator's drains: of a reporting node (which keeps
 * reporting), of a node not yet in the table, and an undrain,
 * and a mass failure that protection covers until it expires; then the master is killed
 * (no MasterStopped) and its next start finds the crash and a damaged record, accepted;
 * then a failover (master HA: LeaderElected).
 */
export const RECORDED_LOG: readonly NewEvent[] = [
  ev.masterStarted(1),
  ev.connected(1),
  ev.connected(2),
  ev.pushed(1, 'gw-a:8080', 30, { attrs: { zone: 'eu-1' } }),
  ev.pushed(2, 'gw-b:8080', 10, { capacity: 2, attrs: { zone: 'eu-2', canary: true } }),
  ev.helloReceived(1),
  ev.helloAckSent(1),
  ev.connected(3),
  ev.pushed(3, 'gw-c:8080', 20),
  ev.refused(),
  ev.helloSent(2),
  ev.helloAckReceived(2),
  ev.unknownSkipped(3, 0x0005, 12),
  ev.pushed(2, 'gw-b:8080', 35, { capacity: 2, attrs: { zone: 'eu-2', canary: true } }),
  ev.connected(4),
  ev.violated(4, 'PUSH_NOT_MAP', 'payload is not a MessagePack map (first byte 0x2a)'),
  ev.timedOut(3, 3012),
  ev.connected(5),
  ev.superseded(1, 'gw-a:8080', 5),
  ev.pushed(5, 'gw-a:8080', 25, { attrs: { zone: 'eu-1' } }),
  ev.connected(6),
  ev.pushed(6, '10.0.0.6', 5),
  ev.disconnected(6, 'connection error ECONNRESET'),
  ev.masterStopped(1, 'SIGTERM'),
  ev.masterStarted(2),
  ev.connected(7),
  ev.pushed(7, 'gw-c:8080', 15),
  ev.connected(8),
  ev.helloReceived(8),
  ev.helloAckSent(8),
  ev.connected(9),
  ev.pushed(9, 'gw-d:8080', 12),
  ev.left(9, 'SIGTERM'),
  ev.connected(10),
  ev.left(10),
  ev.drained('gw-c:8080', 'kernel upgrade'),
  ev.pushed(7, 'gw-c:8080', 3),
  ev.drained('gw-e:8080'),
  ev.connected(11),
  ev.pushed(11, 'gw-e:8080', 1),
  ev.undrained('gw-e:8080'),
  // a partition at the master: the three eligible nodes time out together (gw-c is drained);
  // protection keeps them eligible
  ev.connected(21),
  ev.pushed(21, 'gw-a:8080', 25, { attrs: { zone: 'eu-1' } }),
  ev.connected(22),
  ev.pushed(22, 'gw-b:8080', 30, { capacity: 2 }),
  ev.timedOut(11, 3001),
  ev.protectionStarted(['gw-a:8080', 'gw-b:8080', 'gw-e:8080'], 3, 3, T0 + 120_000),
  ev.timedOut(21, 3002),
  ev.timedOut(22, 3002),
  ev.connected(23),
  ev.pushed(23, 'gw-a:8080', 26, { attrs: { zone: 'eu-1' } }),
  ev.protectionEnded('expired'),
  // seq 53: kill -9; the restart records where the evidence ends, and the damage it accepted
  ev.crashed(2, 52, T0 + 520),
  ev.logDamaged(40, 40),
  ev.masterStarted(3),
  ev.connected(24),
  ev.pushed(24, 'gw-b:8080', 12, { capacity: 2 }),
  // master HA: a failover to node b in term 7
  ev.leaderElected(7, 'b'),
  ev.masterStarted(4),
  ev.connected(25),
  ev.pushed(25, 'gw-a:8080', 27, { attrs: { zone: 'eu-1' } }),
  // gw-b's slave (connection 24, of the previous term) did not re-register within a dead-after
  ev.timedOut(24, 3004),
];
