import { InvalidArgumentError } from 'commander';
import { isLoadLedgerError } from '../errors.js';
import { parseDuration } from '../util/duration.js';
import { parseHostPort, type HostPort } from '../util/hostport.js';

/** Wraps a LoadLedgerError parser as a commander argument parser (commander names the flag). */
function commanderParser<T>(parse: (s: string) => T): (s: string) => T {
  return (s) => {
    try {
      return parse(s);
    } catch (e) {
      if (isLoadLedgerError(e)) throw new InvalidArgumentError(e.message.replace(/^[^:]*: /, ''));
      throw e;
    }
  };
}

export const durationArg = commanderParser((s) => parseDuration(s, 'duration'));

export const positiveDurationArg = commanderParser((s) => {
  const ms = parseDuration(s, 'duration');
  if (ms <= 0) throw new InvalidArgumentError(`expected a duration above 0, got ${JSON.stringify(s)}`);
  return ms;
});

export const hostPortArg = commanderParser((s): HostPort => parseHostPort(s, 'address', { allowPortZero: true }));

export function intArg(min: number, max = Number.MAX_SAFE_INTEGER): (s: string) => number {
  return (s) => {
    const n = Number(s);
    if (!/^\d+$/.test(s.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}, got ${JSON.stringify(s)}`);
    }
    return n;
  };
}

export function numberArg(min: number, exclusive = false): (s: string) => number {
  return (s) => {
    const n = Number(s);
    if (s.trim() === '' || !Number.isFinite(n) || n < min || (exclusive && n === min)) {
      throw new InvalidArgumentError(`expected a number ${exclusive ? '>' : '≥'} ${min}, got ${JSON.stringify(s)}`);
    }
    return n;
  };
}

/** `KEY=VALUE`, repeatable: collects into a record. */
export function keyValueArg(s: string, previous: Record<string, string> = {}): Record<string, string> {
  const i = s.indexOf('=');
  if (i <= 0) throw new InvalidArgumentError(`expected KEY=VALUE, got ${JSON.stringify(s)}`);
  return { ...previous, [s.slice(0, i)]: s.slice(i + 1) };
}
