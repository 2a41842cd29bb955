import { canonicalize } from '../contract/canonical';
import { isThreatRelayError } from '../contract/errors';
import { indicatorInputSchema, type IndicatorInput } from '../contract/indicator';
import type { IndicatorType, Tlp } from '../contract/model';
import { zodDetails } from '../platform/config/config';
import { bundleContext, bundleObjects, targetsOf, type BundleContext } from './bundle';
import { categoryOf } from './category';
import { isRecord } from '../platform/json';
import { isStixObject, type StixObject } from './object';
import { indicatorFromPattern, type PatternIndicator } from './pattern';

/**
 * STIX 2.1 bundles to the bus's indicator model: pure functions, no I/O.
 *
 * Only what maps without a guess is mapped; an indicator that does not map is
 * rejected with every reason, so the publisher sees exactly what was not
 * shared. Objects that are not indicators are context: reported as ignored,
 * and read for the TLP, campaign, threat actor and category of the
 * indicators that point to them.
 *
 * ThreatRelay's own fields travel as `x_threatrelay_` custom properties; any
 * other `x_threatrelay_` property is a typo and rejects the object.
 */

const CUSTOM_PROPERTIES = new Set([
  'x_threatrelay_recipients',
  'x_threatrelay_platform',
  'x_threatrelay_category',
  'x_threatrelay_severity',
]);

export interface StixMappedIndicator {
  /** Position of the object in the bundle's `objects`. */
  index: number;
  id: string;
  input: IndicatorInput;
}

export interface StixRejection {
  index: number;
  id: string | null;
  /** Where in the bundle (`objects.3.pattern`). */
  path: string;
  code: 'TR_VALIDATION' | 'TR_INVALID_VALUE';
  reason: string;
  /** The indicator type the pattern maps to, when it got that far. */
  indicatorType?: IndicatorType;
}

export interface StixIgnored {
  index: number;
  id: string | null;
  type: string;
}

export interface StixImport {
  indicators: StixMappedIndicator[];
  /** One entry per problem: an object with two problems appears twice. */
  rejected: StixRejection[];
  ignored: StixIgnored[];
  /** How many `indicator` objects the bundle has, mapped or not. */
  indicatorObjects: number;
}

/** Where each field of our input came from in the STIX object, for reporting problems. */
type Sources = Partial<Record<keyof IndicatorInput, string>>;

const SOURCES: Readonly<Sources> = {
  type: 'pattern',
  value: 'pattern',
  platform: 'pattern',
  tlp: 'object_marking_refs',
  recipients: 'x_threatrelay_recipients',
  confidence: 'confidence',
  severity: 'x_threatrelay_severity',
  validFrom: 'valid_from',
  validUntil: 'valid_until',
  tags: 'labels',
  description: 'description',
  references: 'external_references',
  campaign: 'indicates',
  threatActor: 'indicates',
};

interface Problem {
  path: string;
  message: string;
  code: StixRejection['code'];
}

type Mapped = { input: IndicatorInput } | { problems: Problem[]; type?: IndicatorType };

const validation = (path: string, message: string): Problem => ({ path, message, code: 'TR_VALIDATION' });

function propertyProblems(obj: StixObject): Problem[] {
  const problems: Problem[] = [];
  for (const key of Object.keys(obj)) {
    if (key.startsWith('x_threatrelay_') && !CUSTOM_PROPERTIES.has(key)) {
      problems.push(
        validation(key, `unknown property; ThreatRelay reads ${[...CUSTOM_PROPERTIES].join(', ')}`),
      );
    }
  }
  if (obj.revoked === true) {
    problems.push(
      validation('revoked', 'the indicator is revoked; withdraw it with POST /v1/indicators/revoke instead'),
    );
  }
  return problems;
}

function patternOf(obj: StixObject): PatternIndicator | Problem {
  const patternType = obj.pattern_type ?? 'stix';
  if (patternType !== 'stix') {
    return validation(
      'pattern_type',
      `pattern_type ${JSON.stringify(patternType)} is not supported; only "stix" patterns map`,
    );
  }
  if (typeof obj.pattern !== 'string') return validation('pattern', 'an indicator needs a pattern');
  try {
    return indicatorFromPattern(obj.pattern);
  } catch (err) {
    if (!isThreatRelayError(err, 'TR_VALIDATION')) throw err;
    return validation('pattern', err.message);
  }
}

/** The platform from the pattern or x_threatrelay_platform, which must agree. */
function platformOf(
  obj: StixObject,
  fromPattern: PatternIndicator | undefined,
  sources: Sources,
  problems: Problem[],
): unknown {
  let platform: unknown = fromPattern?.platform;
  if (obj.x_threatrelay_platform !== undefined) {
    if (platform !== undefined && obj.x_threatrelay_platform !== platform) {
      problems.push(
        validation(
          'x_threatrelay_platform',
          `says ${JSON.stringify(obj.x_threatrelay_platform)} but the pattern's account_type says ${String(platform)}`,
        ),
      );
    }
    platform = obj.x_threatrelay_platform;
    sources.platform = 'x_threatrelay_platform';
  }
  if (fromPattern?.type === 'social_account' && platform === undefined) {
    problems.push(
      validation(
        'pattern',
        "an account needs its platform: AND user-account:account_type = '…' in the pattern, or x_threatrelay_platform",
      ),
    );
  }
  return platform;
}

function tlpOfIndicator(obj: StixObject, ctx: BundleContext): Tlp | Problem {
  const refs = Array.isArray(obj.object_marking_refs) ? obj.object_marking_refs : [];
  const levels = new Set<Tlp>();
  for (const ref of refs) {
    const tlp = typeof ref === 'string' ? ctx.tlpOf.get(ref) : undefined;
    if (tlp) levels.add(tlp);
  }
  if (levels.size === 0) {
    return validation(
      'object_marking_refs',
      'no TLP marking: reference one of the TLP 2.0 marking-definition ids (or a TLP 1.0 one)',
    );
  }
  if (levels.size > 1) {
    return validation(
      'object_marking_refs',
      `conflicting TLP markings (${[...levels].join(', ')}); an indicator has one TLP level`,
    );
  }
  return [...levels][0]!;
}

/** Names of the `indicates` targets of one kind, for campaign and threat actor. */
function targetNames(targets: StixObject[], types: string[]): string | undefined {
  const names = [
    ...new Set(
      targets
        .filter((t) => types.includes(t.type) && typeof t.name === 'string')
        .map((t) => t.name as string),
    ),
  ].sort();
  return names.length > 0 ? names.join(', ') : undefined;
}

/** The URLs of external_references, with the position of each in the STIX list. */
function referenceUrls(obj: StixObject): { urls: unknown[]; positions: number[] } {
  const urls: unknown[] = [];
  const positions: number[] = [];
  (Array.isArray(obj.external_references) ? obj.external_references : []).forEach((ref, i) => {
    // References without a URL (an ATT&CK id, a CVE) have nothing to carry over.
    if (isRecord(ref) && ref.url !== undefined) {
      urls.push(ref.url);
      positions.push(i);
    }
  });
  return { urls, positions };
}

/** Our input's fields as the STIX object gives them, before validation. */
function rawInput(
  obj: StixObject,
  read: { pattern: PatternIndicator; platform: unknown; category: unknown; tlp: Tlp },
  targets: StixObject[],
  references: unknown[],
  sources: Sources,
): Record<string, unknown> {
  const name = typeof obj.name === 'string' ? obj.name.trim() : '';
  const text = typeof obj.description === 'string' ? obj.description.trim() : '';
  if (name && !text) sources.description = 'name';
  const raw: Record<string, unknown> = {
    type: read.pattern.type,
    value: read.pattern.value,
    platform: read.platform,
    category: read.category,
    tlp: read.tlp,
    recipients: obj.x_threatrelay_recipients,
    confidence: obj.confidence,
    severity: obj.x_threatrelay_severity,
    validFrom: obj.valid_from,
    validUntil: obj.valid_until,
    tags: obj.labels,
    description: [name, text].filter(Boolean).join('\n\n') || undefined,
    references: references.length > 0 ? references : undefined,
    campaign: targetNames(targets, ['campaign']),
    threatActor: targetNames(targets, ['threat-actor', 'intrusion-set']),
  };
  return Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined));
}

/** Validates the input like the JSON route does, naming problems by their STIX property. */
function validInput(
  raw: Record<string, unknown>,
  type: IndicatorType,
  sources: Sources,
  referencePositions: number[],
): Mapped {
  const parsed = indicatorInputSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = zodDetails(parsed.error).map((d) => {
      const [field = '', ...rest] = d.path.split('.');
      let at = [sources[field as keyof IndicatorInput] ?? field, ...rest];
      if (field === 'references' && rest[0] !== undefined) {
        at = ['external_references', String(referencePositions[Number(rest[0])]), 'url'];
      }
      const from =
        field === 'campaign' || field === 'threatActor' ? `${field} (from an indicates relationship): ` : '';
      return validation(at.join('.'), `${from}${d.message}`);
    });
    return { type, problems };
  }
  try {
    canonicalize(parsed.data.type, parsed.data.value, parsed.data.platform ?? null);
  } catch (err) {
    if (!isThreatRelayError(err, 'TR_INVALID_VALUE')) throw err;
    const path = err.details[0]?.path === 'platform' ? sources.platform! : 'pattern';
    return { type, problems: [{ path, message: err.message, code: 'TR_INVALID_VALUE' }] };
  }
  return { input: parsed.data };
}

/** Maps one indicator object; returns its input or every problem found. */
function mapIndicator(obj: StixObject, ctx: BundleContext): Mapped {
  const sources: Sources = { ...SOURCES };
  const problems = propertyProblems(obj);
  const read = patternOf(obj);
  const pattern = 'code' in read ? undefined : read;
  if ('code' in read) problems.push(read);
  const platform = platformOf(obj, pattern, sources, problems);
  const tlp = tlpOfIndicator(obj, ctx);
  if (typeof tlp !== 'string') problems.push(tlp);
  const targets = targetsOf(obj.id, ctx);
  const category = categoryOf(obj, targets);
  if ('problem' in category) problems.push(validation(category.problem.path, category.problem.message));
  else sources.category = category.from;

  if (problems.length > 0 || !pattern || typeof tlp !== 'string' || 'problem' in category) {
    return { problems, ...(pattern ? { type: pattern.type } : {}) };
  }
  const references = referenceUrls(obj);
  const raw = rawInput(
    obj,
    { pattern, platform, category: category.category, tlp },
    targets,
    references.urls,
    sources,
  );
  return validInput(raw, pattern.type, sources, references.positions);
}

function mapObject(obj: unknown, index: number, ctx: BundleContext, result: StixImport): void {
  const id = isRecord(obj) && typeof obj.id === 'string' ? obj.id : null;
  const reject = (path: string, reason: string): void => {
    result.rejected.push({ index, id, path: `objects.${index}${path}`, code: 'TR_VALIDATION', reason });
  };
  if (!isStixObject(obj)) {
    reject('', 'not a STIX object: an object with a "type" and an "id"');
    return;
  }
  if (obj.type !== 'indicator') {
    result.ignored.push({ index, id, type: obj.type });
    return;
  }
  if (id === null) {
    reject('.id', 'an indicator needs an id');
    return;
  }
  const mapped = mapIndicator(obj, ctx);
  if ('input' in mapped) {
    result.indicators.push({ index, id, input: mapped.input });
    return;
  }
  for (const p of mapped.problems) {
    result.rejected.push({
      index,
      id,
      path: `objects.${index}.${p.path}`,
      code: p.code,
      reason: p.message,
      ...(mapped.type ? { indicatorType: mapped.type } : {}),
    });
  }
}

/**
 * Maps every object of a bundle: indicators that map, every problem of those
 * that do not, and the other objects as ignored. Raises only when the body is
 * not a bundle (TR_VALIDATION, see `bundleObjects`) or when `checkCount`,
 * given the number of indicator objects before any is mapped, refuses it.
 */
export function mapStixBundle(body: unknown, checkCount?: (indicatorObjects: number) => void): StixImport {
  const objects = bundleObjects(body);
  const indicatorObjects = objects.filter((o) => isStixObject(o) && o.type === 'indicator').length;
  checkCount?.(indicatorObjects);
  const ctx = bundleContext(objects);
  const result: StixImport = { indicators: [], rejected: [], ignored: [], indicatorObjects };
  objects.forEach((obj, index) => mapObject(obj, index, ctx, result));
  return result;
}
