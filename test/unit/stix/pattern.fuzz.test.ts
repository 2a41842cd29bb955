import fc from 'fast-check';
import { isThreatRelayError } from '../../../services/contract/errors';
import { indicatorFromPattern, parseSimplePattern } from '../../../services/stix/pattern';

/**
 * The pattern parser reads what any TIP exported. On any string it returns
 * or raises its own ThreatRelayError (TR_VALIDATION, or TR_INVALID_VALUE for
 * a value canonicalization refuses), and terminates (a run that hangs fails
 * by jest's timeout). Fixed seed and run count; fast-check prints the seed of a failure.
 */
const RUNS = { seed: 1_414_2026, numRuns: 3000 };

const PIECES = [
  '[',
  ']',
  '(',
  ')',
  "'",
  '\\',
  ' ',
  '=',
  '!=',
  'AND',
  'OR',
  'FOLLOWEDBY',
  'WITHIN',
  'SECONDS',
  'REPEATS',
  'TIMES',
  'START',
  'STOP',
  't',
  'NOT',
  'LIKE',
  'MATCHES',
  'IN',
  ':',
  '.',
  ',',
  'domain-name',
  'value',
  'url',
  'file',
  'hashes',
  "'SHA-256'",
  'user-account',
  'account_login',
  'account_type',
  'autonomous-system',
  'number',
  '64500',
  "'evil.example.com'",
  "h'x",
  'b64',
  'ipv4-addr',
  '/24',
  '-',
  '_',
  '*',
  '"',
  '\u0000',
  '日本',
];
/** Strings from pattern-ish pieces, so the runs reach deep into the grammar, and plain random strings. */
const patternish = fc.array(fc.constantFrom(...PIECES), { maxLength: 40 }).map((p) => p.join(''));
const anyString = fc.oneof(
  patternish,
  fc.string({ maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 200 }),
);

function onlyOwnErrors(run: () => unknown): void {
  try {
    run();
  } catch (err) {
    const own = isThreatRelayError(err, 'TR_VALIDATION') || isThreatRelayError(err, 'TR_INVALID_VALUE');
    if (!own) throw new Error(`raised ${String(err)}, not the parser's own error`, { cause: err });
  }
}

describe('the STIX pattern parser on any string', () => {
  it('parseSimplePattern returns or raises its own error', () => {
    fc.assert(
      fc.property(anyString, (s) => onlyOwnErrors(() => parseSimplePattern(s))),
      RUNS,
    );
  });

  it('indicatorFromPattern returns or raises its own error', () => {
    fc.assert(
      fc.property(anyString, (s) => onlyOwnErrors(() => indicatorFromPattern(s))),
      RUNS,
    );
  });

  it('terminates on long and deeply bracketed input', () => {
    for (const s of [
      '['.repeat(100_000),
      `[${'('.repeat(50_000)}`,
      `${"'".repeat(100_001)}`,
      'AND '.repeat(50_000),
    ]) {
      onlyOwnErrors(() => indicatorFromPattern(s));
    }
  });
});
