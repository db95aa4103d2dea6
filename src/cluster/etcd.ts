import { noop, type IPolicy } from 'cockatiel';
import { Etcd3, type Namespace } from 'etcd3';
import type { Clock, TimerHandle } from '../clock.js';
import { fenceDeadline, keepAliveInterval, type InSyncRecord } from '../decisions/ha.js';
import type { Coordinator, LeaderInfo, MemberInfo } from './coordinator.js';

export interface EtcdCoordinatorOptions {
  /** etcd client URLs (`http://host:2379`). */
  endpoints: string[];
  /** Key prefix of this cluster (`--cluster`). */
  cluster: string;
  /** The lease TTL asked for (ms; etcd grants whole seconds, at least its minimum). */
  ttl: number;
  scheduler: Clock;
}

/**
 * The election on etcd, as a small session of our own on the lease and transaction API
 * rather than etcd3's Election: a campaign there holds a lease while it waits and can
 * resolve after that lease is gone (see docs/ha.md). Here a node holds one session lease,
 * renewed by one keep-alive per interval, each on its own short stream with a deadline, so
 * the time it was *sent* is known exactly: that time + the granted TTL − a margin is the
 * deadline the leader fences on. The leader key is created in one transaction (compare:
 * it does not exist, and the in-sync record is still the one read) with that lease; the
 * term is the revision of that transaction, the key's create revision, which only grows.
 *
 *   <cluster>/leader          {node, listen, http}   lease: the leader's session
 *   <cluster>/insync          {term, members, mode}  written by the leader, guarded by its key
 *   <cluster>/members/<node>  {node, listen, http, role}  lease: that member's session
 */
export class EtcdCoordinator implements Coordinator {
  deadline = 0;
  lease = '';
  grantedTtl = 0;
  private readonly client: Etcd3;
  private readonly ns: Namespace;
  private timer: TimerHandle | undefined;
  private member: MemberInfo | undefined;
  private granting = false;
  private renewing = false;
  private closed = false;

  constructor(private readonly options: EtcdCoordinatorOptions) {
    const policy: IPolicy = noop;
    this.client = new Etcd3({
      hosts: options.endpoints,
      // Our own loops retry; the default circuit breaker would refuse every call for 5 s
      // after three failures (an etcd restart), and its retries would outlast the TTL.
      faultHandling: { host: () => policy, global: policy },
      grpcOptions: {
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': 1000,
        'grpc.keepalive_time_ms': 1000,
        'grpc.keepalive_timeout_ms': 1000,
      },
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + Math.max(500, this.options.ttl / 2) }),
    });
    this.ns = this.client.namespace(`${options.cluster}/`);
    this.timer = options.scheduler.setInterval(() => this.tick(), keepAliveInterval(options.ttl));
    this.timer.unref();
    this.tick();
  }

  private now(): number {
    return this.options.scheduler.now();
  }

  private tick(): void {
    if (this.closed) return;
    if (this.lease === '') void this.grant();
    else void this.renew();
  }

  private async grant(): Promise<void> {
    if (this.granting) return;
    this.granting = true;
    try {
      const sent = this.now();
      const res = await this.client.leaseClient.leaseGrant({ TTL: Math.max(1, Math.ceil(this.options.ttl / 1000)) });
      if (this.closed) return;
      this.grantedTtl = Number(res.TTL) * 1000;
      this.lease = String(res.ID);
      this.deadline = fenceDeadline(sent, this.grantedTtl);
      if (this.member) await this.putMember(this.member);
    } catch {
      // etcd out of reach: the next tick tries again
    } finally {
      this.granting = false;
    }
  }

  /** One keep-alive on a stream of its own, with a deadline: the answer moves the deadline. */
  private async renew(): Promise<void> {
    if (this.renewing) return;
    this.renewing = true;
    const lease = this.lease;
    const sent = this.now();
    try {
      const stream = await this.client.leaseClient.leaseKeepAlive({ deadline: Date.now() + this.grantedTtl });
      const res = await new Promise<{ TTL: string | number }>((resolve, reject) => {
        stream.on('data', resolve);
        stream.on('error', reject);
        stream.on('end', () => reject(new Error('keep-alive stream ended')));
        stream.write({ ID: lease });
      });
      stream.end();
      if (this.lease !== lease) return;
      const ttl = Number(res.TTL) * 1000;
      if (ttl <= 0) {
        this.lost(); // etcd says the lease is gone (expired, revoked)
        return;
      }
      this.grantedTtl = ttl;
      this.deadline = Math.max(this.deadline, fenceDeadline(sent, ttl));
    } catch {
      // no answer: the deadline stays where the last answer put it
    } finally {
      this.renewing = false;
    }
  }

  private lost(): void {
    this.lease = '';
    this.deadline = 0;
  }

  /** Gives up the current lease (a fenced leader must not keep its key alive): a new one is granted. */
  abandon(): void {
    const lease = this.lease;
    this.lost();
    if (lease !== '') this.client.leaseClient.leaseRevoke({ ID: lease }).catch(() => {});
  }

  private async putMember(info: MemberInfo): Promise<void> {
    if (this.lease === '') return;
    await this.ns.put(`members/${info.node}`).value(JSON.stringify(info)).lease(this.lease);
  }

  async register(info: MemberInfo): Promise<void> {
    this.member = info;
    await this.putMember(info);
  }

  async leader(): Promise<LeaderInfo | null> {
    const res = await this.ns.get('leader').exec();
    const kv = res.kvs[0];
    if (!kv) return null;
    const v = JSON.parse(kv.value.toString()) as Omit<LeaderInfo, 'term'>;
    return { node: v.node, listen: v.listen, http: v.http, term: Number(kv.create_revision) };
  }

  async campaign(info: Omit<LeaderInfo, 'term'>, inSyncRevision: number): Promise<number | null> {
    const lease = this.lease;
    if (lease === '' || this.now() >= this.deadline) return null;
    const res = await this.ns
      .if('leader', 'Create', '==', 0)
      .and('insync', 'Mod', '==', inSyncRevision)
      .then(this.ns.put('leader').value(JSON.stringify(info)).lease(lease))
      .commit();
    return res.succeeded ? Number(res.header.revision) : null;
  }

  async publish(term: number, info: Omit<LeaderInfo, 'term'>): Promise<void> {
    const lease = this.lease;
    if (lease === '') return;
    await this.ns
      .if('leader', 'Create', '==', term)
      .then(this.ns.put('leader').value(JSON.stringify(info)).lease(lease))
      .commit();
  }

  async resign(term: number): Promise<void> {
    await this.ns.if('leader', 'Create', '==', term).then(this.ns.delete().key('leader')).commit();
  }

  async inSync(): Promise<{ record: InSyncRecord | null; revision: number }> {
    const res = await this.ns.get('insync').exec();
    const kv = res.kvs[0];
    if (!kv) return { record: null, revision: 0 };
    return { record: JSON.parse(kv.value.toString()) as InSyncRecord, revision: Number(kv.mod_revision) };
  }

  async writeInSync(record: InSyncRecord): Promise<boolean> {
    const res = await this.ns
      .if('leader', 'Create', '==', record.term)
      .then(this.ns.put('insync').value(JSON.stringify(record)))
      .commit();
    return res.succeeded;
  }

  async members(): Promise<MemberInfo[]> {
    const all = await this.ns.getAll().prefix('members/').strings();
    return Object.values(all)
      .map((v) => JSON.parse(v) as MemberInfo)
      .sort((a, b) => a.node.localeCompare(b.node));
  }

  async close(): Promise<void> {
    this.closed = true;
    this.options.scheduler.clearInterval(this.timer);
    const lease = this.lease;
    this.lost();
    if (lease !== '') await this.client.leaseClient.leaseRevoke({ ID: lease }).catch(() => {});
    this.client.close();
  }
}
