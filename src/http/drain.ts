import { isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { ErrorCode } from '../errors.js';
import type { Master } from '../master/master.js';
import type { Recorder } from '../master/recorder.js';
import { nodeDocument, type NodeDocument } from '../projection/document.js';
import type { NodeEntry } from '../projection/state.js';
import { isValidAddr } from '../protocol/push.js';

/**
 * `POST /v1/nodes/{id}/drain` and `/undrain`: an operator takes a node out of the answers
 * (maintenance, a deploy) without touching its slave. The decision is taken here, from the
 * projection and the drains still on their way to the log, and enters the log as a fact
 * (NodeDrained, NodeUndrained); the reducer only folds it. The answer goes out after the
 * event is committed, never before.
 */

export type NodeAction = 'drain' | 'undrain';

/** The longest reason a drain takes (bytes of UTF-8), as a GOODBYE's. */
export const MAX_DRAIN_REASON_BYTES = 256;
/** A request body beyond this is refused without being read further. */
const MAX_BODY_BYTES = 2048;
/** The longest node id taken in a path (a push's addr is a string of at most 256 bytes). */
const MAX_NODE_ID_BYTES = 256;

/** What the HTTP layer sends: a status and a JSON body (with optional headers). */
export interface ActionAnswer {
  status: number;
  body: NodeDocument | { error: string; code: string };
  headers?: Record<string, string>;
}

const PATH_RE = /^\/v1\/nodes\/([^/]+)\/(drain|undrain)$/;

/**
 * `/v1/nodes/{id}/drain` → the node id (percent-decoded: `10.0.0.5%3A8080`, `[::1]:8080`)
 * and the action; undefined for any other path; a string saying why for an id that cannot
 * be a node id.
 */
export function parseNodeActionPath(path: string): { id: string; action: NodeAction } | string | undefined {
  const m = PATH_RE.exec(path);
  if (!m) return undefined;
  let id: string;
  try {
    id = decodeURIComponent(m[1]!);
  } catch {
    return `the node id in ${JSON.stringify(path)} is not valid percent-encoding`;
  }
  if (!isNodeId(id)) return `${JSON.stringify(id)} is not a node id (host:port, host, or an IP address; URL-encoded in the path)`;
  return { id, action: m[2] as NodeAction };
}

/** A node id as the table keys them: a push's addr (host or host:port), or a slave's IP. */
export function isNodeId(id: string): boolean {
  return Buffer.byteLength(id) <= MAX_NODE_ID_BYTES && (isValidAddr(id) || isIP(id) !== 0);
}

/**
 * The body of a drain: empty, or a JSON object with an optional `reason` (a string of at
 * most 256 bytes, no control characters: it is shown on terminals by replay). Undrain
 * takes no reason. Anything else is refused (a typo'd key must not silently drop a reason).
 */
export function parseActionBody(text: string, action: NodeAction): { reason?: string } | string {
  if (text.trim() === '') return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return 'the body must be JSON, e.g. {"reason": "kernel upgrade"}';
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'the body must be a JSON object, e.g. {"reason": "kernel upgrade"}';
  const keys = Object.keys(body);
  const allowed = action === 'drain' ? ['reason'] : [];
  const unknown = keys.find((k) => !allowed.includes(k));
  if (unknown !== undefined) return action === 'drain' ? `unknown field ${JSON.stringify(unknown)}; a drain takes {"reason": "..."}` : `unknown field ${JSON.stringify(unknown)}; an undrain takes no body`;
  if (!Object.hasOwn(body, 'reason')) return {};
  const reason = (body as { reason: unknown }).reason;
  if (typeof reason !== 'string') return '"reason" must be a string';
  if (Buffer.byteLength(reason) > MAX_DRAIN_REASON_BYTES) return `"reason" is longer than ${MAX_DRAIN_REASON_BYTES} bytes`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(reason)) return '"reason" must not contain control characters';
  return { reason };
}

/** Reads a request body of at most MAX_BODY_BYTES; undefined when it is longer. */
export function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      if (over) return;
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        over = true;
        return resolve(undefined); // the rest is read and dropped (keep-alive stays usable)
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (!over) resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', reject);
    // a client that goes away mid-body: nothing to answer, but settle (resolving twice is a no-op)
    req.on('close', () => resolve(undefined));
  });
}

/** Drains recorded but not yet committed, per master: a second request must see them. */
interface Intent {
  drained: boolean;
  seq: number;
  recorder: Recorder;
}
const intents = new WeakMap<Master, Map<string, Intent>>();

function fail(status: number, code: string, error: string): ActionAnswer {
  return { status, body: { error, code } };
}

function masterDown(master: Master): ActionAnswer {
  const d = master.degraded;
  const why = d ? `it cannot write its event log since ${new Date(d.since).toISOString()} (${d.error.message}); it keeps retrying` : 'it is not taking changes (starting, stopping or its log failed)';
  return fail(503, ErrorCode.MASTER_DOWN, `the master is DOWN: ${why}; nothing was recorded`);
}

/**
 * Drains or undrains `id` and answers once the event is in the log: 200 with the node
 * document (header `x-event-seq`: the seq of the event recorded; absent when nothing was,
 * because the node already was in that state). Undrain of a node the table does not hold:
 * 404 NOT_FOUND. While the log cannot be written: 503 MASTER_DOWN.
 */
export async function nodeAction(master: Master, id: string, action: NodeAction, reason: string | undefined): Promise<ActionAnswer> {
  if (!master.healthy) return masterDown(master);
  const rec = master.recorder;
  let pending = intents.get(master);
  if (!pending) intents.set(master, (pending = new Map<string, Intent>()));
  const intent = pending.get(id);
  const live = intent && intent.recorder === rec && intent.seq > rec.projection.seq ? intent : undefined;
  const want = action === 'drain';
  const current = live ? live.drained : rec.projection.nodes.get(id)?.drained !== undefined;
  if (!live && action === 'undrain' && !rec.projection.nodes.has(id)) {
    return fail(404, ErrorCode.NOT_FOUND, `node ${id} is not in the load table: nothing to undrain`);
  }
  if (current === want) {
    // Idempotent: nothing new is recorded; answer once the state asked for is committed.
    if (live) await rec.whenCommitted(live.seq);
    return answer(master, rec, id, undefined);
  }
  const before = rec.projection.nodes.get(id);
  const event = want ? rec.record(reason !== undefined ? { type: 'NodeDrained', node: id, reason } : { type: 'NodeDrained', node: id }) : rec.record({ type: 'NodeUndrained', node: id });
  if (!event) return masterDown(master);
  const mine: Intent = { drained: want, seq: event.seq, recorder: rec };
  pending.set(id, mine);
  try {
    await rec.whenCommitted(event.seq);
  } finally {
    if (pending.get(id) === mine) pending.delete(id);
  }
  return answer(master, rec, id, event.seq, before);
}

function answer(master: Master, rec: Recorder, id: string, seq: number | undefined, before?: NodeEntry): ActionAnswer {
  // whenCommitted also resolves when the write failed: then nothing is known to be in the log.
  if (rec.failure || master.recorder !== rec || (seq !== undefined && rec.projection.seq < seq)) {
    return fail(503, ErrorCode.MASTER_DOWN, 'the master is DOWN: the event log refused the write; the change may not be recorded (ask again once /healthz is 200)');
  }
  // An undrain of a node that never reported removes its entry: answer with what it was.
  const n = rec.projection.nodes.get(id) ?? before;
  if (!n) return fail(404, ErrorCode.NOT_FOUND, `node ${id} is not in the load table`);
  return { status: 200, body: nodeDocument(n), ...(seq !== undefined && { headers: { 'x-event-seq': String(seq) } }) };
}
