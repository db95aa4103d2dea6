/**
 * Random byte flips in a real log (issue 12, items 3 and 4): builds a log with the built CLI
 * (two master epochs under a Swarm, stopped with SIGTERM, so that the first epoch is in
 * `.ldb` tables and the second in the write-ahead `.log`), then for each of N seeded flips
 * copies it, flips one byte at a random offset of a random `.ldb` or `.log` file, and runs
 * on the copy what a user would: `replay --at` two points, `verify`, and a master start.
 * Prints one row per flip, as a Markdown table, and a verdict: no row may be a wrong state
 * with exit 0, or a master that starts silently with fewer events.
 *
 *   npm run build && node dist/bench/flips.js [--seed 12] [--flips 20] [--cli dist/src/cli/main.js]
 *
 * Exit 1 when a row is one of the two bad outcomes.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CLI } from './lib/crash.js';
import { Swarm } from './lib/swarm.js';
import { mulberry32 } from './lib/synth.js';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : def;
}
const SEED = Number(arg('seed', '12'));
const FLIPS = Number(arg('flips', '20'));
const cli = resolve(arg('cli', CLI));
const rng = mulberry32(SEED);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], timeoutMs = 60_000): Promise<Run> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [cli, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LOADLEDGER_DEBUG: '', LOADLEDGER_LOG_FORMAT: 'human' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(t);
      done({ code, stdout, stderr });
    });
  });
}

const UP_RE = /UP_LISTENING epoch (\d+), slaves on 127\.0\.0\.1:(\d+).*\(seq (\d+),/;

/** Starts a master; its UP line's slave port and seq, or how it failed. Stopped with SIGTERM after `runMs` (and `load`). */
async function master(
  data: string,
  runMs: number,
  load: boolean,
): Promise<{ up: { port: number; seq: number } | undefined; code: number | null; stderr: string }> {
  const child = spawn(
    process.execPath,
    [cli, 'master', '--data', data, '--listen', '127.0.0.1:0', '--http', '127.0.0.1:0', '--snapshot-every', '3000'],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, LOADLEDGER_DEBUG: '', LOADLEDGER_LOG_FORMAT: 'human' },
    },
  );
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  let up: { port: number; seq: number } | undefined;
  const deadline = Date.now() + 20_000;
  while (!up && child.exitCode === null && Date.now() < deadline) {
    const m = UP_RE.exec(stderr);
    if (m) up = { port: Number(m[2]), seq: Number(m[3]) };
    else await sleep(10);
  }
  if (up) {
    if (load) {
      const swarm = new Swarm({ port: up.port, rng, healthy: 8, healthyIntervalMs: 1 }).start();
      await sleep(runMs);
      await swarm.stop();
    } else await sleep(runMs);
  }
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
  const code = await exited;
  clearTimeout(t);
  return { up, code, stderr };
}

const firstLine = (s: string): string =>
  s
    .split('\n')
    .find((l) => l.trim() !== '')
    ?.trim() ?? '';
const short = (s: string, n = 150): string => (s.length > n ? `${s.slice(0, n - 1)}…` : s).replace(/\|/g, '\\|');

/** What `replay --at point` did on the copy, against the undamaged log's answer. */
function replayVerdict(r: Run, truth: Run): { text: string; bad: boolean } {
  if (r.code === 0)
    return r.stdout === truth.stdout
      ? { text: 'exit 0, the same state as the undamaged log', bad: false }
      : { text: 'WRONG STATE, exit 0', bad: true };
  return {
    text: `exit ${r.code}: ${short(
      firstLine(r.stderr)
        .replace(/^loadledger: /, '')
        .replace(/\/tmp\/[^ :]+/g, 'DIR'),
    )}`,
    bad: false,
  };
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'loadledger-flips-'));
  const base = join(work, 'base');
  try {
    // epoch 1: into the write-ahead log; epoch 2's open turns it into a table, epoch 2 goes to a new .log
    for (const ms of [1500, 800]) {
      const m = await master(base, ms, true);
      if (!m.up || m.code !== 0) throw new Error(`building the log: ${m.stderr}`);
    }
    const truthVerify = await run(['verify', '--data', base]);
    if (truthVerify.code !== 0) throw new Error(`the undamaged log does not verify: ${truthVerify.stderr}`);
    const lastSeq = Number(/seq 1\.\.([\d,]+)/.exec(truthVerify.stdout)?.[1]?.replace(/,/g, '') ?? NaN);
    const points = [Math.floor(lastSeq * 0.3), lastSeq - 1];
    const truth = await Promise.all(points.map((p) => run(['replay', '--data', base, '--at', String(p)])));
    const files = readdirSync(base)
      .filter((n) => n.endsWith('.ldb') || n.endsWith('.log'))
      .map((n) => ({ name: n, size: statSync(join(base, n)).size }));
    const ldb = files.filter((f) => f.name.endsWith('.ldb') && f.size > 0);
    const wal = files.filter((f) => f.name.endsWith('.log') && f.size > 0);
    console.log(
      `log: ${lastSeq} events; ${ldb.map((f) => `${f.name} ${f.size} B`).join(', ')}; ${wal.map((f) => `${f.name} ${f.size} B`).join(', ')}; seed ${SEED}; cli ${cli}\n`,
    );
    console.log(`| # | file | offset | replay --at ${points[0]} | replay --at ${points[1]} | verify | master start |`);
    console.log('|---|------|--------|------|------|--------|--------------|');
    let bad = 0;
    for (let i = 0; i < FLIPS; i++) {
      const pool = i % 2 === 0 || wal.length === 0 ? ldb : wal;
      const f = pool[Math.floor(rng() * pool.length)]!;
      const offset = Math.floor(rng() * f.size);
      const bit = 1 << Math.floor(rng() * 8);
      const dir = join(work, `case-${i}`);
      cpSync(base, dir, { recursive: true });
      const file = join(dir, f.name);
      const bytes = readFileSync(file);
      bytes[offset]! ^= bit;
      writeFileSync(file, bytes);
      const replays = await Promise.all(points.map((p) => run(['replay', '--data', dir, '--at', String(p)])));
      const verdicts = replays.map((r, k) => replayVerdict(r, truth[k]!));
      const v = await run(['verify', '--data', dir]);
      const problem = v.stderr.split('\n').find((l) => l.includes('LOG_CORRUPT')) ?? firstLine(v.stderr);
      const verify =
        v.code === 0
          ? `exit 0: ${short(firstLine(v.stdout).replace(/^verified log [^:]+: /, ''), 90)}`
          : `exit ${v.code}: ${short(problem.replace(/^loadledger: /, '').replace(/\/tmp\/[^ :]+/g, 'DIR'))}`;
      const m = await master(dir, 200, false);
      let start: string;
      let badStart = false;
      if (m.up) {
        // the events it started from: its MasterStarted is at up.seq (after a MasterCrashed, up.seq - 1 more)
        const before = m.up.seq - 1;
        badStart = before < lastSeq;
        start = badStart
          ? `STARTED SILENTLY WITH FEWER EVENTS (seq ${before} of ${lastSeq})`
          : `started, all ${lastSeq} events (seq ${m.up.seq})`;
      } else {
        const line = m.stderr.split('\n').find((l) => /LOG_CORRUPT|LOG_|error/i.test(l)) ?? firstLine(m.stderr);
        start = `refused, exit ${m.code}: ${short(line.replace(/^.*?loadledger master: /, '').replace(/\/tmp\/[^ :]+/g, 'DIR'), 120)}`;
      }
      if (verdicts.some((x) => x.bad) || badStart) bad++;
      console.log(
        `| ${i + 1} | ${f.name} | ${offset} (bit ${Math.log2(bit)}) | ${verdicts[0]!.text} | ${verdicts[1]!.text} | ${verify} | ${start} |`,
      );
      rmSync(dir, { recursive: true, force: true });
    }
    console.log(
      `\n${bad === 0 ? 'OK' : 'FAILED'}: ${bad} of ${FLIPS} rows are a wrong state with exit 0 or a master that started with fewer events`,
    );
    process.exitCode = bad === 0 ? 0 : 1;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
