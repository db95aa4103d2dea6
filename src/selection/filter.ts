import type { NodeEntry } from '../projection/state.js';

/**
 * Attribute filters (`?zone=eu-1` over HTTP, `where` in a binary QUERY) compare the
 * attribute's text form: `port=8080` and `{port: 8080}` match the same nodes.
 */
export function attrFilter(params: Iterable<[string, string]>): ((n: Pick<NodeEntry, 'attrs'>) => boolean) | undefined {
  const pairs = [...params];
  if (pairs.length === 0) return undefined;
  return (n) => pairs.every(([k, v]) => Object.hasOwn(n.attrs, k) && String(n.attrs[k]) === v);
}
