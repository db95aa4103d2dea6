/**
 * Masters of one cluster in the test process, on a real etcd: what every such test file
 * needs, once. The etcd is started before the file's tests (when it is installed: `run` says
 * so, for `describe.runIf`) and stopped by its PID after them; `cleanup` runs after each
 * test; `member` gives the options of one master.
 */
import { afterAll, afterEach, beforeAll } from 'vitest';
import { Cleanup } from './cleanup.js';
import { etcdAvailable, startEtcd, type TestEtcd } from './etcd.js';
import type { TestMasterOptions } from './master.js';

/**
 * No in-process HA test waits for a lease to run out (a hand-over resigns), so the lease is
 * long: with 1 s a leader on a busy machine (two suites at once) could miss its deadline,
 * fence itself as designed and let the other win, and a test's client would reach a standby.
 */
export const HA_TEST_LEASE_MS = 5000;

export interface InProcessHa {
  /** etcd is installed here (else the file's tests are skipped, with the line etcd.ts says). */
  readonly run: boolean;
  /** Run after each test: masters, clients. */
  readonly cleanup: Cleanup;
  /** A cluster name of its own for one test (etcd is shared by the file's tests). */
  readonly cluster: (prefix?: string) => string;
  /** The options of master `node` of `cluster`: this etcd, a long lease, quick liveness. */
  readonly member: (node: string, cluster: string, extra?: TestMasterOptions) => TestMasterOptions;
}

export function inProcessHa(): InProcessHa {
  const run = etcdAvailable();
  const fileCleanup = new Cleanup();
  const cleanup = new Cleanup();
  let etcd: TestEtcd | undefined;
  let n = 0;
  beforeAll(async () => {
    if (run) etcd = await startEtcd(fileCleanup);
  });
  afterEach(() => cleanup.run());
  afterAll(() => fileCleanup.run());
  return {
    run,
    cleanup,
    cluster: (prefix = 't') => `${prefix}${++n}-${process.pid}`,
    member: (node, cluster, extra = {}) => {
      if (!etcd) throw new Error('inProcessHa: etcd is not running (use describe.runIf(run))');
      return { etcd: [etcd.url], nodeId: node, leaseTtl: HA_TEST_LEASE_MS, cluster, helloInterval: 200, deadAfter: 1000, ...extra };
    },
  };
}
