import { ErrorCode } from '../errors.js';
import { FORBIDDEN_KEY, mapHeader } from './push.js';
import { GOODBYE_MAX_REASON_BYTES, type Frame } from './messages.js';

/** A GOODBYE payload refused: always GOODBYE_MALFORMED, with a reason for the violation event. */
export interface GoodbyeRejection {
  code: ErrorCode;
  reason: string;
}

export type GoodbyeFrame = Extract<Frame, { type: 'GOODBYE' }>;

/** Keys of a GOODBYE map: as for a push (docs/protocol.md limits). */
const MAX_KEY_BYTES = 64;

const utf8 = new TextDecoder('utf-8', { fatal: true });

class Reject {
  constructor(readonly reason: string) {}
}

const GOODBYE: GoodbyeFrame = Object.freeze({ type: 'GOODBYE' });

/**
 * Decodes a GOODBYE payload (docs/protocol.md "GOODBYE"): empty, or a MessagePack
 * map with string keys whose values are strings, numbers or booleans, like a push. `reason`
 * (a string of at most 256 bytes) is the only key defined; other keys are read, checked
 * and ignored, so that a later version may add some. Anything else — not a map, cut
 * short, trailing bytes, a duplicate or `__proto__` key, invalid UTF-8, a nested value,
 * a reason that is not a string or too long — is refused as GOODBYE_MALFORMED.
 * (The payload's length was checked against GOODBYE_MAX_PAYLOAD from the header.)
 */
export function decodeGoodbye(bytes: Uint8Array): GoodbyeFrame | GoodbyeRejection {
  if (bytes.length === 0) return GOODBYE;
  try {
    const reason = readReason(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    return reason === undefined ? GOODBYE : { type: 'GOODBYE', reason };
  } catch (e) {
    if (e instanceof Reject) return { code: ErrorCode.GOODBYE_MALFORMED, reason: e.reason };
    throw e;
  }
}

export function isGoodbyeRejection(x: GoodbyeFrame | GoodbyeRejection): x is GoodbyeRejection {
  return (x as GoodbyeRejection).code !== undefined;
}

const hex = (b: number): string => `0x${b.toString(16).padStart(2, '0')}`;

function readReason(buf: Buffer): string | undefined {
  let pos = 0;
  const need = (n: number): void => {
    if (pos + n > buf.length) throw new Reject('MessagePack data ends early');
  };
  const head = mapHeader(buf);
  if (head === 'short') throw new Reject('MessagePack data ends early');
  if (typeof head === 'number') throw new Reject(`payload is neither empty nor a MessagePack map (first byte ${hex(head)})`);
  const count = head.count;
  pos = head.pos;
  if (count * 2 > buf.length - pos) throw new Reject(`map claims ${count} entries, more than the payload holds`);

  /** The string at `pos`, or undefined (nothing read) when the value there is not a string. */
  const readStr = (what: string, max: number): string | undefined => {
    need(1);
    const b = buf[pos]!;
    let len: number;
    let head: number;
    if (b >= 0xa0 && b <= 0xbf) {
      len = b & 0x1f;
      head = 1;
    } else if (b === 0xd9) {
      need(2);
      len = buf[pos + 1]!;
      head = 2;
    } else if (b === 0xda) {
      need(3);
      len = buf.readUInt16BE(pos + 1);
      head = 3;
    } else if (b === 0xdb) {
      need(5);
      len = buf.readUInt32BE(pos + 1);
      head = 5;
    } else {
      return undefined;
    }
    pos += head;
    if (len > max) throw new Reject(`${what} of ${len} bytes exceeds the limit of ${max}`);
    need(len);
    let s: string;
    try {
      s = utf8.decode(buf.subarray(pos, pos + len));
    } catch {
      throw new Reject(`${what} is not valid UTF-8`);
    }
    pos += len;
    return s;
  };

  /** Skips a number or boolean; false if the value at `pos` is neither. */
  const skipScalar = (): boolean => {
    need(1);
    const b = buf[pos]!;
    const size =
      b <= 0x7f || b >= 0xe0 || b === 0xc2 || b === 0xc3
        ? 1
        : b === 0xcc || b === 0xd0
          ? 2
          : b === 0xcd || b === 0xd1
            ? 3
            : b === 0xca || b === 0xce || b === 0xd2
              ? 5
              : b === 0xcb || b === 0xcf || b === 0xd3
                ? 9
                : 0;
    if (size === 0) return false;
    need(size);
    if (b === 0xca && !Number.isFinite(buf.readFloatBE(pos + 1))) throw new Reject('a number value is not finite');
    if (b === 0xcb && !Number.isFinite(buf.readDoubleBE(pos + 1))) throw new Reject('a number value is not finite');
    pos += size;
    return true;
  };

  let reason: string | undefined;
  const seen = new Set<string>();
  for (let i = 0; i < count; i++) {
    need(1);
    const kb = buf[pos]!;
    const key = readStr('key', MAX_KEY_BYTES);
    if (key === undefined) throw new Reject(`map key is not a string (byte ${hex(kb)})`);
    if (key === FORBIDDEN_KEY) throw new Reject(`key "${FORBIDDEN_KEY}" is not allowed`);
    if (seen.has(key)) throw new Reject(`duplicate key "${key}"`);
    seen.add(key);
    need(1);
    const vb = buf[pos]!;
    if (key === 'reason') {
      reason = readStr('"reason"', GOODBYE_MAX_REASON_BYTES);
      if (reason === undefined) throw new Reject(`"reason" must be a string (byte ${hex(vb)})`);
    } else if (readStr(`value of "${key}"`, GOODBYE_MAX_REASON_BYTES) === undefined && !skipScalar()) {
      throw new Reject(`value of "${key}" must be a string, number or boolean (byte ${hex(vb)})`);
    }
  }
  if (pos !== buf.length) throw new Reject(`${buf.length - pos} bytes after the map`);
  return reason;
}
