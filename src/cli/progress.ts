import { printable } from '../format/text.js';
import { formatDuration } from '../util/duration.js';

/**
 * Progress for long operations: a bar on stderr when it is a terminal (and the caller
 * did not ask for machine output), redrawn at most 10 times a second and only after the
 * first second; always a one-line summary at the end.
 */
export class Progress {
  private readonly started = performance.now();
  private lastDraw = 0;
  private drawn = false;
  private readonly bar: boolean;

  constructor(
    private readonly label: string,
    private total: number,
    opts: { quiet?: boolean; stream?: NodeJS.WriteStream } = {},
  ) {
    this.stream = opts.stream ?? process.stderr;
    this.bar = !opts.quiet && this.stream.isTTY === true;
  }

  private readonly stream: NodeJS.WriteStream;

  update(done: number, total = this.total): void {
    this.total = total;
    if (!this.bar) return;
    const now = performance.now();
    if (now - this.started < 1000 || now - this.lastDraw < 100) return;
    this.lastDraw = now;
    this.drawn = true;
    const frac = total > 0 ? Math.min(1, done / total) : 0;
    const width = 30;
    const filled = Math.round(frac * width);
    const rate = done / ((now - this.started) / 1000);
    const eta = rate > 0 && total > done ? ` eta ${((total - done) / rate).toFixed(0)}s` : '';
    this.stream.write(
      `\r${this.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(frac * 100).toFixed(0).padStart(3)}% ${done.toLocaleString('en-US')}/${total.toLocaleString('en-US')} events ${formatRate(rate)}${eta}\x1b[K`,
    );
  }

  /**
   * Clears the bar and prints `WHAT: N events in 1.2s (Y events/s)` — the rate only when it
   * was measured over 100 ms at least; `WHAT: no events` when there were none. `snapshot`:
   * the state came from the snapshot at that seq, the events counted were folded after it
   * (`WHAT: from the snapshot at seq S, no events to fold`).
   */
  done(events: number, what: string, opts: { snapshot?: number } = {}): void {
    if (this.drawn) this.stream.write('\r\x1b[K');
    const ms = performance.now() - this.started;
    const from = opts.snapshot !== undefined && opts.snapshot > 0 ? `from the snapshot at seq ${opts.snapshot}` : undefined;
    const counted = `${events.toLocaleString('en-US')} events in ${formatDuration(ms)}${ms >= 100 ? ` (${formatRate((events * 1000) / ms)})` : ''}`;
    const text = events === 0 ? (from ? `${from}, no events to fold` : 'no events') : from ? `${from}, ${counted}` : counted;
    this.stream.write(`${printable(what)}: ${text}\n`);
  }
}

function formatRate(perSec: number): string {
  return `${Math.round(perSec).toLocaleString('en-US')} events/s`;
}
