import { canonicalize } from '../contract/canonical';
import { zodDetails } from '../platform/config/config';
import { isThreatRelayError } from '../contract/errors';
import { indicatorInputSchema, type IndicatorInput } from '../contract/indicator';
import {
  CATEGORIES,
  PLATFORMS,
  type Category,
  type IndicatorType,
  type Platform,
  type Tlp,
} from '../contract/model';

/**
 * STIX 2.1 bundles to the bus's indicator model: pure functions, no I/O.
 *
 * Only what maps without a guess is mapped. An `indicator` whose pattern is
 * one simple comparison (`[domain-name:value = '…']`) becomes one indicator;
 * anything a STIX pattern can say that one indicator cannot (OR, FOLLOWEDBY,
 * qualifiers, LIKE/MATCHES, a property we have no type for) is rejected for
 * that object, with the reason, so the publisher can see exactly what was
 * not shared. Objects that are not indicators (identities, markings,
 * relationships, campaigns, …) are context: they are reported as ignored,
 * and the ones an indicator points to are read for its TLP, campaign,
 * threat actor and category.
 *
 * ThreatRelay's own fields that STIX has no property for travel as custom
 * properties on the indicator: `x_threatrelay_recipients` (org ids, required
 * for TLP:AMBER+STRICT and TLP:RED), `x_threatrelay_platform` (for a
 * user-account pattern without `account_type`), `x_threatrelay_category` and
 * `x_threatrelay_severity`. Any other `x_threatrelay_` property is a typo and
 * rejects the object.
 */

/**
 * The TLP marking-definition ids every STIX producer uses. TLP 2.0 ids are
 * the OASIS ones from cti-stix-common-objects (extension
 * `extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d`); TLP 1.0 ids
 * are predefined by STIX 2.1 §7.2.1.4, and TLP 2.0 renamed WHITE to CLEAR.
 */
export const TLP2_MARKING_IDS: Readonly<Record<Tlp, string>> = {
  clear: 'marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487',
  green: 'marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb',
  amber: 'marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421',
  'amber+strict': 'marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003',
  red: 'marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1',
};

export const TLP1_MARKING_IDS: Readonly<Record<'white' | 'green' | 'amber' | 'red', string>> = {
  white: 'marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9',
  green: 'marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da',
  amber: 'marking-definition--f88d31f6-486f-44da-b317-01333bde0b82',
  red: 'marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed',
};

const TLP2_EXTENSION = 'extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d';

const STANDARD_TLP: ReadonlyMap<string, Tlp> = new Map<string, Tlp>([
  ...Object.entries(TLP2_MARKING_IDS).map(([tlp, id]) => [id, tlp as Tlp] as const),
  ...Object.entries(TLP1_MARKING_IDS).map(
    ([tlp, id]) => [id, tlp === 'white' ? 'clear' : (tlp as Tlp)] as const,
  ),
]);

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

/** account-type-ov values and common spellings that name one of our platforms differently. */
const ACCOUNT_TYPE_ALIASES: Readonly<Record<string, Platform>> = { x: 'twitter', 'x.com': 'twitter' };

/** Hash names as written in `file:hashes.<name>`, upper-cased without `-`/`_`. */
const HASH_TYPES: Readonly<Record<string, IndicatorType>> = {
  MD5: 'md5',
  SHA1: 'sha1',
  SHA256: 'sha256',
  // Not in STIX's hash-algorithm-ov (it is open): the perceptual image hash
  // platforms share for manipulated media.
  PDQ: 'pdq',
};

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

/** Thrown when the body is not a bundle at all; per-object problems are never thrown. */
export class StixBundleError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
    this.name = 'StixBundleError';
  }
}

type StixObject = Record<string, unknown> & { type: string };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const BUNDLE_ID = /^bundle--[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The bundle's objects; throws StixBundleError when the body is not a STIX bundle. */
export function bundleObjects(body: unknown): unknown[] {
  if (!isRecord(body) || body.type !== 'bundle') {
    throw new StixBundleError(
      'type',
      'must be a STIX bundle: {"type": "bundle", "id": "bundle--…", "objects": […]}',
    );
  }
  if (typeof body.id !== 'string' || !BUNDLE_ID.test(body.id)) {
    throw new StixBundleError('id', 'must be "bundle--" followed by a UUID');
  }
  if (body.objects === undefined) return [];
  if (!Array.isArray(body.objects)) throw new StixBundleError('objects', 'must be an array of STIX objects');
  return body.objects;
}

function isStixObject(value: unknown): value is StixObject {
  return isRecord(value) && typeof value.type === 'string' && value.type !== '';
}

/** Lookups over a bundle's context objects, built once per bundle. */
interface BundleContext {
  byId: Map<string, StixObject>;
  /** TLP of each marking-definition id: the standard ones and TLP markings defined in the bundle. */
  tlpOf: Map<string, Tlp>;
  /** `indicates` relationships by their source indicator id. */
  indicates: Map<string, StixObject[]>;
}

function tlpDefinedBy(marking: StixObject): Tlp | undefined {
  const extension = isRecord(marking.extensions) ? marking.extensions[TLP2_EXTENSION] : undefined;
  if (isRecord(extension) && typeof extension.tlp_2_0 === 'string') {
    const level = extension.tlp_2_0.toLowerCase();
    return (['clear', 'green', 'amber', 'amber+strict', 'red'] as string[]).includes(level)
      ? (level as Tlp)
      : undefined;
  }
  if (marking.definition_type === 'tlp' && isRecord(marking.definition)) {
    const level = String(marking.definition.tlp).toLowerCase();
    if (level === 'white') return 'clear';
    return (['green', 'amber', 'red'] as string[]).includes(level) ? (level as Tlp) : undefined;
  }
  return undefined;
}

function bundleContext(objects: unknown[]): BundleContext {
  const byId = new Map<string, StixObject>();
  const tlpOf = new Map(STANDARD_TLP);
  const indicates = new Map<string, StixObject[]>();
  for (const o of objects) {
    if (!isStixObject(o) || typeof o.id !== 'string') continue;
    if (!byId.has(o.id)) byId.set(o.id, o);
    // Publishers with their own TLP marking objects (MISP exports, older
    // tools) are authoritative on their own markings; a standard id keeps
    // its standard meaning whatever a bundle redefines it as.
    if (o.type === 'marking-definition' && !STANDARD_TLP.has(o.id)) {
      const tlp = tlpDefinedBy(o);
      if (tlp) tlpOf.set(o.id, tlp);
    }
    if (
      o.type === 'relationship' &&
      o.relationship_type === 'indicates' &&
      typeof o.source_ref === 'string'
    ) {
      indicates.set(o.source_ref, [...(indicates.get(o.source_ref) ?? []), o]);
    }
  }
  return { byId, tlpOf, indicates };
}

/**
 * The ids of the context objects the given indicators are read with (their
 * markings, `indicates` relationships and those relationships' targets), so
 * a client that splits a bundle into chunks can send each chunk with what its
 * indicators need.
 */
export function contextObjectIds(indicators: Record<string, unknown>[], objects: unknown[]): Set<string> {
  const ctx = bundleContext(objects);
  const ids = new Set<string>();
  for (const ind of indicators) {
    for (const ref of Array.isArray(ind.object_marking_refs) ? ind.object_marking_refs : []) {
      if (typeof ref === 'string' && ctx.byId.has(ref)) ids.add(ref);
    }
    for (const rel of typeof ind.id === 'string' ? (ctx.indicates.get(ind.id) ?? []) : []) {
      ids.add(rel.id as string);
      if (typeof rel.target_ref === 'string' && ctx.byId.has(rel.target_ref)) ids.add(rel.target_ref);
    }
  }
  return ids;
}

// ---------------------------------------------------------------- patterns

export interface Comparison {
  objectType: string;
  /** Property path components, quotes removed: `hashes.'SHA-256'` is ['hashes', 'SHA-256']. */
  property: string[];
  value: string | number;
}

/** Why a pattern does not map; `message` is said to the publisher as is. */
export class PatternError extends Error {
  override name = 'PatternError';
}

type Token =
  | { kind: 'punct'; text: '[' | ']' | '(' | ')' | ',' }
  | { kind: 'op'; text: string }
  | { kind: 'string'; value: string; prefix: string }
  | { kind: 'number'; value: number; text: string }
  | { kind: 'path'; objectType: string; property: string[]; text: string }
  | { kind: 'word'; text: string };

const KEYWORD_REASONS: Record<string, string> = {
  OR: 'OR matches any of several things; publish each as its own indicator',
  FOLLOWEDBY: 'FOLLOWEDBY describes a sequence of observations, not one indicator',
  WITHIN: 'qualifiers (WITHIN) describe when observations occur, not one indicator',
  REPEATS: 'qualifiers (REPEATS) describe how often observations occur, not one indicator',
  START: 'qualifiers (START … STOP) describe when observations occur, not one indicator',
  STOP: 'qualifiers (START … STOP) describe when observations occur, not one indicator',
  NOT: 'NOT negates a comparison; only equality (=) with one value maps to an indicator',
  LIKE: 'LIKE matches many values; only equality (=) with one value maps to an indicator',
  MATCHES: 'MATCHES (a regular expression) matches many values; only equality (=) maps to an indicator',
  IN: 'IN matches a set of values; publish each value as its own indicator',
  ISSUBSET: 'ISSUBSET matches a range of addresses; publish the network as a CIDR value with =',
  ISSUPERSET: 'ISSUPERSET matches a range of addresses; only equality (=) maps to an indicator',
  EXISTS: 'EXISTS tests for a property, not a value',
};

function tokenize(pattern: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const fail = (what: string): never => {
    throw new PatternError(`the pattern is not valid STIX patterning: ${what} at character ${i + 1}`);
  };
  const readQuoted = (): string => {
    // At the opening quote; STIX escapes only \' and \\ inside string literals.
    let out = '';
    i++;
    for (;;) {
      const c = pattern[i];
      if (c === undefined) fail('an unterminated string');
      if (c === '\\') {
        const next = pattern[i + 1];
        if (next !== "'" && next !== '\\') fail(`an invalid escape \\${next ?? ''}`);
        out += next;
        i += 2;
        continue;
      }
      i++;
      if (c === "'") return out;
      out += c;
    }
  };
  while (i < pattern.length) {
    const c = pattern[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '[' || c === ']' || c === '(' || c === ')' || c === ',') {
      tokens.push({ kind: 'punct', text: c });
      i++;
    } else if (c === "'") {
      tokens.push({ kind: 'string', value: readQuoted(), prefix: '' });
    } else if (/[bht]/.test(c) && pattern[i + 1] === "'") {
      i++;
      tokens.push({ kind: 'string', value: readQuoted(), prefix: c });
    } else if (/[=!<>]/.test(c)) {
      const op = /^(?:!=|<=|>=|=|<|>)/.exec(pattern.slice(i))?.[0] ?? fail(`an unknown operator ${c}`);
      tokens.push({ kind: 'op', text: op });
      i += op.length;
    } else if (/[-+\d]/.test(c)) {
      const text = /^[-+]?\d+(?:\.\d+)?/.exec(pattern.slice(i))?.[0] ?? fail('a malformed number');
      tokens.push({ kind: 'number', value: Number(text), text });
      i += text.length;
    } else if (/[A-Za-z_]/.test(c)) {
      const head = /^[A-Za-z0-9_-]+/.exec(pattern.slice(i))![0];
      if (pattern[i + head.length] !== ':') {
        tokens.push({ kind: 'word', text: head });
        i += head.length;
        continue;
      }
      const start = i;
      i += head.length + 1;
      const property: string[] = [];
      const name = /^[A-Za-z0-9_-]+/.exec(pattern.slice(i))?.[0] ?? fail('an object path without a property');
      property.push(name);
      i += name.length;
      for (;;) {
        if (pattern[i] === '.') {
          i++;
          if (pattern[i] === "'") {
            property.push(readQuoted());
          } else {
            const part = /^[A-Za-z0-9_-]+/.exec(pattern.slice(i))?.[0] ?? fail('an empty path component');
            property.push(part);
            i += part.length;
          }
        } else if (pattern[i] === '[' && /^\[(?:\d+|\*)\]/.test(pattern.slice(i))) {
          const index = /^\[(\d+|\*)\]/.exec(pattern.slice(i))![0];
          property.push(index);
          i += index.length;
        } else {
          break;
        }
      }
      tokens.push({ kind: 'path', objectType: head, property, text: pattern.slice(start, i) });
    } else {
      fail(`an unexpected ${JSON.stringify(c)}`);
    }
  }
  return tokens;
}

/**
 * The comparisons of a pattern that is one observation expression whose
 * comparisons are all `=` joined by AND; anything else throws PatternError
 * with the reason.
 */
export function parseSimplePattern(pattern: string): Comparison[] {
  const tokens = tokenize(pattern);
  for (const t of tokens) {
    if (t.kind === 'word') {
      const word = t.text.toUpperCase();
      const reason = KEYWORD_REASONS[word];
      if (reason) throw new PatternError(reason);
      if (word !== 'AND')
        throw new PatternError(`the pattern is not valid STIX patterning: unexpected ${t.text}`);
    }
  }
  const observations = tokens.filter((t) => t.kind === 'punct' && t.text === '[').length;
  if (observations !== 1) {
    throw new PatternError(
      observations === 0
        ? 'the pattern has no observation expression ([ … ])'
        : `the pattern joins ${observations} observation expressions; only one [ … ] maps to an indicator`,
    );
  }
  // With only AND left, parentheses cannot change what the pattern means.
  const rest = tokens.filter((t) => !(t.kind === 'punct' && (t.text === '(' || t.text === ')')));
  const expect = (ok: boolean, what: string): void => {
    if (!ok) throw new PatternError(`the pattern is not valid STIX patterning: expected ${what}`);
  };
  expect(rest[0]?.kind === 'punct' && rest[0].text === '[', '[ at the start');
  const last = rest.at(-1);
  expect(last?.kind === 'punct' && last.text === ']', '] at the end');
  const inner = rest.slice(1, -1);
  const comparisons: Comparison[] = [];
  for (let i = 0; i < inner.length; i += 4) {
    const [path, op, literal, joiner] = inner.slice(i, i + 4);
    expect(path?.kind === 'path', 'an object path (like domain-name:value)');
    if (op?.kind !== 'op')
      throw new PatternError('the pattern is not valid STIX patterning: expected an operator');
    if (op.text !== '=') {
      throw new PatternError(
        `the operator ${op.text} matches many values; only equality (=) maps to an indicator`,
      );
    }
    if (literal?.kind === 'string' && literal.prefix !== '') {
      const kind = { b: 'binary', h: 'hex', t: 'timestamp' }[literal.prefix];
      throw new PatternError(`a ${kind} literal (${literal.prefix}'…') does not map to an indicator value`);
    }
    if (literal?.kind !== 'string' && literal?.kind !== 'number') {
      throw new PatternError('the pattern is not valid STIX patterning: expected a value after =');
    }
    if (joiner !== undefined && !(joiner.kind === 'word' && joiner.text.toUpperCase() === 'AND')) {
      throw new PatternError('the pattern is not valid STIX patterning: expected AND between comparisons');
    }
    if (joiner !== undefined && i + 4 >= inner.length) {
      throw new PatternError('the pattern is not valid STIX patterning: nothing after AND');
    }
    const p = path as Extract<Token, { kind: 'path' }>;
    comparisons.push({ objectType: p.objectType, property: p.property, value: literal.value });
  }
  return comparisons;
}

interface PatternIndicator {
  type: IndicatorType;
  value: string;
  /** From `user-account:account_type`, when the pattern gives it. */
  platform?: Platform;
}

function stringValue(c: Comparison): string {
  if (typeof c.value !== 'string') {
    throw new PatternError(`${c.objectType}:${c.property.join('.')} takes a string value in quotes`);
  }
  return c.value;
}

function platformFromAccountType(accountType: string): Platform {
  const normalized = accountType.trim().toLowerCase();
  const platform = ACCOUNT_TYPE_ALIASES[normalized] ?? normalized;
  if (!(PLATFORMS as readonly string[]).includes(platform)) {
    throw new PatternError(
      `user-account:account_type '${accountType}' is not a platform ThreatRelay knows (${PLATFORMS.join(', ')})`,
    );
  }
  return platform as Platform;
}

function single(c: Comparison): PatternIndicator {
  const where = `${c.objectType}:${c.property.join('.')}`;
  const prop = c.property;
  switch (c.objectType) {
    case 'domain-name':
      if (prop.join('.') === 'value') return { type: 'domain', value: stringValue(c) };
      break;
    case 'url':
      if (prop.join('.') === 'value') return { type: 'url', value: stringValue(c) };
      break;
    case 'email-addr':
      if (prop.join('.') === 'value') return { type: 'email', value: stringValue(c) };
      break;
    case 'ipv4-addr':
    case 'ipv6-addr':
      if (prop.join('.') === 'value') {
        const value = stringValue(c);
        // STIX puts networks in the same property, as CIDR.
        if (value.includes('/')) return { type: 'cidr', value };
        return { type: c.objectType === 'ipv4-addr' ? 'ipv4' : 'ipv6', value };
      }
      break;
    case 'autonomous-system':
      if (prop.join('.') === 'number') return { type: 'asn', value: String(c.value) };
      break;
    case 'file':
    case 'artifact':
      if (prop.length === 2 && prop[0] === 'hashes') {
        const name = prop[1]!.toUpperCase().replace(/[-_]/g, '');
        const type = HASH_TYPES[name];
        if (!type) {
          throw new PatternError(
            `${where}: hash algorithm ${prop[1]} has no indicator type here (MD5, SHA-1, SHA-256 and PDQ do)`,
          );
        }
        return { type, value: stringValue(c) };
      }
      break;
    case 'user-account':
      if (prop.join('.') === 'account_login') return { type: 'social_account', value: stringValue(c) };
      break;
  }
  throw new PatternError(`${where} does not map to an indicator type`);
}

/** The indicator a simple pattern names; throws PatternError with the reason otherwise. */
export function indicatorFromPattern(pattern: string): PatternIndicator {
  const comparisons = parseSimplePattern(pattern);
  if (comparisons.length === 1) return single(comparisons[0]!);
  // The one compound that still names one thing: an account on a platform.
  const byProperty = new Map(comparisons.map((c) => [`${c.objectType}:${c.property.join('.')}`, c] as const));
  const login = byProperty.get('user-account:account_login');
  const accountType = byProperty.get('user-account:account_type');
  if (comparisons.length === 2 && login && accountType) {
    return {
      type: 'social_account',
      value: stringValue(login),
      platform: platformFromAccountType(stringValue(accountType)),
    };
  }
  throw new PatternError(
    'the pattern ANDs several comparisons; only user-account:account_login AND user-account:account_type maps to one indicator',
  );
}

// ---------------------------------------------------------------- indicators

/** Where each field of our input came from in the STIX object, for reporting problems. */
type Sources = Partial<Record<keyof IndicatorInput, string>>;

interface Problem {
  path: string;
  message: string;
  code: StixRejection['code'];
}

const validation = (path: string, message: string): Problem => ({ path, message, code: 'TR_VALIDATION' });

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

function normalizedLabel(label: string): string {
  return label
    .trim()
    .toLowerCase()
    .replace(/[\s-]+/g, '_');
}

/**
 * The category, from the most specific statement to the least: the custom
 * property; a label that is one of our categories (`phishing`,
 * `coordinated-inauthentic-behavior`); what the indicator `indicates`
 * (malware, or infrastructure typed command-and-control or phishing); the
 * indicator_types table. Two different answers at the same level are
 * refused rather than picked from.
 */
function categoryOf(
  obj: StixObject,
  targets: StixObject[],
  sources: Sources,
): Category | undefined | Problem {
  if (obj.x_threatrelay_category !== undefined) {
    sources.category = 'x_threatrelay_category';
    return obj.x_threatrelay_category as Category; // the schema reports a wrong value
  }
  const decide = (found: Set<Category>, from: string): Category | Problem | undefined => {
    if (found.size > 1) {
      return validation(
        from,
        `suggests several categories (${[...found].join(', ')}); say which with x_threatrelay_category`,
      );
    }
    sources.category = from;
    return found.size === 1 ? [...found][0] : undefined;
  };
  const labels = Array.isArray(obj.labels) ? obj.labels.filter((l) => typeof l === 'string') : [];
  const fromLabels = new Set(
    labels.map(normalizedLabel).filter((l): l is Category => (CATEGORIES as readonly string[]).includes(l)),
  );
  const byLabel = decide(fromLabels, 'labels');
  if (byLabel !== undefined) return byLabel;

  const fromTargets = new Set<Category>();
  for (const t of targets) {
    if (t.type === 'malware') fromTargets.add('malware');
    const infra =
      t.type === 'infrastructure' && Array.isArray(t.infrastructure_types) ? t.infrastructure_types : [];
    if (infra.includes('command-and-control')) fromTargets.add('c2');
    if (infra.includes('phishing')) fromTargets.add('phishing');
  }
  const byTarget = decide(fromTargets, 'indicates');
  if (byTarget !== undefined) return byTarget;

  sources.category = 'indicator_types';
  const types = Array.isArray(obj.indicator_types) ? obj.indicator_types : [];
  if (types.some((t) => INDICATOR_TYPE_CATEGORIES[String(t)] === 'refuse')) {
    return validation('indicator_types', 'a benign indicator is not a threat; the bus shares threats only');
  }
  return 'other';
}

function isProblem(value: unknown): value is Problem {
  return isRecord(value) && typeof value.path === 'string' && typeof value.code === 'string';
}

/** Maps one indicator object; returns its input or every problem found. */
function mapIndicator(
  obj: StixObject,
  ctx: BundleContext,
): { input: IndicatorInput } | { problems: Problem[]; type?: IndicatorType } {
  const problems: Problem[] = [];
  const sources: Sources = {
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

  let fromPattern: PatternIndicator | undefined;
  const patternType = obj.pattern_type ?? 'stix';
  if (patternType !== 'stix') {
    problems.push(
      validation(
        'pattern_type',
        `pattern_type ${JSON.stringify(patternType)} is not supported; only "stix" patterns map`,
      ),
    );
  } else if (typeof obj.pattern !== 'string') {
    problems.push(validation('pattern', 'an indicator needs a pattern'));
  } else {
    try {
      fromPattern = indicatorFromPattern(obj.pattern);
    } catch (err) {
      if (!(err instanceof PatternError)) throw err;
      problems.push(validation('pattern', err.message));
    }
  }

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

  const tlp = tlpOfIndicator(obj, ctx);
  if (isProblem(tlp)) problems.push(tlp);

  const relationships = typeof obj.id === 'string' ? (ctx.indicates.get(obj.id) ?? []) : [];
  const targets = relationships
    .map((r) => (typeof r.target_ref === 'string' ? ctx.byId.get(r.target_ref) : undefined))
    .filter((t): t is StixObject => t !== undefined);
  const category = categoryOf(obj, targets, sources);
  if (isProblem(category)) problems.push(category);

  if (problems.length > 0 || !fromPattern)
    return { problems, ...(fromPattern ? { type: fromPattern.type } : {}) };

  const name = typeof obj.name === 'string' ? obj.name.trim() : '';
  const text = typeof obj.description === 'string' ? obj.description.trim() : '';
  if (name && !text) sources.description = 'name';
  const references: unknown[] = [];
  const referenceIndex: number[] = [];
  (Array.isArray(obj.external_references) ? obj.external_references : []).forEach((ref, i) => {
    // References without a URL (an ATT&CK id, a CVE) have nothing to carry over.
    if (isRecord(ref) && ref.url !== undefined) {
      references.push(ref.url);
      referenceIndex.push(i);
    }
  });

  const raw: Record<string, unknown> = {
    type: fromPattern.type,
    value: fromPattern.value,
    platform,
    category,
    tlp,
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
  const parsed = indicatorInputSchema.safeParse(
    Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined)),
  );
  if (!parsed.success) {
    return {
      type: fromPattern.type,
      problems: zodDetails(parsed.error).map((d) => {
        const [field = '', ...rest] = d.path.split('.');
        let at = [sources[field as keyof IndicatorInput] ?? field, ...rest];
        if (field === 'references' && rest[0] !== undefined) {
          at = ['external_references', String(referenceIndex[Number(rest[0])]), 'url'];
        }
        const from =
          field === 'campaign' || field === 'threatActor'
            ? `${field} (from an indicates relationship): `
            : '';
        return validation(at.join('.'), `${from}${d.message}`);
      }),
    };
  }
  try {
    canonicalize(parsed.data.type, parsed.data.value, parsed.data.platform ?? null);
  } catch (err) {
    if (!isThreatRelayError(err, 'TR_INVALID_VALUE')) throw err;
    const path = err.details[0]?.path === 'platform' ? sources.platform! : 'pattern';
    return { type: fromPattern.type, problems: [{ path, message: err.message, code: 'TR_INVALID_VALUE' }] };
  }
  return { input: parsed.data };
}

/**
 * Maps every object of a bundle: indicators that map, every problem of those
 * that do not, and the other objects as ignored. Throws StixBundleError only
 * when the body is not a bundle.
 */
export function mapStixBundle(body: unknown): StixImport {
  const objects = bundleObjects(body);
  const ctx = bundleContext(objects);
  const result: StixImport = { indicators: [], rejected: [], ignored: [], indicatorObjects: 0 };
  objects.forEach((obj, index) => {
    const id = isRecord(obj) && typeof obj.id === 'string' ? obj.id : null;
    if (!isStixObject(obj)) {
      result.rejected.push({
        index,
        id,
        path: `objects.${index}`,
        code: 'TR_VALIDATION',
        reason: 'not a STIX object: an object with a "type" and an "id"',
      });
      return;
    }
    if (obj.type !== 'indicator') {
      result.ignored.push({ index, id, type: obj.type });
      return;
    }
    result.indicatorObjects++;
    if (id === null) {
      result.rejected.push({
        index,
        id,
        path: `objects.${index}.id`,
        code: 'TR_VALIDATION',
        reason: 'an indicator needs an id',
      });
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
  });
  return result;
}
