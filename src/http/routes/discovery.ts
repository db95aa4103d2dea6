import { ErrorCode } from '../../errors.js';
import type { IntegrationView } from '../../ledger/view.js';
import { EDS_MAX_BODY_BYTES, edsAnswer, parseDiscoveryRequest } from '../../selection/eds.js';
import { parseSdQuery, targetGroups } from '../../selection/prometheus.js';
import { readBody } from '../drain.js';
import { downMessage, fail, send } from '../respond.js';
import type { ApiHost, Call } from '../route.js';

/** The flag that turns each interface of this file on (what an answer while it is off says). */
const FLAGS: Record<string, string> = { 'prometheus-sd': '--prometheus-sd', 'envoy-eds': '--envoy-eds' };

/** The interface `name` when it is on; undefined when it is off. */
export function integration(host: ApiHost, name: string): IntegrationView | undefined {
  return host.integrations?.find((i) => i.name === name);
}

/**
 * Runs `answer` for interface `name` and counts it: 404 NOT_FOUND (naming the flag) while
 * the interface is off, 503 MASTER_DOWN while the log cannot be written (the consumer
 * keeps what it had: Prometheus and Envoy both keep their last good answer on an error).
 * `answer` returns true when it answered an error.
 */
export async function served(call: Call, name: string, answer: () => boolean | Promise<boolean>): Promise<void> {
  const view = integration(call.host, name);
  if (!view) {
    call.req.resume();
    return fail(
      call.res,
      ErrorCode.NOT_FOUND,
      `${call.req.url?.split('?')[0] ?? ''} is off on this master (start it with ${FLAGS[name] ?? name})`,
    );
  }
  const started = performance.now();
  let error = true;
  try {
    if (call.host.degraded) {
      call.req.resume();
      fail(call.res, ErrorCode.MASTER_DOWN, downMessage(call.host.degraded));
      return;
    }
    error = await answer();
  } finally {
    view.stats.record((performance.now() - started) / 1000, error);
  }
}

/**
 * `GET /v1/sd/prometheus[?service=S][&state=S][&port=N][&KEY=VALUE...]`: Prometheus HTTP
 * service discovery (src/selection/prometheus.ts, docs/integrations.md#prometheus-http-service-discovery): every
 * node that matches, one target group each, `[]` when none. On leader and standby alike,
 * from this master's own projection.
 */
export function prometheusSd(call: Call): Promise<void> {
  return served(call, 'prometheus-sd', () => {
    const q = parseSdQuery(call.params);
    if (typeof q === 'string') {
      fail(call.res, ErrorCode.BAD_ARGUMENT, q);
      return true;
    }
    send(call.res, 200, targetGroups(call.host.projection, q, serviceKey(call.host)));
    return false;
  });
}

/**
 * `POST /v3/discovery:endpoints`: Envoy's EDS over REST (src/selection/eds.ts,
 * docs/integrations.md#envoy-eds-over-rest). The DiscoveryRequest names clusters
 * (services); the answer is a DiscoveryResponse with one ClusterLoadAssignment per name,
 * or 304 with no body when the request's `version_info` is the answer's version already.
 * A bad request (not JSON, an unknown field, a wrong type_url, no cluster named, a body over
 * EDS_MAX_BODY_BYTES) is 400 BAD_ARGUMENT, counted as an error. On leader and standby alike,
 * from this master's own projection and weights.
 */
export function envoyEds(call: Call): Promise<void> {
  return served(call, 'envoy-eds', async () => {
    const body = await readBody(call.req, EDS_MAX_BODY_BYTES);
    if (call.res.destroyed) return true; // the client went away mid-body
    const req = 'problem' in body ? body.problem : parseDiscoveryRequest(body.text);
    if (typeof req === 'string') {
      fail(call.res, ErrorCode.BAD_ARGUMENT, req);
      return true;
    }
    const { weights, projection } = call.host;
    const answer = edsAnswer(req, {
      nodes: projection.nodes.values(),
      serviceOf: (n) => weights.serviceOf(n),
      weight: (n) => weights.weight(n),
    });
    if (answer.notModified) {
      call.res.writeHead(304, { etag: `"${answer.version}"` });
      call.res.end();
    } else {
      send(call.res, 200, answer.response, { etag: `"${answer.version}"` });
    }
    return false;
  });
}

/** The attribute that names a node's service: the shared weights' `--service-key`, one for every interface. */
export function serviceKey(host: ApiHost): string {
  return host.weights.serviceKey;
}

/** The interfaces that are on, by name, as `/healthz` and `/v1/cluster` show them (`{}`: none). */
export function integrationsDocument(
  host: ApiHost,
): Record<string, { at: string; requests: number; errors: number; [count: string]: string | number }> {
  const doc: Record<string, { at: string; requests: number; errors: number; [count: string]: string | number }> = {};
  for (const i of host.integrations ?? []) doc[i.name] = { at: i.at, requests: i.stats.requests, errors: i.stats.errors, ...i.counts?.() };
  return doc;
}
