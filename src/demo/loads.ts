/**
 * Made-up loads for the demo's slaves: slow sine waves, out of phase with each other and
 * of slightly different periods (so the least-loaded node keeps changing, irregularly),
 * plus a little noise. Between 0 and about 100.
 */
export interface WaveOptions {
  /** ms since the demo started (the wave's time axis). */
  clock: () => number;
  random?: () => number;
}

const BASE = 50;
const AMPLITUDE = 38;
const NOISE = 6;

/** The load function of slave `i` of `n`: rounded to one decimal, never below 0. */
export function waveLoad(i: number, n: number, { clock, random = Math.random }: WaveOptions): () => number {
  const period = 20_000 + 3_700 * i;
  const phase = (2 * Math.PI * i) / Math.max(1, n);
  return () => {
    const v = BASE + AMPLITUDE * Math.sin((2 * Math.PI * clock()) / period + phase) + (random() - 0.5) * NOISE;
    return Math.round(Math.max(0, v) * 10) / 10;
  };
}
