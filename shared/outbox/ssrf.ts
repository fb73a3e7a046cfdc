import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { UnsafeUrlError } from './errors.js';

/**
 * Where a webhook may not go unless explicitly allowed: loopback, private, link-local (the cloud
 * metadata service at 169.254.169.254 and fd00:ec2::254 included), CGNAT, unique-local IPv6, and
 * the unroutable rest. A subscriber's URL is attacker-controlled input.
 */
const REFUSED: [string, number, 'ipv4' | 'ipv6'][] = [
  ['0.0.0.0', 8, 'ipv4'],
  ['10.0.0.0', 8, 'ipv4'],
  ['100.64.0.0', 10, 'ipv4'], // CGNAT
  ['127.0.0.0', 8, 'ipv4'],
  ['169.254.0.0', 16, 'ipv4'], // link-local, cloud metadata
  ['172.16.0.0', 12, 'ipv4'],
  ['192.0.0.0', 24, 'ipv4'],
  ['192.168.0.0', 16, 'ipv4'],
  ['198.18.0.0', 15, 'ipv4'],
  ['224.0.0.0', 4, 'ipv4'], // multicast
  ['240.0.0.0', 4, 'ipv4'], // reserved, broadcast
  ['::', 128, 'ipv6'],
  ['::1', 128, 'ipv6'],
  ['fc00::', 7, 'ipv6'], // unique-local (AWS IMDS fd00:ec2::254 included)
  ['fe80::', 10, 'ipv6'], // link-local
  ['ff00::', 8, 'ipv6'], // multicast
  ['64:ff9b::', 96, 'ipv6'], // NAT64 can reach any IPv4 address
];

const refused = new BlockList();
for (const [network, prefix, family] of REFUSED) refused.addSubnet(network, prefix, family);

export interface UrlPolicy {
  allowHttp: boolean;
  /** CIDRs that are allowed even though they are in a refused range, e.g. `127.0.0.1/32` locally. */
  allowedCidrs: string[];
}

/** Parses `OUTBOX_ALLOWED_CIDRS` entries; throws naming the bad one. */
export function buildAllowList(cidrs: string[]): BlockList {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [network, prefix] = cidr.split('/');
    const family = isIP(network ?? '');
    const bits = Number(prefix);
    if (!family || !Number.isInteger(bits) || bits < 0 || bits > (family === 4 ? 32 : 128)) {
      throw new Error(`"${cidr}" is not a CIDR such as 127.0.0.1/32 or fd00::/8`);
    }
    list.addSubnet(network!, bits, family === 4 ? 'ipv4' : 'ipv6');
  }
  return list;
}

/** Why an address is refused, or undefined if it may be connected to. */
export function refusalOf(address: string, allowed: BlockList): string | undefined {
  const family: 'ipv4' | 'ipv6' = isIP(address) === 6 ? 'ipv6' : 'ipv4';
  // An IPv4-mapped IPv6 address (::ffff:10.0.0.1) is judged as the IPv4 address it carries.
  const mapped = family === 'ipv6' ? /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1] : undefined;
  const [ip, fam]: [string, 'ipv4' | 'ipv6'] = mapped ? [mapped, 'ipv4'] : [address, family];
  if (allowed.check(ip, fam)) return undefined;
  if (refused.check(ip, fam)) return `${address} is a loopback, private, link-local or otherwise internal address (allow it with OUTBOX_ALLOWED_CIDRS)`;
  return undefined;
}

/**
 * Checks a URL's scheme and, for IP literals, its address. Hostnames are checked at connect time
 * by `guardedLookup`, so the address checked is the address connected to (no DNS rebinding gap).
 */
export function checkUrl(text: string, policy: UrlPolicy, allowed = buildAllowList(policy.allowedCidrs)): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UnsafeUrlError(text, 'not a valid absolute URL');
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && policy.allowHttp)) {
    throw new UnsafeUrlError(text, `only https:// URLs are allowed${url.protocol === 'http:' ? ' (set OUTBOX_ALLOW_HTTP=true for local development)' : ''}`);
  }
  if (url.username || url.password) throw new UnsafeUrlError(text, 'credentials in the URL would be sent to every hop; put them in the secret instead');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host)) {
    const reason = refusalOf(host, allowed);
    if (reason) throw new UnsafeUrlError(text, reason);
  }
  return url;
}

/**
 * A `lookup` for the HTTP client's sockets: resolves the name, and refuses the connection if any
 * resolved address is refused. Refusing on any (not all) defeats a name that answers with one
 * public and one internal address.
 */
export function guardedLookup(allowed: BlockList, resolve = dnsLookup): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, '', 0);
      const list = addresses as unknown as LookupAddress[];
      for (const { address } of list) {
        const reason = refusalOf(address, allowed);
        if (reason) return callback(new UnsafeUrlError(`//${hostname}`, `${hostname} resolves to ${reason}`), '', 0);
      }
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, list);
      callback(null, list[0]!.address, list[0]!.family);
    });
  };
}
