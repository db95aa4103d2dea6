/**
 * `loadledger demo` as a new user runs it (stdout a pipe here, so one plain line per
 * refresh): three nodes and a least-loaded answer show up, Ctrl-C ends it cleanly, the
 * temporary log goes (or stays, with --keep, and replays).
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { StateDocument } from '../../src/projection/document.js';
import { Cleanup } from '../helpers/cleanup.js';
import { MAIN, runCli, spawnCli, type Proc } from '../helpers/cli.js';
import { getJson } from '../helpers/master.js';
import { waitFor, withTimeout } from '../helpers/wait.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

beforeAll(() => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: build first (npm run build; npm test does it)`);
});

const NODES = ['10.0.0.1:8080', '10.0.0.2:8080', '10.0.0.3:8080'];
const HEADER_RE =
  /^loadledger demo: 3 simulated slaves reporting to a master on 127\.0\.0\.1:\d+; HTTP (http:\/\/127\.0\.0\.1:\d+) .*; log (\S+) \((removed|kept) at the end\)$/m;
/** A refresh line with all three nodes up and a least-loaded answer that is one of them. */
const ALL_UP_RE = new RegExp(
  `least-loaded (${NODES.map((n) => n.replace(/\./g, '\\.')).join('|')}) \\| ${NODES.map((n) => `${n.replace(/\./g, '\\.')} PUSH_LOAD_INFO \\d+\\.\\d[^|]*`).join('\\| ')}$`,
  'm',
);
const SUMMARY_RE = /^loadledger demo: stopped \(SIGINT\) after [\d.]+m?s: (\d+) events recorded; /m;

async function startDemo(args: string[] = []): Promise<{ p: Proc; http: string; dir: string }> {
  const p = spawnCli(cleanup, ['demo', '--refresh', '100ms', ...args]);
  const header = await waitFor(() => HEADER_RE.exec(p.out.stdout) ?? (p.child.exitCode !== null ? { failed: true } : undefined), {
    what: 'the demo header line',
    timeout: 30_000,
    describe: () => p.out,
  });
  if ('failed' in header) throw new Error(`the demo exited: ${p.out.stderr}`);
  const dir = header[2]!;
  cleanup.defer(`rm ${dir}`, () => rm(dir, { recursive: true, force: true }));
  await waitFor(() => ALL_UP_RE.test(p.out.stdout), {
    what: 'a refresh line with the three nodes up and a least-loaded answer',
    timeout: 30_000,
    describe: () => p.out.stdout.slice(-600),
  });
  return { p, http: header[1]!, dir };
}

describe('loadledger demo', () => {
  it('shows three nodes and least-loaded (its HTTP API answering too); SIGINT: exit 0, a summary line, the temporary log gone', async () => {
    const { p, http, dir } = await startDemo();
    expect(existsSync(dir)).toBe(true);
    const least = await getJson<{ id: string }>(`${http}/v1/least-loaded`);
    expect(least.status).toBe(200);
    expect(NODES).toContain(least.body.id);
    expect(p.out.stdout).toMatch(/10\.0\.0\.1:8080 PUSH_LOAD_INFO [\d.]+ zone=eu-1/);

    p.child.kill('SIGINT');
    expect(await withTimeout(p.exit, 5000, 'the demo to exit after SIGINT')).toEqual({ code: 0, signal: null });
    const summary = SUMMARY_RE.exec(p.out.stderr);
    expect(summary, p.out.stderr).not.toBeNull();
    expect(Number(summary![1])).toBeGreaterThan(10);
    expect(p.out.stderr).toMatch(/temporary log removed\n$/);
    expect(p.out.stderr.trim().split('\n')).toHaveLength(1);
    expect(existsSync(dir)).toBe(false);
  });

  it('--keep: the log stays, its path is printed, and replay --data reads it: the slaves said GOODBYE on Ctrl-C', async () => {
    const { p, dir } = await startDemo(['--keep']);
    p.child.kill('SIGINT');
    expect(await withTimeout(p.exit, 5000, 'the demo to exit after SIGINT')).toEqual({ code: 0, signal: null });
    const events = Number(SUMMARY_RE.exec(p.out.stderr)?.[1]);
    expect(p.out.stderr).toContain(`log kept in ${dir} (try: npx loadledger replay --data ${dir})`);
    expect(existsSync(dir)).toBe(true);

    const r = await runCli(cleanup, ['replay', '--data', dir, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as StateDocument;
    expect(doc.seq).toBe(events);
    expect(doc.master).toMatchObject({ state: 'DOWN', epoch: 1 });
    expect(doc.nodes.map((n) => [n.id, n.state, n.reason])).toEqual(NODES.map((id) => [id, 'DOWN', 'left (demo stopped)']));
  });

  it('refuses a bad --slaves or --refresh with exit 2 and one line', async () => {
    const cases = [
      ['--slaves', '0'],
      ['--slaves', '21'],
      ['--refresh', '10ms'],
      ['--refresh', '500'],
    ];
    const results = await Promise.all(cases.map((args) => runCli(cleanup, ['demo', ...args])));
    for (const [i, r] of results.entries()) {
      expect({ args: cases[i], code: r.code }).toEqual({ args: cases[i], code: 2 });
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).not.toContain('    at ');
      expect(r.stdout).toBe('');
    }
    expect(results[2]!.stderr).toMatch(/--refresh: at least 50ms/);
  });
});
