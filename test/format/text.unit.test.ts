/**
 * Human output (src/format/text.ts): every non-printable character escaped, JSON that stays
 * the same JSON value but is safe on a terminal, and numbers as people write them.
 */
import { describe, expect, it } from 'vitest';
import {
  formatAttrs,
  formatNumber,
  formatValue,
  jsonText,
  printable,
  printableJson,
  printableLines,
  table,
} from '../../src/format/text.js';
import { CONTROL_SAMPLES } from '../protocol/helpers.js';

/** What must never reach a terminal as is: every Cc, Cf, Zl, Zp character and lone surrogates. */
const NON_PRINTABLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;

describe('printable', () => {
  it('escapes every control and bidi character a master refuses, as JavaScript writes it', () => {
    const expected: Record<string, string> = {
      NUL: '\\x00',
      BEL: '\\x07',
      BS: '\\x08',
      TAB: '\\t',
      LF: '\\n',
      CR: '\\r',
      ESC: '\\x1b',
      'U+001F': '\\x1f',
      DEL: '\\x7f',
      'C1 U+0080': '\\x80',
      'C1 NEL U+0085': '\\x85',
      'C1 CSI U+009B': '\\x9b',
      'C1 U+009F': '\\x9f',
      'ALM U+061C': '\\u061c',
      'LRM U+200E': '\\u200e',
      'RLM U+200F': '\\u200f',
      'LRE U+202A': '\\u202a',
      'RLO U+202E': '\\u202e',
      'LRI U+2066': '\\u2066',
      'PDI U+2069': '\\u2069',
    };
    for (const [what, c] of CONTROL_SAMPLES) expect(printable(`a${c}b`), what).toBe(`a${expected[what]}b`);
  });

  it('escapes the other invisible characters too (zero-width, soft hyphen, BOM, separators, tags, lone surrogates)', () => {
    expect(printable('a\u200bb\u200dc\u00add\ufeffe\u2028f\u2029g')).toBe('a\\u200bb\\u200dc\\xadd\\ufeffe\\u2028f\\u2029g');
    expect(printable('flag\u{e0067}')).toBe('flag\\u{e0067}');
    expect(printable('x\ud800y')).toBe('x\\ud800y');
  });

  it('leaves printable text alone: non-ASCII, emoji, spaces, backslashes', () => {
    for (const s of ['10.0.0.5:8080', '[::1]:8080', 'ünïcødé ✓ 😀', 'a b\u00a0c', 'C:\\x1b', 'zone=eu-1']) expect(printable(s)).toBe(s);
  });

  it('never leaves a non-printable character, over every BMP code point and the astral format characters', () => {
    let all = '';
    for (let cp = 0; cp <= 0xffff; cp++) all += String.fromCharCode(cp);
    for (const cp of [0xe0001, 0xe0020, 0xe007f, 0x110bd, 0x1d173]) all += String.fromCodePoint(cp);
    expect(NON_PRINTABLE.test(printable(all))).toBe(false);
  });

  it('backspaces cannot make one node id display as another', () => {
    const evil = '10.0.0.66\b\b\b\b\b\b\b\b\b10.0.0.5';
    expect(printable(evil)).toBe('10.0.0.66\\x08\\x08\\x08\\x08\\x08\\x08\\x08\\x08\\x0810.0.0.5');
    expect(printable('\x1b]0;owned\x07')).toBe('\\x1b]0;owned\\x07');
  });
});

describe('printableLines', () => {
  it('keeps newlines and escapes everything else', () => {
    expect(printableLines('a\x1b[2J\nb\u202ec\r\n')).toBe('a\\x1b[2J\nb\\u202ec\\r\n');
  });
});

describe('jsonText', () => {
  const value = { id: 'a\u202eb', attrs: { 'k\x85': 'v\x7f\u2028\u{e0001}', esc: '\x1b' }, n: 1.5 };

  it('is the same JSON value', () => {
    expect(JSON.parse(jsonText(value))).toEqual(value);
    expect(JSON.parse(jsonText(value, 2))).toEqual(value);
  });

  it('holds no character a terminal would act on', () => {
    const text = jsonText(value, 2);
    expect(NON_PRINTABLE.test(text.replace(/\n/g, ''))).toBe(false);
    expect(text).toContain('"a\\u202eb"');
    expect(text).toContain('"k\\u0085"');
    expect(text).toContain('"v\\u007f\\u2028\\udb40\\udc01"');
    expect(text).toContain('"\\u001b"');
  });

  it('printableJson does the same to a JSON line already written (a log line)', () => {
    const line = JSON.stringify({ msg: 'x\u202e' }) + '\n';
    expect(printableJson(line)).toBe('{"msg":"x\\u202e"}\n');
  });
});

describe('formatNumber', () => {
  it.each([
    [81, '81'],
    [48.9, '48.9'],
    [19.8, '19.8'],
    [122.50000000000001, '122.5'],
    [0.1 + 0.2, '0.3'],
    [9.700000000000001, '9.7'],
    [0.004, '0.004'],
    [0.001, '0.001'],
    [1 / 3, '0.333333333333'],
    [2.5e-7, '2.5e-7'],
    [0, '0'],
    [-0, '0'],
    [-2.25, '-2.25'],
    [Number.MAX_SAFE_INTEGER, '9007199254740991'],
    [2 ** 64, '18446744073709552000'],
    [1e21, '1e+21'],
  ])('%d → %s', (n, text) => {
    expect(formatNumber(n)).toBe(text);
  });

  it('prints no load other than 0 as 0, and none with trailing zeros', () => {
    for (const n of [1e-9, 0.0049, 0.01, 12.5, 100.25]) {
      const t = formatNumber(n);
      expect(t).not.toBe('0');
      expect(t).not.toMatch(/\.\d*0$/);
      expect(Number(t)).toBeCloseTo(n, 10);
    }
  });
});

describe('tables and attributes', () => {
  it('formatAttrs: keys and values escaped, numbers by formatNumber', () => {
    expect(formatAttrs({ zone: 'eu-1', w: 0.1 + 0.2, ok: true, 'k\x1b': 'v\u202e' })).toBe('zone=eu-1,w=0.3,ok=true,k\\x1b=v\\u202e');
    expect(formatValue(122.50000000000001)).toBe('122.5');
  });

  it('table: every cell escaped before the columns are padded, so a newline cannot forge a row', () => {
    const t = table(
      ['NODE', 'NOTE'],
      [
        ['a\nb', 'x'],
        ['c', 'y\tz'],
      ],
    );
    expect(t).toBe('NODE  NOTE\na\\nb  x\nc     y\\tz\n');
  });
});
