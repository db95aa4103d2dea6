import type { NodeEntry } from '../projection/node.js';

/** The longest request line taken (a node id is at most 256 bytes, plus `\r\n`). */
export const AGENT_MAX_LINE = 260;

/** What the agent needs of the registry: a node by id, and its weight now (docs/selection.md#weights). */
export interface AgentSource {
  node(id: string): NodeEntry | undefined;
  weight(n: NodeEntry): number | undefined;
}

/** The answer to a line that is not a node id (too long, control characters, empty). */
export const AGENT_BAD_REQUEST = 'down #bad request';

/**
 * HAProxy's agent-check, as a pure function (docs/integrations.md#haproxy-agent-check):
 * the line HAProxy sent (`agent-send`, the node id, with or without its `\n`) → the one
 * line answered, always the complete state, so that a missed check loses nothing:
 * - eligible: `up ready N%` (N the shared weight; `ready` clears a drain HAProxy keeps
 *   until told otherwise), plus ` maxconn:N` when the node's `maxconn` attribute is a
 *   positive integer;
 * - drained while it reports: `up drain` (`up` too: a node that was DOWN and came back
 *   drained is UP in DRAIN, not DOWN);
 * - DOWN: `down #<why>`; connected but never reported: `down #never reported`;
 * - an id the registry does not know: `down #unknown node`; a line that is no id:
 *   AGENT_BAD_REQUEST.
 * Returns the reply without its `\n`, and whether it was an error (for the counters).
 */
export function agentReply(line: string, source: AgentSource): { reply: string; error: boolean } {
  let id = line;
  if (id.endsWith('\n')) id = id.slice(0, -1);
  if (id.endsWith('\r')) id = id.slice(0, -1);
  // a server added through the HAProxy CLI keeps `\n` as two characters
  if (id.endsWith('\\n')) id = id.slice(0, -2);
  // eslint-disable-next-line no-control-regex
  if (id === '' || id.length > AGENT_MAX_LINE || /[\u0000-\u001f\u007f\\]/.test(id)) return { reply: AGENT_BAD_REQUEST, error: true };
  const n = source.node(id);
  if (!n) return { reply: 'down #unknown node', error: false };
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
  // eslint-disable-next-line no-control-regex
  const text = reason.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim().slice(0, 100);
  return text === '' ? 'down' : text;
}
