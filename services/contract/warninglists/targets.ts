import type { IndicatorType } from '../model';

/**
 * Which of our values a list applies to. MISP names attribute types in
 * `matching_attributes`; each maps to the kind of value it holds here. A list
 * applies to an indicator only through the kinds its attributes name, so a
 * hash list never matches a domain that happens to spell a hash.
 */

export type ValueKind = 'domain' | 'ip' | 'url' | 'email' | 'md5' | 'sha1' | 'sha256' | 'phone' | 'asn';

const ATTRIBUTE_KINDS: Record<string, ValueKind[]> = {
  domain: ['domain'],
  hostname: ['domain'],
  'hostname|port': ['domain'],
  'domain|ip': ['domain', 'ip'],
  'ip-src': ['ip'],
  'ip-dst': ['ip'],
  'ip-src|port': ['ip'],
  'ip-dst|port': ['ip'],
  url: ['url'],
  uri: ['url'],
  link: ['url'],
  email: ['email'],
  'email-src': ['email'],
  'email-dst': ['email'],
  'target-email': ['email'],
  'whois-registrant-email': ['email'],
  'dns-soa-email': ['email'],
  md5: ['md5'],
  'filename|md5': ['md5'],
  sha1: ['sha1'],
  'filename|sha1': ['sha1'],
  sha256: ['sha256'],
  'filename|sha256': ['sha256'],
  'phone-number': ['phone'],
  'whois-registrant-phone': ['phone'],
  AS: ['asn'],
};

/** The kinds of value a list's `matching_attributes` name; MISP types we do not carry are ignored. */
export function kindsOf(matchingAttributes: readonly string[]): Set<ValueKind> {
  return new Set(matchingAttributes.flatMap((a) => ATTRIBUTE_KINDS[a] ?? []));
}

/**
 * One thing to look up for an indicator: its canonical value, and for a URL
 * also its host (a name, or an IP literal), as MISP matches the host of a URL
 * against hostname lists.
 */
export interface Probe {
  kind: ValueKind;
  value: string;
  on: 'value' | 'host';
  /** For a `cidr` indicator: the network's prefix length, so only lists holding all of it match. */
  prefix?: number;
}

const DIRECT: Partial<Record<IndicatorType, ValueKind>> = {
  domain: 'domain',
  ipv4: 'ip',
  ipv6: 'ip',
  email: 'email',
  md5: 'md5',
  sha1: 'sha1',
  sha256: 'sha256',
  phone: 'phone',
  asn: 'asn',
};

/** The probes of a canonical value of `type`; none for the types no list can describe (accounts, media hashes). */
export function probesOf(type: IndicatorType, value: string): Probe[] {
  const kind = DIRECT[type];
  if (kind) return [{ kind, value, on: 'value' }];
  if (type === 'cidr') {
    const slash = value.indexOf('/');
    return [
      { kind: 'ip', value: value.slice(0, slash), prefix: Number(value.slice(slash + 1)), on: 'value' },
    ];
  }
  if (type === 'url') {
    const host = hostOf(value);
    const probes: Probe[] = [{ kind: 'url', value, on: 'value' }];
    if (host !== undefined) {
      const literal = host.startsWith('[') ? host.slice(1, -1) : host;
      const isIp = host.startsWith('[') || /^\d+\.\d+\.\d+\.\d+$/.test(host);
      probes.push({ kind: isIp ? 'ip' : 'domain', value: literal, on: 'host' });
    }
    return probes;
  }
  return [];
}

/**
 * The host of a canonical URL, read off its text: `scheme://[userinfo@]host[:port]/…`.
 * The canonicalizer wrote it, so a full WHATWG parse (several microseconds) would
 * only find the same thing.
 */
function hostOf(url: string): string | undefined {
  const start = url.indexOf('://');
  if (start < 0) return undefined;
  let end = url.length;
  for (const stop of ['/', '?', '#']) {
    const at = url.indexOf(stop, start + 3);
    if (at >= 0 && at < end) end = at;
  }
  const authority = url.slice(url.lastIndexOf('@', end) + 1 || start + 3, end);
  const hostEnd = authority.startsWith('[') ? authority.indexOf(']') + 1 : authority.lastIndexOf(':');
  const host = hostEnd > 0 ? authority.slice(0, hostEnd) : authority;
  return host === '' ? undefined : host.toLowerCase();
}
