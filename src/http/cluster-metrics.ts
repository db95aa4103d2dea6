import { Counter, Gauge, type Registry } from 'prom-client';
import type { MetricsSource } from '../ledger/view.js';

const ROLES = ['leader', 'standby', 'candidate', 'standalone'] as const;

/**
 * Master HA metrics (docs/ha.md): role, term, replication lag, elections won, and whether
 * `--ack standby` has fallen back to acknowledging locally. A master running alone reports
 * role `standalone`, term 0, lag 0.
 */
export function registerClusterMetrics(registry: Registry, master: MetricsSource): void {
  const registers = [registry];
  const doc = () => master.cluster?.document();
  new Gauge({
    name: 'loadledger_cluster_role',
    help: '1 for the role this master has now (leader, standby, candidate, standalone), 0 for the others.',
    labelNames: ['role'],
    registers,
    collect() {
      const role = doc()?.role ?? 'standalone';
      for (const r of ROLES) this.set({ role: r }, r === role ? 1 : 0);
    },
  });
  new Gauge({
    name: 'loadledger_cluster_term',
    help: 'The leadership term this master knows of (its own while it leads; 0 running alone).',
    registers,
    collect() {
      this.set(doc()?.term ?? 0);
    },
  });
  new Gauge({
    name: 'loadledger_replication_lag_events',
    help: 'Events the leader has that this standby does not yet (0 on the leader).',
    registers,
    collect() {
      this.set(master.cluster?.lag().seq ?? 0);
    },
  });
  new Gauge({
    name: 'loadledger_replication_lag_seconds',
    help: 'Seconds since this standby last had everything the leader had (0 on the leader).',
    registers,
    collect() {
      this.set((master.cluster?.lag().ms ?? 0) / 1000);
    },
  });
  new Counter({
    name: 'loadledger_elections_won_total',
    help: 'Elections this master has won since it started.',
    registers,
    collect() {
      this.reset();
      this.inc(doc()?.elections ?? 0);
    },
  });
  new Gauge({
    name: 'loadledger_ack_local',
    help: '1 while the leader acknowledges on its own disk alone: --ack local, or --ack standby with no standby in sync.',
    registers,
    collect() {
      this.set((doc()?.ack.local ?? true) ? 1 : 0);
    },
  });
}
