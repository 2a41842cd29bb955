import { canonicalize } from '../contract/canonical';
import { isThreatRelayError } from '../contract/errors';
import { indicatorInputSchema, type IndicatorInput } from '../contract/indicator';
import { NAMED_RECIPIENT_TLPS, type Category, type Platform, type Tlp } from '../contract/model';
import { zodDetails } from '../platform/config/config';
import { readMispEvent, type MispAttribute, type MispEvent } from './event';
import { ONLY_WHEN_TO_IDS, ipType, objectPlatform, partsOf, type PartTarget } from './table';
import { carriedTags, categoryOf, confidenceOf, severityOf, threatActorOf, tlpOf } from './tags';

/**
 * A MISP event to the bus's indicator inputs: pure, no I/O. Each attribute
 * (objects' included) becomes one indicator per `|`-part that maps, or is
 * listed as skipped with the reason: its type does not map, the source did
 * not mark it `to_ids`, it is a link kept as a reference, or it is refused
 * (no TLP, TLP:RED without recipients, a value invalid for its type).
 * MISP's `distribution` and sharing groups are not read: who may see an
 * indicator on the bus is its TLP and recipients.
 */

export interface MispImportOptions {
  /** Orgs named for attributes whose TLP is amber+strict or red. */
  recipients?: string[] | undefined;
  /** Publish attributes not marked `to_ids`, with their confidence halved. */
  includeNonIds: boolean;
  /** The category when no tag or MISP category names one. */
  defaultCategory: Category;
}

export interface MispMappedIndicator {
  uuid: string;
  /** Where the attribute is in the body (`Event.Object.1.Attribute.0`). */
  path: string;
  /** Position of the `|`-part in a composite value; 0 otherwise. */
  part: number;
  mispType: string;
  /** The attribute's MISP timestamp (epoch seconds), part of its eventId. */
  timestamp: number | undefined;
  input: IndicatorInput;
}

export type SkipKind = 'unmapped' | 'not-to-ids' | 'reference' | 'refused';

export interface MispSkipped {
  uuid: string;
  path: string;
  /** The `|`-part refused, when only one part of a composite was. */
  part?: number;
  mispType: string;
  why: SkipKind;
  /** For refusals: the code the same problem gets on /v1/indicators. */
  code?: 'TR_VALIDATION' | 'TR_INVALID_VALUE';
  reason: string;
}

export interface MispImport {
  eventUuid: string | undefined;
  indicators: MispMappedIndicator[];
  skipped: MispSkipped[];
  /** Every attribute read, mapped or not. */
  attributes: number;
}

const MAX_REFERENCES = 20;

/** The event's links not marked `to_ids`: what the source cites, carried as every indicator's references. */
function referencesOf(event: MispEvent): string[] {
  const urls = event.attributes
    .filter((a) => ONLY_WHEN_TO_IDS.has(a.type) && !a.toIds && !a.object)
    .map((a) => a.value.trim())
    .filter((v) => {
      try {
        return /^https?:$/.test(new URL(v).protocol) && v.length <= 2048;
      } catch {
        return false;
      }
    });
  return [...new Set(urls)].slice(0, MAX_REFERENCES);
}

interface Shared {
  tlp: Tlp;
  category: Category;
  base: Omit<IndicatorInput, 'type' | 'value' | 'platform'>;
}

const iso = (epochSeconds: number): string => new Date(epochSeconds * 1000).toISOString();

/** What every part of one attribute shares, or why the attribute is refused. */
function sharedOf(
  event: MispEvent,
  a: MispAttribute,
  options: MispImportOptions,
  references: string[],
): Shared | string {
  const tlp = tlpOf(event.tags, a.tags);
  if (typeof tlp !== 'string') return tlp.problem;
  const named = NAMED_RECIPIENT_TLPS.includes(tlp);
  if (named && !options.recipients?.length) {
    return `tlp ${tlp} needs recipients: name them with the request (recipients=org,org)`;
  }
  const category = categoryOf(event.tags, a.tags, a.category, options.defaultCategory);
  if ('problem' in category) return category.problem;
  const validFrom = a.firstSeen ?? (a.timestamp === undefined ? undefined : iso(a.timestamp));
  const until = a.lastSeen !== undefined && (validFrom === undefined || a.lastSeen > validFrom);
  const lastSeenNote =
    a.lastSeen !== undefined && !until ? `Last seen by the source: ${a.lastSeen}` : undefined;
  const description = [event.info, a.comment, lastSeenNote].filter(Boolean).join('\n\n') || undefined;
  const threatActor = threatActorOf(event.tags, a.tags);
  const base: Shared['base'] = {
    category: category.category,
    tlp,
    ...(named ? { recipients: options.recipients } : {}),
    confidence: confidenceOf(event.tags, a.tags, a.toIds),
    severity: severityOf(event.threatLevel),
    ...(validFrom ? { validFrom } : {}),
    ...(until ? { validUntil: a.lastSeen } : {}),
    ...(a.firstSeen ? { firstSeen: a.firstSeen } : {}),
    ...(threatActor ? { threatActor } : {}),
    tags: carriedTags(event.tags, a.tags),
    ...(description ? { description } : {}),
    references,
  };
  return { tlp, category: category.category, base };
}

type PartResult = { input: IndicatorInput } | { code: 'TR_VALIDATION' | 'TR_INVALID_VALUE'; reason: string };

function mapPart(a: MispAttribute, target: PartTarget, value: string, shared: Shared): PartResult {
  let platform: Platform | undefined;
  if (target.platform === 'fromObject') {
    const p = objectPlatform(a);
    if (typeof p !== 'string') return { code: 'TR_VALIDATION', reason: p.problem };
    platform = p;
  } else {
    platform = target.platform;
  }
  const type = target.type === 'ip' ? ipType(value.trim()) : target.type;
  const parsed = indicatorInputSchema.safeParse({
    ...shared.base,
    type,
    value,
    ...(platform ? { platform } : {}),
  });
  if (!parsed.success) {
    const reason = zodDetails(parsed.error)
      .map((d) => `${d.path}: ${d.message}`)
      .join('; ');
    return { code: 'TR_VALIDATION', reason };
  }
  try {
    canonicalize(parsed.data.type, parsed.data.value, parsed.data.platform ?? null);
  } catch (err) {
    if (!isThreatRelayError(err, 'TR_INVALID_VALUE')) throw err;
    return { code: 'TR_INVALID_VALUE', reason: `${type}: ${err.message}` };
  }
  return { input: parsed.data };
}

function mapAttribute(
  event: MispEvent,
  a: MispAttribute,
  options: MispImportOptions,
  references: string[],
  out: MispImport,
): void {
  const skip = (why: SkipKind, reason: string, extra: Partial<MispSkipped> = {}): void => {
    out.skipped.push({ uuid: a.uuid, path: a.path, mispType: a.type, why, reason, ...extra });
  };
  const parts = partsOf(a);
  if ('unmapped' in parts) return skip('unmapped', parts.unmapped);
  if ('refused' in parts) return skip('refused', parts.refused, { code: 'TR_VALIDATION' });
  if (!a.toIds && ONLY_WHEN_TO_IDS.has(a.type) && !a.object) {
    return skip('reference', `${a.type} without to_ids is a reference of the event's indicators`);
  }
  if (!a.toIds && ONLY_WHEN_TO_IDS.has(a.type)) {
    return skip('not-to-ids', `a ${a.type} is an indicator only when to_ids is true`);
  }
  if (!a.toIds && !options.includeNonIds) {
    return skip(
      'not-to-ids',
      'to_ids is false: the source does not mark it for detection (includeNonIds=true publishes it)',
    );
  }
  const values = parts.parts.length > 1 ? a.value.split('|') : [a.value];
  if (values.length !== parts.parts.length) {
    const reason = `a ${a.type} value has ${parts.parts.length} parts separated by |, this one has ${values.length}`;
    return skip('refused', reason, { code: 'TR_VALIDATION' });
  }
  const shared = sharedOf(event, a, options, references);
  if (typeof shared === 'string') return skip('refused', shared, { code: 'TR_VALIDATION' });
  parts.parts.forEach((target, part) => {
    if (target === null) return;
    const mapped = mapPart(a, target, values[part]!, shared);
    if ('input' in mapped) {
      out.indicators.push({
        uuid: a.uuid,
        path: a.path,
        part,
        mispType: a.type,
        timestamp: a.timestamp,
        input: mapped.input,
      });
    } else {
      skip('refused', mapped.reason, { code: mapped.code, ...(parts.parts.length > 1 ? { part } : {}) });
    }
  });
}

/**
 * Maps every attribute of a MISP event. Raises TR_VALIDATION only when the
 * body is not a MISP event or is malformed (see `readMispEvent`).
 */
export function mapMispEvent(body: unknown, options: MispImportOptions): MispImport {
  const event = readMispEvent(body);
  const references = referencesOf(event);
  const out: MispImport = {
    eventUuid: event.uuid,
    indicators: [],
    skipped: [],
    attributes: event.attributes.length,
  };
  for (const a of event.attributes) mapAttribute(event, a, options, references, out);
  return out;
}
