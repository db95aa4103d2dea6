/**
 * Selection policies through a real master: slaves are raw TCP clients pushing to an
 * in-process master (real LevelDB), queries go to its HTTP API. `?policy=` per query, the
 * master's `policy` and `compensation` options (the CLI's --policy, --compensation).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import { Master } from '../../src/node/master.js';
import type { NodeDocument } from '../../src/projection/document.js';
import type { PushFields } from '../../src/protocol/index.js';
import { Cleanup } from '../helpers/cleanup.js';
import { codeOf } from '../helpers/errors.js';
import { api, slavePort, startMaster, type TestMasterOptions } from '../helpers/master.js';
import { RawClient } from '../helpers/net.js';
import { waitFor } from '../helpers/wait.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** Timers out of the way: nothing is pinged or timed out during a test. */
const SLOW = { helloInterval: 10_000, deadAfter: 20_000 } as const;

/** Raw slaves, one per node, each push awaited until it is in the projection. */
class Slaves {
  private readonly clients = new Map<string, RawClient>();

  constructor(private readonly master: Master) {}

  async push(fields: PushFields & { addr: string }): Promise<void> {
    let cl = this.clients.get(fields.addr);
    if (!cl) {
      cl = await RawClient.connect(slavePort(this.master));
      const c = cl;
      cleanup.defer(`client ${fields.addr}`, () => c.destroy());
      this.clients.set(fields.addr, cl);
    }
    const before = this.master.projection.nodes.get(fields.addr)?.reportSeq ?? 0;
    cl.push(fields);
    await waitFor(() => (this.master.projection.nodes.get(fields.addr)?.reportSeq ?? 0) > before, {
      what: `the push of ${fields.addr} in the projection`,
    });
  }
}

async function cluster(opts: TestMasterOptions = {}): Promise<{ master: Master; slaves: Slaves }> {
  const master = await startMaster(cleanup, { ...SLOW, ...opts });
  const slaves = new Slaves(master);
  // least-loaded: a; load / capacity: b (7.5); p2c never answers c (the most loaded)
  await slaves.push({ addr: 'a:1', load: 10, attrs: { zone: 'eu-1' } });
  await slaves.push({ addr: 'b:1', load: 30, capacity: 4, attrs: { zone: 'eu-1' } });
  await slaves.push({ addr: 'c:1', load: 40, attrs: { zone: 'eu-2', policy: 'p2c' } });
  return { master, slaves };
}

async function ids(master: Master, path: string, k: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < k; i++) {
    const r = await api<NodeDocument>(master, path);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    out.push(r.body.id);
  }
  return out;
}

describe('GET /v1/least-loaded?policy=', () => {
  it('least-loaded (the default), capacity, p2c; the answer is the node document', async () => {
    const { master } = await cluster();
    expect((await api(master, '/v1/least-loaded')).body).toMatchObject({ id: 'a:1', load: 10, capacity: 1, state: 'PUSH_LOAD_INFO' });
    expect((await api(master, '/v1/least-loaded?policy=least-loaded')).body).toMatchObject({ id: 'a:1' });
    expect((await api(master, '/v1/least-loaded?policy=capacity')).body).toMatchObject({ id: 'b:1', load: 30, capacity: 4 });
    const p2c = new Set(await ids(master, '/v1/least-loaded?policy=p2c', 60));
    // c loses every comparison; a wins 2/3, b 1/3 of the draws: both show up in 60
    expect([...p2c].sort()).toEqual(['a:1', 'b:1']);
  });

  it('combines with attribute filters; policy is reserved, not an attribute filter', async () => {
    const { master } = await cluster();
    expect((await api(master, '/v1/least-loaded?zone=eu-1&policy=capacity')).body).toMatchObject({ id: 'b:1' });
    expect((await api(master, '/v1/least-loaded?policy=least-loaded&zone=eu-2')).body).toMatchObject({ id: 'c:1' });
    expect(new Set(await ids(master, '/v1/least-loaded?policy=p2c&zone=eu-2', 10))).toEqual(new Set(['c:1']));
    // c has an attribute policy=p2c: ?policy=p2c chooses the policy, it does not filter on it
    // (as a filter it would answer c only; as the policy, c loses every comparison)
    expect(await ids(master, '/v1/least-loaded?policy=p2c', 20)).not.toContain('c:1');
    expect(new Set(await ids(master, '/v1/least-loaded?policy=p2c&zone=eu-1', 10))).toEqual(new Set(['a:1'])); // p2c of two: both drawn
    const none = await api(master, '/v1/least-loaded?policy=capacity&zone=us-1');
    expect(none.status).toBe(503);
    expect(none.body).toMatchObject({ code: ErrorCode.NO_ELIGIBLE_NODE });
  });

  it.each([['policy=fastest'], ['policy='], ['policy=P2C'], ['policy=p2c&policy=capacity'], ['zone=eu-1&policy=round-robin']])(
    '?%s → 400 BAD_ARGUMENT',
    async (qs) => {
      const { master } = await cluster();
      const r = await api(master, `/v1/least-loaded?${qs}`);
      expect(r.status).toBe(400);
      expect(r.body).toEqual({ error: expect.stringMatching(/policy/), code: ErrorCode.BAD_ARGUMENT });
    },
  );

  it('no eligible node → 503 NO_ELIGIBLE_NODE under every policy', async () => {
    const master = await startMaster(cleanup, SLOW);
    for (const policy of ['least-loaded', 'p2c', 'capacity']) {
      const r = await api(master, `/v1/least-loaded?policy=${policy}`);
      expect({ policy, status: r.status, code: r.body.code }).toEqual({ policy, status: 503, code: ErrorCode.NO_ELIGIBLE_NODE });
    }
  });

  it('the cached answer follows new reports under least-loaded and capacity', async () => {
    const { master, slaves } = await cluster();
    expect((await api(master, '/v1/least-loaded?policy=capacity')).body).toMatchObject({ id: 'b:1' });
    expect((await api(master, '/v1/least-loaded')).body).toMatchObject({ id: 'a:1' });
    await slaves.push({ addr: 'a:1', load: 10, capacity: 2, attrs: { zone: 'eu-1' } }); // a: 5 by capacity
    await slaves.push({ addr: 'c:1', load: 1, attrs: { zone: 'eu-2' } });
    expect((await api(master, '/v1/least-loaded?policy=capacity')).body).toMatchObject({ id: 'c:1' });
    expect((await api(master, '/v1/least-loaded')).body).toMatchObject({ id: 'c:1', load: 1 });
  });
});

describe("the master's policy and compensation (--policy, --compensation)", () => {
  it('policy: queries that name none use it; ?policy= still overrides', async () => {
    const { master } = await cluster({ policy: 'capacity' });
    expect((await api(master, '/v1/least-loaded')).body).toMatchObject({ id: 'b:1' });
    expect((await api(master, '/v1/least-loaded?policy=least-loaded')).body).toMatchObject({ id: 'a:1' });
  });

  it('compensation: each answer adds the increment to the node until its next report; a report resets it', async () => {
    const master = await startMaster(cleanup, { ...SLOW, compensation: 5 });
    const slaves = new Slaves(master);
    await slaves.push({ addr: 'a:1', load: 10 });
    await slaves.push({ addr: 'b:1', load: 12 });
    // effective loads: a 10 → 15 → 20 → 25, b 12 → 17 → 22
    expect(await ids(master, '/v1/least-loaded', 5)).toEqual(['a:1', 'b:1', 'a:1', 'b:1', 'a:1']);
    await slaves.push({ addr: 'b:1', load: 12 }); // b reports again, same load: its compensation is 0
    expect(await ids(master, '/v1/least-loaded', 3)).toEqual(['b:1', 'b:1', 'b:1']); // 12, 17, 22 < 25
    await slaves.push({ addr: 'a:1', load: 10 });
    expect(await ids(master, '/v1/least-loaded?policy=capacity', 1)).toEqual(['a:1']);
  });

  it('a bad policy or compensation → BAD_ARGUMENT before anything starts', async () => {
    const data = await cleanup.tempDir();
    const base = { data, listen: { host: '127.0.0.1', port: 0 }, http: null, helloInterval: 1000, deadAfter: 3000, maxSlaves: 10 };
    expect(await codeOf(Master.start({ ...base, policy: 'fastest' as never }))).toBe(ErrorCode.BAD_ARGUMENT);
    expect(await codeOf(Master.start({ ...base, compensation: -1 }))).toBe(ErrorCode.BAD_ARGUMENT);
  });
});
