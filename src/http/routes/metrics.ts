import type { Call } from '../route.js';

/** `GET /metrics`: Prometheus text format (src/http/metrics.ts lists what is in it). */
export async function scrape({ metrics, res }: Call): Promise<void> {
  const text = await metrics.text();
  res.writeHead(200, { 'content-type': metrics.contentType, 'content-length': Buffer.byteLength(text) });
  res.end(res.req.method === 'HEAD' ? undefined : text);
}
