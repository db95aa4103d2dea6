import { EXIT_FAILURE } from './output.js';

/** The part of `process` the signal handling uses (a stand-in in tests). */
export interface SignalProcess {
  on(signal: 'SIGINT' | 'SIGTERM', listener: () => void): unknown;
  exit(code: number): void;
  readonly stderr: { write(s: string): unknown };
}

/**
 * SIGINT/SIGTERM start a clean stop (`stop`, which exits when done). A second signal while
 * the stop is still running quits at once with exit 1 and a line saying so: a stop stuck
 * on a disk or a peer must never leave a person unable to end the process.
 *
 * @param name prefixes the line, e.g. `loadledger master`.
 */
export function stopOnSignals(name: string, stop: (signal: string) => void, proc: SignalProcess = process): void {
  let stopping: string | undefined;
  const onSignal = (signal: string): void => {
    if (stopping !== undefined) {
      proc.stderr.write(`${name}: ${signal} while stopping (after ${stopping}): quitting at once, without a clean stop\n`);
      proc.exit(EXIT_FAILURE);
      return;
    }
    stopping = signal;
    stop(signal);
  };
  proc.on('SIGINT', () => onSignal('SIGINT'));
  proc.on('SIGTERM', () => onSignal('SIGTERM'));
}
