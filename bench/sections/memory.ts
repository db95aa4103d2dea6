/** Bench section: 6. memory. */
import { Child } from '../lib/rpc.js';
import { fmtInt } from '../lib/format.js';
import { log } from '../lib/context.js';

export interface MemoryResult {
  nodes: number;
  eligible: number;
  conns: number;
  foldMs: number;
  baseRss: number;
  rss: number;
  rssPerNode: number;
  heapPerNode: number;
}

export async function memory(nodes: number): Promise<MemoryResult> {
  const w = await Child.start('memory-worker', `memory-${nodes}`, { execArgv: ['--expose-gc'] });
  try {
    const r = await w.call<MemoryResult>('measure', { nodes });
    log(`memory ${fmtInt(nodes)} nodes: ${fmtInt(r.rssPerNode)} B RSS/node, ${fmtInt(r.heapPerNode)} B heap/node`);
    return r;
  } finally {
    await w.stop();
  }
}
