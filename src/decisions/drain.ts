import type { NewEvent } from '../events.js';
import { controlProblem } from '../protocol/names.js';
import type { NodeEntry } from '../projection/node.js';
import type { Projection } from '../projection/state.js';

/**
 * Draining a node, the decision: an operator takes a node out of the answers (maintenance,
 * a deploy) without touching its slave. It is decided here, from the committed projection
 * and the drain still on its way to the log, and enters the log as a fact (NodeDrained,
 * NodeUndrained); the reducer only folds it. The HTTP API (src/http/drain.ts) records the
 * event and answers once it is committed. Pure: no I/O, no clock.
 */

export type NodeAction = 'drain' | 'undrain';

/** The longest reason a drain takes (bytes of UTF-8), as a GOODBYE's. */
export const MAX_DRAIN_REASON_BYTES = 256;
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
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return 'the body must be a JSON object, e.g. {"reason": "kernel upgrade"}';
  const keys = Object.keys(body);
  const allowed = action === 'drain' ? ['reason'] : [];
  const unknown = keys.find((k) => !allowed.includes(k));
  if (unknown !== undefined)
    return action === 'drain'
      ? `unknown field ${JSON.stringify(unknown)}; a drain takes {"reason": "..."}`
      : `unknown field ${JSON.stringify(unknown)}; an undrain takes no body`;
  if (!Object.hasOwn(body, 'reason')) return {};
  const reason = (body as { reason: unknown }).reason;
  if (typeof reason !== 'string') return '"reason" must be a string';
  if (Buffer.byteLength(reason) > MAX_DRAIN_REASON_BYTES) return `"reason" is longer than ${MAX_DRAIN_REASON_BYTES} bytes`;
  const control = controlProblem(reason, '"reason"');
  if (control !== undefined) return control;
  return { reason };
}

/** A drain or undrain recorded but not committed yet: what the node will be once it is. */
export interface PendingDrain {
  readonly drained: boolean;
  readonly seq: number;
}

export type DrainDecision =
  /** Undrain of a node the table does not hold. */
  | { kind: 'not-found' }
  /** Already in that state (idempotent): nothing to record; answer once `waitFor` (if any) is committed. */
  | { kind: 'unchanged'; waitFor?: number }
  /** Record `event`; `before` is the node as it is now (an undrain may remove the entry). */
  | { kind: 'record'; event: NewEvent; before: NodeEntry | undefined };

/** What `action` on `id` does, given the committed projection and the pending change (if any). */
export function decideDrain(
  projection: Projection,
  pending: PendingDrain | undefined,
  id: string,
  action: NodeAction,
  reason: string | undefined,
): DrainDecision {
  const want = action === 'drain';
  const current = pending ? pending.drained : projection.nodes.get(id)?.drained !== undefined;
  if (!pending && action === 'undrain' && !projection.nodes.has(id)) return { kind: 'not-found' };
  if (current === want) return pending ? { kind: 'unchanged', waitFor: pending.seq } : { kind: 'unchanged' };
  const event: NewEvent = want
    ? reason !== undefined
      ? { type: 'NodeDrained', node: id, reason }
      : { type: 'NodeDrained', node: id }
    : { type: 'NodeUndrained', node: id };
  return { kind: 'record', event, before: projection.nodes.get(id) };
}
