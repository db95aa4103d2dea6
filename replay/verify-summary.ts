import type { VerifyResult } from './verify.js';

const num = (x: number): string => x.toLocaleString('en-US');

/**
 * The one-line verdict: `verified log ./data: 1,234 events (seq 1..1,234) in 12 records,
 * 5 snapshots match, projection at seq 1,234 matches a fresh fold: OK`, or what failed.
 */
export function verifySummary(r: VerifyResult): string {
  const parts: string[] = [];
  if (r.events === 0 && r.lastSeq < r.firstSeq) parts.push(`no events${r.lastSeq > 0 ? ` retained (last seq ${num(r.lastSeq)})` : ''}`);
  else parts.push(`${num(r.events)} events (seq ${num(r.firstSeq)}..${num(r.lastSeq)}) in ${num(r.records)} records`);
  if (r.baseSeq !== null && r.baseSeq > 0) parts.push(`replayed from the snapshot at seq ${num(r.baseSeq)}`);
  if (r.unreplayable > 0) parts.push(`${num(r.unreplayable)} events before it left by an unfinished retention`);
  const s = r.snapshots;
  let snaps = `${s.matched} snapshot${s.matched === 1 ? '' : 's'} match${s.matched === 1 ? 'es' : ''}`;
  if (s.mismatched > 0) snaps += `, ${s.mismatched} differ`;
  if (s.notChecked > 0) snaps += ` (${s.notChecked} not comparable: the replay base or older)`;
  parts.push(snaps);
  if (r.projection)
    parts.push(`projection at seq ${num(r.projection.seq)} ${r.projection.matches ? 'matches' : 'DIFFERS from'} a fresh fold`);
  else parts.push('projection not compared');
  const verdict = r.ok ? 'OK' : `FAILED (${r.problemCount} problem${r.problemCount === 1 ? '' : 's'})`;
  return `verified log ${r.dir}: ${parts.join(', ')}: ${verdict}`;
}
