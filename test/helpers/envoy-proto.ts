/**
 * Envoy's own protobuf definitions, for checking what we answer Envoy: there is no Envoy
 * binary on these machines, so each EDS answer is checked against the .proto files Envoy is
 * built from (the copy that `@grpc/grpc-js-xds` ships under deps/: envoy-api, xds/udpa,
 * googleapis, protoc-gen-validate), loaded with protobufjs.
 *
 * protobufjs's `fromObject` drops keys it does not know, so a misspelt field would pass it
 * silently. `fromProto3Json` therefore walks the JSON against the message types itself, as
 * Envoy's parser does: every key must be a field (its proto name or its lowerCamelCase JSON
 * name), every value of the field's JSON type (wrappers as bare numbers, enums by name, `Any`
 * with its `@type`), and the protoc-gen-validate rules Envoy enforces on these messages
 * (`min_len`, `gte`, `lte`, `required`, `defined_only`, ...) hold. `checkDiscoveryResponse`
 * then encodes the result, decodes it and compares: what Envoy would read is what we meant.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import protobuf from 'protobufjs';

const require = createRequire(import.meta.url);
const XDS = dirname(require.resolve('@grpc/grpc-js-xds/package.json'));
const INCLUDE = [...['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => join(XDS, 'deps', d)), dirname(require.resolve('protobufjs/package.json'))];

export const DISCOVERY_RESPONSE = 'envoy.service.discovery.v3.DiscoveryResponse';
export const DISCOVERY_REQUEST = 'envoy.service.discovery.v3.DiscoveryRequest';
export const CLUSTER_LOAD_ASSIGNMENT = 'envoy.config.endpoint.v3.ClusterLoadAssignment';

let loading: Promise<protobuf.Root> | undefined;

/** Envoy's protos (EDS and discovery), field names as in the .proto files (keepCase). */
export function envoyRoot(): Promise<protobuf.Root> {
  loading ??= (async () => {
    const root = new protobuf.Root();
    root.resolvePath = (_origin, target) => {
      for (const dir of INCLUDE) {
        const p = join(dir, target);
        if (existsSync(p)) return p;
      }
      throw new Error(`${target}: in none of ${INCLUDE.join(', ')}`);
    };
    await root.load(['envoy/service/discovery/v3/discovery.proto', 'envoy/config/endpoint/v3/endpoint.proto'], { keepCase: true });
    root.resolveAll();
    return root;
  })();
  return loading;
}

/** proto3 JSON's name of a field: lowerCamelCase of its proto name. */
export function jsonNameOf(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

const WRAPPERS: Record<string, 'int' | 'uint' | 'int64' | 'uint64' | 'float' | 'bool' | 'string' | 'bytes'> = {
  '.google.protobuf.UInt32Value': 'uint',
  '.google.protobuf.Int32Value': 'int',
  '.google.protobuf.UInt64Value': 'uint64',
  '.google.protobuf.Int64Value': 'int64',
  '.google.protobuf.DoubleValue': 'float',
  '.google.protobuf.FloatValue': 'float',
  '.google.protobuf.BoolValue': 'bool',
  '.google.protobuf.StringValue': 'string',
  '.google.protobuf.BytesValue': 'bytes',
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** An error naming where in the JSON the problem is (`resources[0].endpoints[0]...`). */
export class ProtoJsonError extends Error {}

function fail(path: string, what: string): never {
  throw new ProtoJsonError(`${path || '(root)'}: ${what}`);
}

/** A scalar of proto type `type` from its proto3 JSON form (checked), as protobufjs takes it. */
function scalar(type: string, v: unknown, path: string): unknown {
  switch (type) {
    case 'string':
      if (typeof v !== 'string') fail(path, `a string expected, got ${JSON.stringify(v)}`);
      return v;
    case 'bool':
      if (typeof v !== 'boolean') fail(path, `true or false expected, got ${JSON.stringify(v)}`);
      return v;
    case 'int32':
    case 'sint32':
    case 'sfixed32':
    case 'uint32':
    case 'fixed32': {
      const n = typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v;
      const unsigned = type === 'uint32' || type === 'fixed32';
      if (typeof n !== 'number' || !Number.isInteger(n) || n < (unsigned ? 0 : -(2 ** 31)) || n > (unsigned ? 2 ** 32 - 1 : 2 ** 31 - 1)) fail(path, `a ${type} expected, got ${JSON.stringify(v)}`);
      return n;
    }
    case 'int64':
    case 'sint64':
    case 'sfixed64':
    case 'uint64':
    case 'fixed64':
      if (!(typeof v === 'number' && Number.isSafeInteger(v)) && !(typeof v === 'string' && /^-?\d+$/.test(v))) fail(path, `a ${type} expected, got ${JSON.stringify(v)}`);
      return v;
    case 'double':
    case 'float':
      if (typeof v !== 'number' && !['NaN', 'Infinity', '-Infinity'].includes(v as string)) fail(path, `a number expected, got ${JSON.stringify(v)}`);
      return typeof v === 'number' ? v : Number(v);
    case 'bytes':
      if (typeof v !== 'string' || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(v)) fail(path, `base64 expected, got ${JSON.stringify(v)}`);
      return v;
    default:
      return fail(path, `unknown scalar type ${type}`);
  }
}

const WRAPPER_SCALAR = { int: 'int32', uint: 'uint32', int64: 'int64', uint64: 'uint64', float: 'double', bool: 'bool', string: 'string', bytes: 'bytes' } as const;

/** The value of field `f` from JSON (not null), for protobufjs. */
function fieldValue(root: protobuf.Root, f: protobuf.Field, v: unknown, path: string): unknown {
  const t = f.resolvedType;
  if (t instanceof protobuf.Enum) {
    if (typeof v === 'string') {
      if (!Object.hasOwn(t.values, v)) fail(path, `${JSON.stringify(v)} is not a value of ${t.fullName} (${Object.keys(t.values).join(', ')})`);
      return v;
    }
    if (typeof v === 'number' && Number.isInteger(v)) return v;
    return fail(path, `an enum value of ${t.fullName} expected, got ${JSON.stringify(v)}`);
  }
  if (t instanceof protobuf.Type) return message(root, t, v, path);
  return scalar(f.type, v, path);
}

/**
 * A message of type `t` from its proto3 JSON form, as protobufjs's `fromObject` takes it
 * (keys the proto names). Throws ProtoJsonError on anything Envoy's JSON parser would refuse,
 * and on a broken protoc-gen-validate rule.
 */
export function fromProto3Json(root: protobuf.Root, t: protobuf.Type, json: unknown, path = ''): Record<string, unknown> {
  return message(root, t, json, path) as Record<string, unknown>;
}

function message(root: protobuf.Root, t: protobuf.Type, json: unknown, path: string): unknown {
  const full = t.fullName;
  const wrapper = WRAPPERS[full];
  if (wrapper) return { value: scalar(WRAPPER_SCALAR[wrapper], json, path) };
  if (full === '.google.protobuf.Any') {
    if (!isObject(json)) fail(path, 'an Any (an object with "@type") expected');
    const url = json['@type'];
    if (typeof url !== 'string' || !url.startsWith('type.googleapis.com/')) fail(path, `"@type" must be type.googleapis.com/<message>, got ${JSON.stringify(url)}`);
    const inner = root.lookupType(url.slice('type.googleapis.com/'.length));
    const rest = Object.fromEntries(Object.entries(json).filter(([k]) => k !== '@type'));
    const obj = message(root, inner, rest, path) as Record<string, unknown>;
    return { type_url: url, value: inner.encode(inner.fromObject(obj)).finish() };
  }
  if (full.startsWith('.google.protobuf.') && full !== '.google.protobuf.Empty') fail(path, `${full} in JSON: not checked here (add it to test/helpers/envoy-proto.ts)`);
  if (!isObject(json)) fail(path, `an object (${full.slice(1)}) expected, got ${JSON.stringify(json)}`);
  const out: Record<string, unknown> = {};
  const byJson = new Map<string, protobuf.Field>();
  for (const f of t.fieldsArray) {
    byJson.set(f.name, f);
    byJson.set(jsonNameOf(f.name), f);
  }
  for (const [key, v] of Object.entries(json)) {
    const f = byJson.get(key);
    const at = path ? `${path}.${key}` : key;
    if (!f) fail(at, `no field ${JSON.stringify(key)} in ${full.slice(1)} (fields: ${t.fieldsArray.map((x) => x.name).join(', ')})`);
    if (Object.hasOwn(out, f.name)) fail(at, `${f.name} given twice`);
    if (v === null) continue; // proto3 JSON: the default
    if (f.map) {
      if (!isObject(v)) fail(at, 'a map (object) expected');
      out[f.name] = Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fieldValue(root, f, x, `${at}[${JSON.stringify(k)}]`)]));
    } else if (f.repeated) {
      if (!Array.isArray(v)) fail(at, `a list expected for repeated ${f.name}`);
      out[f.name] = v.map((x, i) => fieldValue(root, f, x, `${at}[${i}]`));
    } else {
      out[f.name] = fieldValue(root, f, v, at);
    }
  }
  for (const o of t.oneofsArray) {
    const set = o.fieldsArray.filter((f) => Object.hasOwn(out, f.name));
    if (set.length > 1) fail(path, `oneof ${o.name}: ${set.map((f) => f.name).join(' and ')} both set`);
    if (o.options?.['(validate.required)'] === true && set.length === 0) fail(path, `oneof ${o.name} is required (one of ${o.fieldsArray.map((f) => f.name).join(', ')})`);
  }
  for (const f of t.fieldsArray) checkRules(f, out[f.name], path ? `${path}.${f.name}` : f.name);
  return out;
}

/**
 * protoc-gen-validate rules of field `f` (as protobufjs keeps them:
 * `{'(validate.rules).uint32.gte': 1}`) on its converted value. The rules these messages
 * use are checked; a rule of another kind throws, so that a rule is never skipped unseen.
 */
function checkRules(f: protobuf.Field, value: unknown, path: string): void {
  for (const [key, rule] of Object.entries(f.options ?? {})) {
    if (!key.startsWith('(validate.rules).')) continue;
    const [kind, name] = key.slice('(validate.rules).'.length).split('.') as [string, string | undefined];
    if (kind === 'message' && name === 'required') {
      if (rule === true && value === undefined) fail(path, 'required');
      continue;
    }
    if (value === undefined) continue;
    const values = f.repeated ? (value as unknown[]) : [value];
    if (kind === 'repeated') {
      const n = (value as unknown[]).length;
      if (name === 'min_items' && n < (rule as number)) fail(path, `at least ${String(rule)} items`);
      if (name === 'max_items' && n > (rule as number)) fail(path, `at most ${String(rule)} items`);
      if (name === 'min_items' || name === 'max_items' || name === 'ignore_empty') continue;
      fail(path, `rule ${key} not checked here`);
    }
    for (const v0 of values) {
      const v = isObject(v0) && 'value' in v0 && Object.keys(v0).length === 1 ? v0['value'] : v0; // a wrapper's value
      if (kind === 'string') {
        const s = v as string;
        if (name === 'min_len' && [...s].length < (rule as number)) fail(path, `at least ${String(rule)} characters (validate.rules)`);
        else if (name === 'max_len' && [...s].length > (rule as number)) fail(path, `at most ${String(rule)} characters (validate.rules)`);
        else if (name !== 'min_len' && name !== 'max_len' && name !== 'well_known_regex' && name !== 'strict') fail(path, `rule ${key} not checked here`);
      } else if (['uint32', 'int32', 'uint64', 'int64', 'double', 'float'].includes(kind)) {
        const n = Number(v);
        const r = rule as number;
        if ((name === 'gte' && !(n >= r)) || (name === 'gt' && !(n > r)) || (name === 'lte' && !(n <= r)) || (name === 'lt' && !(n < r))) fail(path, `${kind} ${name} ${r} (validate.rules), got ${n}`);
        if (!['gte', 'gt', 'lte', 'lt'].includes(name ?? '')) fail(path, `rule ${key} not checked here`);
      } else if (kind === 'enum' && name === 'defined_only') {
        const e = f.resolvedType as protobuf.Enum;
        if (rule === true && typeof v === 'number' && !Object.values(e.values).includes(v)) fail(path, `${v} is not a defined value of ${e.fullName}`);
      } else if (kind === 'duration' || kind === 'message' || kind === 'any' || kind === 'map') {
        // not in the messages we answer with (a Duration or an Any rule would show here)
        if (kind === 'message' && name === 'skip') continue;
        fail(path, `rule ${key} not checked here`);
      } else {
        fail(path, `rule ${key} not checked here`);
      }
    }
  }
}

/** Drops what proto3 leaves out on the wire (empty lists, default scalars), keys sorted, for comparing. */
export function withoutDefaults(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutDefaults);
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  if (!isObject(v)) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (x === undefined || x === null || x === '' || x === 0 || x === false || (Array.isArray(x) && x.length === 0)) continue;
    out[k] = withoutDefaults(x);
  }
  return out;
}

/** A ClusterLoadAssignment as Envoy would read it off the wire (proto names, enums by name, wrappers as `{value}`). */
export type DecodedAssignment = Record<string, any>;

/**
 * Checks one DiscoveryResponse body (proto3 JSON, as parsed) against Envoy's protos; throws
 * ProtoJsonError (or an Error) naming the first problem. Returns its version and each
 * resource decoded from its encoded bytes.
 */
export async function checkDiscoveryResponse(json: unknown): Promise<{ version: string; typeUrl: string; resources: DecodedAssignment[] }> {
  const root = await envoyRoot();
  const DR = root.lookupType(DISCOVERY_RESPONSE);
  const CLA = root.lookupType(CLUSTER_LOAD_ASSIGNMENT);
  const obj = fromProto3Json(root, DR, json);
  const problem = DR.verify(obj);
  if (problem) throw new ProtoJsonError(`verify: ${problem}`);
  const msg = DR.fromObject(obj);
  const again = DR.verify(msg);
  if (again) throw new ProtoJsonError(`verify after fromObject: ${again}`);
  const decoded = DR.toObject(DR.decode(DR.encode(msg).finish()), { enums: String, longs: String, defaults: false });
  if (JSON.stringify(withoutDefaults(decoded)) !== JSON.stringify(withoutDefaults(obj))) throw new ProtoJsonError(`round trip changed it: ${JSON.stringify(withoutDefaults(obj))} → ${JSON.stringify(withoutDefaults(decoded))}`);
  const resources = ((decoded['resources'] ?? []) as Array<{ type_url: string; value: Uint8Array }>).map((any, i) => {
    if (any.type_url !== `type.googleapis.com/${CLUSTER_LOAD_ASSIGNMENT}`) throw new ProtoJsonError(`resources[${i}]: @type ${any.type_url}`);
    return CLA.toObject(CLA.decode(any.value), { enums: String, longs: String, defaults: false });
  });
  return { version: String(decoded['version_info'] ?? ''), typeUrl: String(decoded['type_url'] ?? ''), resources };
}
