import { canonicalize } from '../../contract/canonical';
import { isThreatRelayError, ThreatRelayError } from '../../contract/errors';
import { INDICATOR_TYPES, type IndicatorType } from '../../contract/model';
import type { WarninglistIndex, WarninglistMatch } from '../../contract/warninglists';

/**
 * `threatrelay warninglists check`: which lists a value is on and why. Without
 * `--type` the value's type is read off its shape (the first of these types
 * whose canonicalizer accepts it), and the answer says which type was used.
 */

const GUESS_ORDER: readonly IndicatorType[] = [
  'ipv4',
  'ipv6',
  'cidr',
  'url',
  'email',
  'md5',
  'sha1',
  'sha256',
  'asn',
  'domain',
  'phone',
];

export interface CheckResult {
  type: IndicatorType;
  value: string;
  matches: WarninglistMatch[];
}

function parseType(text: string): IndicatorType {
  const found = INDICATOR_TYPES.find((t) => t === text);
  if (!found)
    throw new ThreatRelayError(
      'TR_USAGE',
      `--type must be one of ${INDICATOR_TYPES.join(', ')}; got "${text}"`,
    );
  return found;
}

function canonicalAs(type: IndicatorType, value: string): string {
  try {
    return canonicalize(type, value);
  } catch (err) {
    if (!isThreatRelayError(err, 'TR_INVALID_VALUE')) throw err;
    throw new ThreatRelayError('TR_USAGE', `not a valid ${type}: ${err.message}`);
  }
}

export function checkValue(index: WarninglistIndex, value: string, typeText?: string): CheckResult {
  if (typeText !== undefined) {
    const type = parseType(typeText);
    const canonical = canonicalAs(type, value);
    return { type, value: canonical, matches: index.match(type, canonical) };
  }
  for (const type of GUESS_ORDER) {
    try {
      const canonical = canonicalize(type, value);
      return { type, value: canonical, matches: index.match(type, canonical) };
    } catch (err) {
      if (!isThreatRelayError(err, 'TR_INVALID_VALUE')) throw err;
    }
  }
  throw new ThreatRelayError('TR_USAGE', `cannot tell the type of ${JSON.stringify(value)}: give --type`);
}

/** One line per matching list, naming the entry that matched and how. */
export function describeCheck(result: CheckResult): string[] {
  const head = `${result.type} ${result.value}`;
  if (result.matches.length === 0) return [`${head}: on no warninglist`];
  return [
    `${head}: on ${result.matches.length} warninglist(s)`,
    ...result.matches.map((m) => {
      const how = {
        hostname: 'is or is under',
        string: 'equals',
        cidr: 'is inside',
        substring: 'contains',
        regex: 'matches',
      }[m.type];
      const subject = m.on === 'host' ? 'its host' : 'it';
      return `  ${m.list} (version ${m.version}, ${m.type}): ${subject} ${how} ${JSON.stringify(m.entry)} — ${m.title}`;
    }),
  ];
}
