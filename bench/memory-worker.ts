/**
 * Memory per node, in a fresh process started with --expose-gc: RSS (and V8 heap) after a
 * full GC with the modules loaded and an empty projection, then again after folding
 * `nodes` live nodes into it (SlaveConnected, LoadPushed with one attribute, HelloReceived
 * per node, on connections that stay open: every node eligible, in the load index, with
 * its connection entry). The events are dropped as they are folded, as in the master.
 */
import { performance } from 'node:perf_hooks';
import { evolve } from '../src/projection/evolve.js';
import { createProjection, type Projection } from '../src/projection/state.js';
import { serve } from './lib/serve.js';
import { nodeAddr } from './lib/synth.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('memory-worker needs --expose-gc');

function settle(): NodeJS.MemoryUsage {
  for (let i = 0; i < 4; i++) gc!();
  return process.memoryUsage();
}

let keep: Projection | undefined;

serve({
  measure: (arg: { nodes: number }) => {
    const p = createProjection();
    keep = p;
    let seq = 0;
    let ts = 1_750_000_000_000;
    evolve(p, {
      seq: ++seq,
      ts,
      type: 'MasterStarted',
      epoch: 1,
      listen: '0.0.0.0:7400',
      http: '',
      pid: 1,
      helloInterval: 1000,
      deadAfter: 3000,
    });
    const base = settle();
    const t0 = performance.now();
    for (let i = 0; i < arg.nodes; i++) {
      const conn = i + 1;
      ts++;
      evolve(p, { seq: ++seq, ts, type: 'SlaveConnected', conn, remote: `10.1.${(i >> 8) & 255}.${i & 255}:${32768 + (i % 28000)}` });
      evolve(p, {
        seq: ++seq,
        ts,
        type: 'LoadPushed',
        conn,
        node: nodeAddr(i),
        load: Math.floor(Math.random() * 1000),
        capacity: 1,
        attrs: { zone: `z${i % 4}` },
      });
      evolve(p, { seq: ++seq, ts, type: 'HelloReceived', conn });
    }
    const foldMs = performance.now() - t0;
    const after = settle();
    return {
      nodes: p.nodes.size,
      eligible: p.index.size,
      conns: p.conns.size,
      foldMs,
      baseRss: base.rss,
      rss: after.rss,
      rssPerNode: (after.rss - base.rss) / arg.nodes,
      heapPerNode: (after.heapUsed - base.heapUsed) / arg.nodes,
    };
  },
  stop: () => ({ kept: keep?.seq ?? 0 }),
});
