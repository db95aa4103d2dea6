/**
 * GET /metrics of an in-process master after real traffic (raw TCP slaves, HTTP queries):
 * the values it reports, that the text is Prometheus exposition format, and that two
 * masters in one process count apart.
 */
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import { EVENT_TYPES } from '../../src/events.js';
import type { Master } from '../../src/node/master.js';
import { Cleanup } from '../helpers/cleanup.js';
import { faultyStorage } from '../helpers/faulty-storage.js';
import { api, httpBase, slavePort, startMaster } from '../helpers/master.js';
import { RawClient, rawFrame } from '../helpers/net.js';
import { waitFor } from '../helpers/wait.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const SLOW = { helloInterval: 10_000, deadAfter: 20_000 } as const;

async function scrape(master: Master): Promise<{ text: string; contentType: string | null }> {
  const res = await fetch(httpBase(master) + '/metrics', { signal: AbortSignal.timeout(5000) });
  expect(res.status).toBe(200);
  return { text: await res.text(), contentType: res.headers.get('content-type') };
}

/**
 * Parses Prometheus text exposition: samples by `name{labels}`, types by family; throws on
 * a malformed line. (prom-client writes NaN as "Nan"; Prometheus reads NaN in any case.)
 */
function parseExposition(text: string): { samples: Map<string, number>; types: Map<string, string> } {
  const samples = new Map<string, number>();
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    let m: RegExpExecArray | null;
    if ((m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line))) {
      expect(types.has(m[1]!), `TYPE of ${m[1]} given twice`).toBe(false);
      types.set(m[1]!, m[2]!);
    } else if (/^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*$/.test(line)) {
      continue;
    } else if (
      (m =
        /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})?) (-?[0-9.e+-]+|[Nn][Aa][Nn]|\+Inf|-Inf)$/.exec(
          line,
        ))
    ) {
      samples.set(m[1]!, Number(m[2]));
    } else {
      throw new Error(`not Prometheus exposition format: ${JSON.stringify(line)}`);
    }
  }
  return { samples, types };
}

function value(samples: Map<string, number>, key: string): number {
  const v = samples.get(key);
  if (v === undefined)
    throw new Error(
      `no sample ${key} in /metrics; have: ${[...samples.keys()].filter((k) => k.startsWith(key.split('{')[0]!)).join(', ')}`,
    );
  return v;
}

function bytesUnder(dir: string): number {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .reduce((sum, e) => sum + statSync(join(e.parentPath, e.name)).size, 0);
}

async function pushed(master: Master, addr: string, load: number): Promise<RawClient> {
  const cl = await RawClient.connect(slavePort(master));
  cleanup.defer(`client ${addr}`, () => cl.destroy());
  cl.push({ load, addr, capacity: 2 });
  await waitFor(() => master.projection.nodes.get(addr)?.state === 'PUSH_LOAD_INFO', { what: `${addr} in the table` });
  return cl;
}

describe('GET /metrics', () => {
  it('counts events by type, queries by policy and result, violations by code; nodes, connections, log size; parses as exposition format', async () => {
    const master = await startMaster(cleanup, SLOW);
    // A no-eligible query first (no node yet), then two nodes and a query of each policy.
    expect((await api(master, '/v1/least-loaded')).status).toBe(503);
    await pushed(master, '10.0.0.1:80', 10);
    await pushed(master, '10.0.0.2:80', 20);
    for (const policy of ['least-loaded', 'p2c', 'capacity'])
      expect((await api(master, `/v1/least-loaded?policy=${policy}`)).status).toBe(200);
    expect((await api(master, '/v1/least-loaded')).status).toBe(200); // the master's --policy (least-loaded), answered from the cache
    expect((await api(master, '/v1/least-loaded?zone=nowhere')).status).toBe(503);
    expect((await api(master, '/v1/least-loaded?policy=fastest')).status).toBe(400);
    // A violation: a push whose payload is not a map.
    const bad = await RawClient.connect(slavePort(master));
    cleanup.defer('bad client', () => bad.destroy());
    bad.send(rawFrame(0, Buffer.from([0x07])));
    await bad.waitClosed();
    await waitFor(() => master.projection.conns.size === 2, { what: 'the violator gone from the projection' });

    const { text, contentType } = await scrape(master);
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    const { samples, types } = parseExposition(text);

    // Kept from before prom-client (dashboards and tests read them).
    expect(types.get('loadledger_events_total')).toBe('counter');
    expect(value(samples, 'loadledger_events_total')).toBe(master.recorder.stats.events);
    expect(value(samples, 'loadledger_log_writes_total')).toBe(master.recorder.stats.writes);
    expect(value(samples, 'loadledger_last_seq')).toBe(master.projection.seq);
    expect(value(samples, 'loadledger_nodes{state="PUSH_LOAD_INFO"}')).toBe(2);
    expect(value(samples, 'loadledger_nodes{state="DOWN"}')).toBe(0);
    expect(types.get('loadledger_connections')).toBe('gauge');
    expect(value(samples, 'loadledger_connections')).toBe(2);
    expect(value(samples, 'loadledger_log_writable')).toBe(1);
    expect(value(samples, 'loadledger_refused_total')).toBe(0);
    expect(value(samples, 'loadledger_unknown_frames_total')).toBe(0);

    // Events by type: every type present, and they sum to the total.
    expect(types.get('loadledger_events_by_type_total')).toBe('counter');
    let sum = 0;
    for (const type of EVENT_TYPES) sum += value(samples, `loadledger_events_by_type_total{type="${type}"}`);
    expect(sum).toBe(value(samples, 'loadledger_events_total'));
    expect(value(samples, 'loadledger_events_by_type_total{type="MasterStarted"}')).toBe(1);
    expect(value(samples, 'loadledger_events_by_type_total{type="SlaveConnected"}')).toBe(3);
    expect(value(samples, 'loadledger_events_by_type_total{type="LoadPushed"}')).toBe(2);
    expect(value(samples, 'loadledger_events_by_type_total{type="ProtocolViolated"}')).toBe(1);

    expect(types.get('loadledger_violations_total')).toBe('counter');
    expect(value(samples, `loadledger_violations_total{code="${ErrorCode.PUSH_NOT_MAP}"}`)).toBe(1);

    expect(types.get('loadledger_queries_total')).toBe('counter');
    const q = (policy: string, result: string) => value(samples, `loadledger_queries_total{policy="${policy}",result="${result}"}`);
    expect(q('least-loaded', 'ok')).toBe(2);
    expect(q('p2c', 'ok')).toBe(1);
    expect(q('capacity', 'ok')).toBe(1);
    expect(q('least-loaded', 'no_eligible')).toBe(2);
    expect(q('least-loaded', 'bad_request')).toBe(1);
    expect(q('least-loaded', 'down')).toBe(0);
    expect(q('p2c', 'no_eligible')).toBe(0);

    // One observation per group commit.
    expect(types.get('loadledger_append_batch_events')).toBe('histogram');
    expect(types.get('loadledger_append_seconds')).toBe('histogram');
    expect(value(samples, 'loadledger_append_batch_events_count')).toBe(master.recorder.stats.writes);
    expect(value(samples, 'loadledger_append_batch_events_sum')).toBe(master.recorder.stats.events);
    expect(value(samples, 'loadledger_append_seconds_count')).toBe(master.recorder.stats.writes);
    expect(value(samples, 'loadledger_append_seconds_sum')).toBeGreaterThan(0);
    expect(value(samples, 'loadledger_append_batch_events_bucket{le="+Inf"}')).toBe(master.recorder.stats.writes);

    expect(types.get('loadledger_log_size_bytes')).toBe('gauge');
    // Every file under --data, walked at most every few seconds (a file added now is not seen yet).
    expect(value(samples, 'loadledger_log_size_bytes')).toBe(bytesUnder(master.options.data));
    expect(value(samples, 'loadledger_log_size_bytes')).toBeGreaterThan(500);
    writeFileSync(join(master.options.data, 'extra'), Buffer.alloc(100_000));
    expect(value(parseExposition((await scrape(master)).text).samples, 'loadledger_log_size_bytes')).toBe(
      value(samples, 'loadledger_log_size_bytes'),
    );

    // Process metrics, prefixed.
    expect(value(samples, 'loadledger_process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(types.get('loadledger_nodejs_eventloop_lag_seconds')).toBe('gauge');
  });

  it('two masters in one process do not share counters', async () => {
    const a = await startMaster(cleanup, SLOW);
    const b = await startMaster(cleanup, SLOW);
    await pushed(a, '10.0.0.1:80', 1);
    await pushed(a, '10.0.0.2:80', 2);
    for (let i = 0; i < 3; i++) expect((await api(a, '/v1/least-loaded?policy=p2c')).status).toBe(200);
    expect((await api(b, '/v1/least-loaded')).status).toBe(503);
    const sa = parseExposition((await scrape(a)).text).samples;
    const sb = parseExposition((await scrape(b)).text).samples;
    expect(value(sa, 'loadledger_queries_total{policy="p2c",result="ok"}')).toBe(3);
    expect(value(sb, 'loadledger_queries_total{policy="p2c",result="ok"}')).toBe(0);
    expect(value(sb, 'loadledger_queries_total{policy="least-loaded",result="no_eligible"}')).toBe(1);
    expect(value(sa, 'loadledger_events_by_type_total{type="LoadPushed"}')).toBe(2);
    expect(value(sb, 'loadledger_events_by_type_total{type="LoadPushed"}')).toBe(0);
    expect(value(sa, 'loadledger_nodes{state="PUSH_LOAD_INFO"}')).toBe(2);
    expect(value(sb, 'loadledger_nodes{state="PUSH_LOAD_INFO"}')).toBe(0);
    expect(value(sb, 'loadledger_events_total')).toBe(b.recorder.stats.events);
    expect(value(sb, 'loadledger_append_batch_events_count')).toBe(b.recorder.stats.writes);
  });

  it('a query while the master cannot write its log counts as down; the stats outlive the recorder that replaced the failed one', async () => {
    const { disk, openLog } = faultyStorage();
    const master = await startMaster(cleanup, { ...SLOW, openLog, logRetryInterval: 50, logRetryFor: 0 });
    disk.full = true;
    const cl = await RawClient.connect(slavePort(master)); // its SlaveConnected fails to commit
    cleanup.defer('client', () => cl.destroy());
    await waitFor(() => master.degraded, { what: 'the master DOWN for its log' });
    expect((await api(master, '/v1/least-loaded?policy=capacity')).status).toBe(503);
    let samples = parseExposition((await scrape(master)).text).samples;
    expect(value(samples, 'loadledger_queries_total{policy="least-loaded",result="down"}')).toBe(1);
    expect(value(samples, 'loadledger_log_writable')).toBe(0);
    disk.full = false;
    await waitFor(() => !master.degraded, { what: 'recovery' });
    const before = value(samples, 'loadledger_append_batch_events_count');
    samples = parseExposition((await scrape(master)).text).samples;
    expect(value(samples, 'loadledger_log_writable')).toBe(1);
    // MasterStopped + MasterStarted of the recovery, committed by the new recorder, still counted.
    expect(value(samples, 'loadledger_events_by_type_total{type="MasterStarted"}')).toBe(2);
    expect(value(samples, 'loadledger_append_batch_events_count')).toBeGreaterThan(before);
  });
});
