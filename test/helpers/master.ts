/**
 * An in-process Master on 127.0.0.1 port 0 (slaves and HTTP) over a real LevelDB log in a
 * temp dir, plus the small readers the tests need: the log's events, HTTP JSON, a
 * connection's number.
 */
import type { Subscription } from 'rxjs';
import type { LedgerEvent } from '../../src/events.js';
import { Master, type MasterOptions } from '../../src/node/master.js';
import type { StateDocument } from '../../src/projection/document.js';
import { stateDocument } from '../../src/projection/document.js';
import type { Cleanup } from './cleanup.js';
import { RawClient } from './net.js';
import type { PushFields } from '../../src/protocol/index.js';
import { waitFor, withTimeout } from './wait.js';

export type TestMasterOptions = Partial<MasterOptions>;

/** Short intervals so that liveness tests take a few hundred ms. */
export const FAST = { helloInterval: 50, deadAfter: 200 } as const;

/** Starts a master (a fresh temp dir unless `data` is given); stopped at cleanup. */
export async function startMaster(cleanup: Cleanup, opts: TestMasterOptions = {}): Promise<Master> {
  const data = opts.data ?? (await cleanup.tempDir('loadledger-master-'));
  const master = await Master.start({
    data,
    listen: { host: '127.0.0.1', port: 0 },
    http: { host: '127.0.0.1', port: 0 },
    maxSlaves: 1000,
    ...FAST,
    ...opts,
  });
  cleanup.defer('master.stop()', () => withTimeout(master.stop('test cleanup'), 5000, 'master.stop() at cleanup'));
  return master;
}

export function slavePort(master: Master): number {
  return master.addresses.listen.port;
}

export function httpBase(master: Master): string {
  const http = master.addresses.http;
  if (!http) throw new Error('this master has no HTTP API');
  return `${master.options.httpTls ? 'https' : 'http'}://127.0.0.1:${http.port}`;
}

export interface JsonResponse<T = unknown> {
  status: number;
  contentType: string | null;
  body: T;
}

export async function getJson<T = any>(url: string): Promise<JsonResponse<T>> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  const text = await res.text();
  let body: T;
  try {
    body = JSON.parse(text) as T;
  } catch {
    throw new Error(`${url} answered HTTP ${res.status} with non-JSON: ${text.slice(0, 200)}`);
  }
  return { status: res.status, contentType: res.headers.get('content-type'), body };
}

export function api<T = any>(master: Master, path: string): Promise<JsonResponse<T>> {
  return getJson<T>(httpBase(master) + path);
}

/** Every event in the master's log right now, in seq order (read back from LevelDB). */
export async function logEvents(master: Master): Promise<LedgerEvent[]> {
  const out: LedgerEvent[] = [];
  for await (const batch of master.log.read(1, master.log.lastSeq)) out.push(...batch);
  return out;
}

/** Committed events as they are published, from now on; unsubscribed at cleanup. */
export function collectEvents(cleanup: Cleanup, master: Master): LedgerEvent[] {
  const seen: LedgerEvent[] = [];
  const sub: Subscription = master.events$.subscribe({ next: (e) => seen.push(e), error: () => {} });
  cleanup.defer('unsubscribe events$', () => sub.unsubscribe());
  return seen;
}

/** The conn number the master gave `client` (once its SlaveConnected is committed). */
export async function connOf(master: Master, client: RawClient, timeout = 10_000): Promise<number> {
  const remote = client.remote;
  return waitFor(
    () => {
      for (const c of master.projection.conns.values()) if (c.remote === remote) return c.conn;
      return undefined;
    },
    { timeout, what: `the master to record the connection from ${remote}` },
  );
}

/** Waits for the first committed event in the log matching `pred`. */
export async function waitForEvent<E extends LedgerEvent = LedgerEvent>(
  master: Master,
  pred: (e: LedgerEvent) => boolean,
  what: string,
  timeout = 10_000,
): Promise<E> {
  return waitFor(async () => (await logEvents(master)).find(pred) as E | undefined, { timeout, what });
}

/** The state document as the master's projection holds it now (what /v1/state serves). */
export function doc(master: Master): StateDocument {
  return stateDocument(master.projection);
}

export function nodeState(master: Master, id: string): string | undefined {
  return master.projection.nodes.get(id)?.state;
}

/** A raw client connected to `master`'s slave port, destroyed at cleanup. */
export async function rawClient(cleanup: Cleanup, master: Master, opts: { answerHello?: boolean } = {}): Promise<RawClient> {
  const cl = await RawClient.connect(slavePort(master), opts);
  cleanup.defer(`client ${cl.remote}`, () => cl.destroy());
  return cl;
}

/** A raw client whose push is committed: returns it with its conn number. */
export async function pushedClient(
  cleanup: Cleanup,
  master: Master,
  fields: PushFields & { addr: string },
  opts: { answerHello?: boolean } = {},
): Promise<{ cl: RawClient; conn: number }> {
  const cl = await rawClient(cleanup, master, opts);
  const conn = await connOf(master, cl);
  cl.push(fields);
  await waitFor(
    () => master.projection.nodes.get(fields.addr)?.conn === conn && master.projection.nodes.get(fields.addr)?.load === fields.load,
    {
      what: `${fields.addr} to report load ${fields.load}`,
    },
  );
  return { cl, conn };
}

/**
 * Makes `master` say its log cannot be written (as `degraded` reads while a disk is full), without
 * failing a write: for what an interface answers meanwhile. Returns the undo.
 */
export function pretendDegraded(master: Master): () => void {
  const degraded = { since: Date.now(), at: 0, cause: new Error('disk full'), error: new Error('disk full'), attempts: 1 };
  Object.defineProperty(master, 'degraded', { get: () => degraded, configurable: true });
  return () => void delete (master as { degraded?: unknown }).degraded;
}
