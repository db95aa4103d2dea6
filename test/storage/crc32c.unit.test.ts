/** CRC-32C (storage/crc32c.ts) against RFC 3720 B.4's vectors, and split computations. */
import { describe, expect, it } from 'vitest';
import { crc32c } from '../../storage/crc32c.js';

describe('crc32c', () => {
  it('gives the RFC 3720 test vectors', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(Buffer.alloc(32, 0))).toBe(0x8a9136aa);
    expect(crc32c(Buffer.alloc(32, 0xff))).toBe(0x62a8ab43);
    expect(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => i)))).toBe(0x46dd794e);
    expect(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => 31 - i)))).toBe(0x113fdb5c);
    expect(crc32c(Buffer.alloc(0))).toBe(0);
  });

  it('continues across ranges: crc(a ++ b) = crc(b, crc(a)), at every split of odd lengths', () => {
    const data = Buffer.from(Array.from({ length: 61 }, (_, i) => (i * 37 + 11) & 0xff));
    const whole = crc32c(data);
    for (let cut = 0; cut <= data.length; cut++) expect(crc32c(data, crc32c(data, 0, 0, cut), cut)).toBe(whole);
  });

  it('changes with every single flipped bit', () => {
    const data = Buffer.from('a record of events, checked on every read');
    const good = crc32c(data);
    for (let i = 0; i < data.length * 8; i++) {
      const bad = Buffer.from(data);
      bad[i >> 3]! ^= 1 << (i & 7);
      expect(crc32c(bad)).not.toBe(good);
    }
  });
});
