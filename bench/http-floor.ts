/**
 * The HTTP floor: a bare node:http server (keep-alive, same settings as the master's API)
 * answering every request with a fixed JSON body shaped like a /v1/least-loaded answer.
 */
import { createServer } from 'node:http';
import { performance } from 'node:perf_hooks';
import { serve } from './lib/serve.js';
import { windowProfiler } from './lib/window-profile.js';

/** argv[2]: a directory for window profiles (profStart/profStop), optional. */
const profileDir = process.argv[2] || undefined;

const now = Date.now();
// A string, like the master's JSON.stringify output: node:http then sends headers and
// body in one write (a Buffer body costs a second chunk).
const BODY = JSON.stringify({
  id: '10.0.0.0:8080',
  addr: '10.0.0.0:8080',
  state: 'PUSH_LOAD_INFO',
  load: 0,
  capacity: 1,
  attrs: { zone: 'z0' },
  lastSeen: now,
  since: now,
  epoch: 1,
});
const LENGTH = Buffer.byteLength(BODY);
let requests = 0;
const server = createServer({ keepAlive: true }, (_req, res) => {
  requests++;
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': LENGTH });
  res.end(BODY);
});
server.keepAliveTimeout = 30_000;
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const a = server.address();

serve(
  {
    ...windowProfiler(profileDir),
    stats: () => ({ t: performance.now(), cpu: process.cpuUsage(), requests }),
    stop: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      return { requests };
    },
  },
  { http: { host: '127.0.0.1', port: a && typeof a === 'object' ? a.port : 0 }, bodyBytes: LENGTH },
);
