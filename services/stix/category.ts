import { CATEGORIES, type Category } from '../contract/model';
import type { StixObject } from './object';

/**
 * STIX's indicator-type-ov says what kind of activity an indicator points at,
 * not what harm it does: none of its values means disinformation, phishing
 * or malware, so each maps to `other` unless something more specific says
 * otherwise (see `categoryOf`). `benign` is refused: the bus carries threats.
 */
export const INDICATOR_TYPE_CATEGORIES: Readonly<Record<string, Category | 'refuse'>> = {
  'anomalous-activity': 'other',
  anonymization: 'other',
  attribution: 'other',
  compromised: 'other',
  'malicious-activity': 'other',
  unknown: 'other',
  benign: 'refuse',
};

/** The category and the property it was read from, or why none can be chosen. */
export type CategoryOf =
  { category: Category; from: string } | { problem: { path: string; message: string } };

function normalizedLabel(label: string): string {
  return label
    .trim()
    .toLowerCase()
    .replace(/[\s-]+/g, '_');
}

function categoriesOfTargets(targets: StixObject[]): Set<Category> {
  const found = new Set<Category>();
  for (const t of targets) {
    if (t.type === 'malware') found.add('malware');
    const infra =
      t.type === 'infrastructure' && Array.isArray(t.infrastructure_types) ? t.infrastructure_types : [];
    if (infra.includes('command-and-control')) found.add('c2');
    if (infra.includes('phishing')) found.add('phishing');
  }
  return found;
}

/** One level's answer: undefined when it says nothing, a problem when it says two things. */
function oneOf(found: Set<Category>, from: string): CategoryOf | undefined {
  if (found.size > 1) {
    const message = `suggests several categories (${[...found].join(', ')}); say which with x_threatrelay_category`;
    return { problem: { path: from, message } };
  }
  return found.size === 1 ? { category: [...found][0]!, from } : undefined;
}

/**
 * The category, from the most specific statement to the least: the custom
 * property; a label that is one of our categories (`phishing`,
 * `coordinated-inauthentic-behavior`); what the indicator `indicates`
 * (malware, or infrastructure typed command-and-control or phishing); the
 * indicator_types table. Two different answers at the same level are
 * refused rather than picked from.
 */
export function categoryOf(obj: StixObject, targets: StixObject[]): CategoryOf {
  if (obj.x_threatrelay_category !== undefined) {
    // The indicator schema reports a value that is not a category.
    return { category: obj.x_threatrelay_category as Category, from: 'x_threatrelay_category' };
  }
  const labels = Array.isArray(obj.labels) ? obj.labels.filter((l) => typeof l === 'string') : [];
  const fromLabels = new Set(
    labels.map(normalizedLabel).filter((l): l is Category => (CATEGORIES as readonly string[]).includes(l)),
  );
  const stated = oneOf(fromLabels, 'labels') ?? oneOf(categoriesOfTargets(targets), 'indicates');
  if (stated) return stated;

  const types = Array.isArray(obj.indicator_types) ? obj.indicator_types : [];
  if (types.some((t) => INDICATOR_TYPE_CATEGORIES[String(t)] === 'refuse')) {
    return {
      problem: {
        path: 'indicator_types',
        message: 'a benign indicator is not a threat; the bus shares threats only',
      },
    };
  }
  return { category: 'other', from: 'indicator_types' };
}
