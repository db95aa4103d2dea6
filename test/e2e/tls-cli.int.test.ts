/**
 * TLS from the command line: `loadledger master --tls-…` and `loadledger slave --tls-…`
 * as child processes of the built CLI (dist/), certificates made by openssl for this
 * file; and the flags a person can get wrong (exit 2, one line, no key text ever).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { StateDocument } from '../../src/projection/document.js';
import { Pki, slavePortPki, type CertFiles } from '../helpers/certs.js';
import { Cleanup } from '../helpers/cleanup.js';
import { MAIN, runCli as runCliIn, spawnCli as spawnCliIn, type Proc } from '../helpers/cli.js';
import { getJson } from '../helpers/master.js';
import { waitFor, withTimeout } from '../helpers/wait.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const pkiCleanup = new Cleanup();
let pki: Pki;
let foreign: Pki;
let server: CertFiles;
let gwA: CertFiles;
/** Lines of every private key made here: none may ever be printed. */
let keyNeedles: string[];
afterAll(() => pkiCleanup.run());
beforeAll(async () => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: build first (npm run build; npm test does it)`);
  ({ pki, foreign, server, gwA } = await slavePortPki(pkiCleanup));
  keyNeedles = [server.key, gwA.key].flatMap((f) =>
    Pki.read(f)
      .split('\n')
      .filter((l) => l.length >= 40 && !l.startsWith('-----')),
  );
});

const spawnCli = (args: string[]): Proc => spawnCliIn(cleanup, args);
const runCli = (args: string[]) => runCliIn(cleanup, args);

function expectNoKeyText(s: string): void {
  expect(s).not.toContain('PRIVATE KEY');
  for (const n of keyNeedles) expect(s.includes(n), 'key material printed').toBe(false);
}

const UP_RE =
  /^loadledger master: UP_LISTENING .*slaves on 127\.0\.0\.1:(\d+), HTTP on (http:\/\/127\.0\.0\.1:\d+).*, TLS with client certificates$/m;

const masterTlsFlags = (): string[] => ['--tls-cert', server.cert, '--tls-key', server.key, '--tls-ca', pki.ca];
const slaveTlsFlags = (files: CertFiles, ca = pki.ca): string[] => ['--tls-cert', files.cert, '--tls-key', files.key, '--tls-ca', ca];

interface EventLine {
  type: string;
  reason?: string;
  identity?: string;
}

async function events(http: string): Promise<EventLine[]> {
  const res = await fetch(`${http}/v1/events?from=1`, { signal: AbortSignal.timeout(5000) });
  return (await res.text())
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as EventLine);
}

async function refusedTotal(http: string): Promise<number> {
  const res = await fetch(`${http}/metrics`, { signal: AbortSignal.timeout(5000) });
  const m = /^loadledger_refused_total (\d+)$/m.exec(await res.text());
  return m ? Number(m[1]) : 0;
}

describe('loadledger master/slave --tls-*', () => {
  it('a TLS slave process shows up in /v1/state; a slave that does not trust the master says so once and keeps retrying; no key text on any output', async () => {
    const dir = await cleanup.tempDir('loadledger-tls-cli-');
    const master = spawnCli([
      'master',
      '--data',
      dir,
      '--listen',
      '127.0.0.1:0',
      '--http',
      '127.0.0.1:0',
      '--hello-interval',
      '1s',
      '--dead-after',
      '30s',
      ...masterTlsFlags(),
    ]);
    const up = await waitFor(() => UP_RE.exec(master.out.stderr) ?? (master.child.exitCode !== null ? { failed: true } : undefined), {
      what: 'the master UP_LISTENING line',
      timeout: 20_000,
      describe: () => master.out.stderr,
    });
    if ('failed' in up) throw new Error(`the master exited: ${master.out.stderr}`);
    const [, port, http] = up;

    // Short interval (the first push soon), long dead-afters: no side of a busy machine times the other out.
    const common = ['--master', `127.0.0.1:${port}`, '--interval', '50ms', '--dead-after', '30s'];
    const good = spawnCli([
      'slave',
      ...common,
      '--addr',
      '10.0.0.5:8080',
      '--load',
      '7',
      ...slaveTlsFlags(gwA),
      '--tls-servername',
      'localhost',
    ]);
    const distrusting = spawnCli(['slave', ...common, '--load', '7', '-q', ...slaveTlsFlags(gwA, foreign.ca)]);

    await waitFor(
      async () => {
        const doc = (await getJson<StateDocument>(`${http!}/v1/state`)).body;
        return doc.nodes.some((n) => n.id === '10.0.0.5:8080' && n.state === 'PUSH_LOAD_INFO' && n.load === 7);
      },
      { what: '10.0.0.5:8080 in /v1/state', timeout: 20_000, interval: 20 },
    );
    // the distrusting slave gave up on at least three handshakes (the master saw them end;
    // it records one refusal per second per peer, and counts them all)
    await waitFor(async () => (await refusedTotal(http!)) >= 3, {
      what: 'three attempts of the distrusting slave',
      timeout: 20_000,
      interval: 50,
    });
    const log = await events(http!);
    // only the trusting slave's certificate was ever accepted (once, or again if it reconnected)
    const identities = log.filter((e) => e.type === 'SlaveConnected').map((e) => e.identity);
    expect(identities.length).toBeGreaterThan(0);
    expect(new Set(identities)).toEqual(new Set(['gw-a']));

    master.child.kill('SIGTERM');
    expect((await withTimeout(master.exit, 10_000, 'the master to stop')).code).toBe(0);
    good.child.kill('SIGTERM');
    distrusting.child.kill('SIGTERM');
    await Promise.all([good.exit, distrusting.exit]);

    const tlsLines = distrusting.out.stderr.split('\n').filter((l) => l.includes('TLS:'));
    expect(tlsLines).toEqual([
      "loadledger slave: TLS: the master's certificate is not trusted (SELF_SIGNED_CERT_IN_CHAIN: self-signed certificate in certificate chain); retrying with backoff (said once)",
    ]);
    expect(good.out.stderr).toContain('over TLS');
    for (const p of [master, good, distrusting]) expectNoKeyText(p.out.stdout + p.out.stderr);
  });

  it('bad TLS flags: exit 2 and one line naming the flag, never a stack trace or the file content', async () => {
    // A few as processes (the exit code and the whole output); the full table is in test/cli/tls-flags.unit.test.ts.
    const dir = await cleanup.tempDir('loadledger-tls-flags-');
    const master = (...flags: string[]): string[] => [
      'master',
      '--data',
      join(dir, 'data'),
      '--listen',
      '127.0.0.1:0',
      '--no-http',
      ...flags,
    ];
    const cases: Array<[string[], string]> = [
      [
        master('--tls-cert', server.cert),
        'loadledger master: --tls-cert, --tls-key and --tls-ca go together: missing --tls-key and --tls-ca',
      ],
      // a key given where text is quoted back by parsers: JSON.parse's message would show it
      [master(...masterTlsFlags(), '--tls-identities', server.key), `loadledger master: --tls-identities ${server.key}: not valid JSON`],
      [
        master('--tls-cert', server.key, '--tls-key', server.key, '--tls-ca', pki.ca),
        `loadledger master: --tls-cert ${server.key}: no PEM certificate in it (expected "-----BEGIN CERTIFICATE-----")`,
      ],
      [
        ['slave', '--master', '127.0.0.1:1', '--load', '1', '--tls-cert', gwA.cert, '--tls-key', gwA.cert],
        `loadledger slave: --tls-key ${gwA.cert}: not a PEM private key`,
      ],
    ];
    const results = await Promise.all(cases.map(([args]) => runCli(args)));
    results.forEach((r, i) => {
      const [args, line] = cases[i]!;
      expect({ args: args.join(' '), code: r.code, stderr: r.stderr, stdout: r.stdout }).toEqual({
        args: args.join(' '),
        code: 2,
        stderr: `${line}\n`,
        stdout: '',
      });
      expectNoKeyText(r.stderr);
    });
    expect(existsSync(join(dir, 'data'))).toBe(false); // refused before anything was opened
  });
});
