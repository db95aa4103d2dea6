/**
 * The command-line argument parsers: durations need a unit (a bare number is not quietly
 * milliseconds), and --attr refuses the one key a master refuses.
 */
import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { thrown } from '../helpers/errors.js';
import type { Command } from 'commander';
import { isSafeName } from '../../src/protocol/names.js';
import { ageArg, durationArg, intArg, keyValueArg, numberArg, positiveDurationArg } from '../../src/cli/options.js';
import { buildProgram } from '../../src/cli/program.js';
import { resolveMasterOptions, MASTER_DEFAULTS } from '../../src/node/options.js';
import { isLoadLedgerError } from '../../src/errors.js';

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
    [' 24d ', 2_073_600_000],
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

// Node fires a timer longer than 2^31−1 ms after 1 ms, and such an interval every millisecond:
// `--retention-interval 30d` spun at 29% CPU on an idle master (issue 12 item 6).
describe('a duration that times something is at most 2^31−1 ms, refused in the unit typed', () => {
  it.each([
    ['30d', '24.8d'],
    ['24.9d', '24.8d'],
    ['1000h', '596.5h'],
    ['40000m', '35791.3m'],
    ['2147484s', '2147483.6s'],
    ['2147483648ms', '2147483647ms'],
  ])('%j: at most %s', (s, limit) => {
    for (const parse of [durationArg, positiveDurationArg]) {
      expect(refusal(() => parse(s)).message).toBe(`at most ${limit} (the longest timer Node.js can set), got ${JSON.stringify(s)}`);
    }
  });

  it.each(['24.8d', '596.5h', '35791.3m', '2147483.6s', '2147483647ms'])('the limit as printed is accepted: %j', (s) => {
    expect(positiveDurationArg(s)).toBeLessThanOrEqual(2 ** 31 - 1);
  });

  it('an age is not a timer: ageArg (--retain) takes any length', () => {
    expect(ageArg(' 30d ')).toBe(2_592_000_000);
    expect(ageArg('3650d')).toBe(3650 * 86_400_000);
    expect(ageArg('0')).toBe(0);
  });

  function options(cmd: Command, path = ''): Array<{ flag: string; parse: (s: string) => unknown }> {
    const name = `${path} ${cmd.name()}`.trim();
    return [
      ...cmd.options
        .filter((o) => o.flags.includes('<duration>'))
        .map((o) => ({ flag: `${name} ${o.long!}`, parse: (s: string) => o.parseArg!(s, undefined) })),
      ...cmd.commands.flatMap((c) => options(c, name)),
    ];
  }

  it('every <duration> flag of every command refuses 30d, except --retain (an age)', () => {
    const flags = options(buildProgram('0.0.0-test'));
    expect(flags.map((f) => f.flag)).toEqual(
      expect.arrayContaining(['loadledger master --retention-interval', 'loadledger slave --interval', 'loadledger demo --refresh']),
    );
    const accepted = flags.filter((f) => {
      try {
        f.parse('30d');
        return true;
      } catch (e) {
        expect(e, f.flag).toBeInstanceOf(InvalidArgumentError);
        expect((e as Error).message, f.flag).toMatch(/^at most 24\.8d /);
        return false;
      }
    });
    expect(accepted.map((f) => f.flag)).toEqual(['loadledger master --retain']);
  });

  it('the library refuses a master timer option over the limit too (retain excepted)', () => {
    const base = { ...MASTER_DEFAULTS, data: '/nonexistent' };
    for (const name of [
      'retentionInterval',
      'snapshotInterval',
      'deadAfter',
      'helloInterval',
      'handshakeTimeout',
      'logRetryFor',
      'protectFor',
    ] as const) {
      let e: unknown;
      try {
        resolveMasterOptions({ ...base, [name]: 30 * 86_400_000 });
      } catch (err) {
        e = err;
      }
      expect(isLoadLedgerError(e) && e.code, name).toBe('BAD_ARGUMENT');
      expect((e as Error).message).toBe(
        `${name}: expected a number of milliseconds from 0 to 2147483647 (the longest timer Node.js can set), got 2592000000`,
      );
    }
    expect(resolveMasterOptions({ ...base, retain: 365 * 86_400_000 }).retain).toBe(365 * 86_400_000);
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
