import { isIPv6, type BlockList } from 'node:net';
import { parseAllowList } from '../util/cidr.js';

export { parseAllowList } from '../util/cidr.js';

/**
 * Who may connect, and how often: the master's first line against hostile or broken
 * peers, decided before a connection gets a number or an event.
 *
 * - `allow`: CIDR ranges (`--allow`, repeatable); none means everyone.
 * - a token bucket of connections per peer IP (`--connect-rate`/s, bursts of
 *   `--connect-burst`): a slave that connects and disconnects in a tight loop cannot grow
 *   the log faster than about 2 × rate events per second (SlaveConnected and its end),
 *   plus at most one SlaveRefused per second per peer for everything refused.
 *
 * Pure: every call takes the monotonic time; nothing here reads a clock.
 */
export interface AdmissionOptions {
  /** CIDR ranges ("10.0.0.0/8", "::1/128", a bare address); empty: everyone. */
  allow: readonly string[];
  /** Connections per second per peer IP (0: no limit). */
  rate: number;
  /** How many may come at once before the rate applies. */
  burst: number;
}

export type Verdict = { ok: true } | { ok: false; reason: string };

interface Peer {
  tokens: number;
  at: number;
  /** Refusals not yet recorded, and when one was last recorded. */
  unrecorded: number;
  recordedAt: number;
}

const OK: Verdict = { ok: true };

export class Admission {
  private readonly allow: BlockList | null;
  private readonly peers = new Map<string, Peer>();

  constructor(readonly options: AdmissionOptions) {
    this.allow = options.allow.length > 0 ? parseAllowList(options.allow) : null;
  }

  /** Whether a connection from `ip` may be accepted now (and takes a token if so). */
  admit(ip: string, now: number): Verdict {
    if (this.allow && !this.allow.check(ip, isIPv6(ip) ? 'ipv6' : 'ipv4')) {
      return { ok: false, reason: `${ip} is not in --allow (${this.options.allow.join(', ')})` };
    }
    const { rate, burst } = this.options;
    if (rate <= 0) return OK;
    const p = this.peer(ip, now);
    p.tokens = Math.min(burst, p.tokens + ((now - p.at) * rate) / 1000);
    p.at = now;
    if (p.tokens < 1) return { ok: false, reason: `connection rate limit (${rate}/s per peer, bursts of ${burst})` };
    p.tokens -= 1;
    return OK;
  }

  /**
   * A refusal of `ip` happened: whether to record it (at most one event per second per
   * peer) and how many earlier refusals went unrecorded since the last one.
   */
  refusal(ip: string, now: number): { record: boolean; unrecorded: number } {
    const p = this.peer(ip, now);
    if (p.recordedAt >= 0 && now - p.recordedAt < 1000) {
      p.unrecorded++;
      return { record: false, unrecorded: 0 };
    }
    const unrecorded = p.unrecorded;
    p.unrecorded = 0;
    p.recordedAt = now;
    return { record: true, unrecorded };
  }

  /** Forgets peers idle for a while (a full bucket and nothing pending): bounded memory. */
  prune(now: number, idleMs = 60_000): void {
    for (const [ip, p] of this.peers) {
      if (now - p.at > idleMs && now - p.recordedAt > idleMs && p.unrecorded === 0) this.peers.delete(ip);
    }
  }

  get trackedPeers(): number {
    return this.peers.size;
  }

  private peer(ip: string, now: number): Peer {
    let p = this.peers.get(ip);
    if (!p) this.peers.set(ip, (p = { tokens: this.options.burst, at: now, unrecorded: 0, recordedAt: -1 }));
    return p;
  }
}
