/**
 * Machine-wide CPU use from /proc/stat, to tell how much of a measurement window went to
 * processes other than the ones measured (other jobs on a shared machine skew figures).
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

export interface CpuTicks {
  busy: number;
  total: number;
}

export function cpuTicks(): CpuTicks | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal …
    const idle = (f[3] ?? 0) + (f[4] ?? 0);
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

/** Cores busy machine-wide between two readings (0 … number of cores). */
export function coresBusy(a: CpuTicks | undefined, b: CpuTicks | undefined): number {
  if (!a || !b || b.total === a.total) return NaN;
  return ((b.busy - a.busy) / (b.total - a.total)) * cpus().length;
}
