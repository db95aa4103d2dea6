import type { NodeEntry } from '../projection/state.js';
import { controlProblem } from '../protocol/names.js';

/**
 * Attribute filters (`?zone=eu-1` over HTTP, `where` in a binary QUERY) compare the
 * attribute's text form: `port=8080` and `{port: 8080}` match the same nodes.
 */
/**
 * Why these filters cannot be asked for, or undefined: a key or value holding a control or
 * bidi character (no attribute a master takes can hold one: src/protocol/names.ts).
 */
export function filterProblem(params: Iterable<[string, string]>): string | undefined {
  for (const [k, v] of params) {
    const p = controlProblem(k, 'a filter key') ?? controlProblem(v, `the filter ${JSON.stringify(k)}`);
    if (p !== undefined) return p;
  }
  return undefined;
}

export function attrFilter(params: Iterable<[string, string]>): ((n: Pick<NodeEntry, 'attrs'>) => boolean) | undefined {
  const pairs = [...params];
  if (pairs.length === 0) return undefined;
  return (n) => pairs.every(([k, v]) => Object.hasOwn(n.attrs, k) && String(n.attrs[k]) === v);
}
