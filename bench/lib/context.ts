/** The bench run's flags (--quick, --fsync, --profile, --only, --http-conns, --master-flags), its configuration, work directories and the types the sections share. */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BENCH_DIR, Child, killAll } from './rpc.js';
import type { LatencySummary } from './stats.js';

// ---------------------------------------------------------------- configuration

export const argv = process.argv.slice(2);
export const flag = (name: string): string | undefined => {
  const a = argv.find((x) => x === `--${name}` || x.startsWith(`--${name}=`));
  return a === undefined ? undefined : a.includes('=') ? a.slice(a.indexOf('=') + 1) : '';
};
export const QUICK = flag('quick') !== undefined;
/** --fsync: the master syncs every group commit (what it costs: compare with a run without). */
export const FSYNC = flag('fsync') !== undefined;
export const PROFILE = flag('profile') !== undefined;
export const SECTIONS = ['ingest', 'latency', 'query', 'replay', 'restart', 'memory', 'followers', 'ha', 'failover', 'herd'] as const;
export type Section = (typeof SECTIONS)[number];
export const only = flag('only');
if (only === 'binquery') {
  // binary queries: a standalone section (bench/query-binary.ts), run alone
  const { benchBinaryQuery } = await import('../query-binary.js');
  await benchBinaryQuery();
  process.exit(0);
}
export const enabled = new Set<Section>(only ? (only.split(',') as Section[]) : SECTIONS);
for (const s of enabled) if (!SECTIONS.includes(s)) throw new Error(`--only: unknown section ${s} (one of ${SECTIONS.join(', ')})`);

export const CFG = QUICK
  ? {
      rounds: 1,
      latencyRounds: 1,
      httpRounds: 1,
      ingestConns: [1, 100, 1000],
      ingestWarmupMs: 400,
      ingestMeasureMs: 1200,
      latencyWarmupMs: 500,
      latencyMeasureMs: 1500,
      queryNodes: 10_000,
      httpConns: 8,
      httpClients: ['node', 'raw'] as HttpClient[],
      httpWarmupMs: 400,
      httpMeasureMs: 1500,
      appendEvents: 300_000,
      replaySizes: [1_000_000],
      replayRounds: 2,
      restartTrials: 2,
      memoryNodes: [10_000, 100_000],
    }
  : {
      rounds: 2,
      latencyRounds: 3,
      httpRounds: 3,
      ingestConns: [1, 100, 1000],
      ingestWarmupMs: 1000,
      ingestMeasureMs: 3000,
      latencyWarmupMs: 1000,
      latencyMeasureMs: 5000,
      queryNodes: 10_000,
      httpConns: 8,
      httpClients: ['node', 'raw'] as HttpClient[],
      httpWarmupMs: 1000,
      httpMeasureMs: 4000,
      appendEvents: 1_000_000,
      replaySizes: [1_000_000, 10_000_000],
      replayRounds: 2,
      restartTrials: 3,
      memoryNodes: [10_000, 100_000],
    };
/** Extra node flags for the master process (experiments: --master-flags="--max-semi-space-size=64"). */
export const MASTER_FLAGS = (flag('master-flags') ?? '').split(' ').filter(Boolean);
export const httpConnsFlag = flag('http-conns');
if (httpConnsFlag) CFG.httpConns = Number(httpConnsFlag);
/** Replay logs: like the ingest figure, 1000 nodes heartbeating; 1 in 10,000 heartbeats is a reconnect. */
export const REPLAY_NODES = 1000;
export const REPLAY_CHURN = 1e-4;
/** As the master (MASTER_DEFAULTS.snapshotEvery). */
export const SNAPSHOT_EVERY = 100_000;

export const ROOT = resolve(BENCH_DIR, '..', '..');
export const WORK = join(ROOT, 'bench', '.work');
mkdirSync(WORK, { recursive: true });
export const RUN = mkdtempSync(join(WORK, 'run-'));
export const STAMP = new Date().toISOString().replace(/[:.]/g, '-');
export const PROF_DIR = join(WORK, 'profiles', STAMP);
export const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');

let cleaned = false;
export function cleanup(): void {
  if (cleaned) return;
  cleaned = true;
  killAll();
  rmSync(RUN, { recursive: true, force: true });
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    process.stderr.write(`\nbench: ${sig}, cleaning up\n`);
    cleanup();
    process.exit(130);
  });
}

export const log = (s: string): void => void process.stderr.write(`bench: ${s}\n`);
export const profArgs = (name: string): string[] => (PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${join(PROF_DIR, name)}`] : []);
let dirCount = 0;
export const freshDir = (name: string): string => join(RUN, `${name}-${++dirCount}`);

// ---------------------------------------------------------------- shared types

export type HttpClient = 'node' | 'raw';

export interface MasterInfo {
  listen: { host: string; port: number };
  http: { host: string; port: number } | null;
  /** The agent-check port (the herd section's masters; null otherwise). */
  agent?: { host: string; port: number } | null;
  msgpackrNative?: boolean;
  native?: string[];
}
export interface ServerStats {
  t: number;
  cpu: NodeJS.CpuUsage;
  events: number;
  writes?: number;
  maxBatch?: number;
  lastSeq?: number;
  rss?: number;
  heapUsed?: number;
  nodes?: number;
  eligible?: number;
  conns?: number;
}
export interface GenResult {
  tail?: [number, number][];
  wallMs: number;
  completed: number;
  sent: number;
  pings: number;
  closed: number;
  outstanding: number;
  cpu: number;
  latency: LatencySummary;
}
export interface HttpResult {
  wallMs: number;
  ok: number;
  bad: number;
  errors: number;
  lastStatus: number;
  sockets: number;
  cpu: number;
  latency: LatencySummary;
}

export const cpuBetween = (a: ServerStats, b: ServerStats): number =>
  (b.cpu.user + b.cpu.system - a.cpu.user - a.cpu.system) / 1000 / (b.t - a.t);

export function startMaster(
  name: string,
  opts: {
    http?: boolean;
    helloInterval?: number;
    deadAfter?: number;
    profile?: boolean;
    stubStorage?: boolean;
    agent?: boolean;
    weights?: { interval: number; min: number; step: number };
  } = {},
): Promise<Child<MasterInfo>> {
  const data = freshDir('master');
  return Child.start<MasterInfo>('master-proc', name, {
    args: [
      JSON.stringify({
        data,
        http: opts.http ?? false,
        helloInterval: opts.helloInterval,
        deadAfter: opts.deadAfter,
        profileDir: opts.profile ? PROF_DIR : undefined,
        stubStorage: opts.stubStorage,
        sync: FSYNC,
        agent: opts.agent,
        weights: opts.weights,
      }),
    ],
    execArgv: MASTER_FLAGS,
  });
}
