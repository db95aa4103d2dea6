/**
 * A real Prometheus for one test (Debian's prometheus): a generated config with one
 * `http_sd_configs` job on a short refresh, a temp storage dir, its web API on a loopback
 * port that was free a moment ago. Runs as a child process, stopped by its PID at cleanup.
 * Without the binary the test file skips with one line saying how to install it — except
 * under CI=true, where a missing prometheus fails the run (.ci/run installs it).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Cleanup } from './cleanup.js';
import { component } from './component.js';
import { closedPort } from './net.js';
import { waitFor } from './wait.js';

const PROMETHEUS = component('prometheus', ['/usr/bin/prometheus', '/usr/local/bin/prometheus'], 'prometheus', 'Prometheus SD tests');
export const PROMETHEUS_BIN = PROMETHEUS.bin;
export const prometheusAvailable = (): boolean => PROMETHEUS.available();

/** One target as `/api/v1/targets` shows it. */
export interface ActiveTarget {
  discoveredLabels: Record<string, string>;
  labels: Record<string, string>;
  scrapePool: string;
  health: string;
}

export interface TestPrometheus {
  readonly port: number;
  readonly pid: number;
  /** The generated configuration, as written. */
  readonly config: string;
  /** The last lines it wrote (warnings: a failed discovery says why). */
  output(): string;
  /** `GET /api/v1/targets?state=active`: the active targets of the job. */
  targets(): Promise<ActiveTarget[]>;
}

/** One scrape job whose targets come from loadledger's SD endpoint. */
export interface SdJob {
  name: string;
  /** The SD URL (`http://127.0.0.1:7480/v1/sd/prometheus?service=api`). */
  url: string;
  /** A file holding the API token, when reads need it. */
  tokenFile?: string;
  /** More lines of the job (relabel_configs), indented as the job's keys. */
  extra?: string[];
}

/**
 * The configuration docs/integrations.md shows, for tests: jobs discovering their targets
 * from loadledger, refreshed every `refresh`. Scrapes are rare (the targets are loopback
 * addresses where nothing answers: only discovery is under test).
 */
export function prometheusConfig(
  jobs: readonly SdJob[],
  opts: { refresh: string; scrapeInterval: string } = { refresh: '1s', scrapeInterval: '1m' },
): string {
  const { refresh } = opts;
  const lines = ['global:', `  scrape_interval: ${opts.scrapeInterval}`, 'scrape_configs:'];
  for (const j of jobs) {
    lines.push(`  - job_name: ${j.name}`, '    http_sd_configs:', `      - url: '${j.url}'`, `        refresh_interval: ${refresh}`);
    // `type: Bearer` spelled out: Debian's Prometheus 2.42 sends the bare token without it
    if (j.tokenFile) lines.push('        authorization:', '          type: Bearer', `          credentials_file: ${j.tokenFile}`);
    lines.push(...(j.extra ?? []).map((l) => `    ${l}`));
  }
  return lines.join('\n') + '\n';
}

export async function startPrometheus(cleanup: Cleanup, config: string): Promise<TestPrometheus> {
  if (!PROMETHEUS_BIN) throw new Error(PROMETHEUS.install);
  const dir = await cleanup.tempDir('loadledger-prometheus-');
  const file = join(dir, 'prometheus.yml');
  writeFileSync(file, config);
  const promtool = spawnSync('promtool', ['check', 'config', file], { encoding: 'utf8' });
  if (promtool.status !== null && promtool.status !== 0 && !promtool.error)
    throw new Error(`promtool refused the config: ${promtool.stdout}${promtool.stderr}\n${config}`);
  const port = await closedPort();
  let output = '';
  const proc: ChildProcess = spawn(
    PROMETHEUS_BIN,
    [`--config.file=${file}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  proc.stderr!.setEncoding('utf8').on('data', (s: string) => (output = (output + s).slice(-8000)));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  cleanup.defer('stop prometheus', async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    process.kill(proc.pid!, 'SIGTERM');
    await exited;
  });
  const base = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => {
      if (proc.exitCode !== null) throw new Error(`prometheus exited (${proc.exitCode}): ${output}`);
      const res = await fetch(`${base}/-/ready`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
      return res?.status === 200;
    },
    { what: 'prometheus to be ready', timeout: 30_000, interval: 100, describe: () => output },
  );
  return {
    port,
    pid: proc.pid!,
    config,
    output: () => output,
    async targets() {
      const res = await fetch(`${base}/api/v1/targets?state=active`, { signal: AbortSignal.timeout(5000) });
      const body = (await res.json()) as { status: string; data: { activeTargets: ActiveTarget[] } };
      if (body.status !== 'success') throw new Error(`prometheus /api/v1/targets: ${JSON.stringify(body)}`);
      return body.data.activeTargets;
    },
  };
}
