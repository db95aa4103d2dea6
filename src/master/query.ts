import { ErrorCode } from '../errors.js';
import type { Query, QueryReply } from '../protocol/messages.js';
import type { Projection } from '../projection/state.js';
import { attrFilter } from '../selection/filter.js';
import { isPolicy, POLICIES } from '../selection/policy.js';
import type { Selector } from '../selection/selector.js';

/** What answering a QUERY needs from the master. */
export interface QueryHost {
  readonly projection: Projection;
  readonly selector: Selector;
  /** Set while the log cannot be written: nothing is answered from the table then. */
  readonly degraded: unknown;
}

/**
 * The answer to a binary QUERY: the same choice as `GET /v1/least-loaded` (the master's
 * Selector, the same attribute filter, the same refusals), from the projection as it is
 * when the frame is decoded. Nothing is recorded: like HTTP queries, selections are not in
 * the log (README Design).
 */
export function answerQuery(host: QueryHost, q: Query): QueryReply {
  const id = q.id === undefined ? {} : { id: q.id };
  if (q.invalid !== undefined) return { ...id, ok: false, code: ErrorCode.BAD_ARGUMENT, error: q.invalid };
  const selector = host.selector;
  let policy = selector.policy;
  if (q.policy !== undefined) {
    if (!isPolicy(q.policy))
      return {
        ...id,
        ok: false,
        code: ErrorCode.BAD_ARGUMENT,
        error: `policy must be one of ${POLICIES.join(', ')} (got ${JSON.stringify(q.policy)})`,
      };
    policy = q.policy;
  }
  if (host.degraded) return { ...id, ok: false, code: ErrorCode.MASTER_DOWN, error: 'the master cannot write its event log' };
  const p = host.projection;
  // Filters compare text, as over HTTP (?port=8080 and {port: 8080} match the same nodes).
  const n = selector.choose(p, policy, attrFilter(q.where.map(([k, v]) => [k, String(v)])));
  if (!n) {
    const filters = q.where.map(([k, v]) => `${k}=${String(v)}`).join(', ');
    return {
      ...id,
      ok: false,
      code: ErrorCode.NO_ELIGIBLE_NODE,
      error: filters ? `no eligible node matches ${filters}` : 'no eligible node (none in state PUSH_LOAD_INFO)',
    };
  }
  return { ...id, ok: true, node: { id: n.id, load: n.load, capacity: n.capacity, attrs: n.attrs }, seq: p.seq };
}
