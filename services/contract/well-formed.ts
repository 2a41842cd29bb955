import { BOUNDS, referenceProblem } from './bounds';
import { ThreatRelayError, type ErrorDetail } from './errors';
import { pdqProblems } from './pdq';
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
  if (identity.value !== null) check(identity.value.length > 0, `${at}.value`, 'must not be empty');
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
    out.push(...pdqProblems(i, at));
  } else if (p.kind === 'Sighting') {
    out.push(...sightingProblems(p));
  }
  return out;
}

/** A sighting's shape: its kind, a count an Avro int holds, times in order, addressees that are org ids. */
function sightingProblems(s: Sighting): ErrorDetail[] {
  const out: ErrorDetail[] = [];
  const check = (ok: boolean, path: string, message: string): void => {
    if (!ok) out.push({ path, message });
  };
  check(
    oneOf(SIGHTING_KINDS, s.sightingKind),
    'payload.sightingKind',
    `must be one of ${SIGHTING_KINDS.join(', ')}`,
  );
  check(
    Number.isInteger(s.count) && s.count >= 1 && s.count <= BOUNDS.sightingCount,
    'payload.count',
    `must be 1 to ${BOUNDS.sightingCount}`,
  );
  check(
    s.firstSeen === null || s.lastSeen === null || s.firstSeen <= s.lastSeen,
    'payload.lastSeen',
    'must not be before firstSeen',
  );
  s.to.forEach((org, i) => check(ORG_ID_PATTERN.test(org), `payload.to.${i}`, 'must be an org id'));
  return out;
}

/**
 * Where a decoded event exceeds the API's bounds (`bounds.ts`): counts,
 * lengths and reference schemes. Separate from `eventProblems` so a record
 * that is well-shaped but larger than any request could make it gets its
 * own code. Messages give the bound, never the offending text.
 */
export function boundProblems(event: ThreatEvent): ErrorDetail[] {
  const out: ErrorDetail[] = [];
  const within = (text: string | null, max: number, path: string): void => {
    if (text !== null && text.length > max) out.push({ path, message: `must be at most ${max} characters` });
  };
  const count = (list: readonly unknown[], max: number, path: string): void => {
    if (list.length > max)
      out.push({ path, message: `must hold at most ${max} items, holds ${list.length}` });
  };
  within(event.source.submitter, BOUNDS.submitter, 'source.submitter');
  const p = event.payload;
  const at = p.kind === 'IndicatorPublished' ? 'payload.indicator' : 'payload';
  const route = p.kind === 'IndicatorPublished' ? p.indicator : p;
  count(route.recipients, BOUNDS.recipients, `${at}.recipients`);
  if (p.kind === 'Sighting') {
    within(p.where, BOUNDS.where, 'payload.where');
    within(p.note, BOUNDS.note, 'payload.note');
    count(p.to, BOUNDS.recipients, 'payload.to');
    return out;
  }
  within(p.kind === 'IndicatorPublished' ? p.indicator.value : p.value, BOUNDS.value, `${at}.value`);
  if (p.kind === 'IndicatorRevoked') {
    within(p.reason, BOUNDS.reason, 'payload.reason');
    return out;
  }
  const i = p.indicator;
  within(i.threatActor, BOUNDS.name, `${at}.threatActor`);
  within(i.campaign, BOUNDS.name, `${at}.campaign`);
  within(i.description, BOUNDS.description, `${at}.description`);
  count(i.tags, BOUNDS.tags, `${at}.tags`);
  // Lists are read whole only up to their bound: past it the count is the problem already.
  i.tags.slice(0, BOUNDS.tags).forEach((t, n) => within(t, BOUNDS.tag, `${at}.tags.${n}`));
  count(i.references, BOUNDS.references, `${at}.references`);
  i.references.slice(0, BOUNDS.references).forEach((r, n) => {
    const problem = referenceProblem(r);
    if (problem) out.push({ path: `${at}.references.${n}`, message: problem });
  });
  return out;
}

/**
 * What the decoder runs on each record it reads. Throws TR_RECORD_INVALID
 * naming every shape problem (TR_PDQ_INVALID when only the PDQ rules are
 * broken: the record is sound, the report is not), or, for a well-shaped
 * record, TR_RECORD_OUT_OF_BOUNDS naming every bound exceeded.
 */
export function assertWellFormed(event: ThreatEvent): ThreatEvent {
  const problems = eventProblems(event);
  if (problems.length > 0) {
    const p = event.payload;
    const pdqOnly =
      p.kind === 'IndicatorPublished' && pdqProblems(p.indicator, '').length === problems.length;
    throw notWellFormed(
      pdqOnly ? 'TR_PDQ_INVALID' : 'TR_RECORD_INVALID',
      'record is not well-formed',
      problems,
    );
  }
  const outside = boundProblems(event);
  if (outside.length > 0) throw notWellFormed('TR_RECORD_OUT_OF_BOUNDS', 'record is out of bounds', outside);
  return event;
}

/** Refuses a record value larger than any the API can make, before anything reads it. */
export function assertRecordSize(bytes: Buffer): void {
  if (bytes.length > BOUNDS.recordBytes) {
    throw new ThreatRelayError(
      'TR_RECORD_OUT_OF_BOUNDS',
      `record value is ${bytes.length} bytes, more than the ${BOUNDS.recordBytes}-byte bound`,
      { details: [{ path: 'value', message: `must be at most ${BOUNDS.recordBytes} bytes` }] },
    );
  }
}

function notWellFormed(
  code: 'TR_RECORD_INVALID' | 'TR_PDQ_INVALID' | 'TR_RECORD_OUT_OF_BOUNDS',
  what: string,
  details: ErrorDetail[],
): ThreatRelayError {
  const list = details.map((d) => `${d.path} ${d.message}`).join('; ');
  return new ThreatRelayError(code, `${what}: ${list}`, { details });
}
