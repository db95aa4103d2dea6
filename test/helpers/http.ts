/**
 * One HTTP(S) request with what `fetch` cannot do in Node 20: trust a test CA, and show
 * every header. The body is read whole.
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  /** A CA (PEM text or file contents) to trust for https:// URLs. */
  ca?: string | Buffer;
  body?: string | Buffer;
  timeout?: number;
}

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** The body as JSON (undefined when it is not JSON). */
  json: any;
}

export function request(url: string, opts: RequestOptions = {}): Promise<RawResponse> {
  const u = new URL(url);
  const timeout = opts.timeout ?? 5000;
  return new Promise((resolve, reject) => {
    const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(u, {
      method: opts.method ?? 'GET',
      headers: opts.headers ?? {},
      agent: false,
      ...(opts.ca ? { ca: opts.ca } : {}),
    });
    req.setTimeout(timeout, () => req.destroy(new Error(`${url}: no answer in ${timeout} ms`)));
    req.on('error', reject);
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (s: string) => (text += s));
      res.on('error', reject);
      res.on('end', () => {
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.end(opts.body);
  });
}

/** `Authorization: Bearer <token>`. */
export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}
