/**
 * The network floor: a TCP server that only frames (the master's FrameDecoder, which also
 * decodes and validates each PUSH_LOAD_INFO payload) and answers HELLO with HELLO_ACK at
 * once. No events, no storage, no projection. Same socket options as the master.
 */
import { createServer, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { FrameDecoder } from '../src/protocol/decoder.js';
import { HELLO_ACK_FRAME } from '../src/protocol/encoder.js';
import { serve } from './lib/serve.js';
import { windowProfiler } from './lib/window-profile.js';

/** argv[2]: a directory for window profiles (profStart/profStop), optional. */
const profileDir = process.argv[2] || undefined;

const counts = { hellos: 0, pushes: 0, conns: 0 };
const sockets = new Set<Socket>();
const server = createServer({ noDelay: true }, (socket) => {
  counts.conns++;
  sockets.add(socket);
  socket.setNoDelay(true);
  const decoder = new FrameDecoder({
    frame(f) {
      if (f.type === 'HELLO') {
        counts.hellos++;
        socket.write(HELLO_ACK_FRAME);
      } else if (f.type === 'PUSH_LOAD_INFO') counts.pushes++;
    },
    error() {
      socket.destroy();
    },
  });
  socket.on('data', (chunk: Buffer) => decoder.push(chunk));
  socket.on('error', () => {});
  socket.on('close', () => sockets.delete(socket));
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const a = server.address();

serve(
  {
    ...windowProfiler(profileDir),
    stats: () => ({ t: performance.now(), cpu: process.cpuUsage(), ...counts, events: 0 }),
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
      return counts;
    },
  },
  { listen: { host: '127.0.0.1', port: a && typeof a === 'object' ? a.port : 0 } },
);
