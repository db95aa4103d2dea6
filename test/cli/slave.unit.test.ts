/**
 * `loadledger slave`: --attr values are typed only when they are plainly numbers or
 * booleans, and createSlave's refusals are reported with the flags a person typed.
 */
import { describe, expect, it } from 'vitest';
import { attrValue, slaveFlagMessage } from '../../src/cli/commands/slave.js';
import { ErrorCode, LoadLedgerError } from '../../src/errors.js';
import { createSlave, type SlaveOptions } from '../../src/slave/slave.js';

describe('attrValue', () => {
  it.each([
    ['10', 10],
    ['-3', -3],
    ['0', 0],
    ['1.5', 1.5],
    ['-0.25', -0.25],
    ['true', true],
    ['false', false],
  ])('%j → %j', (s, v) => {
    expect(attrValue(s)).toBe(v);
  });

  // Number() reads all of these as numbers; a person writing them meant the text.
  it.each([
    '0x10',
    '0b1',
    '0o7',
    '1e3',
    'Infinity',
    '-Infinity',
    'NaN',
    ' 5',
    '5 ',
    '',
    '+5',
    '.5',
    '5.',
    '007',
    '1_000',
    'True',
    'eu-1',
    '10.0.0.5',
  ])('%j stays a string', (s) => {
    expect(attrValue(s)).toBe(s);
  });

  it('a decimal too large to be finite stays a string', () => {
    const s = '9'.repeat(400);
    expect(attrValue(s)).toBe(s);
  });
});

describe('slaveFlagMessage', () => {
  const base: SlaveOptions = { master: '127.0.0.1:7400', load: () => 1 };
  const messageOf = (patch: Partial<SlaveOptions> | Record<string, unknown>): string => {
    try {
      createSlave({ ...base, ...patch });
    } catch (e) {
      expect(e).toBeInstanceOf(LoadLedgerError);
      expect((e as LoadLedgerError).code).toBe(ErrorCode.BAD_ARGUMENT);
      return (e as LoadLedgerError).message;
    }
    throw new Error('expected createSlave to throw');
  };

  it.each<[string, Partial<SlaveOptions> | Record<string, unknown>, RegExp]>([
    ['deadAfter ≤ interval', { interval: 1000, deadAfter: 1000 }, /^--dead-after: must be longer than --interval \(1s\), got 1s; /],
    ['an interval too long for a timer', { interval: 2 ** 32, deadAfter: 2 ** 33 }, /^--interval: expected a duration > 0/],
    ['a deadAfter too long for a timer', { deadAfter: 2 ** 32 }, /^--dead-after: expected a duration > 0/],
    ['a bad master', { master: 'gw:99999' }, /^--master: /],
    ['a bare IPv6 master', { master: '::1:7400' }, /^--master: .*brackets/],
    ['an empty address in a list', { master: 'a:7400,,b:7400' }, /^--master: address 2 of 3 is empty/],
    ['an address twice in a list', { master: 'a:7400,b,a' }, /^--master: a is listed twice$/],
    ['a bad address in a list', { master: ['a:7400', 'b:0'] }, /^--master: expected host or host:port/],
    ['a bad addr', { addr: 'gw 1' }, /^--addr: expected host or host:port/],
    ['capacity 0', { capacity: 0 }, /^--capacity: /],
    ['a reserved attr', { attrs: { load: 3 } }, /^--attr: "load" is not an attribute; use --load$/],
    [
      'the key "__proto__"',
      { attrs: JSON.parse('{"__proto__":"x"}') as Record<string, string> },
      /^--attr: key "__proto__" is not allowed/,
    ],
    ['an addr holding DEL', { addr: 'gw\x7f' }, /^--addr: the address holds the control character U\+007F/],
    ['an attr value holding a C1 control', { attrs: { zone: 'eu\x9b1m' } }, /^--attr zone: the value holds the control character U\+009B/],
    ['too many attrs', { attrs: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`a${i}`, i])) }, /^--attr: at most 32 attributes/],
    ['a long attr value', { attrs: { zone: 'z'.repeat(300) } }, /^--attr zone: longer than 256 bytes/],
    ['a non-finite attr', { attrs: { w: Infinity } }, /^--attr w: expected a finite number/],
  ])('%s', (_label, patch, expected) => {
    const msg = slaveFlagMessage(messageOf(patch));
    expect(msg).toMatch(expected);
    expect(msg).not.toMatch(/\b(deadAfter|attrs)\b/);
    expect(msg).not.toContain('\n');
  });

  it('leaves a message that names no option as it is', () => {
    expect(slaveFlagMessage('something else went wrong')).toBe('something else went wrong');
    expect(slaveFlagMessage('--load: expected a number, loadavg, cpu, file:PATH or cmd:COMMAND, got "x"')).toMatch(/^--load: /);
  });
});
