import { Counter, Histogram, type Registry } from 'prom-client';
import type { IntegrationView } from '../ledger/view.js';

/** An answer to a proxy or a discovery poll is read from memory: well under a millisecond, unless the process is starved. */
const ANSWER_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

/**
 * The interfaces for consumers that are on (docs/integrations.md), one `interface` label
 * each: requests and errors (read from their counters at scrape time), and each answer's
 * time (observed as it is given).
 */
export function registerIntegrationMetrics(registry: Registry, integrations: readonly IntegrationView[]): void {
  const registers = [registry];
  new Counter({
    name: 'loadledger_integration_requests_total',
    help: 'Requests answered by each interface for consumers (prometheus-sd, envoy-eds, ...), errors included.',
    labelNames: ['interface'],
    registers,
    collect() {
      this.reset();
      for (const i of integrations) this.inc({ interface: i.name }, i.stats.requests);
    },
  });
  new Counter({
    name: 'loadledger_integration_errors_total',
    help: 'Requests of each interface for consumers answered with an error (a bad request; the master DOWN).',
    labelNames: ['interface'],
    registers,
    collect() {
      this.reset();
      for (const i of integrations) this.inc({ interface: i.name }, i.stats.errors);
    },
  });
  new Counter({
    name: 'loadledger_integration_events_total',
    help: 'Counts of their own that interfaces for consumers keep, by kind (dns: dropped packets that were no query, truncated UDP answers).',
    labelNames: ['interface', 'kind'],
    registers,
    collect() {
      this.reset();
      for (const i of integrations) for (const [kind, n] of Object.entries(i.counts?.() ?? {})) this.inc({ interface: i.name, kind }, n);
    },
  });
  const latency = new Histogram({
    name: 'loadledger_integration_answer_seconds',
    help: 'Time to answer one request of an interface for consumers.',
    labelNames: ['interface'],
    buckets: ANSWER_BUCKETS,
    registers,
  });
  for (const i of integrations) {
    latency.zero({ interface: i.name });
    i.stats.onAnswer = (seconds) => latency.observe({ interface: i.name }, seconds);
  }
}
