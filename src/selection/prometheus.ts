import { formatNumber } from '../format/text.js';
import type { NodeEntry, Projection, SlaveState } from '../projection/state.js';
import { attrFilter, filterProblem } from './filter.js';

/**
 * Prometheus HTTP service discovery (`GET /v1/sd/prometheus`, docs/integrations.md#prometheus-http-service-discovery):
 * the node table as Prometheus's `http_sd_configs` reads it, one target group per node,
 * the full table every time. Pure: the route (src/http/routes/discovery.ts) parses the
 * query with `parseSdQuery` and answers `targetGroups`.
 */

/** One entry of the answer: `{"targets": ["10.0.0.5:8080"], "labels": {...}}`. */
export interface TargetGroup {
  targets: string[];
  labels: Record<string, string>;
}

/** What a request asks for: `?service=`, `?state=`, `?port=`, and attribute filters. */
export interface SdQuery {
  /** Only nodes of this service (their service attribute's text). */
  service?: string;
  /** Only nodes in this state (as `/v1/nodes?state=`). */
  state?: Exclude<SlaveState, 'CONNECTED'>;
  /** Targets on this port instead of the node id's (the exporter next to the node). */
  port?: number;
  /** Attribute filters: every pair must match (as `/v1/nodes?KEY=VALUE`). */
  attrs: Array<[string, string]>;
}

/** The parameters `/v1/sd/prometheus` reserves; every other one is an attribute filter. */
export const SD_PARAMS = ['service', 'state', 'port'] as const;

/** The prefix of every label (Prometheus drops `__meta_*` labels after relabelling). */
export const LABEL_PREFIX = '__meta_loadledger_';

/** The query of `/v1/sd/prometheus`, or the one line saying why it is refused. */
export function parseSdQuery(params: URLSearchParams): SdQuery | string {
  const q: SdQuery = { attrs: [] };
  for (const name of SD_PARAMS) {
    const given = params.getAll(name);
    if (given.length > 1) return `${name} given ${given.length} times; give it once`;
  }
  const state = params.get('state');
  if (state !== null) {
    if (state !== 'PUSH_LOAD_INFO' && state !== 'DOWN') return `state must be PUSH_LOAD_INFO or DOWN (got ${JSON.stringify(state)})`;
    q.state = state;
  }
  const port = params.get('port');
  if (port !== null) {
    const n = Number(port);
    if (!/^\d{1,5}$/.test(port) || n < 1 || n > 65535) return `port must be an integer from 1 to 65535 (got ${JSON.stringify(port)})`;
    q.port = n;
  }
  const service = params.get('service');
  const attrs = [...params].filter(([k]) => !(SD_PARAMS as readonly string[]).includes(k));
  const problem = filterProblem(service === null ? attrs : [['service', service], ...attrs]);
  if (problem !== undefined) return problem;
  if (service !== null) q.service = service;
  q.attrs = attrs;
  return q;
}

/**
 * A Prometheus label name for an attribute key: `[a-zA-Z0-9_]` kept, every other character
 * `_` (as Consul's and Kubernetes' discoveries do): `rack-id` → `rack_id`, `a.b` → `a_b`.
 */
export function labelKey(key: string): string {
  return key.replace(/[^A-Za-z0-9_]/g, '_');
}

/** The host of a node id (`10.0.0.5:8080`, `[::1]:8080`, `db1`, `::1`), and its port if it has one. */
export function splitNodeId(id: string): { host: string; port?: number } {
  if (id.startsWith('[')) {
    const end = id.indexOf(']');
    const rest = id.slice(end + 1);
    return rest.startsWith(':') ? { host: id.slice(1, end), port: Number(rest.slice(1)) } : { host: id.slice(1, end) };
  }
  const colon = id.lastIndexOf(':');
  // no colon: a name or IPv4 without port; more than one: a bare IPv6 (a slave's remote IP)
  if (colon < 0 || id.indexOf(':') !== colon) return { host: id };
  return { host: id.slice(0, colon), port: Number(id.slice(colon + 1)) };
}

/** host:port as a URL authority: IPv6 in brackets. */
export function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Reporting (PUSH_LOAD_INFO) and not drained: what least-loaded answers may name. */
function eligible(n: NodeEntry): boolean {
  return n.state === 'PUSH_LOAD_INFO' && n.drained === undefined;
}

/**
 * The target groups for `q`, sorted by node id: every node of the table that matches
 * (eligible or not: a drained or DOWN node is listed, its labels say so), `[]` when none.
 *
 * Labels: `__meta_loadledger_node` (the id), `_state` (PUSH_LOAD_INFO or DOWN, as
 * `/v1/nodes`), `_drained` and `_eligible` (`true`/`false`), `_service` (its service
 * attribute, '' when it has none), `_load` and `_capacity` (as people write numbers), and
 * `_attr_<key>` for each attribute (key made a label name by `labelKey`; when two keys
 * make the same name, the first in sorted key order wins).
 */
export function targetGroups(p: Projection, q: SdQuery, serviceKey: string): TargetGroup[] {
  const match = attrFilter(q.service === undefined ? q.attrs : [[serviceKey, q.service], ...q.attrs]);
  const ids = [...p.nodes.keys()].sort();
  const out: TargetGroup[] = [];
  for (const id of ids) {
    const n = p.nodes.get(id)!;
    if (n.state === 'CONNECTED') continue;
    if (q.state !== undefined && n.state !== q.state) continue;
    if (match && !match(n)) continue;
    out.push({ targets: [target(id, q.port)], labels: labels(n, serviceKey) });
  }
  return out;
}

function target(id: string, port: number | undefined): string {
  if (port === undefined) return id;
  return joinHostPort(splitNodeId(id).host, port);
}

function labels(n: NodeEntry, serviceKey: string): Record<string, string> {
  const l: Record<string, string> = {
    [`${LABEL_PREFIX}node`]: n.id,
    [`${LABEL_PREFIX}state`]: n.state,
    [`${LABEL_PREFIX}drained`]: String(n.drained !== undefined),
    [`${LABEL_PREFIX}eligible`]: String(eligible(n)),
    [`${LABEL_PREFIX}service`]: Object.hasOwn(n.attrs, serviceKey) ? String(n.attrs[serviceKey]) : '',
    [`${LABEL_PREFIX}load`]: formatNumber(n.load),
    [`${LABEL_PREFIX}capacity`]: formatNumber(n.capacity),
  };
  for (const key of Object.keys(n.attrs).sort()) {
    const name = `${LABEL_PREFIX}attr_${labelKey(key)}`;
    if (!Object.hasOwn(l, name)) l[name] = String(n.attrs[key]);
  }
  return l;
}
