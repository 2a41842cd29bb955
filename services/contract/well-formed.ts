import { ThreatRelayError, type ErrorDetail } from './errors';
import {
  CATEGORIES,
  INDICATOR_TYPES,
  NAMED_RECIPIENT_TLPS,
  PLATFORM_TYPES,
  PLATFORMS,
  SEVERITIES,
  SIGHTING_KINDS,
  TLP_LEVELS,
  identityOf,
  type Sighting,
  type ThreatEvent,
} from './model';

/** The canonicalization versions a reader knows the rules of (see `identity.ts`). */
export const CANONICALIZATION_VERSIONS: readonly number[] = [1, 2];

/** A UUID as the bus writes it: lowercase, hyphenated, RFC 4122 variant. */
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
/** An org id, as the config allows it. */
export const ORG_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const KEY_PATTERN = /^[0-9a-f]{64}$/;

/** Bounds of the API (contract/indicator.ts), so nothing on the bus is larger than a producer accepts. */
const MAX = { value: 8192, submitter: 200, text: 4096, where: 500, listItems: 100 } as const;
/** The sighting bounds the producer's API applies too (an Avro int holds the count). */
export const SIGHTING_BOUNDS = { where: MAX.where, note: MAX.text, count: 2_147_483_647, to: MAX.listItems } as const;

const oneOf = (set: readonly string[], v: unknown): boolean => typeof v === 'string' && set.includes(v);

/**
 * What an event must be before anyone acts on it, whatever its signature
 * says: every closed set (type, platform, category, TLP, severity) holds one
 * of its values, ids have their exact shapes, numbers and lists their
 * bounds. A signed record is only as honest as its signer; these are the
 * checks that cost nothing to re-derive. Returns every problem, by path.
 */
export function eventProblems(event: ThreatEvent): ErrorDetail[] {
  const out: ErrorDetail[] = [];
  const check = (ok: boolean, path: string, message: string): void => {
    if (!ok) out.push({ path, message });
  };
  check(UUID_PATTERN.test(event.eventId), 'eventId', 'must be a lowercase hyphenated UUID');
  check(ORG_ID_PATTERN.test(event.source.org), 'source.org', 'must be an org id');
  check(
    event.source.submitter.length <= MAX.submitter,
    'source.submitter',
    `must be at most ${MAX.submitter} characters`,
  );
  check(
    CANONICALIZATION_VERSIONS.includes(event.canonicalizationVersion),
    'canonicalizationVersion',
    `must be one of ${CANONICALIZATION_VERSIONS.join(', ')}`,
  );
  const p = event.payload;
  check(KEY_PATTERN.test(p.key), 'payload.key', 'must be 64 lowercase hex characters');
  const route = p.kind === 'IndicatorPublished' ? p.indicator : p;
  const at = p.kind === 'IndicatorPublished' ? 'payload.indicator' : 'payload';
  check(oneOf(TLP_LEVELS, route.tlp), `${at}.tlp`, `must be one of ${TLP_LEVELS.join(', ')}`);
  const named = NAMED_RECIPIENT_TLPS.includes(route.tlp);
  check(
    named ? route.recipients.length > 0 : route.recipients.length === 0,
    `${at}.recipients`,
    named ? `are required for tlp ${route.tlp}` : 'are only allowed for amber+strict and red',
  );
  check(route.recipients.length <= MAX.listItems, `${at}.recipients`, `must be at most ${MAX.listItems}`);
  route.recipients.forEach((r, i) =>
    check(ORG_ID_PATTERN.test(r), `${at}.recipients.${i}`, 'must be an org id'),
  );
  const identity = identityOf(p);
  if (identity.type !== null) {
    check(oneOf(INDICATOR_TYPES, identity.type), `${at}.type`, 'is not a known indicator type');
    const needsPlatform = PLATFORM_TYPES.includes(identity.type);
    check(
      needsPlatform ? identity.platform !== null : identity.platform === null,
      `${at}.platform`,
      needsPlatform
        ? `is required for type ${identity.type}`
        : `is only allowed for ${PLATFORM_TYPES.join(' and ')}`,
    );
  }
  if (identity.platform !== null)
    check(oneOf(PLATFORMS, identity.platform), `${at}.platform`, 'is not a known platform');
  if (identity.value !== null) {
    check(
      identity.value.length > 0 && identity.value.length <= MAX.value,
      `${at}.value`,
      `must be 1 to ${MAX.value} characters`,
    );
  }
  check(
    (identity.type === null) === (identity.value === null),
    `${at}.value`,
    'type and value come together',
  );
  if (p.kind === 'IndicatorPublished') {
    const i = p.indicator;
    check(oneOf(CATEGORIES, i.category), `${at}.category`, 'is not a known category');
    check(oneOf(SEVERITIES, i.severity), `${at}.severity`, 'is not a known severity');
    check(
      Number.isInteger(i.confidence) && i.confidence >= 0 && i.confidence <= 100,
      `${at}.confidence`,
      'must be 0 to 100',
    );
    check(i.validUntil === null || i.validUntil > i.validFrom, `${at}.validUntil`, 'must be after validFrom');
    for (const field of ['tags', 'references'] as const) {
      check(i[field].length <= MAX.listItems, `${at}.${field}`, `must be at most ${MAX.listItems}`);
    }
    for (const field of ['threatActor', 'campaign', 'description'] as const) {
      const v = i[field];
      check(v === null || v.length <= MAX.text, `${at}.${field}`, `must be at most ${MAX.text} characters`);
    }
  } else if (p.kind === 'Sighting') {
    out.push(...sightingProblems(p));
  } else {
    check(p.reason.length <= MAX.text, 'payload.reason', `must be at most ${MAX.text} characters`);
  }
  return out;
}

function sightingProblems(s: Sighting): ErrorDetail[] {
  const out: ErrorDetail[] = [];
  const check = (ok: boolean, path: string, message: string): void => {
    if (!ok) out.push({ path, message });
  };
  check(oneOf(SIGHTING_KINDS, s.sightingKind), 'payload.sightingKind', `must be one of ${SIGHTING_KINDS.join(', ')}`);
  check(
    Number.isInteger(s.count) && s.count >= 1 && s.count <= SIGHTING_BOUNDS.count,
    'payload.count',
    `must be 1 to ${SIGHTING_BOUNDS.count}`,
  );
  check(
    s.firstSeen === null || s.lastSeen === null || s.firstSeen <= s.lastSeen,
    'payload.lastSeen',
    'must not be before firstSeen',
  );
  check(s.where === null || s.where.length <= MAX.where, 'payload.where', `must be at most ${MAX.where} characters`);
  check(s.note === null || s.note.length <= MAX.text, 'payload.note', `must be at most ${MAX.text} characters`);
  check(s.to.length <= MAX.listItems, 'payload.to', `must be at most ${MAX.listItems}`);
  s.to.forEach((org, i) => check(ORG_ID_PATTERN.test(org), `payload.to.${i}`, 'must be an org id'));
  return out;
}

/** Throws TR_RECORD_INVALID naming every problem; what the decoder runs on each record it reads. */
export function assertWellFormed(event: ThreatEvent): ThreatEvent {
  const problems = eventProblems(event);
  if (problems.length > 0) {
    const list = problems.map((d) => `${d.path} ${d.message}`).join('; ');
    throw new ThreatRelayError('TR_RECORD_INVALID', `record is not well-formed: ${list}`, {
      details: problems,
    });
  }
  return event;
}
