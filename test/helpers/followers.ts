/**
 * `/v1/events` clients for the follower tests: a raw HTTP/1.1 GET on its own socket that
 * stops reading (or reads later), and one metric sample from /metrics.
 */
import { connect, type Socket } from 'node:net';

export interface RawFollower {
  readonly socket: Socket;
  /** Everything read so far (only once `read()` was called). */
  text(): string;
  /** Starts reading (a client that stopped reading picks up again). */
  read(): void;
  /** Resolves when the master closed the connection (or it was destroyed). */
  readonly closed: Promise<void>;
  destroy(): void;
}

/**
 * A GET of `path` on the HTTP API at 127.0.0.1:`port` whose client reads nothing until
 * `read()`: what the master sends piles up in the kernel, then (without a bound) in the
 * master. Resolves once connected and the request is written.
 */
export function rawFollower(port: number, path: string): Promise<RawFollower> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let text = '';
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.on('error', () => {}); // a reset ends in 'close'
    socket.once('connect', () => {
      socket.pause();
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
      resolve({
        socket,
        text: () => text,
        read() {
          socket.setEncoding('utf8');
          socket.on('data', (s: string) => (text += s));
          socket.resume();
        },
        closed,
        destroy: () => socket.destroy(),
      });
    });
    socket.once('error', reject);
  });
}

/** One sample of `/metrics` at `base` (`loadledger_followers`, `loadledger_http_refused_total{reason="max_connections"}`). */
export async function metric(base: string, sample: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  if (line === undefined) throw new Error(`no sample ${sample} in /metrics`);
  return Number(line.slice(sample.length + 1));
}

/**
 * The JSON lines of a raw chunked HTTP/1.1 answer (as much of it as arrived), and whether
 * it ended properly (the last, empty chunk).
 */
export function jsonLines(raw: string): { lines: unknown[]; complete: boolean } {
  let at = raw.indexOf('\r\n\r\n') + 4;
  let body = '';
  let complete = false;
  for (;;) {
    const eol = raw.indexOf('\r\n', at);
    if (eol < 0) break;
    const size = parseInt(raw.slice(at, eol), 16);
    if (size === 0) {
      complete = true;
      break;
    }
    if (eol + 2 + size > raw.length) break;
    body += raw.slice(eol + 2, eol + 2 + size);
    at = eol + 2 + size + 2;
  }
  const lines = body.split('\n');
  lines.pop(); // '' after the last newline, or a line cut short
  return { lines: lines.map((l) => JSON.parse(l) as unknown), complete };
}
