import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { badArgument } from '../errors.js';

/** `--allow` values as a BlockList (used as an allow list); a bad one is a BAD_ARGUMENT. */
export function parseAllowList(ranges: readonly string[]): BlockList {
  const list = new BlockList();
  for (const range of ranges) {
    const slash = range.indexOf('/');
    const ip = slash < 0 ? range : range.slice(0, slash);
    const family = isIPv4(ip) ? 'ipv4' : isIPv6(ip) ? 'ipv6' : null;
    if (!family) throw badArgument(`--allow ${range}: expected an IP address or a CIDR range like 10.0.0.0/8 or fd00::/8`);
    const max = family === 'ipv4' ? 32 : 128;
    const prefixText = slash < 0 ? String(max) : range.slice(slash + 1);
    const prefix = Number(prefixText);
    if (!/^\d{1,3}$/.test(prefixText) || prefix > max) throw badArgument(`--allow ${range}: the prefix length must be 0..${max}`);
    list.addSubnet(ip, prefix, family);
  }
  return list;
}
