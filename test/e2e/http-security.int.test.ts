/**
 * The secured HTTP API as a person uses it: a `loadledger master` process with HTTPS and
 * an admin token (certificates made at test time by test/helpers/certs.ts, token files in
 * a temp dir), `query` and `replay` processes with --token-file / --ca /
 * $LOADLEDGER_TOKEN_FILE, flags that cannot be used (exit 2, one line), the warning for a
 * non-loopback bind, and the token text nowhere: not in the LevelDB files, the master's
 * stdout or stderr, the clients' output, or any HTTP error body.
 */
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Pki, type CertFiles } from '../helpers/certs.js';
import { Cleanup } from '../helpers/cleanup.js';
import { MAIN, lines, runCli, spawnCli, waitForUp, type Proc } from '../helpers/cli.js';
import { bearer, request, type RawResponse } from '../helpers/http.js';
import { withTimeout } from '../helpers/wait.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const SECRET = 'e2e-Zq8.Lw3_Vn6~Hs1-Tk4';
const WRONG = 'e2e-wrong-Pm2.Xc7_Jd0~R';

let pki: Pki;
let cert: CertFiles;
let dir: string;
/** Files of this suite: the token, a wrong token, bad tokens, a stranger's key. */
const f = { token: '', wrong: '', short: '', empty: '', otherKey: '' };
const suite = new Cleanup();
beforeAll(async () => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: build first (npm run build; npm test does it)`);
  pki = await Pki.create(suite);
  cert = pki.issue('127.0.0.1', { san: ['IP:127.0.0.1', 'DNS:localhost'], usage: 'server' });
  f.otherKey = pki.issue('someone-else').key;
  dir = await suite.tempDir('loadledger-tokens-');
  const put = (name: string, text: string): string => {
    const p = join(dir, name);
    writeFileSync(p, text, { mode: 0o600 });
    return p;
  };
  f.token = put('token', `${SECRET}\n`);
  f.wrong = put('wrong', WRONG);
  f.short = put('short', 'tiny-Tok3n\n');
  f.empty = put('empty', '  \n');
});
afterAll(() => suite.run());

const UP_HTTPS = /^loadledger master: UP_LISTENING .*slaves on 127\.0\.0\.1:(\d+), HTTP on (https:\/\/127\.0\.0\.1:\d+)/m;

interface CliMaster extends Proc {
  data: string;
  url: string;
}

async function startSecureMaster(extra: string[] = []): Promise<CliMaster> {
  const data = await cleanup.tempDir('loadledger-secure-');
  const p = spawnCli(cleanup, [
    'master',
    '--data',
    data,
    '--listen',
    '127.0.0.1:0',
    '--http',
    '127.0.0.1:0',
    '--http-tls-cert',
    cert.cert,
    '--http-tls-key',
    cert.key,
    '--admin-token-file',
    f.token,
    ...extra,
  ]);
  const m = await waitForUp(p, UP_HTTPS);
  return { ...p, data, url: m[2]! };
}

/** Every file under `root`, recursively. */
function filesUnder(root: string): string[] {
  return readdirSync(root).flatMap((name) => {
    const p = join(root, name);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

function expectOneLine(r: { code: number | null; stdout: string; stderr: string }, code: number, message: RegExp): void {
  expect({ code: r.code, stderr: r.stderr.trimEnd() }).toMatchObject({ code, stderr: expect.stringMatching(message) });
  expect(lines(r.stderr), r.stderr).toHaveLength(1);
  expect(r.stderr).not.toContain('    at ');
}

describe('a master with --http-tls-cert/--http-tls-key and --admin-token-file, and its CLI clients', () => {
  it('query/replay/export with --ca and --token-file (or $LOADLEDGER_TOKEN_FILE) work; without them one line, exit 1; the token is written nowhere', async () => {
    const master = await startSecureMaster();
    const ca = ['--ca', cert.ca];
    const http = ['--http', master.url];

    const clients = await Promise.all([
      runCli(cleanup, ['query', 'state', ...http, ...ca, '--token-file', f.token]),
      runCli(cleanup, ['query', 'state', '--json', ...http, ...ca], { env: { LOADLEDGER_TOKEN_FILE: f.token } }),
      runCli(cleanup, ['replay', ...http, ...ca, '--token-file', f.token, '--events', '--json']),
      runCli(cleanup, ['query', 'state', ...http, ...ca], { env: { LOADLEDGER_TOKEN_FILE: '' } }),
      runCli(cleanup, ['query', 'least-loaded', ...http, ...ca, '--token-file', f.wrong]),
      runCli(cleanup, ['query', 'state', ...http, '--token-file', f.token]),
    ]);
    const [state, stateEnv, events, noToken, wrong, noCa] = clients;
    expect(state, state.stderr).toMatchObject({ code: 0, stderr: '' });
    expect(state.stdout).toMatch(/^seq \d+ {2}master UP_LISTENING epoch 1/);
    expect(stateEnv.code, stateEnv.stderr).toBe(0);
    expect(JSON.parse(stateEnv.stdout)).toMatchObject({ master: { state: 'UP_LISTENING' } });
    expect(events.code, events.stderr).toBe(0);
    expect(lines(events.stdout).map((l) => (JSON.parse(l) as { type: string }).type)[0]).toBe('MasterStarted');

    expectOneLine(noToken, 1, /^loadledger query: master https:\/\/127\.0\.0\.1:\d+ needs a token: use --token-file/);
    expectOneLine(wrong, 1, /refused the token \(HTTP 401\)/);
    expectOneLine(noCa, 1, /master unreachable .*not trusted; give its CA with --ca/);

    // The admin endpoint over HTTPS, as the README's curl example does it.
    const answers: RawResponse[] = [];
    const caPem = readFileSync(cert.ca);
    const post = (headers: Record<string, string>) =>
      request(`${master.url}/v1/admin/snapshot`, { method: 'POST', headers, ca: caPem }).then((r) => (answers.push(r), r));
    expect((await post({})).status).toBe(401);
    expect((await post(bearer(WRONG))).status).toBe(401);
    const snap = await post(bearer(SECRET));
    expect(snap.status).toBe(200);
    expect(snap.json.seq).toBeGreaterThanOrEqual(1);
    for (const path of ['/v1/state', '/v1/events', '/metrics', '/nope']) {
      answers.push(await request(`${master.url}${path}`, { headers: bearer(WRONG), ca: caPem }));
    }

    master.child.kill('SIGTERM');
    expect(await withTimeout(master.exit, 10_000, 'the master to stop')).toEqual({ code: 0, signal: null });

    // Nowhere: the LevelDB files (the check can see plain text: the event types are there)…
    const files = filesUnder(master.data);
    const bytes = files.map((p) => readFileSync(p));
    expect(bytes.some((b) => b.includes('MasterStarted'))).toBe(true);
    for (const [i, b] of bytes.entries()) {
      for (const t of [SECRET, WRONG]) expect({ file: files[i], found: b.includes(t) }).toEqual({ file: files[i], found: false });
    }
    // … the master's output, every client's output, every HTTP answer.
    for (const text of [
      master.out.stdout,
      master.out.stderr,
      ...clients.flatMap((r) => [r.stdout, r.stderr]),
      ...answers.map((a) => a.text + JSON.stringify(a.headers)),
    ]) {
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain(WRONG);
    }
    expect(master.out.stdout).toBe('');
  });
});

describe('flags that cannot be used: exit 2, one line naming the flag, no file content', () => {
  // Every case of these checks is in test/cli/secrets.int.test.ts; here, that the CLI
  // turns them into one line and exit 2 (a few processes, not one per case).
  it('master and client flags', async () => {
    const data = await cleanup.tempDir('loadledger-badflags-');
    const base = ['master', '--data', data, '--listen', '127.0.0.1:0', '--http', '127.0.0.1:0'];
    const cases: Array<[string[], RegExp, Record<string, string>?]> = [
      [[...base, '--http-tls-cert', cert.cert], /^loadledger master: --http-tls-cert needs --http-tls-key: give both or neither$/],
      [
        [...base, '--http-tls-cert', cert.cert, '--http-tls-key', f.otherKey],
        /^loadledger master: --http-tls-key \S+ is not the key of the certificate in --http-tls-cert/,
      ],
      [
        [...base, '--admin-token-file', f.short],
        /^loadledger master: --admin-token-file \S+short: the token is shorter than 16 characters$/,
      ],
      [['query', 'state', '--http', 'https://127.0.0.1:9', '--ca', f.token], /^loadledger query: --ca \S+: not a PEM certificate/],
      [
        ['replay', '--http', 'https://127.0.0.1:9', '--follow'],
        /^loadledger replay: LOADLEDGER_TOKEN_FILE \S+: it is empty$/,
        { LOADLEDGER_TOKEN_FILE: f.empty },
      ],
    ];
    const results = await Promise.all(cases.map(([args, , env]) => runCli(cleanup, args, { env: env ?? {} })));
    for (const [i, r] of results.entries()) {
      const [args, message] = cases[i]!;
      expect({ args, code: r.code, stderr: r.stderr.trimEnd() }).toMatchObject({ args, code: 2, stderr: expect.stringMatching(message) });
      expect(lines(r.stderr), r.stderr).toHaveLength(1);
      expect(r.stdout).toBe('');
      for (const secret of [SECRET, 'tiny-Tok3n', 'PRIVATE KEY', 'BEGIN CERTIFICATE']) expect(r.stderr).not.toContain(secret);
    }
    expect(readdirSync(data)).toEqual([]); // no master got as far as opening its log
  });
});

describe('the warning for an HTTP API open to the network', () => {
  it('binding 0.0.0.0 without a token warns once (reads open to the network); with a token but no TLS, that the token goes in clear; on loopback, nothing', async () => {
    const start = async (extra: string[]): Promise<string> => {
      const data = await cleanup.tempDir('loadledger-warn-');
      const p = spawnCli(cleanup, ['master', '--data', data, '--listen', '127.0.0.1:0', ...extra]);
      await waitForUp(p, /UP_LISTENING.*\n(?:.*\n)*/);
      // SIGTERM right after the UP line: a clean stop, with every line of the start written.
      p.child.kill('SIGTERM');
      expect(await withTimeout(p.exit, 10_000, 'the master to stop'), p.out.stderr).toEqual({ code: 0, signal: null });
      return p.out.stderr;
    };
    const [open, clear, loopback] = await Promise.all([
      start(['--http', '0.0.0.0:0']),
      start(['--http', '0.0.0.0:0', '--admin-token-file', f.token]),
      start(['--http', '127.0.0.1:0', '--admin-token-file', f.token]),
    ]);
    const warnings = (s: string): string[] => lines(s).filter((l) => l.includes('warning'));
    expect(warnings(open), open).toEqual([
      expect.stringMatching(/^loadledger master: warning: the HTTP API on 0\.0\.0\.0:\d+ is open to the network without a token/),
    ]);
    expect(warnings(clear), clear).toEqual([
      expect.stringMatching(/^loadledger master: warning: the HTTP API on 0\.0\.0\.0:\d+ takes its token over plain HTTP/),
    ]);
    expect(warnings(loopback), loopback).toEqual([]);
    expect(clear).not.toContain(SECRET);
  });
});
