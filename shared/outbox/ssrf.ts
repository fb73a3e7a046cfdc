import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { UnsafeUrlError } from './errors.js';

/**
 * The SSRF policy is an allow-list: a webhook may reach only globally routable unicast addresses
 * (IANA's special-purpose registries say which are not), unless OUTBOX_ALLOWED_CIDRS lists the
 * address. A subscriber's URL is attacker-controlled input. IPv6 forms that carry an IPv4 address
 * (mapped, SIIT, NAT64, 6to4) are judged by the address they carry. Teredo (2001::/32) is refused
 * outright: its packets go through a relay to an obfuscated client, so no address here says where
 * they end up.
 */
interface Range {
  bits: bigint;
  prefix: number;
  why: string;
}

const V4_REFUSED: Range[] = [
  v4('0.0.0.0/8', '"this network"'),
  v4('10.0.0.0/8', 'private'),
  v4('100.64.0.0/10', 'shared address space (CGNAT)'),
  v4('127.0.0.0/8', 'loopback'),
  v4('169.254.0.0/16', 'link-local (where cloud metadata services live)'),
  v4('172.16.0.0/12', 'private'),
  v4('192.0.0.0/24', 'IETF protocol assignments'),
  v4('192.0.2.0/24', 'documentation (TEST-NET-1)'),
  v4('192.88.99.0/24', 'the deprecated 6to4 relay anycast'),
  v4('192.168.0.0/16', 'private'),
  v4('198.18.0.0/15', 'benchmarking'),
  v4('198.51.100.0/24', 'documentation (TEST-NET-2)'),
  v4('203.0.113.0/24', 'documentation (TEST-NET-3)'),
  v4('224.0.0.0/4', 'multicast'),
  v4('255.255.255.255/32', 'broadcast'),
  v4('240.0.0.0/4', 'reserved'),
];

/** IPv6 forms whose last (or, for 6to4, second) 32 bits are an IPv4 address they lead to. */
const V6_EMBEDDING: { range: Range; shift: bigint; name: string }[] = [
  { range: v6('::ffff:0:0/96', ''), shift: 0n, name: 'IPv4-mapped' },
  { range: v6('::ffff:0:0:0/96', ''), shift: 0n, name: 'IPv4-translated (SIIT)' },
  { range: v6('64:ff9b::/96', ''), shift: 0n, name: 'NAT64' },
  { range: v6('2002::/16', ''), shift: 80n, name: '6to4' },
];

const V6_REFUSED: Range[] = [
  v6('::/128', 'unspecified'),
  v6('::1/128', 'loopback'),
  v6('::/96', 'IPv4-compatible (deprecated)'),
  v6('64:ff9b:1::/48', 'local-use NAT64'),
  v6('100::/64', 'discard-only'),
  v6('2001::/32', 'Teredo (refused: the address it leads to cannot be judged)'),
  v6('2001:db8::/32', 'documentation'),
  v6('2001::/23', 'IETF protocol assignments'),
  v6('3fff::/20', 'documentation'),
  v6('fc00::/7', 'unique-local (the AWS metadata service fd00:ec2::254 included)'),
  v6('fe80::/10', 'link-local'),
  v6('fec0::/10', 'site-local (deprecated)'),
  v6('ff00::/8', 'multicast'),
];
// Global unicast is 2000::/3; anything outside it that no rule above names is refused as such.
const V6_GLOBAL = v6('2000::/3', '');

function v4(cidr: string, why: string): Range {
  const [network, prefix] = cidr.split('/') as [string, string];
  return { bits: ipv4Bits(network), prefix: Number(prefix), why };
}

function v6(cidr: string, why: string): Range {
  const [network, prefix] = cidr.split('/') as [string, string];
  return { bits: ipv6Bits(network), prefix: Number(prefix), why };
}

function inRange(bits: bigint, width: number, range: Range): boolean {
  const shift = BigInt(width - range.prefix);
  return bits >> shift === range.bits >> shift;
}

function ipv4Bits(address: string): bigint {
  return address.split('.').reduce((acc, octet) => (acc << 8n) | BigInt(Number(octet)), 0n);
}

/** 128 bits of an IPv6 address (`::` compression, a trailing dotted quad and a zone allowed). */
function ipv6Bits(address: string): bigint {
  let text = address.replace(/%.*$/, '');
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)?.[1];
  if (quad) {
    const n = ipv4Bits(quad);
    text = `${text.slice(0, -quad.length)}${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? (text.split('::') as [string, string]) : [text, undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return groups.reduce((acc, group) => (acc << 16n) | BigInt(parseInt(group, 16)), 0n);
}

function ipv4Text(bits: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String((bits >> shift) & 0xffn)).join('.');
}

function refusedV4(address: string, allowed: BlockList): string | undefined {
  if (allowed.check(address, 'ipv4')) return undefined;
  const bits = ipv4Bits(address);
  return V4_REFUSED.find((range) => inRange(bits, 32, range))?.why;
}

function refusedV6(address: string, allowed: BlockList): string | undefined {
  if (allowed.check(address, 'ipv6')) return undefined;
  const bits = ipv6Bits(address);
  for (const { range, shift, name } of V6_EMBEDDING) {
    if (!inRange(bits, 128, range)) continue;
    const embedded = ipv4Text((bits >> shift) & 0xffffffffn);
    const why = refusedV4(embedded, allowed);
    return why && `${name}, carrying ${embedded}: ${why}`;
  }
  const named = V6_REFUSED.find((range) => inRange(bits, 128, range));
  if (named) return named.why;
  return inRange(bits, 128, V6_GLOBAL) ? undefined : 'outside global unicast (2000::/3)';
}

const ADVICE = '(allow it with OUTBOX_ALLOWED_CIDRS)';

export interface UrlPolicy {
  allowHttp: boolean;
  /** CIDRs that are allowed even though they are not globally routable, e.g. `127.0.0.1/32` locally. */
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

/**
 * Why an address may not be connected to (which special-purpose range it is in), or undefined
 * when it is globally routable unicast, or listed in OUTBOX_ALLOWED_CIDRS.
 *
 * @example whyRefused('::ffff:10.0.0.1', buildAllowList([])) // → 'IPv4-mapped, carrying 10.0.0.1: private'
 */
export function whyRefused(address: string, allowed: BlockList): string | undefined {
  const family = isIP(address.replace(/%.*$/, ''));
  if (family === 4) return refusedV4(address, allowed);
  if (family === 6) return refusedV6(address, allowed);
  return 'not an IP address';
}

/** The refusal, as a sentence naming the address, or undefined if it may be connected to. */
export function refusalOf(address: string, allowed: BlockList): string | undefined {
  const why = whyRefused(address, allowed);
  return why && `${address} is not a globally routable unicast address: ${why} ${ADVICE}`;
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
    throw new UnsafeUrlError(
      text,
      `only https:// URLs are allowed${url.protocol === 'http:' ? ' (set OUTBOX_ALLOW_HTTP=true for local development)' : ''}`,
    );
  }
  if (url.username || url.password)
    throw new UnsafeUrlError(text, 'credentials in the URL would be sent to every hop; put them in the secret instead');
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
        const why = whyRefused(address, allowed);
        if (why) {
          const reason = `${hostname} resolves to ${address}, which is not a globally routable unicast address: ${why} ${ADVICE}`;
          return callback(new UnsafeUrlError(`//${hostname}`, reason), '', 0);
        }
      }
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, list);
      callback(null, list[0]!.address, list[0]!.family);
    });
  };
}
