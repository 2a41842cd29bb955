import { uuidV5 } from '../contract/ids';
import {
  routeOf,
  type Category,
  type IndicatorType,
  type Sighting,
  type ThreatEvent,
  type Tlp,
} from '../contract/model';
import { TLP2_MARKING_IDS, tlpMarkingDefinition } from './markings';

/**
 * The `stix21` delivery format. Indicator ids are derived from the source org
 * and the indicator key, so a revocation (`revoked: true`) and a
 * re-publication name the same STIX object as the original.
 */

const STIX_ID_NAMESPACE = Buffer.from('a3e1f1c0c55a4c8e9b6e2f0d7c4b8a91', 'hex');
const uuid5 = (name: string): string => uuidV5(STIX_ID_NAMESPACE, name);

/** A STIX pattern string literal: backslash and quote escaped. */
function lit(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** The STIX pattern for one of our indicators; our types without a STIX cyber-observable use x- objects. */
export function stixPattern(type: IndicatorType, value: string, platform: string | null): string {
  switch (type) {
    case 'domain':
      return `[domain-name:value = ${lit(value)}]`;
    case 'url':
      return `[url:value = ${lit(value)}]`;
    case 'ipv4':
      return `[ipv4-addr:value = ${lit(value)}]`;
    case 'ipv6':
      return `[ipv6-addr:value = ${lit(value)}]`;
    case 'cidr':
      return value.includes(':') ? `[ipv6-addr:value = ${lit(value)}]` : `[ipv4-addr:value = ${lit(value)}]`;
    case 'email':
      return `[email-addr:value = ${lit(value)}]`;
    case 'md5':
      return `[file:hashes.MD5 = ${lit(value)}]`;
    case 'sha1':
      return `[file:hashes.'SHA-1' = ${lit(value)}]`;
    case 'sha256':
      return `[file:hashes.'SHA-256' = ${lit(value)}]`;
    case 'pdq':
      return `[file:hashes.PDQ = ${lit(value)}]`;
    case 'tmk':
      return `[file:hashes.'TMK+PDQF' = ${lit(value)}]`;
    case 'social_account':
      return `[user-account:account_login = ${lit(value)} AND user-account:account_type = ${lit(platform ?? 'other')}]`;
    case 'asn':
      return `[autonomous-system:number = ${Number(value.replace(/^AS/, ''))}]`;
    case 'hashtag':
      return `[x-threatrelay-hashtag:value = ${lit(value)} AND x-threatrelay-hashtag:platform = ${lit(platform ?? 'other')}]`;
    case 'phone':
      return `[x-threatrelay-phone:value = ${lit(value)}]`;
  }
}

/** Our categories on the STIX indicator-type-ov vocabulary. */
const INDICATOR_TYPES: Record<Category, string[]> = {
  disinformation: ['malicious-activity'],
  coordinated_inauthentic_behavior: ['malicious-activity'],
  influence_operation: ['malicious-activity', 'attribution'],
  manipulated_media: ['malicious-activity'],
  phishing: ['malicious-activity'],
  malware: ['malicious-activity'],
  c2: ['malicious-activity'],
  spam: ['anomalous-activity'],
  other: ['unknown'],
};

function identityId(org: string): string {
  return `identity--${uuid5(`identity\n${org}`)}`;
}

export function stixIndicatorId(org: string, key: string): string {
  return `indicator--${uuid5(`indicator\n${org}\n${key}`)}`;
}

export interface StixBundle {
  type: 'bundle';
  id: string;
  objects: Record<string, unknown>[];
}

function identityObject(org: string): Record<string, unknown> {
  return {
    type: 'identity',
    spec_version: '2.1',
    id: identityId(org),
    created: '2026-01-01T00:00:00.000Z',
    modified: '2026-01-01T00:00:00.000Z',
    name: org,
    identity_class: 'organization',
  };
}

/** STIX opinion values for the sighting kinds that judge a report wrong. */
const OPINIONS = { false_positive: 'strongly-disagree', expired: 'disagree' } as const;

/**
 * A sighting as STIX: `seen` and `true_positive` are `sighting` objects of the
 * indicator of each org named in `of`, `false_positive` and `expired`
 * `opinion` objects on them. Ids derive from the event id and the org, so a
 * redelivery names the same objects.
 */
export function sightingObjects(
  event: ThreatEvent & { payload: Sighting },
  of: readonly string[],
): Record<string, unknown>[] {
  const p = event.payload;
  const common = {
    spec_version: '2.1',
    created_by_ref: identityId(event.source.org),
    created: event.producedAt,
    modified: event.producedAt,
    object_marking_refs: [TLP2_MARKING_IDS[p.tlp]],
    x_threatrelay_event_id: event.eventId,
    x_threatrelay_key: p.key,
  };
  if (p.sightingKind === 'false_positive' || p.sightingKind === 'expired') {
    if (of.length === 0) return [];
    return [
      {
        type: 'opinion',
        id: `opinion--${uuid5(`opinion\n${event.eventId}`)}`,
        ...common,
        opinion: OPINIONS[p.sightingKind],
        ...(p.note ? { explanation: p.note } : {}),
        object_refs: of.map((org) => stixIndicatorId(org, p.key)),
      },
    ];
  }
  return of.map((org) => ({
    type: 'sighting',
    id: `sighting--${uuid5(`sighting\n${event.eventId}\n${org}`)}`,
    ...common,
    sighting_of_ref: stixIndicatorId(org, p.key),
    where_sighted_refs: [identityId(event.source.org)],
    count: p.count,
    ...(p.firstSeen ? { first_seen: p.firstSeen } : {}),
    ...(p.lastSeen ? { last_seen: p.lastSeen } : {}),
    ...(p.where ? { description: `Seen at: ${p.where}` } : {}),
    ...(p.note ? { x_threatrelay_note: p.note } : {}),
    x_threatrelay_sighting_kind: p.sightingKind,
  }));
}

/** A warninglist match as an indicator label: `warninglist:<id>:<version>`. */
export function warningLabel(w: { list: string; version: number }): string {
  return `warninglist:${w.list}:${w.version}`;
}

function indicatorObject(
  event: ThreatEvent,
  warnings: readonly { list: string; version: number }[] = [],
): Record<string, unknown> {
  const org = event.source.org;
  const p = event.payload;
  if (p.kind === 'Sighting') throw new Error('a sighting is no indicator object');
  const common = {
    type: 'indicator',
    spec_version: '2.1',
    id: stixIndicatorId(org, p.key),
    created_by_ref: identityId(org),
    created: event.producedAt,
    modified: event.producedAt,
    x_threatrelay_event_id: event.eventId,
    x_threatrelay_key: p.key,
  };
  if (p.kind === 'IndicatorRevoked') {
    return {
      ...common,
      revoked: true,
      pattern_type: 'stix',
      pattern:
        p.type && p.value
          ? stixPattern(p.type, p.value, p.platform)
          : "[x-threatrelay-key:value = '" + p.key + "']",
      valid_from: event.producedAt,
      description: `Revoked by ${org}: ${p.reason}`,
      object_marking_refs: [TLP2_MARKING_IDS[p.tlp]],
    };
  }
  const ind = p.indicator;
  return {
    ...common,
    name: `${ind.type} ${ind.value}`,
    ...(ind.description ? { description: ind.description } : {}),
    indicator_types: INDICATOR_TYPES[ind.category],
    pattern_type: 'stix',
    pattern: stixPattern(ind.type, ind.value, ind.platform),
    valid_from: ind.validFrom,
    ...(ind.validUntil ? { valid_until: ind.validUntil } : {}),
    confidence: ind.confidence,
    ...(ind.tags.length || warnings.length ? { labels: [...ind.tags, ...warnings.map(warningLabel)] } : {}),
    ...(ind.references.length
      ? { external_references: ind.references.map((url) => ({ source_name: 'reference', url })) }
      : {}),
    object_marking_refs: [TLP2_MARKING_IDS[ind.tlp]],
    x_threatrelay_category: ind.category,
    x_threatrelay_severity: ind.severity,
    // STIX has no property for a perceptual hash's quality or its dihedral hashes: custom ones.
    ...(ind.quality !== null ? { x_threatrelay_pdq_quality: ind.quality } : {}),
    ...(ind.variants.length ? { x_threatrelay_pdq_variants: ind.variants } : {}),
    ...(warnings.length
      ? { x_threatrelay_warnings: warnings.map((w) => ({ list: w.list, version: w.version })) }
      : {}),
  };
}

/**
 * One bundle for one webhook request; `bundleName` makes the bundle id stable
 * across retries. `reportersOf` names the orgs whose indicator a sighting of a
 * key refers to (the sighting's `to` when not given).
 */
export function toStixBundle(
  events: ThreatEvent[],
  bundleName: string,
  /** Per event, the warninglists the reader found it on (labels `warninglist:<id>:<version>`). */
  warnings: readonly (readonly { list: string; version: number }[] | undefined)[] = [],
  reportersOf?: (key: string) => readonly string[],
): StixBundle {
  const identities = new Map<string, Record<string, unknown>>();
  const tlps = new Set<Tlp>();
  const indicators = events.flatMap((event, index) => {
    if (!identities.has(event.source.org)) identities.set(event.source.org, identityObject(event.source.org));
    tlps.add(routeOf(event.payload).tlp);
    const p = event.payload;
    if (p.kind !== 'Sighting') return [indicatorObject(event, warnings[index])];
    const of = reportersOf?.(p.key) ?? p.to;
    return sightingObjects({ ...event, payload: p }, of);
  });
  return {
    type: 'bundle',
    id: `bundle--${uuid5(`bundle\n${bundleName}`)}`,
    objects: [...[...tlps].map(tlpMarkingDefinition), ...identities.values(), ...indicators],
  };
}
