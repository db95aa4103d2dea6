import type { Duplex } from 'node:stream';
import { AckTracker } from '../cluster/ack.js';
import type { Coordinator, LeaderInfo, MemberInfo } from '../cluster/coordinator.js';
import { EtcdCoordinator } from '../cluster/etcd.js';
import { ReplicationClient, type ReplicaSink } from '../cluster/replication-client.js';
import { ReplicationServer, type ReplicationSource } from '../cluster/replication-server.js';
import type { Clock, TimerHandle } from '../clock.js';
import { mayCampaign } from '../decisions/ha.js';
import type { Ledger } from '../ledger/ledger.js';
import type { ClusterDocument, ClusterView } from '../ledger/view.js';
import { formatAddr } from '../master/connection.js';
import type { TermEntry } from '../projection/state.js';
import type { HostPort } from '../util/hostport.js';
import type { ResolvedMasterOptions } from './options.js';

/** What the operator hears about (src/cli/commands/master.ts turns these into log lines). */
export type ClusterChange =
  | { type: 'elected'; term: number; seq: number }
  | { type: 'following'; leader: string; term: number; seq: number }
  | { type: 'fenced'; term: number; reason: string }
  | { type: 'truncated'; from: number; to: number; leader: string; term: number }
  | { type: 'snapshot'; seq: number; leader: string }
  | { type: 'ack'; local: boolean; members: string[] }
  | { type: 'resigned'; term: number; seq: number; handedOver: boolean }
  | { type: 'etcd'; reachable: boolean; error?: string };

/** What the member asks of the master it runs in (src/node/master.ts). */
export interface ClusterHost {
  readonly ledger: Ledger;
  readonly addresses: { listen: HostPort; http: HostPort | null };
  readonly cluster$: { next(change: ClusterChange): void };
  /** Writes LeaderElected and MasterStarted, then takes slaves (throws when it could not). */
  lead(term: number): Promise<void>;
  /** Stops writing and drops the slaves. */
  stepDown(): void;
}

/**
 * One master of a cluster (docs/ha.md): its session on etcd, the election, and its role.
 * A standby follows the leader's log through a ReplicationClient; the leader serves its
 * standbys through a ReplicationServer and acknowledges as `--ack` says (AckTracker).
 * The leader fences itself from its own deadline (Coordinator.deadline): a timer checks it,
 * and the recorder asks permit() before every append and every acknowledgement.
 */
export class ClusterMember implements ClusterView, ReplicationSource, ReplicaSink {
  private readonly coordinator: Coordinator;
  private readonly scheduler: Clock;
  private readonly server: ReplicationServer;
  /** This node's term while it leads (0 otherwise), and the lease it was won with. */
  term = 0;
  private termLease = '';
  private client: ReplicationClient | undefined;
  private acks: AckTracker | undefined;
  private known: LeaderInfo | null = null;
  private members: MemberInfo[] = [];
  private elections = 0;
  private maxSeenTerm = 0;
  private loop: TimerHandle | undefined;
  private fenceTimer: TimerHandle | undefined;
  private ticking: Promise<void> | undefined;
  private stopped: Promise<void> | undefined;
  private etcdOk = true;
  /** This node holds the term (from the won campaign until it fences). */
  private holding = false;
  /** … and its term has started (LeaderElected and MasterStarted committed). */
  private serving = false;

  /**
   * The leader as clients see it: its term has started, and its lease is provably alive
   * now. (A process resumed after SIGSTOP may answer an HTTP request that waited in its
   * socket before its fence timer runs: the deadline, not the flag, says it no longer leads.)
   */
  get leading(): boolean {
    return this.holding && this.serving && this.permit();
  }

  constructor(
    private readonly host: ClusterHost,
    private readonly options: ResolvedMasterOptions,
  ) {
    this.scheduler = options.scheduler;
    const make = options.coordinator ?? ((o) => new EtcdCoordinator(o));
    this.coordinator = make({ endpoints: options.etcd, cluster: options.cluster, ttl: options.leaseTtl, scheduler: options.scheduler });
    this.server = new ReplicationServer(this, this.scheduler);
    const terms = host.ledger.projection.terms;
    this.maxSeenTerm = terms[terms.length - 1]?.term ?? 0;
  }

  get node(): string {
    return this.options.nodeId;
  }

  /** How often a standby looks at the leader key (ms): a dead leader's key is gone after its TTL. */
  private get pollInterval(): number {
    return Math.max(20, Math.min(100, Math.floor(this.options.leaseTtl / 10)));
  }

  /** Runs the first look at etcd (this node leads or follows after it), then keeps looking. */
  async start(): Promise<void> {
    await this.register('standby');
    await this.tick();
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.loop = this.scheduler.setTimeout(() => {
      this.ticking = this.tick().finally(() => {
        this.ticking = undefined;
        this.schedule();
      });
    }, this.pollInterval);
    this.loop.unref();
  }

  private info(role: string): MemberInfo {
    const { listen, http } = this.host.addresses;
    return { node: this.node, listen: formatAddr(listen.host, listen.port), http: http ? formatAddr(http.host, http.port) : '', role };
  }

  private async register(role: string): Promise<void> {
    try {
      await this.coordinator.register(this.info(role));
    } catch {
      // etcd out of reach: the session registers again with its next lease
    }
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    try {
      if (this.holding) await this.checkLeading();
      else await this.follow();
      this.members = await this.coordinator.members();
      if (!this.etcdOk) this.host.cluster$.next({ type: 'etcd', reachable: true });
      this.etcdOk = true;
    } catch (e) {
      if (this.etcdOk) this.host.cluster$.next({ type: 'etcd', reachable: false, error: (e as Error).message });
      this.etcdOk = false;
    }
  }

  /** The leader: still the key's holder? (The deadline is checked on its own timer.) */
  private async checkLeading(): Promise<void> {
    const leader = await this.coordinator.leader();
    if (!this.holding) return;
    if (!leader || leader.term !== this.term)
      this.fence(leader ? `${leader.node} holds the leader key (term ${leader.term})` : 'the leader key is gone');
  }

  /** A standby or candidate: follow whoever leads, or campaign when nobody does. */
  private async follow(): Promise<void> {
    const leader = await this.coordinator.leader();
    if (this.stopped || this.holding) return;
    this.known = leader;
    if (leader) {
      this.maxSeenTerm = Math.max(this.maxSeenTerm, leader.term);
      if (leader.node !== this.node) this.followLeader(leader);
      return;
    }
    this.client?.close('the leader key is gone');
    const { record, revision } = await this.coordinator.inSync();
    if (!mayCampaign(this.node, this.options.ack, record)) return;
    const { listen, http } = this.info('leader');
    const term = await this.coordinator.campaign({ node: this.node, listen, http }, revision);
    if (term === null || this.stopped) return;
    await this.becomeLeader(term);
  }

  private followLeader(leader: LeaderInfo): void {
    const c = this.client;
    if (c && c.leader.node === leader.node && c.leader.term === leader.term && !c.ended) return;
    c?.close('a new leader');
    if (leader.http === '') return;
    const client: ReplicationClient = new ReplicationClient(this, {
      node: this.node,
      leader,
      // the leader's reads need the token unless they are open (the members share one token)
      token: this.options.auth?.token && !this.options.auth.openReads ? this.options.auth.token.bearer() : undefined,
      scheduler: this.scheduler,
      onTruncate: (dropped, node, term) => this.host.cluster$.next({ type: 'truncated', ...dropped, leader: node, term }),
      onSnapshot: (seq) => this.host.cluster$.next({ type: 'snapshot', seq, leader: leader.node }),
      onClose: () => {
        // a stream that ran ended: look again at once (the leader may have resigned)
        if (client.streamed && !this.stopped && !this.holding) void this.tick();
      },
    });
    this.client = client;
    this.host.cluster$.next({ type: 'following', leader: leader.node, term: leader.term, seq: this.lastSeq });
  }

  /** Won the election: stop following, take the term only while the deadline allows. */
  private async becomeLeader(term: number): Promise<void> {
    const client = this.client;
    this.client = undefined;
    client?.close('this node leads');
    await client?.settled(); // an append still landing must land before this node writes
    this.term = term;
    this.termLease = this.coordinator.lease;
    this.holding = true;
    this.maxSeenTerm = Math.max(this.maxSeenTerm, term);
    this.known = { node: this.node, listen: this.info('leader').listen, http: this.info('leader').http, term };
    // --ack standby with nobody else in the cluster (a member that is stopping does not count)
    const others =
      this.options.ack === 'standby'
        ? await this.coordinator.members().then(
            (ms) => ms.filter((m) => m.node !== this.node && m.role !== 'stopping').length,
            () => 1,
          )
        : 1;
    if (!this.permit()) return this.fence('the lease deadline passed before the term started');
    this.elections++;
    const acks = new AckTracker(term, {
      mode: this.options.ack,
      timeout: this.options.ackTimeout,
      alone: others === 0,
      scheduler: this.scheduler,
      write: (r) => this.coordinator.writeInSync(r),
      onChange: (local, members) => this.host.cluster$.next({ type: 'ack', local, members }),
    });
    this.acks = acks;
    this.host.ledger.recorder.gate = {
      permit: () => this.permit(),
      acked: (seq) => acks.waitFor(seq),
      fenced: () => this.fence('the lease deadline passed'),
    };
    this.fenceTimer = this.scheduler.setInterval(() => {
      if (!this.permit()) this.fence('the lease deadline passed (etcd did not confirm the lease in time)');
    }, 20);
    this.fenceTimer.unref();
    try {
      await this.host.lead(term);
    } catch (e) {
      this.fence(`could not start the term: ${(e as Error).message}`);
      return;
    }
    if (!this.holding) return;
    this.serving = true;
    const info = this.info('leader');
    this.known = { node: this.node, listen: info.listen, http: info.http, term };
    this.host.cluster$.next({ type: 'elected', term, seq: this.host.ledger.log.lastSeq });
    await this.coordinator.publish(term, { node: this.node, listen: info.listen, http: info.http }).catch(() => {});
    await this.register('leader');
  }

  /** True while this node leads and its lease is provably alive. */
  permit(): boolean {
    return this.holding && this.coordinator.lease === this.termLease && this.scheduler.now() < this.coordinator.deadline;
  }

  /** Stops leading at once: nothing more is appended or acknowledged, slaves are dropped. */
  private fence(reason: string): void {
    if (!this.holding) return;
    const term = this.term;
    this.holding = false;
    this.serving = false;
    this.term = 0;
    this.scheduler.clearInterval(this.fenceTimer);
    this.acks?.stop();
    this.acks = undefined;
    this.server.close();
    this.coordinator.abandon();
    this.host.stepDown();
    this.known = null;
    this.host.cluster$.next({ type: 'fenced', term, reason });
    // A stopping member stays 'stopping' (registered before it resigned): a 'standby' put here
    // could land with the session's next lease and make the next leader wait for it (doStop)
    if (!this.stopped) void this.register('standby');
  }

  /**
   * A graceful stop: the leader (its slave port closed and MasterStopped committed by the
   * master) waits up to a second for a standby to have everything, then resigns; the
   * session ends (its lease revoked: its keys go with it).
   */
  stop(): Promise<void> {
    this.stopped ??= this.doStop();
    return this.stopped;
  }

  private async doStop(): Promise<void> {
    this.scheduler.clearTimeout(this.loop);
    await this.ticking?.catch(() => {});
    if (this.holding) {
      const term = this.term;
      const seq = this.host.ledger.log.lastSeq;
      const handedOver = await this.waitForStandby(seq, 1000);
      // said before the key goes, so the next leader does not wait for this one's acknowledgements
      await this.register('stopping');
      await this.coordinator.resign(term).catch(() => {});
      this.host.cluster$.next({ type: 'resigned', term, seq, handedOver });
      this.fence('stopping');
    }
    this.client?.close('stopping');
    this.server.close();
    await this.coordinator.close().catch(() => {});
  }

  private async waitForStandby(seq: number, ms: number): Promise<boolean> {
    const until = this.scheduler.now() + ms;
    const has = (): boolean => [...(this.acks?.acked.values() ?? [])].some((s) => s >= seq);
    while (!has() && this.scheduler.now() < until && this.server.followers > 0)
      await new Promise<void>((r) => this.scheduler.setTimeout(r, 10));
    return has();
  }

  // ---- ClusterView (the HTTP API)

  lag(): { seq: number; ms: number } {
    if (this.holding) return { seq: 0, ms: 0 };
    if (this.client) return this.client.lag();
    return { seq: 0, ms: 0 };
  }

  document(): ClusterDocument {
    const known = this.known;
    const acks = this.acks;
    return {
      role: this.leading ? 'leader' : this.client?.connected ? 'standby' : 'candidate',
      term: this.holding ? this.term : (known?.term ?? this.maxSeenTerm),
      node: this.node,
      leader: known ? { node: known.node, listen: known.listen, http: known.http } : null,
      seq: this.host.ledger.log.lastSeq,
      lag: this.lag(),
      ack: { mode: this.options.ack, inSync: acks ? [...acks.members] : [], local: this.options.ack === 'local' || (acks?.local ?? false) },
      members: this.members.map((m) => ({ ...m })),
      elections: this.elections,
    };
  }

  replicate(socket: Duplex): void {
    if (!this.holding) return void socket.destroy();
    this.server.accept(socket);
  }

  // ---- ReplicationSource (this node leads)

  get log(): Ledger['log'] {
    return this.host.ledger.log;
  }

  get terms(): readonly TermEntry[] {
    return this.host.ledger.projection.terms;
  }

  onCommit(listener: () => void): () => void {
    return this.host.ledger.onCommit(listener);
  }

  acked(node: string, seq: number): void {
    this.acks?.ack(node, seq);
  }

  follower(node: string, connected: boolean): void {
    this.acks?.follower(node, connected);
  }

  // ---- ReplicaSink (this node follows)

  get lastSeq(): number {
    return this.host.ledger.log.lastSeq;
  }

  get maxTerm(): number {
    return this.maxSeenTerm;
  }

  truncateAfter(seq: number): Promise<{ from: number; to: number }> {
    return this.host.ledger.truncateAfter(seq);
  }

  resetToSnapshot(seq: number, value: Buffer): Promise<void> {
    return this.host.ledger.resetToSnapshot(seq, value);
  }

  append(records: { seq: number; value: Buffer }[]): Promise<void> {
    if (this.holding) return Promise.reject(new Error('a leader does not follow'));
    return this.host.ledger.appendReplicated(records);
  }
}
