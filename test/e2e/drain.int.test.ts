/**
 * `loadledger drain|undrain ID` as a user runs them (child processes of the built CLI)
 * against a `loadledger master` process with --admin-token-file; then the stopped log:
 * `replay --explain` and `--events` show the drains, `verify` passes.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Cleanup } from '../helpers/cleanup.js';
import { lines, runCli, spawnCli, waitForUp } from '../helpers/cli.js';
import { RawClient } from '../helpers/net.js';
import { waitFor, withTimeout } from '../helpers/wait.js';
import { getJson } from '../helpers/master.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const TOKEN = 'e2e-drain-token-0123456789';
const UP_RE = /^loadledger master: UP_LISTENING .*slaves on 127\.0\.0\.1:(\d+), HTTP on (http:\/\/127\.0\.0\.1:\d+)/m;

describe('loadledger drain / undrain', () => {
  it('drains and undrains over the API with --token-file; one line each; failures are one line and a non-zero exit; the stopped log explains it', async () => {
    const dir = await cleanup.tempDir('loadledger-drain-e2e-');
    const data = join(dir, 'data');
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    const master = spawnCli(cleanup, [
      'master',
      '--data',
      data,
      '--listen',
      '127.0.0.1:0',
      '--http',
      '127.0.0.1:0',
      '--admin-token-file',
      tokenFile,
      '--open-reads',
    ]);
    const m = await waitForUp(master, UP_RE);
    const port = Number(m[1]);
    const http = m[2]!;
    const slaves: RawClient[] = [];
    for (const [addr, load] of [
      ['10.0.0.5:8080', 1],
      ['10.0.0.6:8080', 30],
    ] as const) {
      const c = await RawClient.connect(port, { answerHello: true });
      cleanup.defer(`slave ${addr}`, () => c.destroy());
      c.push({ addr, load });
      slaves.push(c);
    }
    await waitFor(async () => (await getJson<{ nodes: unknown[] }>(`${http}/v1/nodes?state=PUSH_LOAD_INFO`)).body.nodes.length === 2, {
      what: 'both slaves in the table',
    });
    const cli = (...args: string[]) => runCli(cleanup, [...args, '--http', http]);

    // no token: 401 → one line with the hint, exit 1
    const none = await cli('drain', '10.0.0.5:8080');
    expect(none.code).toBe(1);
    expect(lines(none.stderr)).toEqual([expect.stringMatching(/needs a token: use --token-file FILE/)]);
    expect(none.stdout).toBe('');

    const d = await cli('drain', '10.0.0.5:8080', '--reason', 'kernel upgrade', '--token-file', tokenFile);
    expect({ code: d.code, stderr: d.stderr }).toEqual({ code: 0, stderr: '' });
    expect(lines(d.stdout)).toEqual([
      expect.stringMatching(
        /^drained 10\.0\.0\.5:8080 \(kernel upgrade\) at seq \d+: not eligible until undrained \(PUSH_LOAD_INFO, still connected and reporting\)$/,
      ),
    ]);
    const again = await cli('drain', '10.0.0.5:8080', '--token-file', tokenFile);
    expect(again.code).toBe(0);
    expect(lines(again.stdout)).toEqual([
      expect.stringMatching(/^10\.0\.0\.5:8080 was already drained since \S+ \(kernel upgrade\): nothing recorded$/),
    ]);

    const least = await cli('query', 'least-loaded');
    expect(least.stdout).toBe('10.0.0.6:8080\n');
    const state = await cli('query', 'state');
    expect(state.stdout).toMatch(/nodes 2 \(2 up, 1 drained\)/);
    expect(state.stdout).toMatch(/^10\.0\.0\.5:8080 .*drained \(kernel upgrade\)/m);

    const ahead = await cli('drain', '[::1]:9000', '--token-file', tokenFile);
    expect(lines(ahead.stdout)).toEqual([
      expect.stringMatching(/^drained \[::1\]:9000 at seq \d+: not in the table yet, it will not be eligible when it connects$/),
    ]);

    // bad input: exit 2 before any request; unknown node on undrain: the master's 404, exit 1
    const [bad, long, missing, bs, bidi] = await Promise.all([
      cli('drain', 'not a node', '--token-file', tokenFile),
      cli('drain', '10.0.0.6:8080', '--reason', 'x'.repeat(257), '--token-file', tokenFile),
      cli('undrain', '10.9.9.9:1', '--token-file', tokenFile),
      cli('drain', '10.0.0.66\b\b\b\b\b\b\b\b\b10.0.0.5', '--token-file', tokenFile),
      cli('drain', '10.0.0.5:8080', '--reason', 'deploy \u202e', '--token-file', tokenFile),
    ]);
    expect({ code: bs.code, stderr: lines(bs.stderr) }).toEqual({
      code: 2,
      stderr: [expect.stringMatching(/^loadledger drain: the node id holds the control character U\+0008 at index 9/)],
    });
    expect({ code: bidi.code, stderr: lines(bidi.stderr) }).toEqual({
      code: 2,
      stderr: [expect.stringMatching(/^loadledger drain: --reason holds the control character U\+202E at index 7/)],
    });
    expect(bad.code).toBe(2);
    expect(lines(bad.stderr)).toEqual([expect.stringMatching(/^loadledger drain: "not a node" is not a node id/)]);
    expect(long.code).toBe(2);
    expect(lines(long.stderr)).toEqual(['loadledger drain: --reason: longer than 256 bytes']);
    expect(missing.code).toBe(1);
    expect(lines(missing.stderr)).toEqual([
      expect.stringMatching(/^loadledger undrain: undrain 10\.9\.9\.9:1: node 10\.9\.9\.9:1 is not in the load table/),
    ]);

    const u = await cli('undrain', '10.0.0.5:8080', '--token-file', tokenFile);
    expect(u.code).toBe(0);
    expect(lines(u.stdout)).toEqual([expect.stringMatching(/^undrained 10\.0\.0\.5:8080 at seq \d+: eligible again$/)]);
    expect((await cli('query', 'least-loaded')).stdout).toBe('10.0.0.5:8080\n');
    const json = await cli('drain', '10.0.0.6:8080', '--token-file', tokenFile, '--json');
    expect(JSON.parse(json.stdout)).toMatchObject({ id: '10.0.0.6:8080', drained: true });

    for (const s of slaves) s.destroy();
    master.child.kill('SIGTERM');
    expect((await withTimeout(master.exit, 10_000, 'the master to stop')).code).toBe(0);

    const [explain, explain6, events, replayJson, verify] = await Promise.all([
      runCli(cleanup, ['replay', '--data', data, '--explain', '10.0.0.5:8080']),
      runCli(cleanup, ['replay', '--data', data, '--explain', '10.0.0.6:8080']),
      runCli(cleanup, ['replay', '--data', data, '--events', '--type', 'NodeDrained,NodeUndrained']),
      runCli(cleanup, ['replay', '--data', data, '--json']),
      runCli(cleanup, ['verify', '--data', data]),
    ]);
    expect(explain.code).toBe(0);
    expect(explain.stdout).toMatch(
      /PUSH_LOAD_INFO: drained by an operator \(kernel upgrade\): not eligible, still connected and reporting {2}\[seq \d+\]/,
    );
    expect(explain.stdout).toMatch(/PUSH_LOAD_INFO: undrained by an operator: eligible again {2}\[seq \d+\]/);
    expect(explain6.stdout).toMatch(/^ {2}drained since \S+: not eligible$/m);
    expect(events.code).toBe(0);
    const rows = lines(events.stdout).slice(1);
    expect(rows.map((r) => r.split(/\s{2,}/).slice(2))).toEqual([
      ['NodeDrained', '10.0.0.5:8080', 'drained by an operator: kernel upgrade'],
      ['NodeDrained', '[::1]:9000', 'drained by an operator'],
      ['NodeUndrained', '10.0.0.5:8080', 'undrained by an operator'],
      ['NodeDrained', '10.0.0.6:8080', 'drained by an operator'],
    ]);
    const doc = JSON.parse(replayJson.stdout) as { nodes: Array<{ id: string; drained?: true }> };
    expect(doc.nodes.filter((n) => n.drained).map((n) => n.id)).toEqual(['10.0.0.6:8080', '[::1]:9000']);
    expect(verify.code).toBe(0);
    expect(verify.stdout).toMatch(/: OK$/m);
  });
});
