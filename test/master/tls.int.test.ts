/**
 * TLS with client certificates on the slave port: an in-process master on 127.0.0.1
 * port 0 over a real LevelDB log, slaves made with the project's createSlave (and a few
 * raw TLS or TCP clients), certificates made by openssl for this file (test/helpers/certs.ts).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { LedgerEvent, ProtocolViolated, SlaveConnected, SlaveRefused } from '../../src/events.js';
import type { Master } from '../../src/node/master.js';
import { Recorder } from '../../storage/recorder.js';
import { verifyLog } from '../../replay/verify.js';
import type { MasterTlsOptions } from '../../src/master/tls.js';
import { HELLO_FRAME, encodePush, type PushFields } from '../../src/protocol/index.js';
import { createSlave, type ReconnectInfo, type Slave, type SlaveOptions } from '../../src/slave/slave.js';
import { TLS_NO_HANDSHAKE, type SlaveTlsOptions } from '../../src/slave/tls.js';
import { Pki, slavePortPki, type CertFiles } from '../helpers/certs.js';
import { Cleanup } from '../helpers/cleanup.js';
import { logEvents, nodeState, slavePort, startMaster, waitForEvent, type TestMasterOptions } from '../helpers/master.js';
import { RawClient, closedPort } from '../helpers/net.js';
import { sleep, waitFor, withTimeout } from '../helpers/wait.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

// One CA (and one foreign CA) for the whole file: openssl takes a few ms per certificate.
const pkiCleanup = new Cleanup();
let pki: Pki;
let foreign: Pki;
let server: CertFiles;
/** CN gw-a: may report for 127.0.0.1 (any port) and exactly 10.0.0.5:8080. */
let gwA: CertFiles;
afterAll(() => pkiCleanup.run());
beforeAll(async () => {
  ({ pki, foreign, server, gwA } = await slavePortPki(pkiCleanup));
});

const read = (path: string): string => Pki.read(path);

function masterTls(extra: Partial<MasterTlsOptions> = {}): MasterTlsOptions {
  return { cert: read(server.cert), key: read(server.key), ca: read(pki.ca), ...extra };
}

async function startTlsMaster(opts: TestMasterOptions = {}, tls: Partial<MasterTlsOptions> = {}): Promise<Master> {
  return startMaster(cleanup, { tls: masterTls(tls), ...opts });
}

function slaveTls(files: CertFiles | undefined, extra: SlaveTlsOptions = {}): SlaveTlsOptions {
  return { ca: read(pki.ca), ...(files && { cert: read(files.cert), key: read(files.key) }), ...extra };
}

interface TestSlave {
  slave: Slave;
  reconnects: ReconnectInfo[];
}

function startSlave(master: Master, tls: SlaveTlsOptions | undefined, opts: Partial<SlaveOptions> = {}): TestSlave {
  const slave = createSlave({
    master: { host: '127.0.0.1', port: slavePort(master) },
    load: '10',
    interval: 50,
    deadAfter: 400,
    backoff: { initial: 20, max: 100 },
    ...(tls && { tls }),
    ...opts,
  });
  const reconnects: ReconnectInfo[] = [];
  slave.on('reconnecting', (r) => reconnects.push(r));
  slave.on('error', () => {});
  cleanup.defer('slave.close()', () => withTimeout(slave.close(), 3000, 'slave.close()'));
  return { slave, reconnects };
}

/** A TLS client that speaks the wire protocol by hand. */
async function rawTls(master: Master, files: CertFiles): Promise<{ socket: TLSSocket; closed: Promise<void> }> {
  const socket = tlsConnect({
    host: '127.0.0.1',
    port: slavePort(master),
    ca: read(pki.ca),
    cert: read(files.cert),
    key: read(files.key),
    servername: 'localhost',
  });
  socket.on('error', () => {});
  socket.on('data', () => {});
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  cleanup.defer('raw TLS client', () => void socket.destroy());
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', resolve);
    socket.once('error', reject);
  });
  return { socket, closed };
}

function push(socket: TLSSocket, fields: PushFields): void {
  socket.write(encodePush(fields));
}

const ofType =
  <T extends LedgerEvent['type']>(type: T) =>
  (e: LedgerEvent): e is Extract<LedgerEvent, { type: T }> =>
    e.type === type;

async function refusals(master: Master): Promise<SlaveRefused[]> {
  return (await logEvents(master)).filter(ofType('SlaveRefused'));
}

async function waitRefused(master: Master, reason: string, timeout = 3000): Promise<SlaveRefused> {
  return waitForEvent<SlaveRefused>(
    master,
    (e) => e.type === 'SlaveRefused' && e.reason.includes(reason),
    `a SlaveRefused "${reason}"`,
    timeout,
  );
}

// ---------------------------------------------------------------- tests

describe('TLS on the slave port', () => {
  it('a slave with a certificate from the CA enters the table; SlaveConnected records its CN', async () => {
    const master = await startTlsMaster();
    startSlave(master, slaveTls(gwA), { addr: '10.0.0.5:8080' });
    await waitFor(() => nodeState(master, '10.0.0.5:8080') === 'PUSH_LOAD_INFO', { what: 'the TLS slave in the table' });
    const connected = (await logEvents(master)).filter(ofType('SlaveConnected'));
    expect(connected).toHaveLength(1);
    expect(connected[0]!.identity).toBe('gw-a');
    expect(connected[0]!.remote).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(await refusals(master)).toEqual([]);
  });

  // One master per case: refusals are recorded at most once per second per peer, and every
  // client here is 127.0.0.1.
  type BadClient = 'no certificate' | 'another CA' | 'expired' | 'plain TCP';
  it.each<[BadClient, string, string | undefined]>([
    [
      'no certificate',
      'tls: no client certificate (ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE)',
      'TLS: the master requires a client certificate',
    ],
    [
      'another CA',
      'tls: certificate verification failed (UNABLE_TO_VERIFY_LEAF_SIGNATURE)',
      'TLS: the master closed the connection before sending anything',
    ],
    ['expired', 'tls: certificate verification failed (CERT_HAS_EXPIRED)', 'TLS: the master closed the connection before sending anything'],
    ['plain TCP', 'tls: handshake failed: wrong version number (ERR_SSL_WRONG_VERSION_NUMBER)', undefined],
  ])('%s: refused with "%s", never connected; the master serves others meanwhile', async (kind, reason, slaveSays) => {
    const master = await startTlsMaster();
    let bad: TestSlave | undefined;
    let plain: RawClient | undefined;
    if (kind === 'plain TCP') {
      plain = await RawClient.connect(slavePort(master));
      plain.hello();
      plain.push({ load: 1, addr: '10.0.0.66:80' });
    } else {
      const files =
        kind === 'no certificate'
          ? undefined
          : kind === 'another CA'
            ? foreign.issue('gw-stranger', { san: ['IP:127.0.0.1'], usage: 'client' })
            : pki.issue('gw-expired', { san: ['IP:127.0.0.1'], days: -1, usage: 'client' });
      bad = startSlave(master, slaveTls(files), { addr: '10.0.0.66:80' });
    }
    const good = startSlave(master, slaveTls(gwA), { addr: '10.0.0.5:8080' });

    const refused = await waitRefused(master, reason);
    expect(refused.remote).toMatch(/^127\.0\.0\.1:\d+$/);
    await plain?.waitClosed();
    await waitFor(() => nodeState(master, '10.0.0.5:8080') === 'PUSH_LOAD_INFO', { what: 'the good slave in the table' });
    // a refused slave keeps trying, with backoff, as over plain TCP; each attempt is refused
    if (bad) await waitFor(() => bad.reconnects.length >= 3 && master.counters.refused >= 3, { what: 'the refused slave to retry' });

    const events = await logEvents(master);
    expect(events.filter(ofType('SlaveConnected')).map((e) => e.identity)).toEqual(['gw-a']);
    expect(events.filter(ofType('LoadPushed')).every((e) => e.node === '10.0.0.5:8080')).toBe(true);
    expect([...master.projection.nodes.keys()]).toEqual(['10.0.0.5:8080']);
    expect(master.projection.conns.size).toBe(1);
    expect(good.slave.connected).toBe(true);
    // the refused slave was told, in a line a person can act on
    if (bad && slaveSays) expect(bad.reconnects.every((r) => r.reason.startsWith(slaveSays))).toBe(true);
  });

  it('a plain TCP client that sends nothing is refused when the TLS handshake times out (--handshake-timeout)', async () => {
    const master = await startTlsMaster({ handshakeTimeout: 300 });
    const silent = await RawClient.connect(slavePort(master));
    const refused = await waitRefused(master, 'tls: no handshake within 300 ms (ERR_TLS_HANDSHAKE_TIMEOUT)');
    expect(refused.remote).toBe(silent.remote);
    await silent.waitClosed();
    expect((await logEvents(master)).filter(ofType('SlaveConnected'))).toEqual([]);
  });

  it('--allow and the connection rate refuse before the handshake, once, with their own reason', async () => {
    const master = await startTlsMaster({ allow: ['10.0.0.0/8'] });
    const { slave, reconnects } = startSlave(master, slaveTls(gwA), { addr: '10.0.0.5:8080' });
    const refused = await waitRefused(master, 'is not in --allow');
    expect(refused.reason).toBe('127.0.0.1 is not in --allow (10.0.0.0/8)');
    await waitFor(() => reconnects.length >= 3, { what: 'the slave to retry' });
    await slave.close();
    await sleep(100); // (for a negative: a second refusal per connection would come at once)
    // one refusal per connection attempt (the one in flight at close() may or may not count)
    expect(master.counters.refused).toBeGreaterThanOrEqual(reconnects.length);
    expect(master.counters.refused).toBeLessThanOrEqual(reconnects.length + 1);
    // no TLS refusal for the same connections: they never got to a handshake
    expect((await refusals(master)).filter((r) => r.reason.startsWith('tls:'))).toEqual([]);
    expect((await logEvents(master)).filter(ofType('SlaveConnected'))).toEqual([]);
  });

  it('a push for a node the certificate does not permit: ProtocolViolated NODE_NOT_PERMITTED, connection closed, table unchanged', async () => {
    const master = await startTlsMaster();
    startSlave(master, slaveTls(gwA), { addr: '10.0.0.5:8080', load: '30' });
    await waitFor(() => nodeState(master, '10.0.0.5:8080') === 'PUSH_LOAD_INFO', { what: 'the permitted node' });

    const { socket, closed } = await rawTls(master, gwA);
    socket.write(HELLO_FRAME);
    push(socket, { load: 1, addr: '10.0.0.5:8081' }); // the right host, another port
    await withTimeout(closed, 3000, 'the master to close the connection');
    const v = await waitForEvent<ProtocolViolated>(master, (e) => e.type === 'ProtocolViolated', 'the violation');
    expect(v.code).toBe('NODE_NOT_PERMITTED');
    expect(v.reason).toBe('certificate "gw-a" does not permit node 10.0.0.5:8081');

    const events = await logEvents(master);
    expect(events.filter(ofType('LoadPushed')).map((e) => e.node)).not.toContain('10.0.0.5:8081');
    expect([...master.projection.nodes.keys()]).toEqual(['10.0.0.5:8080']);
    expect(master.projection.nodes.get('10.0.0.5:8080')!.load).toBe(30);
  });

  it('without addr the node id is the remote IP, permitted by IP:127.0.0.1', async () => {
    const master = await startTlsMaster();
    startSlave(master, slaveTls(gwA));
    await waitFor(() => nodeState(master, '127.0.0.1') === 'PUSH_LOAD_INFO', { what: 'node 127.0.0.1 in the table' });
  });

  it('a certificate with only a node URI may not use the default addr (its IP)', async () => {
    const master = await startTlsMaster();
    const uriOnly = pki.issue('gw-uri', { san: ['URI:loadledger:node:10.0.0.5:8080'], usage: 'client' });
    const { socket, closed } = await rawTls(master, uriOnly);
    push(socket, { load: 1 });
    await withTimeout(closed, 3000, 'the master to close the connection');
    const v = await waitForEvent<ProtocolViolated>(master, (e) => e.type === 'ProtocolViolated', 'the violation');
    expect(v).toMatchObject({ code: 'NODE_NOT_PERMITTED', reason: 'certificate "gw-uri" does not permit node 127.0.0.1' });
    expect(master.projection.nodes.size).toBe(0);
  });

  it('the identities map replaces the SAN for the CNs it names', async () => {
    const master = await startTlsMaster({}, { identities: { 'gw-a': ['10.0.0.7'] } });
    // gw-a's SAN permits 10.0.0.5:8080, but the map says 10.0.0.7 (any port) only
    const { socket, closed } = await rawTls(master, gwA);
    push(socket, { load: 1, addr: '10.0.0.5:8080' });
    await withTimeout(closed, 3000, 'the master to close the connection');
    expect((await waitForEvent<ProtocolViolated>(master, (e) => e.type === 'ProtocolViolated', 'the violation')).code).toBe(
      'NODE_NOT_PERMITTED',
    );

    startSlave(master, slaveTls(gwA), { addr: '10.0.0.7:9000' });
    await waitFor(() => nodeState(master, '10.0.0.7:9000') === 'PUSH_LOAD_INFO', { what: 'the mapped node' });
    // a CN the map does not name keeps its SAN
    const gwB = pki.issue('gw-b', { san: ['URI:loadledger:node:10.0.0.8:8080'], usage: 'client' });
    startSlave(master, slaveTls(gwB), { addr: '10.0.0.8:8080' });
    await waitFor(() => nodeState(master, '10.0.0.8:8080') === 'PUSH_LOAD_INFO', { what: 'gw-b by its SAN' });
    expect([...master.projection.nodes.keys()].sort()).toEqual(['10.0.0.7:9000', '10.0.0.8:8080']);
  });

  it('slaves that connect while the master starts (trusted or not) are held, and recorded after MasterStarted', async () => {
    const port = await closedPort(); // free, and no other listen(0) or connection takes it meanwhile
    const dir = await cleanup.tempDir('loadledger-tls-early-');
    const stranger = foreign.issue('gw-stranger', { san: ['IP:127.0.0.1'], usage: 'client' });
    // retrying every few ms against the closed port, so that attempts land in the start
    const fast = { master: { host: '127.0.0.1', port }, backoff: { initial: 1, max: 3 } };
    const placeholder = { addresses: { listen: { port } } } as unknown as Master;
    const good = startSlave(placeholder, slaveTls(gwA), { ...fast, addr: '10.0.0.5:8080' });
    const { reconnects: strangerTries } = startSlave(placeholder, slaveTls(stranger), fast);
    const strangerTls = (): boolean => strangerTries.some((r) => r.reason.startsWith('TLS'));
    let connectedAt = Infinity;
    good.slave.once('connect', () => (connectedAt = performance.now()));
    // The master listens, then commits MasterStarted: hold that commit until the trusted
    // slave's handshake finished and the stranger's failed (however long a busy machine
    // takes), so both surely land inside the window.
    // eslint-disable-next-line @typescript-eslint/unbound-method -- called below with .call(this) on a Recorder
    const flush = Recorder.prototype.flush;
    const spy = vi.spyOn(Recorder.prototype, 'flush').mockImplementationOnce(async function (this: Recorder) {
      await waitFor(() => connectedAt !== Infinity && strangerTls(), { what: 'both handshakes during the start' }).catch(() => {});
      return flush.call(this);
    });
    cleanup.defer('restore flush', () => spy.mockRestore());
    const master = await startTlsMaster({ http: null, data: dir, listen: { host: '127.0.0.1', port } });
    const startedAt = performance.now();
    expect(connectedAt, 'the TLS handshake finished while the master was starting').toBeLessThan(startedAt);

    await waitFor(() => nodeState(master, '10.0.0.5:8080') === 'PUSH_LOAD_INFO', { what: 'the early slave eligible' });
    await waitRefused(master, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    const events = await logEvents(master);
    // the fresh log starts with the start: nothing of a slave came before it
    expect(events[0]!.type).toBe('MasterStarted');
    expect(events.filter((e) => e.type === 'SlaveConnected')).toHaveLength(1);
  });

  it('plain TCP masters are unchanged: no identity, no permission check', async () => {
    const master = await startMaster(cleanup);
    startSlave(master, undefined, { addr: '10.9.9.9:1' });
    await waitFor(() => nodeState(master, '10.9.9.9:1') === 'PUSH_LOAD_INFO', { what: 'the plain slave' });
    const connected = (await logEvents(master)).filter(ofType('SlaveConnected'));
    expect(connected.map((e) => Object.keys(e).sort())).toEqual([['conn', 'remote', 'seq', 'ts', 'type']]);
  });
});

describe("the slave's TLS options (createSlave)", () => {
  it('verifies the master against tls.servername (default: the --master host); a wrong name or CA is a TLS reason, retried with backoff', async () => {
    const master = await startTlsMaster();
    const byName = startSlave(master, slaveTls(gwA, { servername: 'localhost' }), { addr: '10.0.0.5:8080' });
    const wrongName = startSlave(master, slaveTls(gwA, { servername: 'wrong.example' }));
    const wrongCa = startSlave(master, { ca: read(foreign.ca), cert: read(gwA.cert), key: read(gwA.key) });

    await waitFor(() => nodeState(master, '10.0.0.5:8080') === 'PUSH_LOAD_INFO', { what: 'the slave that verified localhost' });
    expect(byName.slave.connected).toBe(true);
    await waitFor(() => wrongName.reconnects.length >= 3 && wrongCa.reconnects.length >= 3, { what: 'the misconfigured slaves to retry' });
    expect(new Set(wrongName.reconnects.map((r) => r.reason))).toEqual(
      new Set(['TLS: the master\'s certificate is not valid for "wrong.example" (ERR_TLS_CERT_ALTNAME_INVALID)']),
    );
    expect(new Set(wrongCa.reconnects.map((r) => r.reason.replace(/ \(.*/, '')))).toEqual(
      new Set(["TLS: the master's certificate is not trusted"]),
    );
    // backoff grows as for a refused TCP connection
    expect(wrongName.reconnects.map((r) => r.attempt).slice(0, 3)).toEqual([1, 2, 3]);
    // the slave that does not trust the master never reached it as a slave
    const identities = (await logEvents(master)).filter(ofType('SlaveConnected')).map((e) => e.identity);
    expect(identities).toEqual(['gw-a']);
  });

  it('reconnects to a restarted master over TLS, as over plain TCP', async () => {
    const first = await startTlsMaster({ http: null, listen: { host: '127.0.0.1', port: await closedPort() } });
    const { port } = first.addresses.listen; // (outside the ephemeral range: still free at the restart)
    const dir = first.options.data;
    const { slave } = startSlave(first, slaveTls(gwA), { addr: '10.0.0.5:8080' });
    await waitFor(() => nodeState(first, '10.0.0.5:8080') === 'PUSH_LOAD_INFO', { what: 'the node on the first master' });
    await first.stop('restart');
    await waitFor(() => !slave.connected, { what: 'the slave to notice' });
    const second = await startTlsMaster({ http: null, data: dir, listen: { host: '127.0.0.1', port } });
    await waitFor(
      () => nodeState(second, '10.0.0.5:8080') === 'PUSH_LOAD_INFO' && second.projection.nodes.get('10.0.0.5:8080')!.epoch === 2,
      {
        what: 'the node back on the second master',
      },
    );
    const connected = (await logEvents(second)).filter(ofType('SlaveConnected'));
    expect(connected.map((e: SlaveConnected) => e.identity)).toEqual(['gw-a', 'gw-a']);
  });

  it('a master that is not TLS: the slave says so, as a TLS reason, and keeps retrying', async () => {
    // a loadledger master without TLS: it HELLOs the silent "slave", which is no TLS record
    const plainMaster = await startMaster(cleanup, { http: null });
    const toPlain = startSlave(plainMaster, slaveTls(gwA));
    // a TCP server that says nothing: the handshake never ends
    const silent = createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    cleanup.defer('silent server', () => new Promise<void>((r) => silent.close(() => r())));
    const sockets: Socket[] = [];
    silent.on('connection', (s) => sockets.push(s));
    cleanup.defer('silent sockets', () => sockets.forEach((s) => s.destroy()));
    const placeholder = { addresses: { listen: { port: (silent.address() as AddressInfo).port } } } as unknown as Master;
    const toSilent = startSlave(placeholder, slaveTls(gwA), { connectTimeout: 150 });

    await waitFor(() => toPlain.reconnects.length >= 2 && toSilent.reconnects.length >= 2, { what: 'both slaves to retry', timeout: 5000 });
    expect(toPlain.reconnects[0]!.reason).toMatch(/^TLS: handshake failed: .*; is the master using TLS\?$/);
    expect(toSilent.reconnects[0]!.reason).toBe(TLS_NO_HANDSHAKE);
    expect(nodeState(plainMaster, '127.0.0.1')).toBeUndefined();
  });

  it('refuses unusable options with one line naming the option', () => {
    const base = { master: '127.0.0.1:1', load: '1' };
    const codeAndMessage = (tls: SlaveTlsOptions): string => {
      try {
        void createSlave({ ...base, tls }).close();
        return 'no error';
      } catch (e) {
        return `${(e as { code: string }).code} ${(e as Error).message}`;
      }
    };
    expect(codeAndMessage({ cert: read(gwA.cert) })).toBe('BAD_ARGUMENT tls.key: tls.cert and tls.key go together');
    expect(codeAndMessage({ cert: read(gwA.key), key: read(gwA.key) })).toMatch(/^BAD_ARGUMENT tls.cert: no PEM certificate in it/);
    expect(codeAndMessage({ cert: read(gwA.cert), key: read(gwA.cert) })).toBe('BAD_ARGUMENT tls.key: not a PEM private key');
    expect(codeAndMessage({ cert: read(gwA.cert), key: read(server.key) })).toBe(
      'BAD_ARGUMENT tls.key: does not match the certificate of tls.cert',
    );
    expect(codeAndMessage({ ca: 'garbage' })).toMatch(/^BAD_ARGUMENT tls.ca: no PEM certificate/);
  });
});

describe('no key material in the log', () => {
  it('after TLS slaves came, pushed, were refused and the master stopped, no file of the log holds any private key text', async () => {
    const master = await startTlsMaster({ snapshotEvery: 5 });
    const dir = master.options.data;
    const stranger = foreign.issue('gw-stranger', { san: ['IP:127.0.0.1'], usage: 'client' });
    startSlave(master, slaveTls(gwA), { addr: '10.0.0.5:8080' });
    startSlave(master, slaveTls(stranger));
    await waitFor(() => nodeState(master, '10.0.0.5:8080') === 'PUSH_LOAD_INFO', { what: 'the node' });
    await waitRefused(master, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    const events = await logEvents(master);
    await master.stop('test');

    const keys = [server.key, gwA.key, stranger.key, join(pki.dir, `${pki.name}.key`)].map(read);
    // a distinctive piece of every key: a line of its base64 body (also survives as a literal in compressed blocks)
    const needles = keys.map((k) => k.split('\n').find((l) => l.length >= 40 && !l.startsWith('-----'))!);
    expect(needles.every((n) => n !== undefined)).toBe(true);
    const files = listFiles(dir);
    expect(files.length).toBeGreaterThan(3);
    for (const f of files) {
      const bytes = readFileSync(f).toString('latin1');
      expect(bytes, f).not.toContain('PRIVATE KEY');
      for (const n of needles) expect(bytes.includes(n), `${f} holds key material`).toBe(false);
    }
    const text = JSON.stringify(events);
    expect(text).not.toContain('PRIVATE KEY');
    for (const n of needles) expect(text.includes(n)).toBe(false);
    // and the log, with its TLS events, is sound: it folds to what its snapshots say
    const verified = await verifyLog(dir);
    expect(verified.problems).toEqual([]);
  });
});

function listFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? listFiles(p) : [p];
  });
}
