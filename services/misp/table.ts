import { PLATFORMS, type IndicatorType, type Platform } from '../contract/model';
import type { MispAttribute } from './event';

/**
 * Which MISP attribute types become which indicators: the table docs/misp.md
 * shows. A composite type (`domain|ip`, `filename|sha256`) has one entry per
 * `|`-separated part, `null` where the part does not map (a file name, a
 * port). `ip` is ipv4, ipv6 or cidr by the value's form, as MISP's ip types
 * take all three.
 */

export type TargetType = IndicatorType | 'ip';

export interface PartTarget {
  type: TargetType;
  /** For social_account and hashtag: the platform, fixed or read from the object (`fromObject`). */
  platform?: Platform | 'fromObject';
}

const to = (type: TargetType, platform?: PartTarget['platform']): PartTarget =>
  platform ? { type, platform } : { type };

export const ATTRIBUTE_TYPES: Readonly<Record<string, readonly (PartTarget | null)[]>> = {
  domain: [to('domain')],
  hostname: [to('domain')],
  'hostname|port': [to('domain'), null],
  'domain|ip': [to('domain'), to('ip')],
  url: [to('url')],
  uri: [to('url')],
  link: [to('url')],
  'ip-src': [to('ip')],
  'ip-dst': [to('ip')],
  'ip-src|port': [to('ip'), null],
  'ip-dst|port': [to('ip'), null],
  email: [to('email')],
  'email-src': [to('email')],
  'email-dst': [to('email')],
  'email-reply-to': [to('email')],
  'whois-registrant-email': [to('email')],
  md5: [to('md5')],
  sha1: [to('sha1')],
  sha256: [to('sha256')],
  'filename|md5': [null, to('md5')],
  'filename|sha1': [null, to('sha1')],
  'filename|sha256': [null, to('sha256')],
  'malware-sample': [null, to('md5')],
  AS: [to('asn')],
  'phone-number': [to('phone')],
  'whois-registrant-phone': [to('phone')],
  'twitter-id': [to('social_account', 'twitter')],
  'github-username': [to('social_account', 'github')],
};

/** Types that are indicators only when the source says to detect on them (`to_ids`); otherwise references. */
export const ONLY_WHEN_TO_IDS: ReadonlySet<string> = new Set(['link']);

/**
 * Attributes of MISP objects (misp-objects templates) whose meaning comes
 * from the object, not the attribute type: an account's handle is a `text`
 * attribute, and a GitHub user's followers are other people.
 * `null`: the relation never maps, whatever its type.
 */
export const OBJECT_RELATIONS: Readonly<Record<string, Readonly<Record<string, PartTarget | null>>>> = {
  'twitter-account': { name: to('social_account', 'twitter'), hashtag: to('hashtag', 'twitter') },
  'facebook-account': { 'account-name': to('social_account', 'facebook') },
  'instagram-account': { 'account-name': to('social_account', 'instagram') },
  'telegram-account': { username: to('social_account', 'telegram') },
  'reddit-account': { 'account-name': to('social_account', 'reddit') },
  'github-user': { username: to('social_account', 'github'), follower: null, following: null },
  microblog: {
    username: to('social_account', 'fromObject'),
    hashtag: to('hashtag', 'fromObject'),
    'username-quoted': null,
    'in-reply-to-user-id': null,
  },
  'social-media-group': { hashtag: to('hashtag', 'fromObject') },
};

/** The sibling relation that names an object's platform (microblog `type`, social-media-group `platform`). */
const PLATFORM_RELATIONS = ['type', 'platform'];

/** MISP spells platforms as display names (`Twitter`, `LinkedIn`); `X` is Twitter. */
export function platformNamed(name: string): Platform | undefined {
  const lower = name.trim().toLowerCase();
  const platform = lower === 'x' ? 'twitter' : lower;
  return (PLATFORMS as readonly string[]).includes(platform) && platform !== 'other'
    ? (platform as Platform)
    : undefined;
}

export type PartsOf = { parts: (PartTarget | null)[] } | { unmapped: string } | { refused: string };

/** What each `|`-separated part of an attribute maps to, or why none does. */
export function partsOf(a: MispAttribute): PartsOf {
  const relation = a.object ? OBJECT_RELATIONS[a.object.name]?.[a.object.relation] : undefined;
  if (relation === null) {
    return { unmapped: `${a.object!.name} ${a.object!.relation} is not an indicator of the object's threat` };
  }
  const parts = relation ? [relation] : ATTRIBUTE_TYPES[a.type];
  if (parts) return { parts: [...parts] };
  if (a.type === 'hashtag') {
    return {
      refused:
        'a hashtag needs its platform: put it in a microblog, twitter-account or social-media-group object',
    };
  }
  return { unmapped: `MISP type ${a.type} has no ThreatRelay indicator type` };
}

/** The platform an object names in its `type`/`platform` attribute, or why it has none. */
export function objectPlatform(a: MispAttribute): Platform | { problem: string } {
  const named = PLATFORM_RELATIONS.map((r) => a.object?.siblings.get(r)).find((v) => v !== undefined);
  if (named === undefined) {
    return { problem: `the ${a.object?.name ?? ''} object names no platform (its "type" or "platform")` };
  }
  return platformNamed(named) ?? { problem: `platform ${JSON.stringify(named)} is not one the bus knows` };
}

/** ipv4, ipv6 or cidr, as the value reads; canonicalization then judges it. */
export function ipType(value: string): IndicatorType {
  if (value.includes('/')) return 'cidr';
  return value.includes(':') ? 'ipv6' : 'ipv4';
}
