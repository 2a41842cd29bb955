import { CATEGORIES, TLP_LEVELS, type Category, type Severity, type Tlp } from '../contract/model';

/**
 * What MISP tags (and the attribute's MISP category) say about an
 * indicator: TLP, category, confidence, threat actor. Each rule is a table
 * docs/misp.md shows. Tags compare case-insensitively, with the quotes
 * MISP's machine tags carry (`namespace:predicate="value"`).
 */

/** `tlp:` tags of MISP's TLP taxonomy; TLP 1.0's white is TLP 2.0's clear. */
const TLP_TAGS: Readonly<Record<string, Tlp>> = {
  'tlp:white': 'clear',
  'tlp:clear': 'clear',
  'tlp:green': 'green',
  'tlp:amber': 'amber',
  'tlp:amber+strict': 'amber+strict',
  'tlp:red': 'red',
};

const lower = (tag: string): string => tag.trim().toLowerCase();

/** The most restrictive TLP among the event's and the attribute's `tlp:` tags, or why there is none. */
export function tlpOf(eventTags: string[], attributeTags: string[]): Tlp | { problem: string } {
  let found: Tlp | undefined;
  for (const tag of [...eventTags, ...attributeTags].map(lower).filter((t) => t.startsWith('tlp:'))) {
    const tlp = TLP_TAGS[tag];
    if (tlp === undefined) {
      return {
        problem: `tag ${tag} is not a TLP level the bus carries (${Object.keys(TLP_TAGS).join(', ')})`,
      };
    }
    if (found === undefined || TLP_LEVELS.indexOf(tlp) > TLP_LEVELS.indexOf(found)) found = tlp;
  }
  return found ?? { problem: 'no tlp: tag on the event or the attribute; tag one (tlp:clear … tlp:red)' };
}

/** `namespace:predicate="value"` split, quotes dropped; a plain tag has only `name`. */
function machineTag(tag: string): { name: string; value?: string } {
  const m = /^([^=]+)="?(.*?)"?$/.exec(tag.trim());
  return m ? { name: lower(m[1]!), value: m[2]! } : { name: lower(tag) };
}

/**
 * Tags of MISP taxonomies that name one of our categories. A tag that is
 * itself one of our categories (`phishing`, `coordinated-inauthentic-behavior`)
 * counts too, as STIX labels do.
 */
export const CATEGORY_TAGS: Readonly<Record<string, Category>> = {
  'circl:incident-classification="malware"': 'malware',
  'circl:incident-classification="phishing"': 'phishing',
  'circl:incident-classification="spam"': 'spam',
  'rsit:fraud="phishing"': 'phishing',
  'rsit:abusive-content="spam"': 'spam',
  'rsit:malicious-code="c2-server"': 'c2',
  'rsit:malicious-code="malware-distribution"': 'malware',
  'rsit:malicious-code="malware-configuration"': 'malware',
  'kill-chain:command and control': 'c2',
  'veris:action:social:variety="phishing"': 'phishing',
};

/** Whole namespaces that only ever classify malware. */
const MALWARE_NAMESPACES = ['ms-caro-malware:', 'malware_classification:'];

function normalizedLabel(tag: string): string {
  return lower(tag).replace(/[\s-]+/g, '_');
}

function categoryOfTag(tag: string): Category | undefined {
  const t = lower(tag);
  const own = machineTag(tag);
  if (own.name === 'threatrelay:category') return undefined;
  const mapped = CATEGORY_TAGS[t] ?? CATEGORY_TAGS[t.replace(/"/g, '')];
  if (mapped) return mapped;
  if (MALWARE_NAMESPACES.some((ns) => t.startsWith(ns))) return 'malware';
  const label = normalizedLabel(tag);
  return (CATEGORIES as readonly string[]).includes(label) ? (label as Category) : undefined;
}

/**
 * MISP attribute categories that say malware. The others say nothing about
 * harm; `Payload delivery` neither: it holds phishing senders and lure URLs
 * as much as droppers.
 */
export const MISP_CATEGORIES: Readonly<Record<string, Category>> = {
  'Antivirus detection': 'malware',
  'Artifacts dropped': 'malware',
  'Payload installation': 'malware',
  'Persistence mechanism': 'malware',
  'Payload type': 'malware',
};

export type CategoryOf = { category: Category; from: string } | { problem: string };

function oneOf(found: Set<Category>, from: string): CategoryOf | undefined {
  if (found.size > 1) {
    return {
      problem: `${from} suggest several categories (${[...found].join(', ')}); tag threatrelay:category="…" to choose`,
    };
  }
  return found.size === 1 ? { category: [...found][0]!, from } : undefined;
}

function ownCategory(tags: string[], from: string): CategoryOf | undefined {
  const values = new Set<string>();
  for (const tag of tags) {
    const t = machineTag(tag);
    if (t.name === 'threatrelay:category' && t.value !== undefined) values.add(t.value);
  }
  if (values.size > 1) return { problem: `${from} carry several threatrelay:category tags` };
  const [value] = values;
  if (value === undefined) return undefined;
  return (CATEGORIES as readonly string[]).includes(value)
    ? { category: value as Category, from }
    : { problem: `threatrelay:category="${value}" is not a category (${CATEGORIES.join(', ')})` };
}

/**
 * The category, most specific statement first: a `threatrelay:category`
 * tag (attribute, then event); the attribute's mapped tags; the event's;
 * the attribute's MISP category; the org's default. Two answers at one
 * level are refused rather than picked from.
 */
export function categoryOf(
  eventTags: string[],
  attributeTags: string[],
  mispCategory: string | undefined,
  fallback: Category,
): CategoryOf {
  const fromTags = (tags: string[], from: string): CategoryOf | undefined =>
    oneOf(new Set(tags.flatMap((t) => categoryOfTag(t) ?? [])), from);
  const mapped = mispCategory === undefined ? undefined : MISP_CATEGORIES[mispCategory];
  return (
    ownCategory(attributeTags, "the attribute's tags") ??
    ownCategory(eventTags, "the event's tags") ??
    fromTags(attributeTags, "the attribute's tags") ??
    fromTags(eventTags, "the event's tags") ??
    (mapped ? { category: mapped, from: `MISP category ${mispCategory}` } : undefined) ?? {
      category: fallback,
      from: "the org's default",
    }
  );
}

/** MISP's confidence-level taxonomy (`misp:confidence-level="…"`), in percent. */
export const CONFIDENCE_TAGS: Readonly<Record<string, number>> = {
  'completely-confident': 100,
  'usually-confident': 75,
  'fairly-confident': 50,
  'rarely-confident': 25,
  unconfident: 0,
  'confidence-cannot-be-evaluated': 50,
};

/** The bus's default when the source says nothing. */
export const DEFAULT_CONFIDENCE = 50;

/**
 * Confidence from the attribute's `misp:confidence-level` tag, else the
 * event's, else 50; halved (rounded down) for an attribute the source did
 * not mark `to_ids`: the source itself says not to detect on it.
 */
export function confidenceOf(eventTags: string[], attributeTags: string[], toIds: boolean): number {
  const level = (tags: string[]): number | undefined =>
    tags
      .map(machineTag)
      .filter((t) => t.name === 'misp:confidence-level' && t.value !== undefined)
      .map((t) => CONFIDENCE_TAGS[t.value!.toLowerCase()])
      .find((n) => n !== undefined);
  const base = level(attributeTags) ?? level(eventTags) ?? DEFAULT_CONFIDENCE;
  return toIds ? base : Math.floor(base / 2);
}

/** MISP's threat_level_id: 1 high, 2 medium, 3 low, 4 undefined (the bus's default, medium). */
export function severityOf(threatLevel: number | undefined): Severity {
  return threatLevel === 1 ? 'high' : threatLevel === 3 ? 'low' : 'medium';
}

/** Threat actors named by `misp-galaxy:threat-actor="…"` tags (attribute and event), sorted. */
export function threatActorOf(eventTags: string[], attributeTags: string[]): string | undefined {
  const names = new Set(
    [...attributeTags, ...eventTags]
      .map(machineTag)
      .filter((t) => t.name === 'misp-galaxy:threat-actor' && t.value)
      .map((t) => t.value!),
  );
  return names.size > 0 ? [...names].sort().join(', ') : undefined;
}

/** The bus's tag bounds: at most 50, each 1 to 64 characters. */
const MAX_TAGS = 50;
const MAX_TAG_LENGTH = 64;

/**
 * The tags carried into the indicator: the attribute's, then the event's,
 * without the ones read as TLP or category choices; tags longer than the
 * bus allows are left out (they stay in MISP), never cut.
 */
export function carriedTags(eventTags: string[], attributeTags: string[]): string[] {
  const kept = [...attributeTags, ...eventTags].filter((t) => {
    const l = lower(t);
    return (
      !l.startsWith('tlp:') && !l.startsWith('threatrelay:') && t.length > 0 && t.length <= MAX_TAG_LENGTH
    );
  });
  return [...new Set(kept)].slice(0, MAX_TAGS);
}
