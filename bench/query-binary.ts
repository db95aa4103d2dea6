/**
 * `npm run bench -- --only=binquery` (~8 s): binary queries (QUERY / QUERY_REPLY) on one
 * connection against a master in its own process (the built CLI, `--max-frame-rate 0`:
 * the default 1000 frames/s per connection would be the limit, not the master), with
 * 1,000 eligible nodes held by raw slave connections in this process.
 *
 * Two runs of 3 s after a 0.5 s warm-up: one query at a time (the latency of one answer),
 * then 64 pipelined (throughput). Latency is from the write of a QUERY to its reply, seen
 * by the client (QueryClient, the library the CLI uses).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { QueryClient } from '../src/client/query-client.js';
import { HELLO_ACK_FRAME, encodePush } from '../src/protocol/encoder.js';

const NODES = 1000;
const WARMUP_MS = 500;
const MEASURE_MS = 3000;

function pct(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

async function run(client: QueryClient, depth: number): Promise<{ qps: number; p50: number; p99: number; p999: number; n: number }> {
  const lat: number[] = [];
  let measuring = false;
  let stop = false;
  const loop = async (): Promise<void> => {
    while (!stop) {
      const t = performance.now();
      const r = await client.query();
      if (!r.ok) throw new Error(`query failed: ${r.code} ${r.error}`);
      if (measuring) lat.push(performance.now() - t);
    }
  };
  const loops = Array.from({ length: depth }, loop);
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  measuring = true;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, MEASURE_MS));
  measuring = false;
  const secs = (performance.now() - t0) / 1000;
  const n = lat.length;
  stop = true;
  await Promise.all(loops);
  const sorted = Float64Array.from(lat).sort();
  return { qps: n / secs, p50: pct(sorted, 0.5), p99: pct(sorted, 0.99), p999: pct(sorted, 0.999), n };
}

export async function benchBinaryQuery(): Promise<void> {
  const data = mkdtempSync(join(tmpdir(), 'loadledger-binquery-'));
  const main = resolve(import.meta.dirname, '..', 'src', 'cli', 'main.js');
  const master = spawn(
    process.execPath,
    [main, 'master', '--data', data, '--listen', '127.0.0.1:0', '--no-http', '--max-frame-rate', '0', '--connect-rate', '0'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const sockets: Socket[] = [];
  try {
    let err = '';
    const port = await new Promise<number>((res, rej) => {
      master.stderr.setEncoding('utf8').on('data', (s: string) => {
        err += s;
        const m = /slaves on [^ ]+:(\d+)/.exec(err);
        if (m) res(Number(m[1]));
      });
      master.once('exit', () => rej(new Error(`master exited: ${err}`)));
    });
    for (let i = 0; i < NODES; i++) {
      const s = connect({ host: '127.0.0.1', port, noDelay: true });
      sockets.push(s);
      s.on('data', () => s.write(HELLO_ACK_FRAME)); // the master's HELLOs: alive
      s.write(
        encodePush({ addr: `10.0.${i >> 8}.${i & 255}:8080`, load: (i * 7919) % 1000, attrs: { zone: i % 2 ? 'eu-1' : 'us-1', n: i } }),
      );
    }
    const client = await QueryClient.connect({ host: '127.0.0.1', port });
    // wait until every node is eligible: each one answers a query for its own attribute n
    for (let i = 0; i < NODES;) {
      if ((await client.query({ where: { n: i } })).ok) i++;
      else await new Promise((r) => setTimeout(r, 20));
    }
    console.log(
      `binary query: one connection, ${NODES} eligible nodes, master in its own process (--max-frame-rate 0); ${MEASURE_MS / 1000} s each`,
    );
    console.log('in flight  queries/s  p50       p99       p99.9');
    for (const depth of [1, 64]) {
      const r = await run(client, depth);
      console.log(
        `${String(depth).padEnd(9)}  ${Math.round(r.qps).toLocaleString('en-US').padEnd(9)}  ${r.p50.toFixed(3)} ms  ${r.p99.toFixed(3)} ms  ${r.p999.toFixed(3)} ms`,
      );
    }
    await client.close();
  } finally {
    for (const s of sockets) s.destroy();
    master.kill('SIGTERM');
    await new Promise((r) => master.once('exit', r));
    rmSync(data, { recursive: true, force: true });
  }
}
