import { httpStatus, type ErrorCode } from '../errors.js';
import type { ServerResponse } from 'node:http';
import type { Degraded } from '../ledger/view.js';

/** Sends an already encoded JSON body. */
export function sendBody(res: ServerResponse, status: number, body: Buffer): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': body.length });
  res.end(body);
}

export function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** An error answer: `{error, code}`. */
/** An error answer: its status is the code's (ERRORS in src/errors.ts); `ahead` only for a SEQ_OUT_OF_RANGE past the last seq. */
export function fail(res: ServerResponse, code: ErrorCode, error: string, headers?: Record<string, string>, ahead = false): void {
  send(res, httpStatus(code, ahead), { error, code }, headers);
}

/** What clients are told while the log cannot be written. */
export function downMessage(d: Degraded): string {
  return `the master is DOWN: it cannot write its event log since ${new Date(d.since).toISOString()} (${d.error.message}); it keeps retrying`;
}
