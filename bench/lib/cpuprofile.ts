/**
 * Reads a V8 .cpuprofile (what `node --cpu-prof` writes) and sums self time per function
 * and per module (where the code lives: our src/, storage/, a dependency, node internals).
 */
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileEntry {
  name: string;
  where: string;
  selfMs: number;
  selfPct: number;
  /** Time with this function anywhere on the stack (counted once per sample). */
  totalMs: number;
  totalPct: number;
}

export interface ProfileSummary {
  file: string;
  /** Sampled time excluding (idle). */
  busyMs: number;
  wallMs: number;
  top: ProfileEntry[];
  modules: { module: string; selfMs: number; selfPct: number }[];
}

/** A short location: path relative to the project (dist/… or node_modules/<pkg>/…), 1-based line. */
function where(cf: CallFrame): string {
  if (!cf.url) return '';
  let u = cf.url.replace(/^file:\/\//, '');
  const nm = u.lastIndexOf('/node_modules/');
  if (nm >= 0) u = u.slice(nm + 1);
  else {
    const d = u.indexOf('/dist/');
    if (d >= 0) u = u.slice(d + 1);
  }
  return `${u}:${cf.lineNumber + 1}`;
}

function moduleOf(cf: CallFrame): string {
  const u = cf.url;
  if (!u) return cf.functionName.startsWith('(') ? cf.functionName : '(native/V8 builtins)';
  if (u.startsWith('node:')) return 'node:' + (u.slice(5).split('/')[1] ?? u.slice(5));
  const nm = u.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = u.slice(nm + 14).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  const d = u.indexOf('/dist/');
  if (d >= 0) {
    const parts = u.slice(d + 6).split('/');
    return parts.slice(0, parts.length - 1).join('/') + '/' + parts[parts.length - 1]!.replace(/\.js$/, '.ts');
  }
  return u;
}

export function summarizeProfile(file: string, top = 15): ProfileSummary {
  const prof = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of prof.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const selfUs = new Map<number, number>();
  for (let i = 0; i < prof.samples.length; i++) {
    const id = prof.samples[i]!;
    const dt = prof.timeDeltas[i + 1] ?? prof.timeDeltas[i] ?? 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, dt));
  }
  const key = (cf: CallFrame): string => `${cf.functionName || '(anonymous)'}\u0000${where(cf)}`;
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  const modules = new Map<string, number>();
  let busy = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!;
    const cf = node.callFrame;
    if (cf.functionName === '(idle)') continue;
    busy += us;
    self.set(key(cf), (self.get(key(cf)) ?? 0) + us);
    const m = moduleOf(cf);
    modules.set(m, (modules.get(m) ?? 0) + us);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const k = key(byId.get(cur)!.callFrame);
      if (seen.has(k)) continue;
      seen.add(k);
      total.set(k, (total.get(k) ?? 0) + us);
    }
  }
  const pct = (us: number): number => (busy > 0 ? (100 * us) / busy : 0);
  const entries: ProfileEntry[] = [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([k, us]) => {
      const [name, loc] = k.split('\u0000') as [string, string];
      const t = total.get(k) ?? us;
      return { name, where: loc, selfMs: us / 1000, selfPct: pct(us), totalMs: t / 1000, totalPct: pct(t) };
    });
  return {
    file,
    busyMs: busy / 1000,
    wallMs: (prof.endTime - prof.startTime) / 1000,
    top: entries,
    modules: [...modules.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 12)
      .map(([module, us]) => ({ module, selfMs: us / 1000, selfPct: pct(us) })),
  };
}

export function formatProfile(s: ProfileSummary): string {
  const lines = [`${s.file}: busy ${s.busyMs.toFixed(0)} ms of ${s.wallMs.toFixed(0)} ms wall`, '  self%  total%  function (location)'];
  for (const e of s.top) lines.push(`  ${e.selfPct.toFixed(1).padStart(5)}  ${e.totalPct.toFixed(1).padStart(6)}  ${e.name} (${e.where})`);
  lines.push('  by module (self%): ' + s.modules.map((m) => `${m.module} ${m.selfPct.toFixed(1)}`).join(', '));
  return lines.join('\n');
}
