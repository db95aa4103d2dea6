/**
 * Master HA: a standby answers time travel (/v1/state?at=, /v1/diff, /v1/nodes/{id}/history)
 * from its own replicated log, with the same answers as the leader (issue 15, server side).
 */
import { describe, expect, it } from 'vitest';
import type { StateDocument } from '../../src/projection/document.js';
import { inProcessHa } from '../helpers/ha-inproc.js';
import { api, pushedClient, startMaster } from '../helpers/master.js';
import { waitFor } from '../helpers/wait.js';

const { run, cleanup, cluster: newCluster, member: ha } = inProcessHa();

describe.runIf(run)('master HA: time travel on a standby', () => {
  it('answers /v1/state?at=, /v1/diff and a node history from its own log, as the leader does', async () => {
    const cluster = newCluster('tt');
    const a = await startMaster(cleanup, ha('a', cluster));
    const b = await startMaster(cleanup, ha('b', cluster));
    const node = '10.0.0.9:80';
    const { cl } = await pushedClient(cleanup, a, { addr: node, load: 5 });
    const before = (await api<StateDocument>(a, '/v1/state')).body;
    cl.push({ addr: node, load: 50 });
    await waitFor(() => a.projection.nodes.get(node)?.load === 50, { what: 'the load to move' });
    const after = (await api<StateDocument>(a, '/v1/state')).body;
    await waitFor(() => b.log.lastSeq >= after.seq, { what: 'the standby to follow', timeout: 10_000 });
    expect((await api(b, '/v1/cluster')).body.role).toBe('standby');

    for (const doc of [before, after]) {
      const onB = await api<StateDocument>(b, `/v1/state?at=${doc.seq}`);
      expect(onB.status).toBe(200);
      expect(onB.body).toEqual(doc);
    }
    const diffB = await api(b, `/v1/diff?from=${before.seq}&to=${after.seq}`);
    expect(diffB.body.load).toEqual([{ id: node, was: 5, now: 50, delta: 45 }]);
    expect(diffB.body).toEqual((await api(a, `/v1/diff?from=${before.seq}&to=${after.seq}`)).body);
    const path = `/v1/nodes/${encodeURIComponent(node)}/history?at=${after.seq}&type=LoadPushed`;
    const histB = await api(b, path);
    expect(histB.status).toBe(200);
    expect(histB.body.events.map((e: { load: number }) => e.load)).toEqual([5, 50]);
    expect(histB.body.history[0].what).toBe('(new) → PUSH_LOAD_INFO');
    // up to the point (`next` runs to the end of each log, which the leader may have extended)
    const histA = (await api(a, path)).body;
    for (const k of ['at', 'state', 'history', 'events', 'eventsOmitted']) expect(histB.body[k], k).toEqual(histA[k]);
  });
});
