import { createHash } from 'node:crypto';
import type { NodeEntry } from '../projection/node.js';
import { attrFilter, filterProblem } from './filter.js';
import { splitNodeId } from './prometheus.js';

/**
 * Envoy EDS over REST (`POST /v3/discovery:endpoints`, docs/integrations.md#envoy-eds-over-rest):
 * Envoy's `DiscoveryRequest` (proto3 JSON) in, a `DiscoveryResponse` of
 * `envoy.config.endpoint.v3.ClusterLoadAssignment`s out, one per cluster named, a cluster
 * being a service (the nodes whose service attribute is its name). Pure: the route
 * (src/http/routes/discovery.ts) reads the body and answers what `edsAnswer` returns.
 *
 * A cluster name is a service, optionally filtered on attributes the way `/v1/nodes` is:
 * `api?zone=eu-1&tier=gold` (URL query syntax after the first `?`) is the nodes of `api`
 * whose `zone` is `eu-1` and `tier` is `gold`; its assignment carries the name as asked.
 *
 * The full state every time (SotW): a missed poll loses nothing. Field names are the
 * protos' own (snake_case), as Envoy writes its requests; Envoy's JSON parser takes them.
 * test/integrations/envoy-eds*.test.ts check every answer against Envoy's protos.
 */

/** The resource type EDS serves, in `type_url` and in each resource's `@type`. */
export const EDS_TYPE_URL = 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment';

/**
 * The largest request body taken. Envoy sends its whole `node` (with the list of every
 * extension it was built with: tens of KB) in each poll; a MiB leaves room and caps a flood.
 */
export const EDS_MAX_BODY_BYTES = 1 << 20;

/** At most this many cluster names in one request (Envoy names one per EDS cluster). */
export const EDS_MAX_NAMES = 1000;

/** The longest cluster name taken (a service attribute's value is shorter). */
export const EDS_MAX_NAME_LENGTH = 1024;

/**
 * The fields of `envoy.service.discovery.v3.DiscoveryRequest`, by their proto names; proto3
 * JSON also takes each one's lowerCamelCase form. Any other key is refused: a typo must not
 * pass for an empty request. (A unit test compares this list with Envoy's proto.)
 */
export const DISCOVERY_REQUEST_FIELDS = [
  'version_info',
  'node',
  'resource_names',
  'resource_locators',
  'type_url',
  'response_nonce',
  'error_detail',
] as const;

type RequestField = (typeof DISCOVERY_REQUEST_FIELDS)[number];

/** What a DiscoveryRequest asks for. */
export interface EdsRequest {
  /** The clusters (services) named, in the request's order, each once. */
  names: string[];
  /** The version Envoy has (its last accepted `version_info`), '' on its first poll. */
  version: string;
}

/** proto3 JSON name of a proto field: `resource_names` → `resourceNames`. */
export function jsonName(field: string): string {
  return field.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

const BY_JSON_NAME = new Map<string, RequestField>(DISCOVERY_REQUEST_FIELDS.flatMap((f) => [[f, f] as const, [jsonName(f), f] as const]));

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * The body of a poll → what it asks for, or the one line saying why it is refused (the
 * route answers 400 BAD_ARGUMENT with it): not JSON, not an object, an unknown field, a
 * field of the wrong type, a `type_url` other than EDS's, `resource_locators` (xdstp://
 * naming, not served), or no cluster named. An empty `resource_names` is refused, not
 * taken as "every service": Envoy's EDS always names its clusters, and an answer for every
 * service to a client that asked for none is not what it would do with it.
 */
export function parseDiscoveryRequest(text: string): EdsRequest | string {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (e) {
    return `the body is not JSON (${(e as Error).message}): POST a DiscoveryRequest`;
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'the body is not a JSON object: POST a DiscoveryRequest';
  const fields = new Map<RequestField, unknown>();
  for (const [key, value] of Object.entries(body)) {
    const field = BY_JSON_NAME.get(key);
    if (field === undefined)
      return `unknown field ${JSON.stringify(key.slice(0, 100))} in the DiscoveryRequest (its fields: ${DISCOVERY_REQUEST_FIELDS.join(', ')})`;
    if (fields.has(field)) return `${field} given twice (as ${field} and ${jsonName(field)})`;
    // proto3 JSON: null is the field's default
    if (value !== null) fields.set(field, value);
  }
  for (const f of ['version_info', 'type_url', 'response_nonce'] as const) {
    const v = fields.get(f);
    if (v !== undefined && typeof v !== 'string') return `${f} must be a string`;
  }
  for (const f of ['node', 'error_detail'] as const) {
    const v = fields.get(f);
    if (v !== undefined && (typeof v !== 'object' || Array.isArray(v))) return `${f} must be an object`;
  }
  const typeUrl = fields.get('type_url') as string | undefined;
  if (typeUrl !== undefined && typeUrl !== '' && typeUrl !== EDS_TYPE_URL)
    return `type_url must be ${EDS_TYPE_URL} (got ${JSON.stringify(typeUrl.slice(0, 200))}): this path serves EDS only`;
  const locators = fields.get('resource_locators');
  if (locators !== undefined && (!Array.isArray(locators) || locators.length > 0))
    return 'resource_locators (xdstp:// names) are not served: name the clusters in resource_names';
  const given = fields.get('resource_names');
  if (given === undefined || (Array.isArray(given) && given.length === 0))
    return 'resource_names is empty: name the clusters (services) to answer, as Envoy does';
  if (!Array.isArray(given)) return 'resource_names must be a list of cluster names';
  if (given.length > EDS_MAX_NAMES) return `resource_names has ${given.length} names; at most ${EDS_MAX_NAMES}`;
  const names: string[] = [];
  const seen = new Set<string>();
  for (const name of given) {
    if (typeof name !== 'string') return 'resource_names must be a list of strings';
    if (name === '' || name.length > EDS_MAX_NAME_LENGTH || CONTROL.test(name))
      return `a cluster name must be 1 to ${EDS_MAX_NAME_LENGTH} characters without control characters (got ${JSON.stringify(name.slice(0, 100))})`;
    const parsed = parseClusterName(name);
    if (typeof parsed === 'string') return parsed;
    if (seen.has(name)) continue;
    seen.add(name);
    names.push(name);
  }
  return { names, version: (fields.get('version_info') as string | undefined) ?? '' };
}

/** A cluster name read: its service, and the attribute filters after its `?`. */
export interface ClusterName {
  service: string;
  filters: Array<[string, string]>;
}

/** `api` → service `api`; `api?zone=eu-1` → service `api`, filter zone=eu-1; or the one line saying why not. */
export function parseClusterName(name: string): ClusterName | string {
  const q = name.indexOf('?');
  if (q < 0) return { service: name, filters: [] };
  const service = name.slice(0, q);
  if (service === '') return `the cluster name ${JSON.stringify(name.slice(0, 100))} names no service before its "?"`;
  // decoded as a query string (%XX, + for a space), as /v1/nodes?KEY=VALUE is
  const filters = [...new URLSearchParams(name.slice(q + 1))];
  if (filters.length === 0 || filters.some(([k]) => k === ''))
    return `the cluster name ${JSON.stringify(name.slice(0, 100))}: after "?" come attribute filters KEY=VALUE joined by "&"`;
  const problem = filterProblem(filters);
  if (problem !== undefined) return `the cluster name ${JSON.stringify(name.slice(0, 100))}: ${problem}`;
  return { service, filters };
}

/** What the answer needs of the registry: the node table, each node's service, its weight now. */
export interface EdsSource {
  readonly nodes: Iterable<NodeEntry>;
  /** Its service attribute as text, '' when it has none (WeightsView.serviceOf). */
  serviceOf(n: NodeEntry): string;
  /** Its shared weight (1..100) while it is eligible, else undefined (WeightsView.weight). */
  weight(n: NodeEntry): number | undefined;
}

export type HealthStatus = 'HEALTHY' | 'DRAINING' | 'UNHEALTHY';

/** One `envoy.config.endpoint.v3.LbEndpoint`, in proto3 JSON. */
export interface LbEndpoint {
  endpoint: { address: { socket_address: { address: string; port_value: number } } };
  health_status: HealthStatus;
  load_balancing_weight: number;
}

/** One `envoy.config.endpoint.v3.ClusterLoadAssignment` as an `Any` (with its `@type`). */
export interface ClusterLoadAssignment {
  '@type': typeof EDS_TYPE_URL;
  cluster_name: string;
  /** One locality (none set) holding every endpoint; empty when the service has none. */
  endpoints: Array<{ lb_endpoints: LbEndpoint[] }>;
}

/** `envoy.service.discovery.v3.DiscoveryResponse`, in proto3 JSON. */
export interface DiscoveryResponse {
  version_info: string;
  resources: ClusterLoadAssignment[];
  type_url: typeof EDS_TYPE_URL;
}

/**
 * An IPv4 or IPv6 literal (no zone): Envoy takes only those in an EDS `socket_address`
 * (it resolves no name there, and refuses the whole answer for one that is not an IP).
 */
export function isIpLiteral(host: string): boolean {
  if (/^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/.test(host)) return true;
  if (!host.includes(':') || !/^[0-9A-Fa-f:.]+$/.test(host)) return false;
  try {
    // the WHATWG URL parser checks IPv6 literals exactly (and does no I/O)
    new URL(`http://[${host}]/`);
    return true;
  } catch {
    return false;
  }
}

/** Where Envoy sends a node's traffic: its id's IP and port; undefined when the id has no port or its host is a name. */
export function socketAddressOf(id: string): { address: string; port_value: number } | undefined {
  const { host, port } = splitNodeId(id);
  if (port === undefined || !Number.isInteger(port) || port < 1 || port > 65535 || !isIpLiteral(host)) return undefined;
  return { address: host, port_value: port };
}

/**
 * A node as an Envoy endpoint, or undefined when it is not one: connected but never
 * reported, or an id Envoy cannot connect to (no port, a host name). Eligible → HEALTHY
 * with its shared weight; drained → DRAINING; DOWN → UNHEALTHY (drained or not). Envoy
 * sends nothing to a DRAINING or UNHEALTHY host; they carry weight 1 (a weight must be ≥ 1).
 */
export function lbEndpoint(n: NodeEntry, source: Pick<EdsSource, 'weight'>): LbEndpoint | undefined {
  if (n.state === 'CONNECTED') return undefined;
  const socket_address = socketAddressOf(n.id);
  if (!socket_address) return undefined;
  const weight = source.weight(n);
  const health_status: HealthStatus =
    n.state === 'DOWN' ? 'UNHEALTHY' : weight !== undefined ? 'HEALTHY' : n.drained ? 'DRAINING' : 'UNHEALTHY';
  return { endpoint: { address: { socket_address } }, health_status, load_balancing_weight: weight ?? 1 };
}

/**
 * The ClusterLoadAssignments for `names`, in that order, each service's endpoints sorted by
 * node id: one per name, with no endpoint for a service that has no node (Envoy waits for
 * an answer to each name it asked for).
 */
export function clusterLoadAssignments(names: readonly string[], source: EdsSource): ClusterLoadAssignment[] {
  // by service: each name asked for it, with its filter and the endpoints found so far
  const byService = new Map<
    string,
    Array<{ name: string; match: ((n: NodeEntry) => boolean) | undefined; found: Array<[string, LbEndpoint]> }>
  >();
  const found = new Map<string, Array<[string, LbEndpoint]>>();
  for (const name of names) {
    const parsed = parseClusterName(name);
    if (typeof parsed === 'string') {
      found.set(name, []); // refused by parseDiscoveryRequest; here it matches nothing
      continue;
    }
    let list = byService.get(parsed.service);
    if (!list) byService.set(parsed.service, (list = []));
    const entry = { name, match: attrFilter(parsed.filters), found: [] as Array<[string, LbEndpoint]> };
    list.push(entry);
    found.set(name, entry.found);
  }
  for (const n of source.nodes) {
    const wanted = byService.get(source.serviceOf(n));
    if (!wanted) continue;
    const e = lbEndpoint(n, source);
    if (!e) continue;
    for (const w of wanted) if (!w.match || w.match(n)) w.found.push([n.id, e]);
  }
  return names.map((cluster_name) => {
    const list = found.get(cluster_name)!.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return { '@type': EDS_TYPE_URL, cluster_name, endpoints: list.length === 0 ? [] : [{ lb_endpoints: list.map(([, e]) => e) }] };
  });
}

/**
 * The version of an answer: a hash of its resources (16 hex digits of SHA-256). What the
 * log folded into decides the resources, so the same state gives the same version on every
 * master reading the same log, leader or standby, and across restarts; a change that moves
 * no answer (a heartbeat HELLO, a load that moves no weight) leaves it as it was.
 */
export function edsVersion(resources: readonly ClusterLoadAssignment[]): string {
  return createHash('sha256').update(JSON.stringify(resources)).digest('hex').slice(0, 16);
}

/**
 * The answer to a request: `notModified` when Envoy already has this version (the route
 * answers 304 with no body, which Envoy takes as "keep what you have"), else the
 * DiscoveryResponse to send with 200.
 */
export function edsAnswer(
  req: EdsRequest,
  source: EdsSource,
): { notModified: true; version: string } | { notModified: false; version: string; response: DiscoveryResponse } {
  const resources = clusterLoadAssignments(req.names, source);
  const version = edsVersion(resources);
  if (req.version === version) return { notModified: true, version };
  return { notModified: false, version, response: { version_info: version, resources, type_url: EDS_TYPE_URL } };
}
