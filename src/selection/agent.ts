import type { NodeEntry } from '../projection/node.js';

/** The longest node id taken (the protocol's longest string, DEFAULT_LIMITS.maxStringBytes). */
export const AGENT_MAX_ID = 256;

/** The longest request line taken: a node id, a scope (`service=api zone=eu-1`) and `\r\n`. */
export const AGENT_MAX_LINE = 1024;

/** What the agent needs of the registry: a node by id, its service, and its weight now (docs/selection.md#weights). */
export interface AgentSource {
  node(id: string): NodeEntry | undefined;
  /** The node's service: its `--service-key` attribute as text, '' without one. */
  serviceOf(n: NodeEntry): string;
  weight(n: NodeEntry): number | undefined;
}

/** The answer to a line that is not a node id and a scope (too long, control characters, empty, a bad scope). */
export const AGENT_BAD_REQUEST = 'down #bad request';

/**
 * What one request asks: the node id, and the scope after it (`agent-send "10.0.0.5:8080
 * service=api zone=eu-1\n"`): `service=S` the node's service (the `--service-key`
 * attribute), every other `KEY=VALUE` an attribute filter, as `/v1/nodes?KEY=VALUE`.
 * Undefined for a line that is none (a node id holds no space: src/protocol/push.ts).
 */
export function parseAgentLine(line: string): { id: string; service?: string; attrs: Array<[string, string]> } | undefined {
  let text = line;
  if (text.endsWith('\n')) text = text.slice(0, -1);
  if (text.endsWith('\r')) text = text.slice(0, -1);
  // a server added through the HAProxy CLI keeps `\n` as two characters
  if (text.endsWith('\\n')) text = text.slice(0, -2);
  // eslint-disable-next-line no-control-regex
  if (text.length > AGENT_MAX_LINE || /[\u0000-\u001f\u007f\\]/.test(text)) return undefined;
  const [id, ...words] = text.split(' ').filter((w) => w !== '');
  if (id === undefined || id.length > AGENT_MAX_ID) return undefined;
  const out: { id: string; service?: string; attrs: Array<[string, string]> } = { id, attrs: [] };
  const seen = new Set<string>();
  for (const w of words) {
    const eq = w.indexOf('=');
    if (eq <= 0) return undefined;
    const key = w.slice(0, eq);
    if (seen.has(key)) return undefined;
    seen.add(key);
    if (key === 'service') out.service = w.slice(eq + 1);
    else out.attrs.push([key, w.slice(eq + 1)]);
  }
  return out;
}

/**
 * HAProxy's agent-check, as a pure function (docs/integrations.md#haproxy-agent-check):
 * the line HAProxy sent (`agent-send`: the node id, optionally a scope, with or without its
 * `\n`) → the one line answered, always the complete state, so that a missed check loses
 * nothing:
 * - eligible: `up ready N%` (N the shared weight; `ready` clears a drain HAProxy keeps
 *   until told otherwise), plus ` maxconn:N` when the node's `maxconn` attribute is a
 *   positive integer;
 * - drained while it reports: `up drain`, not a bare `drain`: HAProxy changes only what a
 *   reply names, so a node that was DOWN and comes back drained would stay DOWN there;
 * - DOWN: `down #<why>`; connected but never reported: `down #never reported`;
 * - outside the line's scope: `down #not in service S` / `down #KEY is not VALUE`, whatever
 *   its state (the backend is for that service only);
 * - an id the registry does not know: `down #unknown node`; a line that is no id and
 *   scope: AGENT_BAD_REQUEST.
 * Returns the reply without its `\n`, and whether it was an error (for the counters).
 */
export function agentReply(line: string, source: AgentSource): { reply: string; error: boolean } {
  const q = parseAgentLine(line);
  if (!q) return { reply: AGENT_BAD_REQUEST, error: true };
  const n = source.node(q.id);
  if (!n) return { reply: 'down #unknown node', error: false };
  if (q.service !== undefined && source.serviceOf(n) !== q.service)
    return { reply: `down #not in service ${q.service === '' ? '""' : q.service}`, error: false };
  for (const [k, v] of q.attrs)
    if (!Object.hasOwn(n.attrs, k) || String(n.attrs[k]) !== v) return { reply: `down #${k} is not ${v === '' ? '""' : v}`, error: false };
  if (n.state === 'DOWN') return { reply: `down #${why(n.reason)}`, error: false };
  if (n.state !== 'PUSH_LOAD_INFO') return { reply: 'down #never reported', error: false };
  if (n.drained) return { reply: 'up drain', error: false };
  const w = source.weight(n);
  if (w === undefined) return { reply: 'down #not eligible', error: false };
  const maxconn = n.attrs['maxconn'];
  const extra = typeof maxconn === 'number' && Number.isInteger(maxconn) && maxconn > 0 ? ` maxconn:${maxconn}` : '';
  return { reply: `up ready ${w}%${extra}`, error: false };
}

/** A DOWN node's reason as one safe line of text for HAProxy's log (`#` runs to the end). */
function why(reason: string): string {
  const text = reason
    // eslint-disable-next-line no-control-regex -- control characters are what it removes
    .replace(/[\u0000-\u001f\u007f]+/g, ' ')
    .trim()
    .slice(0, 100);
  return text === '' ? 'down' : text;
}
