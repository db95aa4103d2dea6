/** Latency samples (ms) and their percentiles. */
export class Samples {
  private a = new Float64Array(1 << 16);
  n = 0;

  push(v: number): void {
    if (this.n === this.a.length) {
      const b = new Float64Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.n++] = v;
  }

  clear(): void {
    this.n = 0;
  }

  /** The samples in the order they were pushed (a view, valid until the next push). */
  values(): Float64Array {
    return this.a.subarray(0, this.n);
  }

  summary(): LatencySummary {
    const s = this.a.slice(0, this.n).sort();
    const at = (q: number): number => (s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.floor(q * s.length))]!);
    let sum = 0;
    for (const v of s) sum += v;
    return {
      count: s.length,
      mean: s.length ? sum / s.length : NaN,
      p50: at(0.5),
      p90: at(0.9),
      p99: at(0.99),
      p999: at(0.999),
      max: s.length ? s[s.length - 1]! : NaN,
    };
  }
}

export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** The run with the highest by(x). */
export const best = <T>(xs: T[], by: (x: T) => number): T => xs.reduce((a, b) => (by(b) > by(a) ? b : a));
