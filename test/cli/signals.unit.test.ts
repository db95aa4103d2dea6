/** SIGINT/SIGTERM: the first starts a clean stop, a second one while stopping quits at once. */
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { stopOnSignals, type SignalProcess } from '../../src/cli/signals.js';

function fakeProcess(): SignalProcess & { emitter: EventEmitter; exits: number[]; lines: string[] } {
  const emitter = new EventEmitter();
  const exits: number[] = [];
  const lines: string[] = [];
  return {
    emitter,
    exits,
    lines,
    on: (signal, listener) => emitter.on(signal, listener),
    exit: (code) => void exits.push(code),
    stderr: { write: (s: string) => lines.push(s) },
  };
}

describe('stopOnSignals', () => {
  it('starts one clean stop on the first signal, and leaves the exit to it', () => {
    const proc = fakeProcess();
    const stops: string[] = [];
    stopOnSignals('loadledger master', (s) => stops.push(s), proc);
    proc.emitter.emit('SIGTERM');
    expect(stops).toEqual(['SIGTERM']);
    expect(proc.exits).toEqual([]);
    expect(proc.lines).toEqual([]);
  });

  it.each([
    ['SIGINT', 'SIGINT'],
    ['SIGTERM', 'SIGINT'],
    ['SIGINT', 'SIGTERM'],
  ])('a second signal while stopping (%s, then %s) exits 1 at once, with one line saying so', (first, second) => {
    const proc = fakeProcess();
    const stops: string[] = [];
    stopOnSignals('loadledger master', (s) => stops.push(s), proc);
    proc.emitter.emit(first);
    proc.emitter.emit(second);
    expect(stops).toEqual([first]);
    expect(proc.exits).toEqual([1]);
    expect(proc.lines).toHaveLength(1);
    expect(proc.lines[0]).toMatch(new RegExp(`^loadledger master: ${second} while stopping .*quitting at once, without a clean stop\\n$`));
  });
});
