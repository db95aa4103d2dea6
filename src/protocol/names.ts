/**
 * What a name may hold: node ids, attribute keys and attribute values (and a drain's
 * reason, and the filters that look them up) never hold a control character, so that no
 * name can move the cursor, ring the bell, set a terminal's title or make one node id
 * display as another. The one check, used everywhere a name enters: the push decoder, the
 * encoder, the slave's options, the CLI's KEY=VALUE flags, drain ids and reasons, the
 * attribute filters of a query. Pure.
 *
 * Refused: every C0 and C1 control and DEL (Unicode category Cc: U+0000–U+001F,
 * U+007F–U+009F) and every bidirectional control (Unicode's Bidi_Control: U+061C, U+200E,
 * U+200F, U+202A–U+202E, U+2066–U+2069), which reorder what a terminal shows.
 * Human output escapes more than this (src/format/text.ts): names in older logs may hold
 * anything.
 */
const CONTROL = /[\p{Cc}\p{Bidi_Control}]/u;

/** The first refused character of `s`: its code point and its index (in UTF-16 units); undefined when there is none. */
export function findControl(s: string): { codePoint: number; index: number } | undefined {
  const m = CONTROL.exec(s);
  return m ? { codePoint: m[0].codePointAt(0)!, index: m.index } : undefined;
}

/** True when `s` holds no refused character. */
export function isSafeName(s: string): boolean {
  return !CONTROL.test(s);
}

/** `U+001B`: a code point as Unicode writes it. */
export function codePointName(cp: number): string {
  return `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * Why `s` is refused, for a message (`what` names it: `"addr"`, `the node id`), or undefined
 * when it is not. Names the character and where it is, never echoes it.
 */
export function controlProblem(s: string, what: string): string | undefined {
  const c = findControl(s);
  if (!c) return undefined;
  return `${what} holds the control character ${codePointName(c.codePoint)} at index ${c.index} (no control or bidi characters in names)`;
}
