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
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import protobuf from 'protobufjs';
import { parse as parseYaml } from 'yaml';

const require = createRequire(import.meta.url);
const XDS = dirname(require.resolve('@grpc/grpc-js-xds/package.json'));
const INCLUDE = [
  ...['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => join(XDS, 'deps', d)),
  dirname(require.resolve('protobufjs/package.json')),
];

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
    await root.load(
      [
        'envoy/service/discovery/v3/discovery.proto',
        'envoy/config/endpoint/v3/endpoint.proto',
        // the REST path Envoy polls, and what the documented configuration uses
        'envoy/service/endpoint/v3/eds.proto',
        'envoy/config/bootstrap/v3/bootstrap.proto',
        'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
        'envoy/extensions/filters/http/router/v3/router.proto',
      ],
      { keepCase: true },
    );
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
      if (typeof n !== 'number' || !Number.isInteger(n) || n < (unsigned ? 0 : -(2 ** 31)) || n > (unsigned ? 2 ** 32 - 1 : 2 ** 31 - 1))
        fail(path, `a ${type} expected, got ${JSON.stringify(v)}`);
      return n;
    }
    case 'int64':
    case 'sint64':
    case 'sfixed64':
    case 'uint64':
    case 'fixed64':
      if (!(typeof v === 'number' && Number.isSafeInteger(v)) && !(typeof v === 'string' && /^-?\d+$/.test(v)))
        fail(path, `a ${type} expected, got ${JSON.stringify(v)}`);
      return v;
    case 'double':
    case 'float':
      if (typeof v !== 'number' && !['NaN', 'Infinity', '-Infinity'].includes(v as string))
        fail(path, `a number expected, got ${JSON.stringify(v)}`);
      return typeof v === 'number' ? v : Number(v);
    case 'bytes':
      if (typeof v !== 'string' || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(v)) fail(path, `base64 expected, got ${JSON.stringify(v)}`);
      return v;
    default:
      return fail(path, `unknown scalar type ${type}`);
  }
}

const WRAPPER_SCALAR = {
  int: 'int32',
  uint: 'uint32',
  int64: 'int64',
  uint64: 'uint64',
  float: 'double',
  bool: 'bool',
  string: 'string',
  bytes: 'bytes',
} as const;

/** The value of field `f` from JSON (not null), for protobufjs. */
function fieldValue(root: protobuf.Root, f: protobuf.Field, v: unknown, path: string): unknown {
  const t = f.resolvedType;
  if (t instanceof protobuf.Enum) {
    if (typeof v === 'string') {
      if (!Object.hasOwn(t.values, v))
        fail(path, `${JSON.stringify(v)} is not a value of ${t.fullName} (${Object.keys(t.values).join(', ')})`);
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
    if (typeof url !== 'string' || !url.startsWith('type.googleapis.com/'))
      fail(path, `"@type" must be type.googleapis.com/<message>, got ${JSON.stringify(url)}`);
    const inner = root.lookupType(url.slice('type.googleapis.com/'.length));
    const rest = Object.fromEntries(Object.entries(json).filter(([k]) => k !== '@type'));
    const obj = message(root, inner, rest, path) as Record<string, unknown>;
    return { type_url: url, value: inner.encode(inner.fromObject(obj)).finish() };
  }
  if (full === '.google.protobuf.Duration') {
    const m = typeof json === 'string' ? /^(-)?(\d+)(?:\.(\d{1,9}))?s$/.exec(json) : null;
    if (!m) fail(path, `a Duration ("1s", "0.5s") expected, got ${JSON.stringify(json)}`);
    const sign = m[1] ? -1 : 1;
    return { seconds: sign * Number(m[2]), nanos: sign * Number((m[3] ?? '').padEnd(9, '0')) };
  }
  if (full.startsWith('.google.protobuf.') && full !== '.google.protobuf.Empty')
    fail(path, `${full} in JSON: not checked here (add it to test/helpers/envoy-proto.ts)`);
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
    if (o.options?.['(validate.required)'] === true && set.length === 0)
      fail(path, `oneof ${o.name} is required (one of ${o.fieldsArray.map((f) => f.name).join(', ')})`);
  }
  for (const f of t.fieldsArray) checkRules(f, out[f.name], path ? `${path}.${f.name}` : f.name);
  return out;
}

/**
 * Rules Envoy's messages carry that are not checked here, on purpose: `well_known_regex`
 * (header-name/value character sets), `strict`, and `ignore_empty` / `skip`, which only
 * relax other rules. Any other rule not implemented below throws, so that none is skipped
 * unseen.
 */
const UNCHECKED_RULES = new Set([
  'string.well_known_regex',
  'string.strict',
  'string.ignore_empty',
  'repeated.ignore_empty',
  'message.skip',
  'uint32.ignore_empty',
]);

const ns = (x: { seconds?: number; nanos?: number }): number => (x.seconds ?? 0) * 1e9 + (x.nanos ?? 0);

/** One protoc-gen-validate rule (`kind.name`, e.g. `uint32.gte`) on one value. */
function checkRule(rule: string, want: unknown, v0: unknown, f: protobuf.Field, path: string): void {
  if (UNCHECKED_RULES.has(rule)) return;
  const [kind, name] = rule.split('.') as [string, string | undefined];
  const v = isObject(v0) && 'value' in v0 && Object.keys(v0).length === 1 ? v0['value'] : v0; // a wrapper's value
  const ok = (cond: boolean, what: string) =>
    cond || fail(path, `${what} (validate.rules ${rule} ${JSON.stringify(want)}), got ${JSON.stringify(v)}`);
  if (kind === 'string') {
    const s = v as string;
    const chars = [...s].length;
    const bytes = Buffer.byteLength(s);
    if (name === 'min_len') ok(chars >= (want as number), `at least ${String(want)} characters`);
    else if (name === 'max_len') ok(chars <= (want as number), `at most ${String(want)} characters`);
    else if (name === 'min_bytes') ok(bytes >= (want as number), `at least ${String(want)} bytes`);
    else if (name === 'max_bytes') ok(bytes <= (want as number), `at most ${String(want)} bytes`);
    else if (name === 'prefix') ok(s.startsWith(want as string), 'a prefix');
    else if (name === 'in') ok((Array.isArray(want) ? want : [want]).includes(s), 'one of');
    else fail(path, `rule ${rule} not checked here`);
  } else if (['uint32', 'int32', 'uint64', 'int64', 'double', 'float', 'fixed32', 'fixed64', 'sint32', 'sint64'].includes(kind)) {
    const n = Number(v);
    const r = Number(want);
    if (name === 'gte') ok(n >= r, `>= ${r}`);
    else if (name === 'gt') ok(n > r, `> ${r}`);
    else if (name === 'lte') ok(n <= r, `<= ${r}`);
    else if (name === 'lt') ok(n < r, `< ${r}`);
    else if (name === 'const') ok(n === r, `= ${r}`);
    else if (name === 'in') ok((Array.isArray(want) ? want : [want]).map(Number).includes(n), 'one of');
    else fail(path, `rule ${rule} not checked here`);
  } else if (kind === 'enum') {
    const e = f.resolvedType as protobuf.Enum;
    if (name === 'defined_only')
      ok(want !== true || typeof v !== 'number' || Object.values(e.values).includes(v), `a defined value of ${e.fullName}`);
    else if (name === 'not_in')
      ok(!(Array.isArray(want) ? want : [want]).some((x) => x === v || e.values[v as string] === x), 'not one of');
    else fail(path, `rule ${rule} not checked here`);
  } else if (kind === 'duration') {
    const d = ns(v as { seconds: number; nanos: number });
    const r = ns(want ?? {});
    if (name === 'gt') ok(d > r, `> ${r} ns`);
    else if (name === 'gte') ok(d >= r, `>= ${r} ns`);
    else if (name === 'lt') ok(d < r, `< ${r} ns`);
    else if (name === 'lte') ok(d <= r, `<= ${r} ns`);
    else if (name !== 'required') fail(path, `rule ${rule} not checked here`);
  } else if ((kind === 'message' || kind === 'any') && name === 'required') {
    // checked for absent fields by checkRules
  } else {
    fail(path, `rule ${rule} not checked here`);
  }
}

/**
 * protoc-gen-validate rules of field `f` (as protobufjs keeps them:
 * `{'(validate.rules).uint32.gte': 1}`, `(validate.rules).repeated.items.string.min_len`)
 * on its converted value.
 */
function checkRules(f: protobuf.Field, value: unknown, path: string): void {
  for (const [key, want] of Object.entries(f.options ?? {})) {
    if (!key.startsWith('(validate.rules).')) continue;
    const rule = key.slice('(validate.rules).'.length);
    if (/^(message|duration|any)\.required$/.test(rule)) {
      // a member of a oneof that another member fills has no value to require
      if (want === true && value === undefined && !f.partOf) fail(path, 'required (validate.rules)');
      continue;
    }
    if (value === undefined) continue;
    if (rule.startsWith('repeated.items.')) {
      (value as unknown[]).forEach((x, i) => checkRule(rule.slice('repeated.items.'.length), want, x, f, `${path}[${i}]`));
    } else if (rule.startsWith('repeated.')) {
      const n = (value as unknown[]).length;
      if (rule === 'repeated.min_items') {
        if (n < (want as number)) fail(path, `at least ${String(want)} items (validate.rules)`);
      } else if (rule === 'repeated.max_items') {
        if (n > (want as number)) fail(path, `at most ${String(want)} items (validate.rules)`);
      } else if (rule === 'repeated.unique') {
        if (new Set((value as unknown[]).map((x) => JSON.stringify(x))).size !== n) fail(path, 'unique items (validate.rules)');
      } else if (!UNCHECKED_RULES.has(rule)) fail(path, `rule ${key} not checked here`);
    } else if (rule.startsWith('map.')) {
      const n = Object.keys(value as object).length;
      if (rule === 'map.min_pairs') {
        if (n < (want as number)) fail(path, `at least ${String(want)} pairs (validate.rules)`);
      } else if (rule === 'map.max_pairs') {
        if (n > (want as number)) fail(path, `at most ${String(want)} pairs (validate.rules)`);
      } else fail(path, `rule ${key} not checked here`);
    } else {
      for (const v of f.repeated ? (value as unknown[]) : [value]) checkRule(rule, want, v, f, path);
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
  if (JSON.stringify(withoutDefaults(decoded)) !== JSON.stringify(withoutDefaults(obj)))
    throw new ProtoJsonError(
      `round trip changed it: ${JSON.stringify(withoutDefaults(obj))} → ${JSON.stringify(withoutDefaults(decoded))}`,
    );
  const resources = ((decoded['resources'] ?? []) as Array<{ type_url: string; value: Uint8Array }>).map((any, i) => {
    if (any.type_url !== `type.googleapis.com/${CLUSTER_LOAD_ASSIGNMENT}`)
      throw new ProtoJsonError(`resources[${i}]: @type ${any.type_url}`);
    return CLA.toObject(CLA.decode(any.value), { enums: String, longs: String, defaults: false });
  });
  return { version: String(decoded['version_info'] ?? ''), typeUrl: String(decoded['type_url'] ?? ''), resources };
}

export const BOOTSTRAP = 'envoy.config.bootstrap.v3.Bootstrap';

/** The first ```lang block of docs/integrations.md's "Envoy EDS over REST" section. */
function envoySectionBlock(lang: 'yaml' | 'json'): string {
  const md = readFileSync(join(dirname(require.resolve('../../package.json')), 'docs', 'integrations.md'), 'utf8');
  const start = md.indexOf('\n## Envoy EDS over REST\n');
  if (start < 0) throw new Error('docs/integrations.md has no "## Envoy EDS over REST" section');
  const end = md.indexOf('\n## ', start + 1);
  const section = md.slice(start + 1, end < 0 ? undefined : end);
  const block = new RegExp('```' + lang + '\\n([\\s\\S]*?)```').exec(section);
  if (!block) throw new Error(`the Envoy section of docs/integrations.md has no \`\`\`${lang} block`);
  return block[1]!;
}

/** The Envoy configuration of docs/integrations.md (its YAML block), parsed: what the tests check against the protos and poll a master with. */
export function documentedEnvoyConfig(): Record<string, any> {
  return parseYaml(envoySectionBlock('yaml')) as Record<string, any>;
}

/** The sample DiscoveryResponse of docs/integrations.md (its JSON block), parsed. */
export function documentedEdsAnswer(): Record<string, any> {
  return JSON.parse(envoySectionBlock('json')) as Record<string, any>;
}
