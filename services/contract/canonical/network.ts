import { invalid, quote, within } from './invalid';

/*
 * Octets with leading zeros (`010.1.2.3`) are REJECTED: inet_aton and
 * browsers read them as octal (8.1.2.3), other parsers as decimal (10.1.2.3),
 * so either reading would be a guess. Python's ipaddress and glibc's
 * inet_pton reject them for the same reason.
 */
export function parseIpv4(value: string): number {
  if (value.includes(':')) invalid("an address with ':' is IPv6; submit it as type ipv6");
  if (value.includes('/')) invalid("an address with '/' is a network; submit it as type cidr");
  const parts = value.split('.');
  if (parts.length !== 4)
    invalid(`an IPv4 address has exactly 4 dot-separated parts; this one has ${parts.length}`);
  let address = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part))
      invalid(`the IPv4 part ${quote(part)} is not a decimal number from 0 to 255`);
    if (part.length > 1 && part.startsWith('0')) {
      invalid(
        `the IPv4 part ${quote(part)} has a leading zero, which is ambiguous (some parsers read it as octal); write it without leading zeros`,
      );
    }
    const octet = Number(part);
    if (octet > 255) invalid(`the IPv4 part ${part} is out of range; each part is 0 to 255`);
    address = address * 256 + octet;
  }
  return address;
}

function formatIpv4(address: number): string {
  return [24, 16, 8, 0].map((shift) => (address >>> shift) & 0xff).join('.');
}

export function canonicalIpv4(value: string): string {
  return formatIpv4(parseIpv4(value));
}

/*
 * Own parser and formatter rather than ipaddr.js: ipaddr.js 2.5 reads
 * `::1.2.3.4` as `::ffff:1.2.3.4` (a different address), reads leading-zero
 * IPv4 tails as octal, and does not keep the dotted tail of IPv4-mapped
 * addresses that RFC 5952 section 5 recommends.
 */
export function parseIpv6(value: string): number[] {
  if (value.includes('%')) invalid('IPv6 zone ids (%eth0) are local to one host and are not accepted');
  if (value.startsWith('[') || value.endsWith(']')) invalid('write the IPv6 address without [brackets]');
  if (value.includes('/')) invalid("an address with '/' is a network; submit it as type cidr");
  if (!value.includes(':')) {
    invalid(
      value.includes('.')
        ? 'this is an IPv4 address; submit it as type ipv4'
        : 'an IPv6 address has groups separated by ":"',
    );
  }
  const halves = value.split('::');
  if (halves.length > 2) invalid("an IPv6 address can use '::' only once");
  const [headText = '', tailText] = halves;
  const head = parseIpv6Groups(headText, tailText === undefined);
  if (tailText === undefined) {
    if (head.length !== 8) invalid(`an IPv6 address without '::' has 8 groups; this one has ${head.length}`);
    return head;
  }
  const tail = parseIpv6Groups(tailText, true);
  const missing = 8 - head.length - tail.length;
  if (missing < 1)
    invalid("'::' must stand for at least one zero group, but this address already has 8 without it");
  return [...head, ...new Array<number>(missing).fill(0), ...tail];
}

function parseIpv6Groups(text: string, endsAddress: boolean): number[] {
  const texts = text === '' ? [] : text.split(':');
  const groups: number[] = [];
  texts.forEach((group, index) => {
    if (group.includes('.')) {
      if (!endsAddress || index !== texts.length - 1)
        invalid('an embedded IPv4 address may only end an IPv6 address');
      const v4 = within('embedded IPv4', () => parseIpv4(group));
      groups.push(Math.floor(v4 / 0x10000), v4 % 0x10000);
    } else if (/^[0-9a-f]{1,4}$/i.test(group)) {
      groups.push(parseInt(group, 16));
    } else {
      invalid(
        group === ''
          ? 'an IPv6 address has an empty group'
          : `the IPv6 group ${quote(group)} is not 1 to 4 hex digits`,
      );
    }
  });
  return groups;
}

/** RFC 5952 section 4, plus the dotted tail for ::ffff:0:0/96 (section 5). */
function formatIpv6(groups: number[]): string {
  if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff) {
    return `::ffff:${formatIpv4((groups[6] ?? 0) * 0x10000 + (groups[7] ?? 0))}`;
  }
  let bestStart = -1;
  let bestLength = 1;
  for (let start = 0; start < 8; start += 1) {
    let length = 0;
    while (start + length < 8 && groups[start + length] === 0) length += 1;
    if (length > bestLength) [bestStart, bestLength] = [start, length];
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

export function canonicalIpv6(value: string): string {
  return formatIpv6(parseIpv6(value.toLowerCase()));
}

export function canonicalCidr(value: string): string {
  const slash = value.indexOf('/');
  if (slash < 0) invalid('a CIDR needs a /prefix; a single address is type ipv4 or ipv6');
  const address = value.slice(0, slash);
  const prefixText = value.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText)) invalid(`the CIDR prefix ${quote(prefixText)} is not a decimal number`);
  const prefix = Number(prefixText);
  if (address.includes(':')) {
    if (prefix > 128) invalid(`an IPv6 prefix is 0 to 128; this one is ${prefix}`);
    const groups = within('CIDR address', () => parseIpv6(address.toLowerCase()));
    const network = groups.map((group, index) => {
      const bits = Math.min(16, Math.max(0, prefix - 16 * index));
      return group & ((0xffff << (16 - bits)) & 0xffff);
    });
    return `${formatIpv6(network)}/${prefix}`;
  }
  if (prefix > 32) invalid(`an IPv4 prefix is 0 to 32; this one is ${prefix}`);
  const v4 = within('CIDR address', () => parseIpv4(address));
  // `<< 32` is `<< 0` in JavaScript, so /0 needs its own mask.
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return `${formatIpv4((v4 & mask) >>> 0)}/${prefix}`;
}

const MAX_ASN = 4_294_967_295;

export function canonicalAsn(value: string): string {
  const digits = /^(?:asn?)?(\d+)$/i.exec(value)?.[1];
  if (digits === undefined) invalid('an AS number looks like AS15169, ASN15169 or 15169');
  const asn = Number(digits);
  if (asn === 0) invalid('AS0 is reserved (RFC 7607) and never originates routes');
  if (asn > MAX_ASN) invalid(`AS numbers go from 1 to ${MAX_ASN}; got ${digits}`);
  return `AS${asn}`;
}
