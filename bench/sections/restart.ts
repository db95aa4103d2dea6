/** Bench section: 5. restart. */
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { track } from '../lib/rpc.js';
import { fmtInt, fmtMs } from '../lib/format.js';
import { median } from '../lib/stats.js';
import { CFG, CLI, log, profArgs, freshDir } from '../lib/context.js';

export interface RestartResult {
  events: number;
  /** Events after the last snapshot, folded at start-up. */
  tail: number;
  trialsMs: number[];
  medianMs: number;
  line: string;
}

export function spawnTimed(
  args: string[],
  until: (stderr: string) => boolean,
  stopAfter: boolean,
): Promise<{ ms: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const cp = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    track(cp);
    let err = '';
    let ms = -1;
    cp.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (ms < 0 && until(err)) {
        ms = performance.now() - t0;
        if (stopAfter) cp.kill('SIGTERM');
      }
    });
    const killer = setTimeout(() => cp.kill('SIGKILL'), 120_000);
    cp.once('exit', (code) => {
      clearTimeout(killer);
      if (ms < 0 && !stopAfter && code === 0) ms = performance.now() - t0;
      if (ms < 0) reject(new Error(`${args.join(' ')}: exited ${code} before it was up: ${err.trim()}`));
      else resolve({ ms, stderr: err });
    });
  });
}

export async function restart(events: number, dir: string, profile: boolean, tail = 0): Promise<RestartResult> {
  const trials: number[] = [];
  let line = '';
  for (let i = 0; i < CFG.restartTrials; i++) {
    const exec = profile && i === CFG.restartTrials - 1 ? profArgs(`restart-${events}`) : [];
    const r = await spawnTimed(
      [...exec, CLI, 'master', '--data', dir, '--listen', '127.0.0.1:0', '--http', '127.0.0.1:0', '--log-format', 'human'],
      (s) => s.includes('UP_LISTENING'),
      true,
    );
    trials.push(r.ms);
    line = r.stderr.split('\n').find((l) => l.includes('UP_LISTENING')) ?? '';
  }
  const res = { events, tail, trialsMs: trials, medianMs: median(trials), line };
  log(`restart with ${fmtInt(events)} events (${fmtInt(tail)} after the last snapshot): ${trials.map(fmtMs).join(', ')} (${line.trim()})`);
  return res;
}

export async function processFloor(): Promise<{ versionMs: number; emptyLogMs: number }> {
  const v: number[] = [];
  const e: number[] = [];
  for (let i = 0; i < CFG.restartTrials; i++) {
    v.push((await spawnTimed([CLI, '--version'], () => false, false)).ms);
    e.push(
      (
        await spawnTimed(
          [CLI, 'master', '--data', freshDir('empty'), '--listen', '127.0.0.1:0', '--http', '127.0.0.1:0'],
          (s) => s.includes('UP_LISTENING'),
          true,
        )
      ).ms,
    );
  }
  const r = { versionMs: median(v), emptyLogMs: median(e) };
  log(`restart floors: 'loadledger --version' ${fmtMs(r.versionMs)}, master on an empty log ${fmtMs(r.emptyLogMs)}`);
  return r;
}
