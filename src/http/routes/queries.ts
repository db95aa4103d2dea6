import { ErrorCode, httpStatus } from '../../errors.js';
import { nodeDocument, protectionDocument, stateDocument } from '../../projection/document.js';
import { attrFilter, filterProblem } from '../../selection/filter.js';
import { takePolicyParam } from '../../selection/policy.js';
import { downMessage, fail, send, sendBody } from '../respond.js';
import type { Call } from '../route.js';
import { integrationsDocument } from './discovery.js';
import { stateAtPoint } from './history.js';

/** `GET /v1/least-loaded[?policy=…][&attr=value…]`: the node to send work to. */
export function leastLoaded({ host, params, res, metrics, answers }: Call): void {
  const p = host.projection;
  const selector = host.selector;
  let policy = selector.policy;
  // Never an answer from a projection the master can no longer extend.
  if (host.degraded) {
    metrics.query(policy, 'down');
    return fail(res, ErrorCode.MASTER_DOWN, downMessage(host.degraded));
  }
  if (params.size > 0) {
    const taken = takePolicyParam(params, policy); // reserved: not an attribute filter
    if ('error' in taken) {
      metrics.query(policy, 'bad_request');
      return fail(res, ErrorCode.BAD_ARGUMENT, taken.error);
    }
    policy = taken.policy;
    const problem = filterProblem(params);
    if (problem !== undefined) {
      metrics.query(policy, 'bad_request');
      return fail(res, ErrorCode.BAD_ARGUMENT, problem);
    }
  }
  const cache = params.size === 0 && selector.deterministic(policy) ? (answers[policy] ??= { seq: -1, body: null }) : undefined;
  if (cache && cache.seq === p.seq && cache.body) {
    metrics.query(policy, 'ok');
    return sendBody(res, 200, cache.body);
  }
  const n = selector.choose(p, policy, attrFilter(params));
  if (!n) {
    metrics.query(policy, 'no_eligible');
    return fail(
      res,
      ErrorCode.NO_ELIGIBLE_NODE,
      params.size > 0 ? `no eligible node matches ${params.toString()}` : 'no eligible node (none in state PUSH_LOAD_INFO and not drained)',
    );
  }
  metrics.query(policy, 'ok');
  if (!cache) return send(res, 200, nodeDocument(n));
  // The answer changes only with the projection: cache the encoded body by seq.
  cache.seq = p.seq;
  cache.body = Buffer.from(JSON.stringify(nodeDocument(n)));
  return sendBody(res, 200, cache.body);
}

/** `GET /v1/state`: the whole projection as JSON; with `at=POINT`, as it was then (routes/history.ts). */
export function state(call: Call): void | Promise<void> {
  const { host, params, res } = call;
  if (params.has('at')) return stateAtPoint(call);
  if (params.size > 0) return fail(res, ErrorCode.BAD_ARGUMENT, `/v1/state takes no parameters (got ${params.toString()})`);
  const doc = stateDocument(host.projection);
  // The log holds UP_LISTENING (the failure itself could not be written); say what is true.
  if (host.degraded)
    doc.master = { state: 'DOWN', epoch: doc.master.epoch, since: host.degraded.since, reason: downMessage(host.degraded) };
  return send(res, 200, doc);
}

/** `GET /v1/nodes[?state=…][&attr=value…]`: the load table, filtered. */
export function nodes({ host, params, res }: Call): void {
  const states = params.getAll('state');
  if (states.length > 1) return fail(res, ErrorCode.BAD_ARGUMENT, `state given ${states.length} times; give it once`);
  const state = params.get('state');
  if (state !== null && state !== 'PUSH_LOAD_INFO' && state !== 'DOWN') {
    const hint = state === 'CONNECTED' ? '; connections that have not pushed yet are the "pending" list of /v1/state' : '';
    return fail(res, ErrorCode.BAD_ARGUMENT, `state must be PUSH_LOAD_INFO or DOWN (got ${JSON.stringify(state)})${hint}`);
  }
  params.delete('state');
  const problem = filterProblem(params);
  if (problem !== undefined) return fail(res, ErrorCode.BAD_ARGUMENT, problem);
  const match = attrFilter(params);
  const p = host.projection;
  const list = stateDocument(p).nodes.filter((n) => (state === null || n.state === state) && (!match || match({ attrs: n.attrs })));
  return send(res, 200, { seq: p.seq, nodes: list });
}

/** `GET /healthz`: 200 while the master takes slaves and writes, 503 otherwise. */
export function healthz({ host, res }: Call): void {
  const ok = host.healthy;
  const p = host.projection;
  const d = host.degraded;
  const integrations = integrationsDocument(host);
  if (d)
    return send(res, httpStatus(ErrorCode.MASTER_DOWN), {
      status: 'unavailable',
      master: 'DOWN',
      seq: p.seq,
      code: ErrorCode.MASTER_DOWN,
      reason: downMessage(d),
      since: d.since,
      integrations,
    });
  // Mass-failure protection is the master working as designed (answers stay available): 200, flagged.
  const protection = p.protection ? { protection: protectionDocument(p.protection) } : {};
  return send(res, ok ? 200 : 503, { status: ok ? 'ok' : 'unavailable', master: p.master.state, seq: p.seq, ...protection, integrations });
}
