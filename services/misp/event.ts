import { ThreatRelayError, type ErrorDetail } from '../contract/errors';
import { isRecord } from '../platform/json';

/**
 * A MISP event as PyMISP writes it (`{"Event": {...}}`, or the bare event
 * that `MISPEvent.to_json()` gives), read into the few fields the importer
 * uses: the event's own context and every attribute, those of objects
 * included, each with the path it came from. Pure; no I/O.
 *
 * MISP writes numbers and booleans loosely (`"timestamp": "1472541011"`,
 * `"to_ids": "1"` from older exports), so those fields accept both
 * spellings; anything else that is not what MISP writes is a precise error.
 */

export interface MispObjectContext {
  name: string;
  /** The attribute's `object_relation` inside the object. */
  relation: string;
  /** The object's attributes by relation, first value each: a social account's platform lives in a sibling. */
  siblings: ReadonlyMap<string, string>;
}

export interface MispAttribute {
  /** Where in the body: `Event.Attribute.3` or `Event.Object.1.Attribute.0`. */
  path: string;
  uuid: string;
  type: string;
  value: string;
  category: string | undefined;
  /** Absent in the source counts as false: nothing says to detect on it. */
  toIds: boolean;
  /** Epoch seconds of the last edit; undefined when the source has none. */
  timestamp: number | undefined;
  firstSeen: string | undefined;
  lastSeen: string | undefined;
  comment: string | undefined;
  tags: string[];
  object: MispObjectContext | undefined;
}

export interface MispEvent {
  uuid: string | undefined;
  info: string | undefined;
  /** MISP's threat level: 1 high, 2 medium, 3 low, 4 undefined. */
  threatLevel: number | undefined;
  timestamp: number | undefined;
  tags: string[];
  attributes: MispAttribute[];
}

type Problems = ErrorDetail[];

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function integer(value: unknown, path: string, problems: Problems): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const n = typeof value === 'string' && /^\d{1,15}$/.test(value) ? Number(value) : value;
  if (typeof n === 'number' && Number.isSafeInteger(n) && n >= 0) return n;
  problems.push({
    path,
    message: 'must be a non-negative integer: a number, or a string of at most 15 digits',
  });
  return undefined;
}

function bool(value: unknown, path: string, problems: Problems): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value === 'boolean') return value;
  if (value === 0 || value === '0') return false;
  if (value === 1 || value === '1') return true;
  problems.push({ path, message: 'must be true or false (or 1 or 0)' });
  return false;
}

function text(value: unknown, path: string, problems: Problems): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  problems.push({ path, message: 'must be a string' });
  return undefined;
}

function date(value: unknown, path: string, problems: Problems): string | undefined {
  const s = text(value, path, problems);
  if (s === undefined || s === '') return undefined;
  const ms = Date.parse(s);
  if (Number.isNaN(ms) || !/^\d{4}-\d{2}-\d{2}T/.test(s)) {
    problems.push({ path, message: `${JSON.stringify(s)} is not an ISO-8601 date-time` });
    return undefined;
  }
  return new Date(ms).toISOString();
}

function list(value: unknown, path: string, problems: Problems): unknown[] {
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) return value;
  problems.push({ path, message: 'must be an array' });
  return [];
}

/** Tag names; MISP writes `[{ "name": "tlp:green", ... }]`. */
function tagNames(value: unknown, path: string, problems: Problems): string[] {
  return list(value, path, problems).flatMap((tag, i) => {
    if (isRecord(tag) && typeof tag.name === 'string') return [tag.name.trim()];
    problems.push({ path: `${path}.${i}`, message: 'a tag is an object with a "name" string' });
    return [];
  });
}

function readAttribute(
  raw: unknown,
  path: string,
  object: Omit<MispObjectContext, 'relation'> | undefined,
  problems: Problems,
): MispAttribute | undefined {
  if (!isRecord(raw)) {
    problems.push({ path, message: 'an attribute is a JSON object' });
    return undefined;
  }
  const before = problems.length;
  const uuid = text(raw.uuid, `${path}.uuid`, problems);
  if (uuid === undefined || !UUID.test(uuid)) {
    problems.push({
      path: `${path}.uuid`,
      message: 'an attribute needs a uuid: its eventIds derive from it',
    });
  }
  const type = text(raw.type, `${path}.type`, problems);
  if (!type) problems.push({ path: `${path}.type`, message: 'an attribute needs a type' });
  const value =
    typeof raw.value === 'number' ? String(raw.value) : text(raw.value, `${path}.value`, problems);
  if (value === undefined) problems.push({ path: `${path}.value`, message: 'an attribute needs a value' });
  const attribute: MispAttribute = {
    path,
    uuid: (uuid ?? '').toLowerCase(),
    type: type ?? '',
    value: value ?? '',
    category: text(raw.category, `${path}.category`, problems),
    toIds: bool(raw.to_ids, `${path}.to_ids`, problems),
    timestamp: integer(raw.timestamp, `${path}.timestamp`, problems),
    firstSeen: date(raw.first_seen, `${path}.first_seen`, problems),
    lastSeen: date(raw.last_seen, `${path}.last_seen`, problems),
    comment: text(raw.comment, `${path}.comment`, problems)?.trim() || undefined,
    tags: tagNames(raw.Tag, `${path}.Tag`, problems),
    object: object && {
      ...object,
      relation: text(raw.object_relation, `${path}.object_relation`, problems) ?? '',
    },
  };
  return problems.length === before ? attribute : undefined;
}

function readObject(raw: unknown, path: string, problems: Problems): MispAttribute[] {
  if (!isRecord(raw)) {
    problems.push({ path, message: 'an object is a JSON object' });
    return [];
  }
  const attributes = list(raw.Attribute, `${path}.Attribute`, problems);
  const siblings = new Map<string, string>();
  for (const a of attributes) {
    if (isRecord(a) && typeof a.object_relation === 'string' && typeof a.value === 'string') {
      if (!siblings.has(a.object_relation)) siblings.set(a.object_relation, a.value);
    }
  }
  const name = typeof raw.name === 'string' ? raw.name : '';
  return attributes.flatMap(
    (a, i) => readAttribute(a, `${path}.Attribute.${i}`, { name, siblings }, problems) ?? [],
  );
}

/** The event inside a body: `{"Event": {...}}`, or the bare event PyMISP's `to_json()` writes. */
export function eventOf(body: unknown): { event: Record<string, unknown>; at: string } {
  if (isRecord(body) && isRecord(body.Event)) return { event: body.Event, at: 'Event' };
  if (
    isRecord(body) &&
    body.Event === undefined &&
    (body.Attribute !== undefined || body.Object !== undefined)
  ) {
    return { event: body, at: '' };
  }
  throw new ThreatRelayError('TR_VALIDATION', 'the body is not a MISP event', {
    details: [{ path: 'Event', message: 'expected {"Event": {...}} with Attribute or Object arrays' }],
  });
}

/**
 * Reads a MISP event. Every structural problem (a tag without a name, an
 * attribute without a uuid, a timestamp that is not a number) is collected
 * and raised at once as TR_VALIDATION: a body MISP could not have written
 * publishes nothing.
 */
export function readMispEvent(body: unknown): MispEvent {
  const { event, at } = eventOf(body);
  const p = (name: string): string => (at ? `${at}.${name}` : name);
  const problems: Problems = [];
  const attributes = [
    ...list(event.Attribute, p('Attribute'), problems).flatMap(
      (a, i) => readAttribute(a, p(`Attribute.${i}`), undefined, problems) ?? [],
    ),
    ...list(event.Object, p('Object'), problems).flatMap((o, i) => readObject(o, p(`Object.${i}`), problems)),
  ];
  const read: MispEvent = {
    uuid: text(event.uuid, p('uuid'), problems),
    info: text(event.info, p('info'), problems)?.trim() || undefined,
    threatLevel: integer(event.threat_level_id, p('threat_level_id'), problems),
    timestamp: integer(event.timestamp, p('timestamp'), problems),
    tags: tagNames(event.Tag, p('Tag'), problems),
    attributes,
  };
  if (problems.length > 0) {
    throw new ThreatRelayError(
      'TR_VALIDATION',
      `the MISP event is malformed: ${problems.length} problem(s)`,
      {
        details: problems,
      },
    );
  }
  return read;
}
