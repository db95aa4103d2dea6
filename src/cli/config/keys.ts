/** What an unknown config key most likely meant. */

function distance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return d[b.length]!;
}

/** The known key a mistyped one most likely meant: `deadAfter`, `dead_after`, `dead-afer` → `dead-after`. */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  const norm = (k: string): string => k.toLowerCase().replace(/[-_]/g, '');
  const same = known.find((k) => norm(k) === norm(key.replace(/^-+/, '').replace(/^no-/, '')));
  if (same) return same;
  let best: string | undefined;
  let bestD = 3;
  for (const k of known) {
    const dd = distance(key.toLowerCase(), k);
    if (dd < bestD) [best, bestD] = [k, dd];
  }
  return best;
}
