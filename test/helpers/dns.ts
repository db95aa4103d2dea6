/** DNS packets for the tests of the DNS interface, written by hand (not by the code under test). */
import { DnsType } from '../../src/protocol/dns.js';

/** A query as dig or a stub resolver writes it (RD set; EDNS when `udpSize` is given). */
export function query(
  name: string,
  type: number,
  opts: { id?: number; udpSize?: number; version?: number; cookie?: boolean } = {},
): Uint8Array {
  const out: number[] = [];
  const u16 = (v: number) => out.push((v >> 8) & 0xff, v & 0xff);
  u16(opts.id ?? 0x1234);
  u16(0x0100);
  u16(1);
  u16(0);
  u16(0);
  u16(opts.udpSize === undefined ? 0 : 1);
  for (const label of name.split('.').filter((l) => l !== '')) {
    out.push(label.length, ...Buffer.from(label, 'latin1'));
  }
  out.push(0);
  u16(type);
  u16(1);
  if (opts.udpSize !== undefined) {
    out.push(0);
    u16(DnsType.OPT);
    u16(opts.udpSize);
    out.push(0, opts.version ?? 0, 0, 0);
    if (opts.cookie) {
      u16(12);
      u16(10); // COOKIE
      u16(8);
      out.push(1, 2, 3, 4, 5, 6, 7, 8);
    } else u16(0);
  }
  return Uint8Array.from(out);
}

/** A minimal reader of our answers, for the tests: header fields and the records' types. */
export function readAnswer(b: Uint8Array): { id: number; rcode: number; aa: boolean; tc: boolean; counts: number[] } {
  const u16 = (at: number) => (b[at]! << 8) | b[at + 1]!;
  const flags = u16(2);
  return {
    id: u16(0),
    rcode: flags & 0xf,
    aa: (flags & 0x0400) !== 0,
    tc: (flags & 0x0200) !== 0,
    counts: [u16(4), u16(6), u16(8), u16(10)],
  };
}
