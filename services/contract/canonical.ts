/**
 * Canonicalization: the one place where an indicator value becomes the form
 * that is hashed into its key. It runs once, in the producer, so that every
 * org's spelling of the same indicator (defanged, uppercased, Unicode or
 * punycode, percent-encoded differently) lands on the same key. Anything that
 * is not clearly valid for its type is rejected with the reason instead of
 * being repaired by guesswork: a wrong canonical form would silently merge or
 * split indicators across orgs.
 *
 * Changing any output here changes keys: bump CANONICALIZATION_VERSION.
 */

import { createHash } from 'node:crypto';
import { domainToASCII } from 'node:url';
import { ParseError, parsePhoneNumberWithError } from 'libphonenumber-js';
import type { PhoneNumber } from 'libphonenumber-js';
import { parse as parseHostname } from 'tldts';
import { ThreatRelayError, isThreatRelayError } from './errors';
import type { IndicatorType, Platform } from './model';

export const CANONICALIZATION_VERSION = 1;

type Canonicalizer = (value: string, platform: Platform | null) => string;

export function canonicalize(type: IndicatorType, value: string, platform?: Platform | null): string {
  let text = value.trim();
  if (text === '') invalid('the value is empty');
  if (/\p{Cs}/u.test(text)) invalid('the value is not well-formed Unicode (it has a lone surrogate)');
  const control = /\p{Cc}/u.exec(text);
  if (control) invalid(`the value contains the control character U+${codePoint(control[0])}`);
  // URL paths and queries are sent as the exact bytes written, so composing
  // characters there would change which resource is named.
  if (type !== 'url') text = text.normalize('NFC');
  if (REFANGED_TYPES.has(type)) text = refang(text);
  return CANONICALIZERS[type](text, platform ?? null);
}

export function indicatorKey(type: IndicatorType, canonicalValue: string): string {
  return createHash('sha256').update(`${type}:${canonicalValue}`, 'utf8').digest('hex');
}

const REFANG_RULES: ReadonlyArray<readonly [RegExp, string]> = [
  [/\[:\/\/\]/g, '://'],
  [/\[\.\]|\(\.\)|\{\.\}|\[dot\]|\(dot\)/gi, '.'],
  [/\[:\]/g, ':'],
  [/\[@\]|\(@\)|\[at\]/gi, '@'],
  // Only a scheme position is rewritten, so a host like `hxxpress.com` survives.
  [/^hxxps(?=:\/\/)/i, 'https'],
  [/^hxxp(?=:\/\/)/i, 'http'],
  [/^fxp(?=:\/\/)/i, 'ftp'],
];

/** Undoes the usual defanging conventions analysts apply so indicators are not clickable. */
export function refang(value: string): string {
  return REFANG_RULES.reduce((text, [pattern, replacement]) => text.replace(pattern, replacement), value);
}

const REFANGED_TYPES: ReadonlySet<IndicatorType> = new Set([
  'ipv4',
  'ipv6',
  'cidr',
  'domain',
  'url',
  'email',
]);

function invalid(reason: string, path = 'value'): never {
  throw new ThreatRelayError('TR_INVALID_VALUE', reason, { details: [{ path, message: reason }] });
}

/** Re-raises a nested rejection with the part of the value it was about. */
function within<T>(context: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (isThreatRelayError(err, 'TR_INVALID_VALUE'))
      invalid(`${context}: ${err.message}`, err.details[0]?.path);
    throw err;
  }
}

function quote(text: string): string {
  return JSON.stringify(text.length > 64 ? `${text.slice(0, 61)}...` : text);
}

function codePoint(char: string): string {
  return (char.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0');
}

// ---------------------------------------------------------------- domain

const LDH_LABEL = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;

function canonicalDomain(value: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value) || value.includes('/')) {
    invalid('a URL is not a domain; submit it as type url, or give only its host name');
  }
  if (value.includes('@')) invalid('an email address is not a domain; submit it as type email');
  if (/\s/u.test(value)) invalid('a domain cannot contain whitespace');
  if (value.includes(':')) invalid("a domain cannot contain ':' (no port; an IPv6 address is type ipv6)");
  // domainToASCII runs the full URL host parser, which would percent-decode
  // and turn numeric names into IPv4 addresses: refuse both before it can.
  if (value.includes('%'))
    invalid("a domain cannot contain '%' (percent-encoding is not part of a domain name)");
  const name = value.endsWith('.') ? value.slice(0, -1) : value;
  const lastLabel = name.slice(name.lastIndexOf('.') + 1);
  if (/^(?:\d+|0x[0-9a-f]*)$/i.test(lastLabel)) {
    invalid('a name that ends in a number is an IP address, not a domain; submit it as type ipv4');
  }

  const ascii = domainToASCII(name);
  if (ascii === '')
    invalid(
      `${quote(name)} is not a valid domain name (a forbidden character, or an invalid IDN/punycode label)`,
    );
  if (ascii.length > 253)
    invalid(`a domain is at most 253 characters; this one is ${ascii.length} in ASCII (punycode) form`);
  for (const label of ascii.split('.')) {
    if (label === '') invalid('a domain cannot have an empty label (two dots in a row, or a leading dot)');
    if (label.length > 63)
      invalid(`the label ${quote(label)} is ${label.length} characters; a label is at most 63`);
    if (!LDH_LABEL.test(label)) {
      invalid(
        `the label ${quote(label)} is not a valid host name label: only letters, digits and '-' (not first or last)`,
      );
    }
  }

  // Only the ICANN section counts: a private-section suffix (github.io,
  // blogspot.com) is still a name someone registered, and can be an indicator.
  const parsed = parseHostname(ascii);
  if (!parsed.isIcann) {
    const tld = ascii.slice(ascii.lastIndexOf('.') + 1);
    invalid(`'.${tld}' is not a top-level domain in the Public Suffix List`);
  }
  if (parsed.domain === null) {
    invalid(
      `${quote(ascii)} is a public suffix; a domain needs a registrable name in front of it (like example.${ascii})`,
    );
  }
  return ascii;
}

// ---------------------------------------------------------------- url

const URL_SCHEMES: ReadonlySet<string> = new Set(['http', 'https', 'ftp']);
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

/*
 * The WHATWG URL parser (what browsers use) does the structural work:
 * lowercase scheme and host, IDN to punycode, default port removal, dot
 * segments, `/` for an empty path, and percent-encoding of characters that
 * must be encoded. A numeric host is read the way a browser reads it
 * (`0x7f.1` and `010.1.2.3` become 127.0.0.1 and 8.1.2.3), because that is
 * where the link really goes. On top of it: the host is validated like a
 * domain, an IPv6 host is written in RFC 5952 form, the fragment and an empty
 * `?` are dropped (neither reaches the server), and percent-encoding is
 * normalized (RFC 3986 section 6.2.2.2). Userinfo is KEPT as written: in
 * `https://paypal.com@evil.example/` it is the lure itself.
 */
function canonicalUrl(value: string): string {
  if (/\s/u.test(value)) invalid('a URL cannot contain whitespace; percent-encode it (a space is %20)');
  const written = /^([a-z][a-z0-9+.-]*):(\/\/)?/i.exec(value);
  // `example.com:8080/path` also parses as a scheme; it is a host and port.
  const hostAndPort = written !== null && written[2] === undefined && /^[^:]*:\d/.test(value);
  if (written === null || hostAndPort) {
    invalid(
      'a URL must start with its scheme (http://, https:// or ftp://); a bare host name is type domain',
    );
  }
  const scheme = written[1].toLowerCase();
  if (!URL_SCHEMES.has(scheme))
    invalid(`the URL scheme '${scheme}' is not accepted; only http, https and ftp are`);
  if (written[2] === undefined) invalid(`write the URL with '//' after '${scheme}:'`);

  let url: URL;
  try {
    url = new URL(value);
  } catch {
    invalid(explainUnparseableUrl(value));
  }

  const host = within('URL host', () => canonicalUrlHost(url.hostname));
  const parts = [url.username, url.password, url.pathname, url.search];
  if (parts.some((part) => /%(?![0-9A-Fa-f]{2})/.test(part))) {
    invalid("the URL has a '%' that does not start a %XX escape; write it as %25");
  }
  const [username, password, pathname, search] = parts.map(normalizePercentEncoding) as [
    string,
    string,
    string,
    string,
  ];
  const userinfo =
    username === '' && password === '' ? '' : `${username}${password === '' ? '' : `:${password}`}@`;
  const port = url.port === '' ? '' : `:${url.port}`;
  return `${scheme}://${userinfo}${host}${port}${pathname}${search}`;
}

function canonicalUrlHost(hostname: string): string {
  if (hostname.startsWith('[')) return `[${canonicalIpv6(hostname.slice(1, -1))}]`;
  // The parser has already rewritten any numeric host as a dotted quad.
  if (/^\d+\.\d+\.\d+\.\d+$/.test(hostname)) return hostname;
  return canonicalDomain(hostname);
}

function explainUnparseableUrl(value: string): string {
  const authority = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i.exec(value)?.[1] ?? '';
  const hostPort = authority.slice(authority.lastIndexOf('@') + 1);
  if (hostPort === '') return 'the URL has no host';
  const bracketed = hostPort.startsWith('[');
  if (bracketed && hostPort.includes('%'))
    return 'URL host: IPv6 zone ids (%25eth0) are local to one host and are not accepted';
  const port = (bracketed ? /^\[[^\]]*\]:(.*)$/ : /^[^:]*:(.*)$/).exec(hostPort)?.[1];
  if (port !== undefined && port !== '' && (!/^\d+$/.test(port) || Number(port) > 65535)) {
    return `the URL port ${quote(port)} is not a number from 0 to 65535`;
  }
  return `the URL host ${quote(hostPort)} is not a valid host name or IP address`;
}

function normalizePercentEncoding(text: string): string {
  return text.replace(/%([0-9A-Fa-f]{2})/g, (_escape, hex: string) => {
    const char = String.fromCharCode(parseInt(hex, 16));
    return UNRESERVED.test(char) ? char : `%${hex.toUpperCase()}`;
  });
}

// ---------------------------------------------------------------- IP addresses

/*
 * Octets with leading zeros (`010.1.2.3`) are REJECTED: inet_aton and
 * browsers read them as octal (8.1.2.3), other parsers as decimal (10.1.2.3),
 * so either reading would be a guess. Python's ipaddress and glibc's
 * inet_pton reject them for the same reason.
 */
function parseIpv4(value: string): number {
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

function canonicalIpv4(value: string): string {
  return formatIpv4(parseIpv4(value));
}

/*
 * Own parser and formatter rather than ipaddr.js: ipaddr.js 2.5 reads
 * `::1.2.3.4` as `::ffff:1.2.3.4` (a different address), reads leading-zero
 * IPv4 tails as octal, and does not keep the dotted tail of IPv4-mapped
 * addresses that RFC 5952 section 5 recommends.
 */
function parseIpv6(value: string): number[] {
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

function canonicalIpv6(value: string): string {
  return formatIpv6(parseIpv6(value.toLowerCase()));
}

function canonicalCidr(value: string): string {
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

// ---------------------------------------------------------------- hashes

function hexDigest(name: string, minLength: number, maxLength = minLength): Canonicalizer {
  const lengthRule = minLength === maxLength ? `exactly ${minLength}` : `${minLength} to ${maxLength}`;
  return (value) => {
    const bad = /[^0-9a-f]/i.exec(value);
    if (bad) invalid(`${name} is hexadecimal; found the character ${quote(bad[0])}`);
    if (value.length < minLength || value.length > maxLength) {
      invalid(`${name} is ${lengthRule} hex characters; got ${value.length}`);
    }
    return value.toLowerCase();
  };
}

/*
 * TMK+PDQF: the value is the hash file's bytes in hex. Its exact size depends
 * on the TMK parameters (about 130 KB with the defaults), so only the
 * encoding is checked: whole bytes (even length), at least 16 bytes and at
 * most 512 KiB (32 to 1,048,576 hex characters). The binary layout is not
 * parsed.
 */
const tmkHex = hexDigest('a TMK+PDQF hash', 32, 1_048_576);
const canonicalTmk: Canonicalizer = (value, platform) => {
  const hex = tmkHex(value, platform);
  if (hex.length % 2 !== 0)
    invalid(`a TMK+PDQF hash is whole bytes, an even number of hex characters; got ${hex.length}`);
  return hex;
};

// ---------------------------------------------------------------- email

const EMAIL_LOCAL_CHAR = /[\p{L}\p{M}\p{N}!#$%&'*+/=?^_`{|}~-]/u;

/*
 * The local part is LOWERCASED. RFC 5321 lets it be case-sensitive, but every
 * large mail provider treats it case-insensitively, and two orgs writing
 * `John.Doe@` and `john.doe@` mean the same mailbox; dedup across orgs
 * matters more here than a distinction no real server makes. Provider rules
 * beyond case (Gmail dots, +tags) are NOT applied: they differ per provider.
 */
function canonicalEmail(value: string): string {
  if (/^mailto:/i.test(value))
    invalid("remove the 'mailto:' prefix; an email indicator is just local@domain");
  if (/\s/u.test(value)) invalid('an email address cannot contain whitespace');
  const parts = value.split('@');
  if (parts.length < 2) invalid("an email address needs an '@'");
  if (parts.length > 2) invalid(`an email address has exactly one '@'; this one has ${parts.length - 1}`);
  const [local = '', domain = ''] = parts;
  if (local === '') invalid("the email address has an empty local part (before '@')");
  if (domain === '') invalid("the email address has an empty domain (after '@')");
  if (local.startsWith('"')) invalid('quoted local parts ("..."@domain) are not accepted');
  if (Buffer.byteLength(local, 'utf8') > 64) invalid('the email local part is longer than 64 bytes');
  if (local.startsWith('.') || local.endsWith('.') || local.includes('..')) {
    invalid("the email local part cannot start or end with '.' or have two in a row");
  }
  const bad = [...local].find((char) => char !== '.' && !EMAIL_LOCAL_CHAR.test(char));
  if (bad !== undefined) invalid(`the email local part cannot contain ${quote(bad)}`);
  const canonicalDomainPart = within('email domain', () => canonicalDomain(domain));
  return `${local.toLowerCase().normalize('NFC')}@${canonicalDomainPart}`;
}

// ---------------------------------------------------------------- social

const HANDLE_CHAR = /[\p{L}\p{M}\p{N}_.-]/u;
const MAX_HANDLE = 100;

/** Letters of any script are allowed: YouTube and Facebook names are not ASCII-only. */
function validHandle(handle: string, what: string): string {
  const lower = handle.toLowerCase().normalize('NFC');
  const length = [...lower].length;
  if (length === 0) invalid(`the ${what} is empty`);
  if (length > MAX_HANDLE) invalid(`the ${what} is ${length} characters; at most ${MAX_HANDLE}`);
  const bad = [...lower].find((char) => !HANDLE_CHAR.test(char));
  if (bad !== undefined)
    invalid(`the ${what} cannot contain ${quote(bad)}; only letters, digits, '_', '.' and '-'`);
  return lower;
}

interface ProfileUrl {
  hosts: readonly string[];
  /** The handle in a profile URL's path, or undefined when the path is not a profile. */
  handle: (url: URL) => string | undefined;
}

function pathHandle(pattern: RegExp): ProfileUrl['handle'] {
  return (url) => pattern.exec(url.pathname)?.[1];
}

const SINGLE_SEGMENT = pathHandle(/^\/([^/]+)\/?$/);
const AT_SEGMENT = pathHandle(/^\/@([^/]+)\/?$/);

const PROFILE_URLS: Partial<Record<Platform, ProfileUrl>> = {
  twitter: { hosts: ['twitter.com', 'x.com', 'mobile.twitter.com', 'mobile.x.com'], handle: SINGLE_SEGMENT },
  facebook: {
    hosts: ['facebook.com', 'm.facebook.com', 'web.facebook.com', 'fb.com'],
    handle: (url) =>
      url.pathname === '/profile.php' ? (url.searchParams.get('id') ?? undefined) : SINGLE_SEGMENT(url),
  },
  instagram: { hosts: ['instagram.com'], handle: SINGLE_SEGMENT },
  threads: { hosts: ['threads.net', 'threads.com'], handle: AT_SEGMENT },
  tiktok: { hosts: ['tiktok.com', 'm.tiktok.com'], handle: AT_SEGMENT },
  youtube: { hosts: ['youtube.com', 'm.youtube.com'], handle: AT_SEGMENT },
  telegram: { hosts: ['t.me', 'telegram.me'], handle: SINGLE_SEGMENT },
  reddit: { hosts: ['reddit.com', 'old.reddit.com'], handle: pathHandle(/^\/(?:u|user)\/([^/]+)\/?$/) },
  linkedin: { hosts: ['linkedin.com'], handle: pathHandle(/^\/in\/([^/]+)\/?$/) },
  snapchat: { hosts: ['snapchat.com'], handle: pathHandle(/^\/add\/([^/]+)\/?$/) },
  bluesky: { hosts: ['bsky.app'], handle: pathHandle(/^\/profile\/([^/]+)\/?$/) },
};

function handleFromProfileUrl(value: string, platform: Platform): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    invalid('the profile URL cannot be parsed');
  }
  const host = url.hostname.replace(/^www\./, '');
  if (platform === 'mastodon') {
    // Any server can be a Mastodon instance, so the instance is the URL host.
    const user = AT_SEGMENT(url);
    if (user === undefined) invalid('a Mastodon profile URL looks like https://instance.example/@user');
    return `${decodeSegment(user)}@${host}`;
  }
  const profile = PROFILE_URLS[platform];
  if (profile === undefined)
    invalid(`profile URLs are not recognized for platform '${platform}'; give the handle itself`);
  if (!profile.hosts.includes(host)) {
    invalid(`${quote(host)} is not a ${platform} profile URL host (expected ${profile.hosts.join(', ')})`);
  }
  const handle = profile.handle(url);
  if (handle === undefined) invalid(`${quote(url.pathname)} is not the path of a ${platform} profile`);
  return decodeSegment(handle);
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    invalid(`the profile URL path ${quote(segment)} has invalid percent-encoding`);
  }
}

function canonicalSocialAccount(value: string, platform: Platform | null): string {
  if (platform === null) invalid('a social_account needs a platform', 'platform');
  let handle = /^https?:\/\//i.test(value) ? handleFromProfileUrl(value, platform) : value;
  if (handle.includes('/'))
    invalid("the handle contains '/'; give the handle itself or the full profile URL starting with https://");
  if (handle.startsWith('@')) handle = handle.slice(1);
  if (platform === 'mastodon') {
    // A bare Mastodon name exists on every instance: without it the key would
    // merge unrelated accounts.
    const parts = handle.split('@');
    if (parts.length !== 2)
      invalid('a Mastodon account is user@instance (for example @alice@mastodon.social)');
    const [user = '', instance = ''] = parts;
    return `${validHandle(user, 'Mastodon user name')}@${within('Mastodon instance', () => canonicalDomain(instance))}`;
  }
  return validHandle(handle, 'handle');
}

const MAX_HASHTAG = 280;

function canonicalHashtag(value: string, platform: Platform | null): string {
  if (platform === null) invalid('a hashtag needs a platform', 'platform');
  const tag = value.startsWith('#') ? value.slice(1) : value;
  if (tag.includes('#')) invalid("a hashtag cannot contain '#' after the leading one");
  if (/\s/u.test(tag)) invalid('a hashtag cannot contain whitespace');
  const lower = tag.toLowerCase().normalize('NFC');
  const length = [...lower].length;
  if (length === 0) invalid("the hashtag is empty after the leading '#'");
  if (length > MAX_HASHTAG) invalid(`the hashtag is ${length} characters; at most ${MAX_HASHTAG}`);
  return lower;
}

// ---------------------------------------------------------------- asn, phone

const MAX_ASN = 4_294_967_295;

function canonicalAsn(value: string): string {
  const digits = /^(?:asn?)?(\d+)$/i.exec(value)?.[1];
  if (digits === undefined) invalid('an AS number looks like AS15169, ASN15169 or 15169');
  const asn = Number(digits);
  if (asn === 0) invalid('AS0 is reserved (RFC 7607) and never originates routes');
  if (asn > MAX_ASN) invalid(`AS numbers go from 1 to ${MAX_ASN}; got ${digits}`);
  return `AS${asn}`;
}

const PHONE_PARSE_ERRORS: Record<string, string> = {
  INVALID_COUNTRY: 'the country calling code after + does not exist',
  TOO_SHORT: 'the phone number is too short',
  TOO_LONG: 'the phone number is too long',
  NOT_A_NUMBER: 'the value is not a phone number',
  INVALID_LENGTH: 'the phone number has a length no number in its country has',
};

/*
 * A number must pass isValid(), not only isPossible(): isPossible checks the
 * length alone, so +1 555 555 5555 (no such area code) would pass it. With
 * the bundled `min` metadata, isValid matches the country's number ranges;
 * a range opened after the installed libphonenumber-js is rejected until the
 * package is updated.
 */
function canonicalPhone(value: string): string {
  if (!value.startsWith('+')) {
    invalid(
      'a phone number must start with + and its country calling code (E.164); without it the country is ambiguous',
    );
  }
  if (!/^\+[0-9 ().-]+$/.test(value)) {
    invalid('after the +, a phone number may contain only digits, spaces, dashes, dots and parentheses');
  }
  let phone: PhoneNumber;
  try {
    phone = parsePhoneNumberWithError(value, { extract: false });
  } catch (err) {
    if (err instanceof ParseError)
      invalid(PHONE_PARSE_ERRORS[err.message] ?? `the phone number cannot be parsed (${err.message})`);
    throw err;
  }
  if (!phone.isValid()) {
    const where = phone.country === undefined ? `calling code +${phone.countryCallingCode}` : phone.country;
    invalid(`${phone.number} is not a valid phone number for ${where}`);
  }
  return phone.number;
}

// ---------------------------------------------------------------- the table

const CANONICALIZERS: Record<IndicatorType, Canonicalizer> = {
  ipv4: canonicalIpv4,
  ipv6: canonicalIpv6,
  cidr: canonicalCidr,
  domain: canonicalDomain,
  url: canonicalUrl,
  email: canonicalEmail,
  md5: hexDigest('an MD5 hash', 32),
  sha1: hexDigest('a SHA-1 hash', 40),
  sha256: hexDigest('a SHA-256 hash', 64),
  pdq: hexDigest('a PDQ hash (256 bits)', 64),
  tmk: canonicalTmk,
  social_account: canonicalSocialAccount,
  hashtag: canonicalHashtag,
  asn: canonicalAsn,
  phone: canonicalPhone,
};
