/**
 * The indicator model of the bus: the closed sets of values and the shape of
 * an event as every service sees it in memory. The Avro schemas in `schemas/`
 * mirror these types; `codec.ts` converts between the two.
 */

export const INDICATOR_TYPES = [
  'ipv4',
  'ipv6',
  'cidr',
  'domain',
  'url',
  'email',
  'md5',
  'sha1',
  'sha256',
  'pdq',
  'tmk',
  'social_account',
  'hashtag',
  'asn',
  'phone',
] as const;
export type IndicatorType = (typeof INDICATOR_TYPES)[number];

/** Types whose value only means something together with a `platform`. */
export const PLATFORM_TYPES: readonly IndicatorType[] = ['social_account', 'hashtag'];

export const PLATFORMS = [
  'facebook',
  'instagram',
  'threads',
  'whatsapp',
  'messenger',
  'twitter',
  'youtube',
  'tiktok',
  'telegram',
  'reddit',
  'linkedin',
  'snapchat',
  'bluesky',
  'mastodon',
  'github',
  'other',
] as const;
export type Platform = (typeof PLATFORMS)[number];

export const CATEGORIES = [
  'disinformation',
  'coordinated_inauthentic_behavior',
  'influence_operation',
  'manipulated_media',
  'phishing',
  'malware',
  'c2',
  'spam',
  'other',
] as const;
export type Category = (typeof CATEGORIES)[number];

/** TLP 2.0, least to most restrictive. */
export const TLP_LEVELS = ['clear', 'green', 'amber', 'amber+strict', 'red'] as const;
export type Tlp = (typeof TLP_LEVELS)[number];

/** TLP levels that name their recipients and travel on direct topics only. */
export const NAMED_RECIPIENT_TLPS: readonly Tlp[] = ['amber+strict', 'red'];

export const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** An indicator as it travels on the bus: `value` is already canonical. */
export interface Indicator {
  type: IndicatorType;
  value: string;
  platform: Platform | null;
  category: Category;
  tlp: Tlp;
  recipients: string[];
  confidence: number;
  severity: Severity;
  /** ISO-8601 UTC with milliseconds. */
  validFrom: string;
  validUntil: string | null;
  threatActor: string | null;
  campaign: string | null;
  tags: string[];
  description: string | null;
  references: string[];
  /** When the source first observed it (schema v2; null from v1 writers). */
  firstSeen: string | null;
  /** For `pdq`: the hasher's quality score, 0 to 100 (schema v3; null when not given or from older writers). */
  quality: number | null;
  /** For `pdq`: up to 7 dihedral PDQ hashes of the same image, canonical lowercase hex (schema v3). */
  variants: string[];
  /** Warninglists the value is on, as the producer found them (schema v3). */
  warnings: IndicatorWarning[];
}

/** A warninglist that holds an indicator's value, and the version of the list that matched. */
export interface IndicatorWarning {
  list: string;
  version: number;
}

export interface Source {
  /** From the authenticated API key, never from a request body. */
  org: string;
  /** The team or key name inside the org that submitted it. */
  submitter: string;
}

export interface IndicatorPublished {
  kind: 'IndicatorPublished';
  /** Lowercase hex SHA-256 of `type + ":" + canonicalValue`. */
  key: string;
  indicator: Indicator;
}

/** A source withdraws its own indicator (for example a false positive). */
export interface IndicatorRevoked {
  kind: 'IndicatorRevoked';
  key: string;
  /** Null when the source revoked by key alone. */
  type: IndicatorType | null;
  /** The canonical value; null when the source revoked by key alone. */
  value: string | null;
  platform: Platform | null;
  /** The TLP and recipients of the original: a revocation is shared exactly as widely. */
  tlp: Tlp;
  recipients: string[];
  reason: string;
}

/** What an org says it saw of an indicator (schema v4). */
export const SIGHTING_KINDS = ['seen', 'true_positive', 'false_positive', 'expired'] as const;
export type SightingKind = (typeof SIGHTING_KINDS)[number];

/**
 * An org's sighting of an indicator it names by key only: the value is not
 * carried, so a reader that lacks the key learns nothing from it (schema v4).
 */
export interface Sighting {
  kind: 'Sighting';
  key: string;
  sightingKind: SightingKind;
  /** At least 1. */
  count: number;
  firstSeen: string | null;
  lastSeen: string | null;
  where: string | null;
  note: string | null;
  /** The sighting's own TLP and recipients: it travels like an indicator of that TLP. */
  tlp: Tlp;
  recipients: string[];
  /** Orgs addressed (those that reported the key): each also gets a copy on its direct topic. */
  to: string[];
}

export type EventPayload = IndicatorPublished | IndicatorRevoked | Sighting;

export interface ThreatEvent {
  eventId: string;
  /** The `schemas/` version the event was written with. */
  schemaVersion: number;
  /** ISO-8601 UTC with milliseconds. */
  producedAt: string;
  source: Source;
  /** The `CANONICALIZATION_VERSION` that produced `value` and `key`. */
  canonicalizationVersion: number;
  payload: EventPayload;
}

/** How a payload is routed and entitled: a revocation travels exactly as its original did, a sighting as its own TLP says. */
export function routeOf(payload: EventPayload): { tlp: Tlp; recipients: readonly string[] } {
  return payload.kind === 'IndicatorPublished' ? payload.indicator : payload;
}

/** The identity a payload names: type, platform and canonical value; a revocation by key alone and a sighting have none. */
export function identityOf(payload: EventPayload): {
  type: IndicatorType | null;
  platform: Platform | null;
  value: string | null;
} {
  if (payload.kind === 'Sighting') return { type: null, platform: null, value: null };
  return payload.kind === 'IndicatorPublished' ? payload.indicator : payload;
}
