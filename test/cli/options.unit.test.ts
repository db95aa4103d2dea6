/**
 * The command-line argument parsers: durations need a unit (a bare number is not quietly
 * milliseconds), and --attr refuses the one key a master refuses.
 */
import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { thrown } from '../helpers/errors.js';
import { isSafeName } from '../../src/protocol/names.js';
import { durationArg, intArg, keyValueArg, numberArg, positiveDurationArg } from '../../src/cli/options.js';

const refusal = (fn: () => unknown): InvalidArgumentError => thrown(fn, InvalidArgumentError);

describe('durationArg', () => {
  it.each([
    ['500ms', 500],
    ['3s', 3000],
    ['1.5s', 1500],
    ['1m', 60_000],
    ['2h', 7_200_000],
    ['7d', 604_800_000],
    ['0', 0],
    ['0.0', 0],
    ['0s', 0],
    [' 30d ', 2_592_000_000],
  ])('%j → %d ms', (s, ms) => {
    expect(durationArg(s)).toBe(ms);
  });

  // `--retain 30` meant 30 ms: a person who wrote 30 meant days, or minutes, or seconds; ask.
  it.each(['30', '1000', '0.5', '.5', ' 30 '])('refuses the bare number %j: a unit is required', (s) => {
    const e = refusal(() => durationArg(s));
    expect(e.message).toBe(`expected a duration with a unit, like 500ms, 3s, 1m, 2h, 7d, got ${JSON.stringify(s)}`);
  });

  it.each(['', 'soon', '-1s', '1e3', '0x10', '3D', '1w', '1h30m'])('refuses %j with one line, without the library option name', (s) => {
    const e = refusal(() => durationArg(s));
    expect(e.message).toMatch(/^expected a duration like/);
    expect(e.message).not.toContain('\n');
  });
});

describe('positiveDurationArg', () => {
  it.each([
    ['50ms', 50],
    ['1s', 1000],
    ['1d', 86_400_000],
  ])('%j → %d ms', (s, ms) => {
    expect(positiveDurationArg(s)).toBe(ms);
  });

  it.each(['0', '0ms', '0s', '0d'])('refuses %j: not above 0', (s) => {
    expect(refusal(() => positiveDurationArg(s)).message).toBe(`expected a duration above 0, got ${JSON.stringify(s)}`);
  });

  it.each(['3', '250', '1.5'])('refuses the bare number %j: a unit is required', (s) => {
    expect(refusal(() => positiveDurationArg(s)).message).toMatch(/^expected a duration with a unit, like 500ms, 3s, 1m, 2h, 7d, got /);
  });
});

describe('keyValueArg', () => {
  it('collects repeated KEY=VALUE into one record; the value may hold "=" or be empty', () => {
    let r = keyValueArg('zone=eu-1');
    r = keyValueArg('expr=a=b', r);
    r = keyValueArg('empty=', r);
    expect(r).toEqual({ zone: 'eu-1', expr: 'a=b', empty: '' });
  });

  it('keeps keys named after Object.prototype properties as own keys', () => {
    const r = keyValueArg('toString=1', keyValueArg('constructor=x'));
    expect(Object.keys(r).sort()).toEqual(['constructor', 'toString']);
  });

  it.each(['zone', '=x', ''])('refuses %j: not KEY=VALUE', (s) => {
    expect(refusal(() => keyValueArg(s)).message).toMatch(/^expected KEY=VALUE/);
  });

  // A master refuses it (PUSH_BAD_KEY): the event log could not give it back as written.
  it('refuses the key "__proto__" with one clear line', () => {
    const e = refusal(() => keyValueArg('__proto__=x', { zone: 'a' }));
    expect(e.message).toMatch(/"__proto__" is not allowed/);
    expect(e.message).not.toContain('\n');
  });
});

describe('keyValueArg and control characters', () => {
  // A master refuses them in attributes (PUSH_CONTROL_CHARACTER), and no filter could match one.
  it.each([
    ['zo\x1bne=eu', /^the key holds the control character U\+001B at index 2/],
    ['zone=eu\u202e1', /^the value holds the control character U\+202E at index 2/],
    ['zone=eu\n', /^the value holds the control character U\+000A/],
  ])('refuses %j with one line naming the character', (s, message) => {
    const e = refusal(() => keyValueArg(s));
    expect(e.message).toMatch(message);
    expect(isSafeName(e.message)).toBe(true);
  });
});

describe('intArg and numberArg', () => {
  it('keep refusing what is not a number in range', () => {
    expect(intArg(1)('5')).toBe(5);
    expect(refusal(() => intArg(1)('0')).message).toMatch(/^expected an integer from 1/);
    expect(numberArg(0, true)('0.5')).toBe(0.5);
    expect(refusal(() => numberArg(0, true)('0')).message).toMatch(/^expected a number > 0/);
  });
});
