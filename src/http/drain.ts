import type { IncomingMessage } from 'node:http';
import type { Recorder } from '../../storage/recorder.js';
import { decideDrain, type NodeAction } from '../decisions/drain.js';
import { ErrorCode, httpStatus } from '../errors.js';
import type { RegistryControl } from '../ledger/view.js';
import { nodeDocument, type NodeDocument } from '../projection/document.js';
import type { NodeEntry } from '../projection/state.js';
import { controlProblem } from '../protocol/names.js';
import { isNodeId } from '../util/node-id.js';

export { MAX_DRAIN_REASON_BYTES, parseActionBody, type NodeAction } from '../decisions/drain.js';
export { isNodeId } from '../util/node-id.js';

/**
 * `POST /v1/nodes/{id}/drain` and `/undrain`: an operator takes a node out of the answers
 * (maintenance, a deploy) without touching its slave. The decision is src/decisions/drain.ts;
 * here it is recorded, and the answer waits for the log. The answer goes out after the
 * event is committed, never before.
 */

/** A request body beyond this is refused without being read further. */
const MAX_BODY_BYTES = 2048;

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
  const control = controlProblem(id, 'the node id');
  if (control !== undefined) return control;
  if (!isNodeId(id)) return `${JSON.stringify(id)} is not a node id (host:port, host, or an IP address; URL-encoded in the path)`;
  return { id, action: m[2] as NodeAction };
}

/** A request body as text, or why it cannot be one (the words of a 400). */
export type Body = { text: string } | { problem: string };

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Reads a request body of at most `max` bytes (default MAX_BODY_BYTES), strict UTF-8: a
 * body that is longer, or is not UTF-8 (a drain reason would be recorded with U+FFFD in
 * it), is a problem, not text.
 */
export function readBody(req: IncomingMessage, max = MAX_BODY_BYTES): Promise<Body> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    const tooLarge = { problem: `the body is larger than ${max} bytes` };
    req.on('data', (c: Buffer) => {
      if (over) return;
      size += c.length;
      if (size > max) {
        over = true;
        return resolve(tooLarge); // the rest is read and dropped (keep-alive stays usable)
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (over) return;
      try {
        resolve({ text: UTF8.decode(Buffer.concat(chunks)) });
      } catch {
        resolve({ problem: 'the body is not valid UTF-8' });
      }
    });
    req.on('error', reject);
    // a client that goes away mid-body: nothing to answer, but settle (resolving twice is a no-op)
    req.on('close', () => resolve({ problem: 'the client went away before the end of its body' }));
  });
}

/** What a drain reads and records through. */
export type DrainHost = Pick<RegistryControl, 'healthy' | 'degraded' | 'recorder'>;

/** A drain recorded but not yet committed: a second request must see it. */
interface Intent {
  drained: boolean;
  seq: number;
  recorder: Recorder;
}

function fail(code: ErrorCode, error: string): ActionAnswer {
  return { status: httpStatus(code), body: { error, code } };
}

function masterDown(host: DrainHost): ActionAnswer {
  const d = host.degraded;
  const why = d
    ? `it cannot write its event log since ${new Date(d.since).toISOString()} (${d.error.message}); it keeps retrying`
    : 'it is not taking changes (starting, stopping or its log failed)';
  return fail(ErrorCode.MASTER_DOWN, `the master is DOWN: ${why}; nothing was recorded`);
}

/** The drains of one HTTP API (one per master): those recorded and not yet committed, by node. */
export class Drains {
  private readonly pending = new Map<string, Intent>();

  /**
   * Drains or undrains `id` and answers once the event is in the log: 200 with the node
   * document (header `x-event-seq`: the seq of the event recorded; absent when nothing was,
   * because the node already was in that state). Undrain of a node the table does not hold:
   * 404 NOT_FOUND. While the log cannot be written: 503 MASTER_DOWN.
   */
  async act(host: DrainHost, id: string, action: NodeAction, reason: string | undefined): Promise<ActionAnswer> {
    if (!host.healthy) return masterDown(host);
    const rec = host.recorder;
    const pending = this.pending;
    const intent = pending.get(id);
    const live = intent && intent.recorder === rec && intent.seq > rec.projection.seq ? intent : undefined;
    const decision = decideDrain(rec.projection, live, id, action, reason);
    if (decision.kind === 'not-found') return fail(ErrorCode.NOT_FOUND, `node ${id} is not in the load table: nothing to undrain`);
    if (decision.kind === 'unchanged') {
      // Idempotent: nothing new is recorded; answer once the state asked for is committed.
      if (decision.waitFor !== undefined) await rec.whenCommitted(decision.waitFor);
      return answer(host, rec, id, undefined);
    }
    const event = rec.record(decision.event);
    if (!event) return masterDown(host);
    const mine: Intent = { drained: action === 'drain', seq: event.seq, recorder: rec };
    pending.set(id, mine);
    try {
      // with --ack standby, the 200 waits until a standby has it too (docs/ha.md)
      if (!(await rec.whenAcked(event.seq))) return masterDown(host);
    } finally {
      if (pending.get(id) === mine) pending.delete(id);
    }
    return answer(host, rec, id, event.seq, decision.before);
  }
}

function answer(host: DrainHost, rec: Recorder, id: string, seq: number | undefined, before?: NodeEntry): ActionAnswer {
  // whenCommitted also resolves when the write failed: then nothing is known to be in the log.
  if (rec.failure || host.recorder !== rec || (seq !== undefined && rec.projection.seq < seq)) {
    return fail(
      ErrorCode.MASTER_DOWN,
      'the master is DOWN: the event log refused the write; the change may not be recorded (ask again once /healthz is 200)',
    );
  }
  // An undrain of a node that never reported removes its entry: answer with what it was.
  const n = rec.projection.nodes.get(id) ?? before;
  if (!n) return fail(ErrorCode.NOT_FOUND, `node ${id} is not in the load table`);
  return { status: 200, body: nodeDocument(n), ...(seq !== undefined && { headers: { 'x-event-seq': String(seq) } }) };
}
