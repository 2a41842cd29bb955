import { ThreatRelayError } from '../contract/errors';
import { PLATFORMS, type IndicatorType, type Platform } from '../contract/model';

/**
 * Only a pattern that is one observation of `=` comparisons joined by AND
 * names one indicator; anything else a STIX pattern can say is refused with
 * the reason, which the publisher reads as is.
 */

export interface Comparison {
  objectType: string;
  /** Property path components, quotes removed: `hashes.'SHA-256'` is ['hashes', 'SHA-256']. */
  property: string[];
  value: string | number;
}

export interface PatternIndicator {
  type: IndicatorType;
  value: string;
  /** From `user-account:account_type`, when the pattern gives it. */
  platform?: Platform;
}

/** The error every refused pattern raises; the importer reports it against the object's `pattern`. */
function refuse(reason: string): never {
  throw new ThreatRelayError('TR_VALIDATION', reason, { details: [{ path: 'pattern', message: reason }] });
}

function notStix(what: string): never {
  return refuse(`the pattern is not valid STIX patterning: ${what}`);
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

const NAME = /^[A-Za-z0-9_-]+/;

class Scanner {
  private i = 0;
  readonly tokens: Token[] = [];

  constructor(private readonly pattern: string) {}

  private fail(what: string): never {
    return notStix(`${what} at character ${this.i + 1}`);
  }

  private match(re: RegExp): string | undefined {
    return re.exec(this.pattern.slice(this.i))?.[0];
  }

  /** At the opening quote; STIX escapes only \' and \\ inside string literals. */
  private quoted(): string {
    let out = '';
    this.i++;
    for (;;) {
      const c = this.pattern[this.i];
      if (c === undefined) this.fail('an unterminated string');
      if (c === '\\') {
        const next = this.pattern[this.i + 1];
        if (next !== "'" && next !== '\\') this.fail(`an invalid escape \\${next ?? ''}`);
        out += next;
        this.i += 2;
        continue;
      }
      this.i++;
      if (c === "'") return out;
      out += c;
    }
  }

  /** An object path such as `file:hashes.'SHA-256'` or `x:list[0]`, at its `:`. */
  private path(objectType: string, start: number): Token {
    this.i++;
    const name = this.match(NAME) ?? this.fail('an object path without a property');
    const property = [name];
    this.i += name.length;
    for (;;) {
      if (this.pattern[this.i] === '.') {
        this.i++;
        if (this.pattern[this.i] === "'") {
          property.push(this.quoted());
        } else {
          const part = this.match(NAME) ?? this.fail('an empty path component');
          property.push(part);
          this.i += part.length;
        }
      } else if (this.pattern[this.i] === '[' && this.match(/^\[(?:\d+|\*)\]/)) {
        const index = this.match(/^\[(?:\d+|\*)\]/)!;
        property.push(index);
        this.i += index.length;
      } else {
        return { kind: 'path', objectType, property, text: this.pattern.slice(start, this.i) };
      }
    }
  }

  private token(c: string): Token {
    if (c === '[' || c === ']' || c === '(' || c === ')' || c === ',') {
      this.i++;
      return { kind: 'punct', text: c };
    }
    if (c === "'") return { kind: 'string', value: this.quoted(), prefix: '' };
    if (/[bht]/.test(c) && this.pattern[this.i + 1] === "'") {
      this.i++;
      return { kind: 'string', value: this.quoted(), prefix: c };
    }
    if (/[=!<>]/.test(c)) {
      const op = this.match(/^(?:!=|<=|>=|=|<|>)/) ?? this.fail(`an unknown operator ${c}`);
      this.i += op.length;
      return { kind: 'op', text: op };
    }
    if (/[-+\d]/.test(c)) {
      const text = this.match(/^[-+]?\d+(?:\.\d+)?/) ?? this.fail('a malformed number');
      this.i += text.length;
      return { kind: 'number', value: Number(text), text };
    }
    if (/[A-Za-z_]/.test(c)) {
      const start = this.i;
      const head = this.match(NAME)!;
      this.i += head.length;
      return this.pattern[this.i] === ':' ? this.path(head, start) : { kind: 'word', text: head };
    }
    return this.fail(`an unexpected ${JSON.stringify(c)}`);
  }

  scan(): Token[] {
    while (this.i < this.pattern.length) {
      const c = this.pattern[this.i]!;
      if (/\s/.test(c)) {
        this.i++;
        continue;
      }
      this.tokens.push(this.token(c));
    }
    return this.tokens;
  }
}

function refuseKeywords(tokens: Token[]): void {
  for (const t of tokens) {
    if (t.kind !== 'word') continue;
    const word = t.text.toUpperCase();
    const reason = KEYWORD_REASONS[word];
    if (reason) refuse(reason);
    if (word !== 'AND') notStix(`unexpected ${t.text}`);
  }
}

/** The tokens inside the one observation expression's brackets. */
function observationBody(tokens: Token[]): Token[] {
  const observations = tokens.filter((t) => t.kind === 'punct' && t.text === '[').length;
  if (observations === 0) refuse('the pattern has no observation expression ([ … ])');
  if (observations > 1) {
    refuse(`the pattern joins ${observations} observation expressions; only one [ … ] maps to an indicator`);
  }
  // With only AND left, parentheses cannot change what the pattern means.
  const rest = tokens.filter((t) => !(t.kind === 'punct' && (t.text === '(' || t.text === ')')));
  const first = rest[0];
  if (!(first?.kind === 'punct' && first.text === '[')) notStix('expected [ at the start');
  const last = rest.at(-1);
  if (!(last?.kind === 'punct' && last.text === ']')) notStix('expected ] at the end');
  return rest.slice(1, -1);
}

function comparison(path?: Token, op?: Token, literal?: Token): Comparison {
  if (path?.kind !== 'path') notStix('expected an object path (like domain-name:value)');
  if (op?.kind !== 'op') notStix('expected an operator');
  if (op.text !== '=')
    refuse(`the operator ${op.text} matches many values; only equality (=) maps to an indicator`);
  if (literal?.kind === 'string' && literal.prefix !== '') {
    const kind = { b: 'binary', h: 'hex', t: 'timestamp' }[literal.prefix];
    refuse(`a ${kind} literal (${literal.prefix}'…') does not map to an indicator value`);
  }
  if (literal?.kind !== 'string' && literal?.kind !== 'number') notStix('expected a value after =');
  return { objectType: path.objectType, property: path.property, value: literal.value };
}

/** The comparisons of a pattern that is one observation of `=` comparisons joined by AND. */
export function parseSimplePattern(pattern: string): Comparison[] {
  const tokens = new Scanner(pattern).scan();
  refuseKeywords(tokens);
  const inner = observationBody(tokens);
  const comparisons: Comparison[] = [];
  for (let i = 0; i < inner.length; i += 4) {
    const [path, op, literal, joiner] = inner.slice(i, i + 4);
    comparisons.push(comparison(path, op, literal));
    if (joiner !== undefined && !(joiner.kind === 'word' && joiner.text.toUpperCase() === 'AND')) {
      notStix('expected AND between comparisons');
    }
    if (joiner !== undefined && i + 4 >= inner.length) notStix('nothing after AND');
  }
  return comparisons;
}

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

/** Object paths whose one comparison names an indicator of this type. */
const VALUE_TYPES: Readonly<Record<string, IndicatorType>> = {
  'domain-name:value': 'domain',
  'url:value': 'url',
  'email-addr:value': 'email',
  'user-account:account_login': 'social_account',
};

function stringValue(c: Comparison): string {
  if (typeof c.value !== 'string')
    refuse(`${c.objectType}:${c.property.join('.')} takes a string value in quotes`);
  return c.value;
}

function platformFromAccountType(accountType: string): Platform {
  const normalized = accountType.trim().toLowerCase();
  const platform = ACCOUNT_TYPE_ALIASES[normalized] ?? normalized;
  if (!(PLATFORMS as readonly string[]).includes(platform)) {
    refuse(
      `user-account:account_type '${accountType}' is not a platform ThreatRelay knows (${PLATFORMS.join(', ')})`,
    );
  }
  return platform as Platform;
}

function hashIndicator(c: Comparison, where: string): PatternIndicator {
  const name = c.property[1]!;
  const type = HASH_TYPES[name.toUpperCase().replace(/[-_]/g, '')];
  if (!type)
    refuse(`${where}: hash algorithm ${name} has no indicator type here (MD5, SHA-1, SHA-256 and PDQ do)`);
  return { type, value: stringValue(c) };
}

function single(c: Comparison): PatternIndicator {
  const where = `${c.objectType}:${c.property.join('.')}`;
  const type = VALUE_TYPES[where];
  if (type) return { type, value: stringValue(c) };
  if (where === 'ipv4-addr:value' || where === 'ipv6-addr:value') {
    const value = stringValue(c);
    // STIX puts networks in the same property, as CIDR.
    if (value.includes('/')) return { type: 'cidr', value };
    return { type: c.objectType === 'ipv4-addr' ? 'ipv4' : 'ipv6', value };
  }
  if (where === 'autonomous-system:number') return { type: 'asn', value: String(c.value) };
  if (
    (c.objectType === 'file' || c.objectType === 'artifact') &&
    c.property.length === 2 &&
    c.property[0] === 'hashes'
  ) {
    return hashIndicator(c, where);
  }
  return refuse(`${where} does not map to an indicator type`);
}

/**
 * The indicator a simple pattern names. Anything else raises TR_VALIDATION
 * with the reason, its one detail at `pattern`.
 */
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
  return refuse(
    'the pattern ANDs several comparisons; only user-account:account_login AND user-account:account_type maps to one indicator',
  );
}
