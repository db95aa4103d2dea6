import { Counter, Gauge, type Registry } from 'prom-client';
import { CUT_REASONS, type Followers } from './followers.js';

/** The HTTP API's connections: open now, refused over --max-http-connections, accept() failures. */
export interface HttpConnections {
  open: number;
  refused: number;
  /** Closed as they arrived: too few file descriptors left (src/util/descriptors.ts). */
  fdRefused: number;
  acceptErrors: number;
}

/** What /metrics reads of the HTTP API itself. */
export interface HttpApiStats {
  readonly followers: Pick<Followers, 'live' | 'counts' | 'buffered' | 'blocked' | 'tail'>;
  readonly connections: HttpConnections;
}

/**
 * The HTTP API's own metrics, in the master's registry: its live tails (how many, refused,
 * cut off, what their sockets hold, the shared tail) and its connections.
 */
export function registerApiMetrics(registry: Registry, { followers, connections }: HttpApiStats): void {
  const registers = [registry];
  new Gauge({
    name: 'loadledger_followers',
    help: 'Live tails (/v1/events?follow=1) being served.',
    registers,
    collect() {
      this.set(followers.live);
    },
  });
  new Counter({
    name: 'loadledger_followers_refused_total',
    help: 'Live tails refused (503 TOO_MANY_FOLLOWERS) beyond --max-followers.',
    registers,
    collect() {
      this.reset();
      this.inc(followers.counts.refused);
    },
  });
  new Counter({
    name: 'loadledger_followers_cut_total',
    help: '/v1/events streams cut off (last error line, socket destroyed): stalled (took nothing for --follow-stall-timeout), retention (behind the oldest retained event).',
    labelNames: ['reason'],
    registers,
    collect() {
      this.reset();
      for (const reason of CUT_REASONS) this.inc({ reason }, followers.counts.cut[reason]);
    },
  });
  new Gauge({
    name: 'loadledger_followers_buffered_bytes',
    help: 'Bytes waiting on the sockets of /v1/events streams: the total, and the largest of one stream (bounded by the master; see docs/guarantees.md).',
    labelNames: ['of'],
    registers,
    collect() {
      const { total, max } = followers.buffered();
      this.set({ of: 'total' }, total);
      this.set({ of: 'max' }, max);
    },
  });
  new Gauge({
    name: 'loadledger_followers_blocked',
    help: '/v1/events streams whose socket takes nothing now although they have events to send (clients not reading; cut after --follow-stall-timeout).',
    registers,
    collect() {
      this.set(followers.blocked());
    },
  });
  new Gauge({
    name: 'loadledger_followers_tail_events',
    help: 'Committed events held in the live tail shared by every follower (bounded).',
    registers,
    collect() {
      this.set(followers.tail.held);
    },
  });
  new Gauge({
    name: 'loadledger_http_connections',
    help: 'Open connections to the HTTP API.',
    registers,
    collect() {
      this.set(connections.open);
    },
  });
  new Counter({
    name: 'loadledger_http_refused_total',
    help: 'Connections to the HTTP API closed as they arrived: max_connections (over --max-http-connections), descriptors (too few file descriptors left, ulimit -n), accept_failed (an error from accept()).',
    labelNames: ['reason'],
    registers,
    collect() {
      this.reset();
      this.inc({ reason: 'max_connections' }, connections.refused);
      this.inc({ reason: 'descriptors' }, connections.fdRefused);
      this.inc({ reason: 'accept_failed' }, connections.acceptErrors);
    },
  });
}
