import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import { parseDuration } from '../../src/util/duration.js';
import { parseHostPort } from '../../src/util/hostport.js';
import { thrown } from '../helpers/errors.js';

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['3s', 3000],
    ['1.5s', 1500],
    ['1m', 60_000],
    ['2h', 7_200_000],
    ['7d', 604_800_000],
    ['1d', 86_400_000],
    ['0.5d', 43_200_000],
    ['0d', 0],
    ['250', 250],
    ['0', 0],
    ['0.5', 0.5],
    ['.5s', 500],
    [' 3s ', 3000],
  ])('%j → %d ms', (s, ms) => {
    expect(parseDuration(s, '--interval')).toBe(ms);
  });

  it.each([
    '',
    ' ',
    's',
    'ms',
    '3 s',
    '-1s',
    '+1s',
    '1e3',
    '0x10',
    '3S',
    '3D',
    '3days',
    '1w',
    '1.s',
    '1..5s',
    'Infinity',
    'NaN',
    '3sec',
    '1h30m',
  ])('refuses %j with BAD_ARGUMENT naming the flag', (s) => {
    const e = thrown(() => parseDuration(s, '--dead-after'));
    expect(e.code).toBe(ErrorCode.BAD_ARGUMENT);
    expect(e.message).toMatch(/^--dead-after: expected a duration/);
    expect(e.message).not.toContain('\n');
  });

  it('names 7d in its example, among the units', () => {
    expect(thrown(() => parseDuration('3w', '--retain')).message).toMatch(/7d/);
  });

  it('refuses a number too large to be finite', () => {
    expect(thrown(() => parseDuration('9'.repeat(400), '--interval')).code).toBe(ErrorCode.BAD_ARGUMENT);
  });
});

describe('parseHostPort', () => {
  it.each([
    ['127.0.0.1:7400', { host: '127.0.0.1', port: 7400 }],
    ['localhost:1', { host: 'localhost', port: 1 }],
    ['master.example.com:65535', { host: 'master.example.com', port: 65535 }],
    ['[::1]:7400', { host: '::1', port: 7400 }],
    ['[2001:db8::1]:80', { host: '2001:db8::1', port: 80 }],
    [' gw-1:8080 ', { host: 'gw-1', port: 8080 }],
  ])('%j', (s, hp) => {
    expect(parseHostPort(s, '--master')).toEqual(hp);
  });

  it.each([
    '',
    'localhost',
    ':7400',
    'localhost:',
    'localhost:0',
    'localhost:65536',
    'localhost:-1',
    'localhost:74a0',
    'localhost:+80',
    '::1:7400',
    '::1',
    '[::1]',
    '[::1]:',
    '[localhost]:7400',
    '[::1]7400',
    'a b:7400',
    'http://x:7400',
    'host:7400/path',
    'user@host:7400',
  ])('refuses %j with BAD_ARGUMENT naming the flag', (s) => {
    const e = thrown(() => parseHostPort(s, '--master'));
    expect(e.code).toBe(ErrorCode.BAD_ARGUMENT);
    expect(e.message).toMatch(/^--master: expected host:port/);
    expect(e.message).toContain(JSON.stringify(s));
    expect(e.message).not.toContain('\n');
  });

  it('suggests brackets for a bare IPv6 address', () => {
    expect(thrown(() => parseHostPort('::1:7400', '--master')).message).toContain('brackets');
  });

  it('uses defaultPort when the port is omitted', () => {
    expect(parseHostPort('gw', '--master', { defaultPort: 7400 })).toEqual({ host: 'gw', port: 7400 });
    expect(parseHostPort('[::1]', '--master', { defaultPort: 7400 })).toEqual({ host: '::1', port: 7400 });
    expect(parseHostPort('gw:7401', '--master', { defaultPort: 7400 })).toEqual({ host: 'gw', port: 7401 });
    expect(thrown(() => parseHostPort('gw:', '--master', { defaultPort: 7400 })).code).toBe(ErrorCode.BAD_ARGUMENT);
  });

  it('accepts port 0 only when asked (listening on any free port)', () => {
    expect(thrown(() => parseHostPort('127.0.0.1:0', '--listen')).code).toBe(ErrorCode.BAD_ARGUMENT);
    expect(parseHostPort('127.0.0.1:0', '--listen', { allowPortZero: true })).toEqual({ host: '127.0.0.1', port: 0 });
  });
});
