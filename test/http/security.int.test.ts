/**
 * The HTTP API's security against an in-process master on 127.0.0.1 (port 0) with a real
 * LevelDB log: HTTPS with a CA made at test time (test/helpers/certs.ts), the admin token
 * on every endpoint as the route table says, --open-reads, the admin endpoint off without
 * a token, and POST /v1/admin/snapshot writing a snapshot to the log. No answer ever
 * carries a token.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openFileSource } from '../../replay/file-source.js';
import { runExport } from '../../src/cli/commands/export.js';
import { masterBounds, openHttpSource, followHttp } from '../../replay/http-source.js';
import { getJson as cliGetJson } from '../../src/client/http-client.js';
import { ErrorCode } from '../../src/errors.js';
import { AdminToken } from '../../src/http/auth.js';
import type { Master } from '../../src/node/master.js';
import { toSnapshot } from '../../src/projection/snapshot.js';
import { Pki } from '../helpers/certs.js';
import { Cleanup } from '../helpers/cleanup.js';
import { codeOf, errorOf } from '../helpers/errors.js';
import { bearer, request, type RawResponse } from '../helpers/http.js';
import { httpBase, startMaster, type TestMasterOptions } from '../helpers/master.js';
import { RawClient } from '../helpers/net.js';
import { waitFor } from '../helpers/wait.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const SECRET = 'Q7v-tk.9Lm_2xPz~4Wd8Rb';
const WRONG = 'W7v-tk.9Lm_2xPz~4Wd8Rb';
const WRONG_LONGER = `${SECRET}-and-more`;

let pki: Pki;
let server: { cert: string; key: string; ca: string };
const pkiCleanup = new Cleanup();
beforeAll(async () => {
  pki = await Pki.create(pkiCleanup);
  server = pki.issue('127.0.0.1', { san: ['IP:127.0.0.1'], usage: 'server' });
});
afterAll(() => pkiCleanup.run());

/** Every answer a test saw, to check that none carries a token. */
const seen: RawResponse[] = [];
afterEach(() => {
  for (const r of seen.splice(0)) {
    for (const t of [SECRET, WRONG, WRONG_LONGER]) {
      expect(r.text).not.toContain(t);
      expect(JSON.stringify(r.headers)).not.toContain(t);
    }
  }
});

async function call(master: Master, method: string, path: string, headers: Record<string, string> = {}): Promise<RawResponse> {
  const tls = master.options.httpTls ? { ca: Pki.read(server.ca) } : {};
  const r = await request(httpBase(master) + path, { method, headers, ...tls });
  seen.push(r);
  return r;
}

async function tokenMaster(opts: TestMasterOptions = {}): Promise<Master> {
  return startMaster(cleanup, { auth: { token: new AdminToken(SECRET) }, ...opts });
}

function tlsOptions(): { cert: string; key: string } {
  return { cert: Pki.read(server.cert), key: Pki.read(server.key) };
}

const READS: Array<[string, string]> = [
  ['GET', '/v1/least-loaded'],
  ['GET', '/v1/state'],
  ['GET', '/v1/nodes'],
  ['GET', '/v1/events?to=1'],
  ['HEAD', '/v1/events'],
  ['GET', '/metrics'],
];

describe('HTTPS (--http-tls-cert, --http-tls-key)', () => {
  it('serves the API over TLS to a client that trusts the CA; plain HTTP and an untrusting client get nothing', async () => {
    const master = await startMaster(cleanup, { httpTls: tlsOptions() });
    const base = httpBase(master);
    expect(base).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);

    const state = await call(master, 'GET', '/v1/state');
    expect(state.status).toBe(200);
    expect(state.json).toMatchObject({ seq: master.projection.seq, master: { state: 'UP_LISTENING' } });

    // The same port spoken to in plain HTTP: the TLS server drops it, no answer.
    await expect(request(base.replace('https:', 'http:') + '/v1/state')).rejects.toThrow();
    // A client without the test CA refuses the certificate.
    await expect(request(`${base}/v1/state`)).rejects.toMatchObject({ code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    // fetch (the platform's trust store only) refuses it too.
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
  });

  it("the CLI's clients (query's getJson, replay's HTTP source, the live tail) work with --ca and a token", async () => {
    const master = await tokenMaster({ httpTls: tlsOptions() });
    const url = new URL(httpBase(master));
    const ca = Pki.read(server.ca);

    const r = await cliGetJson(url, '/v1/state', { ca, token: SECRET });
    expect(r).toMatchObject({ status: 200, body: { seq: master.projection.seq } });
    expect(await codeOf(cliGetJson(url, '/v1/state', { ca }))).toBe(ErrorCode.UNAUTHORIZED);
    expect(await codeOf(cliGetJson(url, '/v1/state', { ca, token: WRONG }))).toBe(ErrorCode.UNAUTHORIZED);
    const untrusted = await errorOf(cliGetJson(url, '/v1/state', { token: SECRET }));
    expect(untrusted.code).toBe(ErrorCode.MASTER_UNREACHABLE);
    expect(untrusted.message).toMatch(/not trusted; give its CA with --ca FILE/);
    const plain = await errorOf(cliGetJson(new URL(url.href.replace('https:', 'http:')), '/v1/state', { token: SECRET }));
    expect(plain.code).toBe(ErrorCode.MASTER_UNREACHABLE);
    expect(plain.message).toMatch(/use an https:\/\/ URL/);

    expect(await masterBounds(url, { ca, token: SECRET })).toMatchObject({ oldest: 1, lastSeq: master.projection.seq });
    expect(await codeOf(masterBounds(url, { ca }))).toBe(ErrorCode.UNAUTHORIZED);
    const src = await openHttpSource(url, { ca, token: SECRET });
    cleanup.defer('close the HTTP source', () => src.close());
    const events = [];
    for await (const batch of src.read(1, src.lastSeq)) events.push(...batch);
    expect(events.map((e) => e.type)).toEqual(['MasterStarted']);
    expect((await src.base(1)).seq).toBe(1);

    // The tail: its snapshot and the events after it arrive through TLS with the token.
    const abort = new AbortController();
    const tail: string[] = [];
    const done = followHttp(url, 1, (e) => void tail.push(e.type), abort.signal, { ca, token: SECRET });
    const c = await RawClient.connect(master.addresses.listen.port);
    cleanup.defer('raw client', () => c.destroy());
    c.push({ addr: 'tls-tail:80', load: 1 });
    await waitFor(() => tail.includes('LoadPushed'), { what: 'the pushed load on the TLS tail', describe: () => tail });
    abort.abort();
    expect((await done).reason).toBe('aborted');
    expect(await codeOf(followHttp(url, 1, () => {}, undefined, { ca, token: WRONG }))).toBe(ErrorCode.UNAUTHORIZED);
  });

  it('export --http with --token-file and --ca (runExport, as the CLI calls it) writes a file that replays', async () => {
    const master = await tokenMaster({ httpTls: tlsOptions() });
    const dir = await cleanup.tempDir('loadledger-export-');
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, `${SECRET}\n`, { mode: 0o600 });
    const output = join(dir, 'x.llog');
    const flags = { http: httpBase(master), ca: server.ca, output };
    const quiet = new PassThrough() as unknown as NodeJS.WriteStream;
    expect(await codeOf(runExport(flags, { stderr: quiet }))).toBe(ErrorCode.UNAUTHORIZED);
    const result = await runExport({ ...flags, tokenFile }, { stderr: quiet });
    expect(result.lastSeq).toBe(master.projection.seq);
    const file = await openFileSource(output);
    cleanup.defer('close the export file', () => file.close());
    expect(file.lastSeq).toBe(result.lastSeq);
  });

  it('refuses a key that is not the certificate’s at start (BAD_ARGUMENT), naming no file content', async () => {
    const other = pki.issue('other', { san: ['IP:127.0.0.1'] });
    const e = await startMaster(cleanup, { httpTls: { cert: Pki.read(server.cert), key: Pki.read(other.key) } }).then(
      () => undefined,
      (err: unknown) => err as { code?: string; message?: string },
    );
    expect(e?.code).toBe(ErrorCode.BAD_ARGUMENT);
    expect(e?.message).not.toContain('PRIVATE KEY');
  });
});

describe('the admin token (--admin-token-file)', () => {
  it('every read endpoint needs it: none or a wrong one → 401 UNAUTHORIZED with WWW-Authenticate: Bearer; the right one passes', async () => {
    const master = await tokenMaster();
    for (const [method, path] of READS) {
      const none = await call(master, method, path);
      expect({ method, path, status: none.status }).toEqual({ method, path, status: 401 });
      expect(none.headers['www-authenticate']).toMatch(/^Bearer /);
      if (method === 'GET') expect(none.json).toMatchObject({ code: ErrorCode.UNAUTHORIZED });
      for (const wrong of [WRONG, WRONG_LONGER, SECRET.slice(0, -1)]) {
        const r = await call(master, method, path, bearer(wrong));
        expect({ path, wrong, status: r.status }).toEqual({ path, wrong, status: 401 });
        expect(r.headers['www-authenticate']).toMatch(/error="invalid_token"/);
      }
      const other = await call(master, method, path, { authorization: `Basic ${Buffer.from(`u:${SECRET}`).toString('base64')}` });
      expect(other.status).toBe(401);
      const right = await call(master, method, path, bearer(SECRET));
      // least-loaded with no node answers 503 NO_ELIGIBLE_NODE: past the token check.
      expect({ path, status: right.status }).toEqual({ path, status: path === '/v1/least-loaded' ? 503 : 200 });
    }
    // the scheme is case-insensitive (RFC 7235)
    expect((await call(master, 'GET', '/v1/state', { authorization: `bearer ${SECRET}` })).status).toBe(200);
  });

  it('GET /healthz needs no token (load balancers check health without credentials)', async () => {
    const master = await tokenMaster();
    const r = await call(master, 'GET', '/healthz');
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ status: 'ok' });
    expect((await call(master, 'GET', '/healthz', bearer(WRONG))).status).toBe(200);
  });

  it('--open-reads: reads need no token, the admin endpoint still does', async () => {
    const master = await tokenMaster({ auth: { token: new AdminToken(SECRET), openReads: true } });
    for (const [method, path] of READS) {
      const r = await call(master, method, path);
      expect({ path, status: r.status }).toEqual({ path, status: path === '/v1/least-loaded' ? 503 : 200 });
    }
    expect((await call(master, 'POST', '/v1/admin/snapshot')).status).toBe(401);
    expect((await call(master, 'POST', '/v1/admin/snapshot', bearer(WRONG))).status).toBe(401);
    expect((await call(master, 'POST', '/v1/admin/snapshot', bearer(SECRET))).status).toBe(200);
  });

  it('without a token file: reads are open, the admin endpoint answers 403 ADMIN_DISABLED (with or without a token)', async () => {
    const master = await startMaster(cleanup);
    for (const [method, path] of READS) {
      const r = await call(master, method, path);
      expect({ path, status: r.status }).toEqual({ path, status: path === '/v1/least-loaded' ? 503 : 200 });
    }
    for (const headers of [{}, bearer(SECRET)]) {
      const r = await call(master, 'POST', '/v1/admin/snapshot', headers);
      expect(r.status).toBe(403);
      expect(r.json).toMatchObject({ code: ErrorCode.ADMIN_DISABLED });
      expect(r.json.error).toContain('--admin-token-file');
    }
  });

  it('methods: a changing method on a read endpoint and GET on the admin endpoint are 405 with Allow; unknown paths 404', async () => {
    const master = await tokenMaster();
    const post = await call(master, 'POST', '/v1/state', bearer(SECRET));
    expect(post).toMatchObject({ status: 405, json: { code: 'METHOD_NOT_ALLOWED' } });
    expect(post.headers.allow).toBe('GET, HEAD');
    const get = await call(master, 'GET', '/v1/admin/snapshot', bearer(SECRET));
    expect(get).toMatchObject({ status: 405, json: { code: 'METHOD_NOT_ALLOWED' } });
    expect(get.headers.allow).toBe('POST');
    expect((await call(master, 'HEAD', '/v1/admin/snapshot', bearer(SECRET))).status).toBe(405);
    expect(await call(master, 'GET', '/v1/nope', bearer(SECRET))).toMatchObject({ status: 404, json: { code: ErrorCode.NOT_FOUND } });
    expect(await master.log.snapshotSeqs()).toEqual([]);
  });
});

describe('POST /v1/admin/snapshot', () => {
  it('writes a snapshot of the projection now and answers its seq; the log holds exactly that state', async () => {
    // No automatic snapshots: every snapshot in the log is one the endpoint wrote.
    // a raw client that answers no HELLO: with the default test timings (dead-after 200 ms) a
    // busy machine let the master time it out between the two pushes
    const master = await tokenMaster({ snapshotEvery: 0, snapshotInterval: 0, helloInterval: 60_000, deadAfter: 120_000 });
    const c = await RawClient.connect(master.addresses.listen.port);
    cleanup.defer('raw client', () => c.destroy());
    c.push({ addr: '10.0.0.9:80', load: 42, attrs: { zone: 'eu-1' } });
    await waitFor(() => master.projection.nodes.get('10.0.0.9:80')?.load === 42, { what: 'the push in the projection' });
    expect(await master.log.snapshotSeqs()).toEqual([]);

    const expected = toSnapshot(master.projection);
    const r = await call(master, 'POST', '/v1/admin/snapshot', bearer(SECRET));
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.json).toEqual({ seq: expected.seq });
    expect(await master.log.snapshotSeqs()).toEqual([expected.seq]);
    expect(await master.log.nearestSnapshot(expected.seq)).toEqual(expected);

    // Again after more events: a second snapshot at the new seq.
    c.push({ addr: '10.0.0.9:80', load: 7, attrs: { zone: 'eu-1' } });
    await waitFor(() => master.projection.nodes.get('10.0.0.9:80')?.load === 7, { what: 'the second push' });
    const again = await call(master, 'POST', '/v1/admin/snapshot', { ...bearer(SECRET), 'content-type': 'application/json' });
    expect(again.json.seq).toBe(master.projection.seq);
    expect((await master.log.nearestSnapshot(again.json.seq))?.nodes).toEqual(toSnapshot(master.projection).nodes);
    expect(await master.log.snapshotSeqs()).toEqual([expected.seq, again.json.seq]);
  });
});
