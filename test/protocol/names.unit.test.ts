/**
 * What names may hold (src/protocol/names.ts): the one check, over every code point.
 */
import { describe, expect, it } from 'vitest';
import { controlProblem, findControl, isSafeName } from '../../src/protocol/names.js';

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** Exactly what is refused: C0, DEL, C1, and Unicode's Bidi_Control. */
const REFUSED = new Set([
  ...range(0x00, 0x1f),
  ...range(0x7f, 0x9f),
  0x061c,
  0x200e,
  0x200f,
  ...range(0x202a, 0x202e),
  ...range(0x2066, 0x2069),
]);

describe('isSafeName', () => {
  it('refuses exactly the C0 and C1 controls, DEL and the bidi controls, over every code point', () => {
    const refused: number[] = [];
    for (let cp = 0; cp <= 0x10ffff; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue; // no UTF-8 form: a push cannot carry them
      if (!isSafeName(`a${String.fromCodePoint(cp)}b`)) refused.push(cp);
    }
    expect(refused).toEqual([...REFUSED].sort((a, b) => a - b));
  });

  it('takes what names usually hold, and invisible characters that are not controls', () => {
    for (const s of [
      '10.0.0.5:8080',
      '[::1]:8080',
      'bücher.example',
      'eu-1',
      '',
      'a b',
      'ünïcødé ✓ 😀',
      '🏳️\u200d🌈',
      '\u200b',
      '\u00a0',
      '\u2028',
      'C:\\x1b',
    ]) {
      expect(isSafeName(s), JSON.stringify(s)).toBe(true);
    }
  });
});

describe('findControl and controlProblem', () => {
  it('name the first refused character and where it is, without echoing it', () => {
    expect(findControl('abc')).toBeUndefined();
    expect(findControl('ab\x1b]0;x\x07')).toEqual({ codePoint: 0x1b, index: 2 });
    expect(findControl('😀\u202e')).toEqual({ codePoint: 0x202e, index: 2 });
    const p = controlProblem('10.0.0.6\b\b\b5', 'the node id')!;
    expect(p).toContain('the node id holds the control character U+0008 at index 8');
    expect(p).not.toMatch(/[\b]/);
    expect(controlProblem('fine', 'x')).toBeUndefined();
  });
});
